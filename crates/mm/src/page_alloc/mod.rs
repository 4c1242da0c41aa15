//! The page allocator (`mm/page_alloc.c`): per-CPU lists in front of a
//! buddy allocator, one zone per system.
//!
//! * [`zone`]: `struct zone`, its free areas and counters;
//! * [`list`]: intrusive pfn-linked lists shared by buddy and pcp;
//! * [`buddy`]: merge, split, fallback, direct buddy alloc/free;
//! * [`pcp`]: per-CPU lists and their biased lock, refill, spill, drain;
//! * [`free`]: put_page's free path and the [`FreePath`] design variants;
//! * [`alloc`]: rmqueue and prep_new_page;
//! * [`hwpoison`]: the buddy side of memory failure (`take_page_off_buddy`).
//!
//! `alloc_contig_range` is [`crate::contig`] (it needs isolation and
//! migration, which sit above the allocator).
//!
//! Lock order ([`crate::locking`]): `pcp_batch_high_lock` →
//! `pcpu_drain_mutex` → pcp lock → zone->lock. The pcp fast path takes no
//! lock shared between CPUs.

pub mod alloc;
pub mod buddy;
pub mod free;
pub mod hwpoison;
pub mod list;
pub mod pcp;
pub mod zone;

pub use free::{FreeMtNoRecheck, FreePath, Landed, MergeAcrossIsolate, NoHwpoisonCheck, RfcOfflineHook, SideBitmapHook};
pub use zone::{Zone, ZoneStats};

#[cfg(all(test, not(feature = "shuttle")))]
mod tests;
