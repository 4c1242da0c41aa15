//! The reset of the fuzz targets' persistent mode (mm::reset, the
//! harness's machine cache): a machine that ran an input and was reset
//! equals a fresh boot in every descriptor, list, counter and lock-guarded
//! value — for random `seq` inputs of every knob setting (every machine the
//! target boots: sections, CPUs, pcp sizes, memmap_on_memory, each driver),
//! in both builds, and for random `conc` inputs under shuttle.

use fuzzing::campaign::Campaign;
use fuzzing::harness::machine::equals_boot_after;
use fuzzing::input::seq_input;
use fuzzing::rng::SplitMix64;

#[test]
fn a_reset_machine_equals_a_fresh_boot_after_random_seq_inputs() {
    let c = Campaign::fixed();
    let mut rng = SplitMix64(0x5eed);
    let runs = if cfg!(feature = "shuttle") { 64 } else { 256 };
    for i in 0..runs {
        let n = 64 + rng.below(960);
        let mut bytes = rng.bytes(n);
        // Every knob setting, in turn: each is its own machine.
        bytes[0] = i as u8;
        let sc = seq_input(&bytes, &c);
        if let Err(d) = equals_boot_after(&sc, true) {
            panic!("input {i} ({} ops): the reset machine differs from a fresh boot at {d}\n{sc}", sc.setup.len());
        }
    }
}

#[cfg(feature = "shuttle")]
#[test]
fn a_reset_machine_equals_a_fresh_boot_after_random_conc_inputs() {
    let c = Campaign::fixed();
    let mut rng = SplitMix64(0xc0c0);
    for i in 0..48 {
        let n = 32 + rng.below(200);
        let bytes = rng.bytes(n);
        let sc = fuzzing::input::conc_input(&bytes, &c);
        if let Err(d) = equals_boot_after(&sc, true) {
            panic!("input {i}: the reset machine differs from a fresh boot at {d}\n{sc}");
        }
    }
}

#[test]
fn the_state_dump_sees_a_change_a_reset_must_undo() {
    // The comparison is not vacuous: one op's effect shows in the dump.
    let sc = fuzzing::scenario::parse("t", "pagelab-scenario v1\nconfig geometry=small mem=2M max_sections=2 cpus=2\nsetup:\n  alloc cpu=0 mt=unmovable\nexpect: ok\n").unwrap();
    assert!(equals_boot_after(&sc, false).is_err(), "an allocation left no trace in the state dump");
    assert_eq!(equals_boot_after(&sc, true), Ok(()));
}
