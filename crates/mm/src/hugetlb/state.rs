//! hugetlb's state (the kernel's `struct hstate` of `include/linux/hugetlb.h`
//! and the folio flags of `enum hugetlb_page_flags`): the pool counters,
//! the freelist, the in-use set, the one hugetlbfs mapping, and the
//! raw-error records of poisoned folios, all under `hugetlb_lock`. The
//! operations are [`crate::hugetlb`]'s.
//!
//! Invariants: see [`crate::hugetlb`] (HR1–HR3, HD1). Lock order:
//! `hugetlb_lock` is a leaf.

use crate::page::{pg, Page};
use crate::sync::atomic::Ordering;
use crate::Pfn;
use std::collections::{BTreeMap, BTreeSet};



/// An entry of the model's one hugetlbfs mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HugePte {
    Present(Pfn),
    /// memory_failure unmapped the poisoned folio: an access SIGBUSes,
    /// munmap ([`System::hugetlb_free`]) just removes the entry.
    HwPoison(Pfn),
}

/// The hstate and its lists, guarded by `hugetlb_lock`.
#[derive(Debug, Default, Clone)]
pub(crate) struct HugetlbState {
    /// `nr_huge_pages`.
    pub(crate) nr: i64,
    /// `free_huge_pages`.
    pub(crate) free: i64,
    /// `resv_huge_pages`.
    pub(crate) resv: i64,
    /// `surplus_huge_pages` (migration targets allocated beyond the pool).
    pub(crate) surplus: i64,
    /// `hugepage_freelists[0]`: LIFO, the most recently freed folio last.
    pub(crate) freelist: Vec<Pfn>,
    /// `hugepage_activelist`: folios handed out (faulted or isolated).
    pub(crate) active: BTreeSet<Pfn>,
    /// The hugetlbfs mapping (page cache of the one file).
    pub(crate) mapped: Vec<HugePte>,
    /// `raw_hwp_list`: folio head -> the raw page memory_failure hit.
    pub(crate) raw_hwp: BTreeMap<Pfn, Pfn>,
}

/// A snapshot of the hstate counters (`/sys/kernel/mm/hugepages/...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HugetlbCounters {
    /// `nr_hugepages`.
    pub nr: i64,
    /// `free_hugepages`.
    pub free: i64,
    /// `resv_hugepages`.
    pub resv: i64,
    /// `surplus_hugepages`.
    pub surplus: i64,
}

#[inline]
pub(crate) fn test_hpg(p: &Page, bit: u64) -> bool {
    p.flags() & bit != 0
}

#[inline]
pub(crate) fn set_hpg(p: &Page, bit: u64) {
    p.flags.fetch_or(bit, Ordering::Relaxed);
}

#[inline]
pub(crate) fn clear_hpg(p: &Page, bit: u64) {
    p.flags.fetch_and(!bit, Ordering::Relaxed);
}

/// A hugetlb folio head that sits on the freelist (HPG_freed): the checker's
/// "hugetlb-free" state of A2.
pub(crate) fn folio_is_free_hugetlb(p: &Page) -> bool {
    p.PageHugetlb() && test_hpg(p, pg::HPG_freed)
}

/// `enqueue_hugetlb_folio`: onto the freelist, counted free, HPG_freed.
pub(crate) fn enqueue_hugetlb_folio(st: &mut HugetlbState, head: Pfn, p: &Page) {
    st.freelist.push(head);
    st.free += 1;
    set_hpg(p, pg::HPG_freed);
}

