//! `scenario`: arbitrary text into the scenario parser, which must never
//! panic; what parses must round-trip (fuzzing::targets::fuzz_scenario).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzzing::targets::fuzz_scenario(data));
