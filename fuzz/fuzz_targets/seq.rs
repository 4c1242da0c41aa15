//! `seq`: op sequences on one thread, the invariant checker and the
//! reference model after every op (fuzzing::targets::fuzz_seq); mutations
//! mostly at op granularity (fuzzing::input::mutate_seq).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzzing::targets::fuzz_seq(data));
libfuzzer_sys::fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    fuzzing::input::mutate_seq(data, size, max_size, seed, libfuzzer_sys::fuzzer_mutate)
});
