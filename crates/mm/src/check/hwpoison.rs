//! The checker's hwpoison pass (H2, H5; see [`crate::memory_failure`]): the
//! PG_hwpoison pages among the candidates the main walk collected, and the
//! poison counters.

use crate::page_ref::page_count;
use crate::page_alloc::FreePath;
use crate::system::System;
use crate::Pfn;

impl<F: FreePath> System<F> {
    /// The checker's hwpoison pass (H2: the taken-off and held states) over
    /// `candidates`, the pfns the checker's memmap walk found with
    /// PG_hwpoison, PG_hwpoison_held or MAGIC_HWPOISON; run by
    /// [`System::check`] with the allocator locks held. PG_hwpoison pages
    /// on lists are H1 (reported with the lists); free hugetlb folios are
    /// HR3 (the hugetlb pass); soft offline's flag on a page in use is H3,
    /// recorded when it happens.
    pub(crate) fn check_hwpoison(&self, candidates: &[Pfn], report: &mut impl FnMut(&'static str, Option<Pfn>, String)) {
        let in_flight = self.mf_mutex.try_lock().is_none();
        let mm = &self.memmap;
        for &pfn in candidates {
            let Ok(p) = mm.observe_online_page(pfn) else { continue };
            // Flagged in place without either marker: leaked, or still
            // held by its owner (hard offline may fail to contain, and
            // flags first); nothing to check here.
            let magic = p.PageHWPoisonTakenOff();
            let held = p.PageHWPoisonHeld();
            if !(magic || held) || p.PageBuddy() {
                continue;
            }
            if held && !in_flight && (!p.PageHWPoison() || page_count(p) < 1 || p.page_mapped()) {
                report(
                    "H2",
                    Some(pfn),
                    format!("page memory_failure holds is not poisoned, referenced and unmapped: {}", p.dump(pfn)),
                );
            }
            if !magic {
                continue;
            }
            let steady = page_count(p) == 1 && p.PageHWPoison() && !p.page_mapped() && p.page_type().is_none();
            if !(in_flight || steady) {
                report(
                    "H2",
                    Some(pfn),
                    format!("page taken off buddy is not in the steady state (refcount 1, PG_hwpoison, unmapped): {}", p.dump(pfn)),
                );
            }
        }
    }
}
