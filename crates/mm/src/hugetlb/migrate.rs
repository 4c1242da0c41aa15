//! Migrating hugetlb folios (`mm/hugetlb.c` `isolate_hugetlb`,
//! `putback_active_hugepage`; `mm/migrate.c` `unmap_and_move_huge_page`)
//! and memory offline's hugetlb arms (`scan_movable_pages`,
//! `do_migrate_range`).
//!
//! Invariants: an isolated folio has HPG_migratable clear and one
//! isolation reference. Lock order: `hugetlb_lock` is a leaf.

use super::state::{clear_hpg, set_hpg, test_hpg, HugePte};
use crate::migrate::MigrateError;
use crate::page_alloc::buddy::block_mt;
use crate::pageblock::MigrateType;
use crate::page::pg;
use crate::page_alloc::FreePath;
use crate::page_ref::{get_page_unless_zero, page_count, page_ref_freeze, page_ref_unfreeze};
use crate::system::{Cpu, System};
use crate::Pfn;

impl<F: FreePath> System<F> {
    /// `isolate_hugetlb`: take an in-use, migratable folio for migration
    /// (clears HPG_migratable, takes the isolation reference).
    pub(crate) fn isolate_hugetlb(&self, head: Pfn) -> bool {
        let Ok(hp) = self.memmap.pfn_to_page(head) else { return false };
        let _st = self.hugetlb.lock();
        if !hp.PageHugetlb() || !test_hpg(hp, pg::HPG_migratable) || !get_page_unless_zero(hp) {
            return false;
        }
        clear_hpg(hp, pg::HPG_migratable);
        true
    }
    /// `folio_putback_hugetlb`: undo [`System::isolate_hugetlb`].
    pub(crate) fn putback_hugetlb(&self, head: Pfn) {
        if let Ok(hp) = self.memmap.pfn_to_page(head) {
            {
                let _st = self.hugetlb.lock();
                if hp.PageHugetlb() && page_count(hp) > 1 && !hp.PageHWPoison() {
                    set_hpg(hp, pg::HPG_migratable);
                }
            }
            let _ = self.hugetlb_folio_put(head);
        }
    }
    /// Migrate an isolated hugetlb folio (`unmap_and_move_huge_page`): the
    /// target is a free pool folio outside isolated pageblocks
    /// (`alloc_hugetlb_folio_nodemask`), else a fresh surplus folio from
    /// buddy. The source is frozen at its expected count (mapping +
    /// isolation); any other reference fails the move (Again). On success
    /// the mapping points at the target and the source is freed like a last
    /// put would (a surplus in the pool sends it back to buddy).
    pub(crate) fn migrate_hugetlb_folio(&self, cpu: &Cpu<'_, F>, src: Pfn) -> std::result::Result<Pfn, MigrateError> {
        let mm = &self.memmap;
        let sp = mm.pfn_to_page(src).map_err(|_| MigrateError::NotMovable)?;
        let dequeued = {
            let mut st = self.hugetlb.lock();
            let pos = if st.free - st.resv > 0 {
                st.freelist.iter().rposition(|&f| {
                    f != src && mm.pfn_to_page(f).is_ok_and(|p| !p.PageHWPoison()) && block_mt(mm, f) != MigrateType::Isolate
                })
            } else {
                None
            };
            pos.map(|i| {
                let f = st.freelist.remove(i);
                st.free -= 1;
                if let Ok(p) = mm.pfn_to_page(f) {
                    clear_hpg(p, pg::HPG_freed);
                }
                f
            })
        };
        let dst = match dequeued {
            Some(f) => f,
            None => {
                let f = self.hugetlb_alloc_folio_begin(cpu).map_err(|_| MigrateError::NoMemory)?;
                let fp = mm.pfn_to_page(f).map_err(|_| MigrateError::NoMemory)?;
                if page_count(fp) == 1 {
                    // Prepared unfrozen (the C7 switch): the target is ours alone.
                    let _ = page_ref_freeze(fp, 1);
                }
                let mut st = self.hugetlb.lock();
                st.nr += 1;
                st.surplus += 1;
                f
            }
        };
        let dp = mm.pfn_to_page(dst).map_err(|_| MigrateError::NoMemory)?;
        let mut st = self.hugetlb.lock();
        let i = st.mapped.iter().position(|m| *m == HugePte::Present(src));
        let frozen = i.is_some() && page_ref_freeze(sp, 2);
        let Some(i) = i.filter(|_| frozen) else {
            drop(st);
            // The target goes back (to the pool, or to buddy if surplus).
            let _ = self.free_huge_folio_finish(dst);
            return Err(if i.is_some() { MigrateError::Again } else { MigrateError::NotMovable });
        };
        if mm.has_frame_store() {
            for k in 0..mm.geometry().hpage_pmd_nr() {
                // SAFETY: the source is frozen at 0 (no reference can be
                // taken) and no longer reachable through the mapping, whose
                // entries change only under hugetlb_lock, held here; the
                // target is at refcount 0 on no list, owned by this call.
                // Readers of frames (the dump tool) hold hugetlb_lock too;
                // the writers of base pages' frames never touch a hugetlb
                // folio. Distinct folios.
                if unsafe { mm.frame_copy(src + k, dst + k) }.is_err() {
                    break;
                }
            }
        }
        st.mapped[i] = HugePte::Present(dst);
        // The mapping's reference on the target.
        let _ = page_ref_unfreeze(dp, dst, 1);
        set_hpg(dp, pg::HPG_migratable);
        st.active.insert(dst);
        drop(st);
        // The source lost both references (frozen): free it.
        let _ = self.free_huge_folio_finish(src);
        Ok(dst)
    }
    /// scan_movable_pages' hugetlb arm for `pfn`: None if not hugetlb;
    /// Some(Ok(true)) an in-use migratable folio; Some(Err(n)) skip n pages.
    pub(crate) fn scan_hugetlb(&self, pfn: Pfn) -> Option<Result<bool, u64>> {
        let (head, hp) = self.hugetlb_folio(pfn)?;
        if test_hpg(hp, pg::HPG_migratable) && page_count(hp) > 0 {
            return Some(Ok(true));
        }
        Some(Err(head + self.geometry().hpage_pmd_nr() - pfn))
    }
    /// do_migrate_range's hugetlb arm: true if `pfn` was hugetlb and handled
    /// (an in-use folio is isolated and migrated at its head; tails and free
    /// folios are skipped).
    pub(crate) fn migrate_hugetlb_for_offline(&self, cpu: &Cpu<'_, F>, pfn: Pfn) -> bool {
        let Some((head, _)) = self.hugetlb_folio(pfn) else { return false };
        if head == pfn && self.isolate_hugetlb(head) && self.migrate_hugetlb_folio(cpu, head).is_err() {
            self.putback_hugetlb(head);
        }
        true
    }
}
