//! memory_failure's hugetlb arms (`mm/memory-failure.c`:
//! `get_huge_page_for_hwpoison`, `try_memory_failure_hugetlb`,
//! `__page_handle_poison`, unpoison of a hugetlb folio).
//!
//! Design switch: `HwpoisonSpecRefHugetlb` (C7, before 25182f05ffed): a bare
//! speculative reference on the head, whatever state the folio is in.
//!
//! Invariants: H5 (a hugetlb folio counts once, on its head, until it is
//! dissolved and the flag moves to its raw page). Lock order: `mf_mutex`
//! (held by the callers) → `hugetlb_lock` (a leaf).

use super::HwpGet;
use super::MfResult;
use crate::design::Switch;
use crate::hugetlb::state::{clear_hpg, folio_is_free_hugetlb, test_hpg, HugePte};
use crate::page::pg;
use crate::page_alloc::FreePath;
use crate::page_ref::{get_page_unless_zero, page_count};
use crate::system::{Cpu, System};
use crate::Pfn;

/// How `__page_handle_poison` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HandlePoison {
    /// Not contained (dissolve refused, or the page left buddy).
    Failed,
    /// take_page_off_buddy took it: refcount 0, MAGIC_HWPOISON; the caller
    /// sets the flag and takes the steady-state reference.
    TakenOff,
    /// Dissolving a poisoned folio already contained its raw page
    /// (flagged, MAGIC_HWPOISON, refcount 1): nothing left to do.
    Settled,
}

impl<F: FreePath> System<F> {
    /// `get_hwpoison_hugetlb_folio` for `__get_hwpoison_page`: None if `pfn`
    /// is not hugetlb; else Some(Some(true)) a reference was taken on the
    /// head, Some(Some(false)) a free folio, Some(None) busy (being
    /// prepared, freed or isolated). Landed: under hugetlb_lock, a reference
    /// only on a migratable (in-use) folio. `Switch::HwpoisonSpecRefHugetlb`:
    /// a bare `get_page_unless_zero` on the head (C7).
    pub(crate) fn get_hwpoison_hugetlb_folio(&self, pfn: Pfn) -> Option<Option<bool>> {
        let (_, hp) = self.hugetlb_folio(pfn)?;
        if self.cfg.design.has(Switch::HwpoisonSpecRefHugetlb) {
            return Some(Some(get_page_unless_zero(hp)));
        }
        let _st = self.hugetlb.lock();
        if !hp.PageHugetlb() {
            return None;
        }
        if test_hpg(hp, pg::HPG_freed) {
            return Some(Some(false));
        }
        if test_hpg(hp, pg::HPG_migratable) && get_page_unless_zero(hp) {
            return Some(Some(true));
        }
        Some(None)
    }
    /// memory_failure's hugetlb arm (`try_memory_failure_hugetlb`): None if
    /// `pfn` is not in a hugetlb folio (the normal path runs).
    pub(crate) fn try_memory_failure_hugetlb(&self, cpu: &Cpu<'_, F>, pfn: Pfn) -> Option<MfResult> {
        let (head, hp) = self.hugetlb_folio(pfn)?;
        if self.cfg.design.has(Switch::HwpoisonSpecRefHugetlb) {
            // 5.12 memory_failure_hugetlb: flag the head, then a speculative
            // reference on it whatever state the folio is in.
            if hp.TestSetPageHWPoison() {
                return Some(MfResult::AlreadyPoisoned);
            }
            self.hugetlb.lock().raw_hwp.insert(head, pfn);
            self.num_poisoned_pages_inc(head);
            return Some(match self.get_hwpoison_page(cpu, pfn, false) {
                Ok(HwpGet::Got) => {
                    // The window of C7: a reference on a folio that may
                    // still be being prepared.
                    crate::sync::preempt_point("memory_failure:hugetlb_ref_held");
                    // me_huge_page: the folio is in use; let it go.
                    let _ = self.hugetlb_folio_put(head);
                    MfResult::Delayed
                }
                Ok(HwpGet::Free) if folio_is_free_hugetlb(hp) => self.mf_free_hugetlb(pfn),
                _ => MfResult::Ignored,
            });
        }
        // Landed: get_huge_page_for_hwpoison under hugetlb_lock, retried once
        // (then with MF_NO_RETRY) on -EBUSY.
        let mut no_retry = false;
        loop {
            let mut st = self.hugetlb.lock();
            if !hp.PageHugetlb() {
                // Dissolved meanwhile: the normal path handles the page.
                return None;
            }
            let state = if test_hpg(hp, pg::HPG_freed) {
                Some(false)
            } else if test_hpg(hp, pg::HPG_migratable) && get_page_unless_zero(hp) {
                Some(true)
            } else {
                None
            };
            if state.is_none() && !no_retry {
                drop(st);
                no_retry = true;
                continue;
            }
            // folio_set_hugetlb_hwpoison.
            if hp.TestSetPageHWPoison() {
                drop(st);
                if state == Some(true) {
                    let _ = self.hugetlb_folio_put(head);
                }
                return Some(MfResult::AlreadyPoisoned);
            }
            st.raw_hwp.insert(head, pfn);
            if state == Some(true) {
                clear_hpg(hp, pg::HPG_migratable);
            }
            drop(st);
            self.num_poisoned_pages_inc(head);
            return Some(match state {
                // Being prepared or freed: flagged; contained when it is.
                None => MfResult::Ignored,
                Some(false) => self.mf_free_hugetlb(pfn),
                Some(true) => {
                    // hwpoison_user_mappings: unmap (an access now SIGBUSes),
                    // dropping the mapping's reference; me_huge_page: drop
                    // ours, which frees and dissolves the folio.
                    let unmapped = {
                        let mut st = self.hugetlb.lock();
                        match st.mapped.iter().position(|m| *m == HugePte::Present(head)) {
                            Some(i) => {
                                st.mapped[i] = HugePte::HwPoison(head);
                                true
                            }
                            None => false,
                        }
                    };
                    if unmapped {
                        let _ = self.hugetlb_folio_put(head);
                    }
                    let _ = self.hugetlb_folio_put(head);
                    if self.memmap.pfn_to_page(pfn).is_ok_and(|p| p.PageHWPoisonTakenOff()) {
                        MfResult::Recovered
                    } else {
                        MfResult::Delayed
                    }
                }
            });
        }
    }
    /// Hard offline of a free hugetlb folio already flagged: dissolve it and
    /// contain the raw page.
    fn mf_free_hugetlb(&self, pfn: Pfn) -> MfResult {
        match self.__page_handle_poison(pfn) {
            HandlePoison::Settled => MfResult::Recovered,
            HandlePoison::TakenOff => {
                // The folio was dissolved under us before it carried the
                // flag: poison the raw page that came out of buddy.
                if let Ok(p) = self.memmap.pfn_to_page(pfn) {
                    if !p.TestSetPageHWPoison() {
                        self.num_poisoned_pages_inc(pfn);
                    }
                    crate::page_ref::page_ref_inc(p);
                }
                MfResult::Recovered
            }
            HandlePoison::Failed => MfResult::Failed,
        }
    }
    /// unpoison of a poisoned hugetlb folio: None if `pfn` is not hugetlb;
    /// else whether a flag was cleared (the folio's, and a raw page's own).
    pub(crate) fn unpoison_hugetlb(&self, pfn: Pfn) -> Option<bool> {
        let (head, hp) = self.hugetlb_folio(pfn)?;
        let raw = self.memmap.pfn_to_page(pfn).ok()?;
        let mut st = self.hugetlb.lock();
        let cleared_head = hp.TestClearPageHWPoison();
        if cleared_head {
            st.raw_hwp.remove(&head);
        }
        // A raw page flagged before it became part of this folio.
        let cleared_raw = pfn != head && raw.TestClearPageHWPoison();
        drop(st);
        let n = cleared_head as i64 + cleared_raw as i64;
        if n > 0 {
            self.num_poisoned_pages_sub(head, n);
        }
        Some(n > 0)
    }
    /// `__page_handle_poison`: dissolve the free folio `pfn` is in (nothing
    /// for a non-hugetlb page), drain the pcp lists and take the page off
    /// buddy.
    pub(crate) fn __page_handle_poison(&self, pfn: Pfn) -> HandlePoison {
        if self.dissolve_free_hugetlb_folio(pfn).is_err() {
            return HandlePoison::Failed;
        }
        if let Ok(p) = self.memmap.pfn_to_page(pfn) {
            if p.PageHWPoisonTakenOff() && p.PageHWPoison() && page_count(p) == 1 {
                return HandlePoison::Settled;
            }
        }
        self.drain_all_pages();
        if self.zone.take_page_off_buddy(&self.memmap, pfn) {
            HandlePoison::TakenOff
        } else {
            HandlePoison::Failed
        }
    }
}
