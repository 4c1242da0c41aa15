//! The incremental checker (mm::check, the harness's check after each op)
//! keeps finding: every registered bug's reproducer reports its registered
//! invariant with incremental checks alone (no full walk but the final one
//! at the end of the run), as it does with a full walk after every op, and
//! the landed twin stays clean both ways. Sequential reproducers run in
//! both builds, races under shuttle. (That a corruption of a page nothing
//! touched is left to the full walk, and found by it, is mm's own test:
//! `check::tests::an_untouched_corruption_is_found_by_the_full_walk`.)

use fuzzing::bugs::{check_bug_with, registry};
use fuzzing::harness::Checking;

fn every_bug_both_ways(races: bool) {
    let mut n = 0;
    for b in registry().iter().filter(|b| b.is_race() == races) {
        for checking in [Checking::Incremental { full_every: 0 }, Checking::Full] {
            let v = check_bug_with(b, checking);
            assert!(v.reproduced(), "{} with {checking:?}: did not report {}: {:?}", b.id, b.invariant, v.buggy);
            assert!(v.fixed_clean(), "{} with {checking:?}: landed run not clean: {:?}", b.id, v.fixed);
        }
        n += 1;
    }
    assert!(n > 0, "no registered bug of this kind");
}

#[test]
fn every_sequential_bug_is_caught_by_incremental_checks_alone() {
    every_bug_both_ways(false);
}

#[cfg(feature = "shuttle")]
#[test]
fn every_race_is_caught_by_incremental_checks_alone() {
    every_bug_both_ways(true);
}
