//! `seq`: op sequences on one thread, the invariant checker and the
//! reference model after every op (pagelab::harness::fuzz_seq).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| pagelab::harness::fuzz_seq(data));
