//! Touched pfns and vpns: what an incremental check ([`crate::check`])
//! looks at after an op, instead of the whole memmap.
//!
//! With the cargo feature `track-touched` (the fuzzing crate turns it on),
//! every descriptor lookup of the model's code ([`crate::memmap::Memmap::pfn_to_page`],
//! `pfn_to_online_page`, and the list code's lookups through them), every
//! frame write and every write to a page-table entry sets a bit here. A
//! descriptor is only ever reached through such a lookup, so the set is a
//! superset of the pages an op changed (reads count too). Without the
//! feature this module's [`Touched`] is not built into the memmap and the
//! lookups carry no extra instruction: the put_page path that the
//! benchmarks measure is the same code as before (the bench crate builds mm
//! without the feature, and refuses to benchmark a build that has it).
//!
//! Invariants: a bit, once set, stays set until [`Touched::drain`] or
//! [`Touched::clear`]. Lock order: none (atomic bit operations only); the
//! checker drains under the locks that make the machine quiescent.

use crate::sync::plain::{AtomicU64, Ordering};

/// One bit per index (pfn or vpn).
#[derive(Debug)]
pub struct Touched {
    bits: Box<[AtomicU64]>,
}

// Without the feature nothing marks (the memmap holds no set).
#[cfg_attr(not(feature = "track-touched"), allow(dead_code))]
impl Touched {
    /// A set able to hold indices below `n`, empty.
    pub(crate) fn new(n: usize) -> Touched {
        Touched { bits: (0..n.div_ceil(64)).map(|_| AtomicU64::new(0)).collect() }
    }

    /// Note index `i` (ignored beyond the set). A bit already set costs one
    /// load: an op that looks at a page many times writes its word once.
    #[inline(always)]
    pub(crate) fn mark(&self, i: u64) {
        if let Some(w) = self.bits.get((i / 64) as usize) {
            let bit = 1u64 << (i % 64);
            if w.load(Ordering::Relaxed) & bit == 0 {
                w.fetch_or(bit, Ordering::Relaxed);
            }
        }
    }

    /// Append the set indices to `out` in ascending order and empty the set.
    pub fn drain(&self, out: &mut Vec<u64>) {
        for (k, w) in self.bits.iter().enumerate() {
            let mut b = w.swap(0, Ordering::Relaxed);
            while b != 0 {
                out.push(k as u64 * 64 + b.trailing_zeros() as u64);
                b &= b - 1;
            }
        }
    }

    /// Empty the set.
    pub fn clear(&self) {
        for w in self.bits.iter() {
            w.store(0, Ordering::Relaxed);
        }
    }
}
