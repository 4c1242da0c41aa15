//! Migration (`mm/migrate.c`): move an isolated in-use page to a new frame,
//! copying its 4 KiB and rewriting its mapping.
//!
//! Reference protocol (`migrate_folio_unmap` / `move_to_new_folio` /
//! `folio_migrate_mapping` in `mm/migrate.c`): the source is isolated
//! (PG_lru cleared, one isolation reference held). Under the page-table
//! lock the mapping is removed, then the source is frozen at the expected
//! count (1: the isolation reference). Any extra reference — a speculative
//! get from a pfn walker, a pin — makes the freeze fail: the mapping is
//! restored and the caller gets [`MigrateError::Again`] (MG1). On success
//! the target is mapped, the source unfrozen, and the source's isolation
//! reference is dropped (freeing it) — except for MR_MEMORY_FAILURE, where
//! page_handle_poison drops it after setting PG_hwpoison.
//!
//! Invariants: contents are preserved (the frame is copied, the owner tag
//! moves with it); the target never comes from an isolated pageblock.
//! Lock order: ptl → pcp lock → zone->lock.

use crate::pgtable::{owner_vpn, Pte};
use crate::page_alloc::FreePath;
use crate::page_ref::{get_page, page_count, page_ref_dec, page_ref_freeze, page_ref_inc, page_ref_unfreeze};
use crate::pageblock::MigrateType;
use crate::sync::plain::Ordering;
use crate::system::Cpu;
use crate::Pfn;

/// `enum migrate_reason` (the ones the model uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrateReason {
    /// `MR_MEMORY_HOTPLUG`: offline's do_migrate_range.
    MemoryHotplug,
    /// `MR_MEMORY_FAILURE`: soft offline (the source is kept).
    MemoryFailure,
    /// `MR_COMPACTION`: compaction and alloc_contig_range.
    Compaction,
}

/// Why a migration did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MigrateError {
    /// Extra references: try again later (-EAGAIN).
    Again,
    /// No target page (-ENOMEM).
    NoMemory,
    /// Not a page the model can migrate (no user mapping).
    NotMovable,
}

impl<F: FreePath> Cpu<'_, F> {
    /// `isolate_lru_page`: on a page the caller holds a reference on, take
    /// it off the LRU and take the isolation reference. False if it was not
    /// on the LRU (someone else isolated or is freeing it).
    pub fn isolate_lru_page(&self, pfn: Pfn) -> bool {
        let Ok(p) = self.system().memmap().pfn_to_page(pfn) else { return false };
        if !p.TestClearPageLRU() {
            return false;
        }
        get_page(p, pfn).is_ok()
    }

    /// `putback_lru_page`: undo an isolation.
    pub fn putback_lru_page(&self, pfn: Pfn) -> crate::Result<()> {
        let p = self.system().memmap().pfn_to_page(pfn)?;
        p.SetPageLRU();
        self.put_page(pfn)
    }

    /// Migrate an isolated page. `Ok(Some(dst))`: moved; `Ok(None)`: the
    /// page was unmapped meanwhile and its last user was the isolation,
    /// so it was simply released.
    pub fn migrate_page(&self, src: Pfn, reason: MigrateReason) -> Result<Option<Pfn>, MigrateError> {
        let sys = self.system();
        let mm = sys.memmap();
        let sp = mm.pfn_to_page(src).map_err(|_| MigrateError::NotMovable)?;
        // A THP is split first; its head continues here as an order-0 page.
        self.split_thp_for_migration(src)?;
        let mut pt = sys.aspace.ptl.lock();
        let owner = sp.owner();
        let vpn = owner_vpn(owner).filter(|&v| pt.get(v) == Some(&Pte::Present(src)));
        let Some(vpn) = vpn else {
            drop(pt);
            if page_count(sp) == 1 && !sp.page_mapped() {
                // Freed from under us: only the isolation reference is left.
                if reason != MigrateReason::MemoryFailure {
                    let _ = self.put_page(src);
                }
                return Ok(None);
            }
            return Err(MigrateError::NotMovable);
        };
        let dst = self.alloc_pages(0, MigrateType::Movable).map_err(|_| MigrateError::NoMemory)?;
        let dp = mm.pfn_to_page(dst).map_err(|_| MigrateError::NoMemory)?;
        // try_to_migrate: remove the mapping and its reference.
        pt[vpn] = Pte::None;
        sp.mapcount.store(0, Ordering::Relaxed);
        page_ref_dec(sp);
        if !page_ref_freeze(sp, 1) {
            // Someone holds an extra reference: restore and retry later.
            page_ref_inc(sp);
            sp.mapcount.store(1, Ordering::Relaxed);
            pt[vpn] = Pte::Present(src);
            drop(pt);
            let _ = self.put_page(dst);
            return Err(MigrateError::Again);
        }
        if mm.has_frame_store() {
            // SAFETY: src is frozen (no reference can be taken) and unmapped;
            // dst is freshly allocated and unmapped; ptl is held. Distinct pfns.
            unsafe { mm.frame_copy(src, dst) }.map_err(|_| MigrateError::NotMovable)?;
        }
        dp.set_owner(owner);
        dp.mapcount.store(1, Ordering::Relaxed);
        dp.SetPageLRU();
        pt[vpn] = Pte::Present(dst);
        sp.set_owner(0);
        // The isolation reference is given back; nobody else could take one.
        let _ = page_ref_unfreeze(sp, src, 1);
        drop(pt);
        if reason != MigrateReason::MemoryFailure {
            let _ = self.put_page(src);
        }
        Ok(Some(dst))
    }

    /// Split-before-migrate: if `src` (isolated, one isolation reference)
    /// is a THP head, split it; the tails go back to the LRU
    /// (`putback_movable_pages`) and `src` continues as an order-0 page.
    fn split_thp_for_migration(&self, src: Pfn) -> std::result::Result<(), MigrateError> {
        let Ok(p) = self.system().memmap().pfn_to_page(src) else { return Ok(()) };
        if !crate::folio::folio_test_thp(p) {
            return Ok(());
        }
        let mut tails = Vec::new();
        self.split_folio_to_list(src, Some(&mut tails)).map_err(|_| MigrateError::Again)?;
        for t in tails {
            let _ = self.putback_lru_page(t);
        }
        Ok(())
    }
}
