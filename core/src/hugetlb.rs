//! hugetlb (`mm/hugetlb.c`): a pool of 2 MiB pages.
//!
//! This file holds the pool's hooks into memory offlining; the pool itself
//! (reservations, faults, dissolve) is built on top of them.
//! Invariants: HR1–HR3, HD1 (research/kernel.md A.16).
//! Lock order: `hugetlb_lock` is never held while taking zone->lock.

use crate::page_alloc::FreePath;
use crate::system::{Cpu, System};
use crate::Pfn;

impl<F: FreePath> System<F> {
    /// `dissolve_free_hugetlb_folios` over an offline range: Err(pfn) when a
    /// free hugetlb folio there cannot be dissolved.
    pub(crate) fn dissolve_free_hugetlb_folios(&self, start: Pfn, end: Pfn) -> Result<(), Pfn> {
        let _ = (start, end);
        Ok(())
    }

    /// scan_movable_pages' hugetlb arm for `pfn`: None if not hugetlb;
    /// Some(Ok(true)) an in-use migratable folio; Some(Err(n)) skip n pages.
    pub(crate) fn scan_hugetlb(&self, pfn: Pfn) -> Option<Result<bool, u64>> {
        let _ = pfn;
        None
    }
}

impl<F: FreePath> System<F> {
    /// do_migrate_range's hugetlb arm: true if `pfn` was hugetlb and handled.
    pub(crate) fn migrate_hugetlb_for_offline(&self, cpu: &Cpu<'_, F>, pfn: Pfn) -> bool {
        let _ = (cpu, pfn);
        false
    }
}
