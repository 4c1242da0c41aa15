//! splitmix64: the one small deterministic generator the project uses
//! where a decision must follow from a seed (the shuttle scheduler's
//! fallback choices, the `seq` mutator, the stable-mode fuzz inputs): tiny,
//! fast, and the same sequence on every platform.
//!
//! Invariants: a value of the same seed yields the same sequence. Lock
//! order: none.

/// splitmix64 state.
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// `n` random bytes (the low byte of each draw).
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }

    /// Uniform in `0..n` (n > 0), by multiply-shift (no modulo bias worth
    /// caring about for n = a handful of tasks).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }
}
