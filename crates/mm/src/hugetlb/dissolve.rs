//! Dissolving hugetlb folios back into buddy (`mm/hugetlb.c`:
//! `dissolve_free_hugetlb_folio`, `dissolve_free_hugetlb_folios`,
//! `update_and_free_hugetlb_folio`): for memory offline, soft offline of a
//! free huge page, and the pool shrinking.
//!
//! Design switches: `DissolveIgnoresResv` (C8, before 082d5b6b60e9: no
//! free - resv test) and `DissolveNoFreedCheck` (C6, before 7ffddd499ba6:
//! no wait for HPG_freed).
//!
//! Invariants: HD1 (only freelist folios are dissolved). Lock order:
//! `hugetlb_lock` is dropped before buddy is touched.

use super::state::{clear_hpg, test_hpg};
use crate::design::Switch;
use crate::error::{Error, Result};
use crate::page::pg;
use crate::page_alloc::FreePath;
use crate::page_ref::page_count;
use crate::sync::atomic::Ordering;
use crate::system::System;
use crate::Pfn;

/// How many times dissolve re-checks a folio whose free is in flight
/// before it gives up with -EBUSY (the kernel retries with cond_resched).
const DISSOLVE_RETRIES: u32 = 8;

impl<F: FreePath> System<F> {
    /// `dissolve_free_hugetlb_folio`: give a free pool folio back to buddy.
    /// Ok for a pfn that is not (or no longer) hugetlb. [`Error::Busy`] when
    /// the folio is in use, when dissolving would leave fewer free folios
    /// than reservations (C8; `Switch::DissolveIgnoresResv` skips the test),
    /// or when its free is still in flight (not HPG_freed after a few
    /// retries; C6; `Switch::DissolveNoFreedCheck` dissolves it anyway).
    pub fn dissolve_free_hugetlb_folio(&self, pfn: Pfn) -> Result<()> {
        self.dissolve_inner(pfn, true)
    }
    /// The dissolve of `dissolve_free_hugetlb_folio`; `contain`: keep
    /// poisoned pages out of buddy (landed), or free the whole folio with
    /// the flag moved to the raw page (2018's `dissolve_free_huge_page`).
    pub(crate) fn dissolve_inner(&self, pfn: Pfn, contain: bool) -> Result<()> {
        let ignore_resv = self.cfg.design.has(Switch::DissolveIgnoresResv);
        let no_freed_check = self.cfg.design.has(Switch::DissolveNoFreedCheck);
        let mut tries = 0;
        loop {
            let Some((head, hp)) = self.hugetlb_folio(pfn) else { return Ok(()) };
            let mut st = self.hugetlb.lock();
            if !hp.PageHugetlb() {
                return Ok(());
            }
            if page_count(hp) != 0 {
                return Err(Error::Busy { pfn: head, reason: "hugetlb folio in use".into() });
            }
            if st.free - st.resv <= 0 && !ignore_resv {
                return Err(Error::Busy { pfn: head, reason: "dissolving would leave fewer free huge pages than reservations".into() });
            }
            if !test_hpg(hp, pg::HPG_freed) && !no_freed_check {
                drop(st);
                tries += 1;
                if tries > DISSOLVE_RETRIES {
                    return Err(Error::Busy { pfn: head, reason: "hugetlb folio free in flight (not yet on the freelist)".into() });
                }
                crate::sync::thread::yield_now();
                continue;
            }
            // remove_hugetlb_folio: the pre-7ffddd499ba6 kernel took the
            // folio off "its list" and counted it free unconditionally.
            if let Some(i) = st.freelist.iter().position(|&f| f == head) {
                st.freelist.remove(i);
            }
            st.active.remove(&head);
            st.free -= 1;
            st.nr -= 1;
            clear_hpg(hp, pg::HPG_freed);
            hp.__ClearPageHugetlb();
            drop(st);
            self.update_and_free_hugetlb_folio(head, pfn, contain);
            return Ok(());
        }
    }
    /// `update_and_free_hugetlb_folio` of a folio already removed from the
    /// pool (type cleared, refcount 0): destroy the compound page and free
    /// it to buddy. A poisoned folio's flag moves to its raw error page
    /// (`raw_hwp` record, else `raw_hint`). With `contain` every PG_hwpoison
    /// page stays out of buddy (see [`crate::page_alloc::Zone::free_healthy_parts`]).
    pub(crate) fn update_and_free_hugetlb_folio(&self, head: Pfn, raw_hint: Pfn, contain: bool) {
        let mm = &self.memmap;
        let Ok(hp) = mm.pfn_to_page(head) else { return };
        let recorded = self.hugetlb.lock().raw_hwp.remove(&head);
        let poisoned = hp.PageHWPoison();
        hp.flags.fetch_and(!(pg::PAGE_FLAGS_CHECK_AT_PREP | pg::PG_head | pg::PG_hwpoison), Ordering::Relaxed);
        hp.page_mapcount_reset();
        hp.compound_info.store(0, crate::sync::plain::Ordering::Relaxed);
        hp.set_owner(0);
        for t in head + 1..head + mm.geometry().hpage_pmd_nr() {
            if let Ok(tp) = mm.pfn_to_page(t) {
                tp.compound_head.store(0, crate::sync::plain::Ordering::Relaxed);
            }
        }
        if poisoned {
            let raw = recorded.unwrap_or(raw_hint).clamp(head, head + mm.geometry().hpage_pmd_nr() - 1);
            if mm.pfn_to_page(raw).is_ok_and(|rp| rp.TestSetPageHWPoison()) {
                // The raw page carried its own flag already: one poisoned
                // page had been counted twice.
                self.num_poisoned_pages_sub(raw, 1);
            }
        }
        if !contain {
            // 2018: the whole folio into buddy, a poisoned page inside.
            self.zone.free_one_page::<F>(mm, head, mm.geometry().hpage_pmd_order());
            return;
        }
        self.zone.free_healthy_parts::<F>(&self.memmap, head, mm.geometry().hpage_pmd_order());
    }
    /// `dissolve_free_hugetlb_folios` over an offline range: Err(pfn) when a
    /// hugetlb folio there cannot be dissolved (in use, reserved, or its
    /// free in flight), which fails the offline.
    pub(crate) fn dissolve_free_hugetlb_folios(&self, start: Pfn, end: Pfn) -> Result<(), Pfn> {
        let mut pfn = start & !(self.geometry().hpage_pmd_nr() - 1);
        while pfn < end {
            if self.dissolve_free_hugetlb_folio(pfn).is_err() {
                return Err(pfn);
            }
            pfn += self.geometry().hpage_pmd_nr();
        }
        Ok(())
    }
}
