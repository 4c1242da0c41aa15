//! The checker's hugetlb pass (HR1, HR2, HR3, HD1; see [`crate::hugetlb`]),
//! run by [`crate::system::System::check`] under zone->lock with
//! `hugetlb_lock` held.

use crate::hugetlb::state::{test_hpg, HugePte, HugetlbState};
use crate::page::pg;
use crate::page_alloc::FreePath;
use crate::page_ref::page_count;
use crate::system::System;
use crate::Pfn;
use std::collections::BTreeSet;

impl<F: FreePath> System<F> {
    /// The checker's hugetlb pass (HR1, HR2, HR3, HD1), run by
    /// [`System::check`] under zone->lock with `hugetlb_lock` held (`st`).
    pub(crate) fn check_hugetlb(&self, st: &HugetlbState, report: &mut impl FnMut(&'static str, Option<Pfn>, String)) {
        let mm = &self.memmap;
        if st.free < st.resv {
            report("HR1", None, format!("free huge pages {} < reserved {}: a reserved fault will SIGBUS", st.free, st.resv));
        }
        if st.nr < 0 || st.free < 0 || st.resv < 0 || st.surplus < 0 {
            report("HR2", None, format!("negative hstate counter: nr {} free {} resv {} surplus {}", st.nr, st.free, st.resv, st.surplus));
        }
        if st.freelist.len() as i64 != st.free {
            report("HR2", None, format!("free_huge_pages is {} but the freelist holds {} folios", st.free, st.freelist.len()));
        }
        let in_use = st.active.len() as i64;
        if st.nr != st.free + in_use {
            report("HR2", None, format!("nr_huge_pages {} != free {} + in use {}", st.nr, st.free, in_use));
        }
        let mut seen = BTreeSet::new();
        for &f in &st.freelist {
            if !seen.insert(f) {
                report("HD1", Some(f), "folio is on the hugetlb freelist twice".into());
                continue;
            }
            let Ok(p) = mm.observe_online_page(f) else {
                report("HR3", Some(f), "hugetlb freelist entry is not an online pfn".into());
                continue;
            };
            if self.zone.__is_free_buddy_page(mm, f) {
                report("HD1", Some(f), "folio on the hugetlb freelist is also free in buddy: dissolved while its free was in flight".into());
                report("A2", Some(f), "page owned twice: hugetlb freelist and buddy".into());
                continue;
            }
            if !p.PageHugetlb() || p.compound_order() != mm.geometry().hpage_pmd_order() {
                report("HR3", Some(f), format!("hugetlb freelist entry is not a hugetlb folio: {}", p.dump(f)));
            }
            let rc = page_count(p);
            if rc != 0 {
                report("HR3", Some(f), format!("free hugetlb folio has refcount {rc}"));
            }
            if !test_hpg(p, pg::HPG_freed) || test_hpg(p, pg::HPG_migratable) {
                report("HR3", Some(f), format!("free hugetlb folio without hugetlb_freed or with hugetlb_migratable: {}", p.dump(f)));
            }
            if p.PageHWPoison() && !st.raw_hwp.contains_key(&f) {
                report("HR3", Some(f), "PG_hwpoison folio on the hugetlb freelist (flagged before containment)".into());
            }
        }
        for &f in &st.active {
            match mm.observe_online_page(f) {
                Ok(p) if p.PageHugetlb() && page_count(p) >= 1 => {}
                Ok(p) => report("HR2", Some(f), format!("in-use hugetlb folio is not a referenced hugetlb folio: {}", p.dump(f))),
                Err(_) => report("HR2", Some(f), "in-use hugetlb folio is not online".into()),
            }
        }
        for m in &st.mapped {
            if let HugePte::Present(f) = *m {
                if !st.active.contains(&f) {
                    report("HR2", Some(f), "mapped hugetlb folio is not in use".into());
                }
            }
        }
    }
}
