//! `conc`: a setup, 2-4 threads and sparse point preemptions (at the n-th
//! preemptible point: a named preemption point or an access to shared
//! lock-free data), run over shuttle with a scheduler that takes every
//! decision from the input (fuzzing::targets::fuzz_conc); mutations mostly
//! at op and preemption granularity (fuzzing::input::mutate_conc).
//! Interleaving coverage — pairs of consecutive scheduling sites — goes to
//! libFuzzer as extra 8-bit counters: libFuzzer reads every byte of the ELF
//! section `__libfuzzer_extra_counters`.
#![no_main]
use fuzzing::sched::COV_SIZE;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

#[used]
#[link_section = "__libfuzzer_extra_counters"]
static COUNTERS: [AtomicU8; COV_SIZE] = [const { AtomicU8::new(0) }; COV_SIZE];

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let cov: fuzzing::sched::CovSink = Arc::new(|i| {
        COUNTERS[i].fetch_add(1, Ordering::Relaxed);
    });
    fuzzing::targets::fuzz_conc(data, Some(cov));
});
libfuzzer_sys::fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    fuzzing::input::mutate_conc(data, size, max_size, seed, libfuzzer_sys::fuzzer_mutate)
});
