//! `conc`: a setup, 2-4 threads and sparse preemptions, run over shuttle
//! with a scheduler that takes every decision from the input
//! (fuzzing::targets::fuzz_conc). Interleaving coverage — pairs of
//! consecutive scheduling sites — goes to libFuzzer as extra 8-bit counters:
//! libFuzzer reads every byte of the ELF section `__libfuzzer_extra_counters`.
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
