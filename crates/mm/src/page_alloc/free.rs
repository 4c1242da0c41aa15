//! The free path: `put_page` → `free_pages_prepare` → `free_unref_page`
//! (pcp) or `free_one_page` (buddy), with a compile-time place for checks
//! and hooks.
//!
//! Design variants of the free path are types implementing [`FreePath`];
//! every function on the path is generic over it, so each variant is its
//! own monomorphized code and a benchmark measures the code, not a runtime
//! switch. [`Landed`] is what the kernel does today: the only check is the
//! `PageHWPoison` test on order-0 pages (A.3), which leaks a poisoned page
//! instead of freeing it.
//!
//! Invariants: a page reaches a pcp list or buddy only with refcount 0, no
//! mapping or page type, no PAGE_FLAGS_CHECK_AT_FREE flag, and (Landed) no
//! PG_hwpoison on order 0 (H1). A page that fails the checks is not freed
//! (the kernel's bad_page leaks it too) and the caller gets
//! [`Error::BadPage`].
//! Lock order: pcp lock → zone->lock, via [`super::pcp`].

use super::pcp::{pcp_allowed_order, PerCpuPages};
use super::zone::Zone;
use crate::error::{Error, Result};
use crate::memmap::Memmap;
use crate::page::{pg, Page};
use crate::pageblock::{MigrateType, MIGRATE_PCPTYPES};
use crate::sync::atomic::Ordering;
use crate::sync::plain;
use crate::Pfn;

/// A design of the free path: what `free_pages_prepare` checks first.
pub trait FreePath: Send + Sync + 'static {
    /// Name used in reports and benchmark ids.
    const NAME: &'static str;
    /// Runs first in `free_pages_prepare`; `false` keeps the page out of
    /// pcp and buddy (it stays at refcount 0 on no list).
    fn free_pages_prepare_check(mm: &Memmap, pfn: Pfn, page: &Page, order: u32) -> bool;
    /// Re-read the pageblock migratetype under zone->lock when a page
    /// reaches buddy (ad53f92eb416). `false`: C4, the racy read decides.
    const RECHECK_MT: bool = true;
    /// Let buddy merging cross an isolate/non-isolate pageblock boundary
    /// (before 3c605096d315). `true`: C4-merge.
    const MERGE_ACROSS_ISOLATE: bool = false;
}

/// The landed kernel design: `if (PageHWPoison(page) && !order) return false`
/// (the driver keeps its reference on PageOffline pages, so put_page has no
/// hook for them).
#[derive(Debug, Clone, Copy, Default)]
pub struct Landed;

impl FreePath for Landed {
    const NAME: &'static str = "landed";
    #[inline(always)]
    fn free_pages_prepare_check(_: &Memmap, _: Pfn, page: &Page, order: u32) -> bool {
        !(order == 0 && page.PageHWPoison())
    }
}

/// Seed 000 (RFC v3 6/9): PageOffline pages live at refcount 0 and the put
/// path gets a hook that refuses to free them — one more test of the
/// descriptor's own cache line on every final put.
#[derive(Debug, Clone, Copy, Default)]
pub struct RfcOfflineHook;

impl FreePath for RfcOfflineHook {
    const NAME: &'static str = "rfc_pageoffline_hook";
    #[inline(always)]
    fn free_pages_prepare_check(_: &Memmap, _: Pfn, page: &Page, order: u32) -> bool {
        !(page.PageOffline() || order == 0 && page.PageHWPoison())
    }
}

/// Pre-5.10 free path (seed 001's "before"): no PageHWPoison test at free;
/// a poisoned page goes to pcp/buddy and only an allocation-time check (or
/// nothing) stands between it and its next user.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHwpoisonCheck;

impl FreePath for NoHwpoisonCheck {
    const NAME: &'static str = "no_hwpoison_check";
    #[inline(always)]
    fn free_pages_prepare_check(_: &Memmap, _: Pfn, _: &Page, _: u32) -> bool {
        true
    }
}

/// C4 (before ad53f92eb416): the migratetype read before zone->lock (or
/// cached while the page sat on a pcp list) decides the free list, so a
/// block isolated in between gets a free page on a non-isolate list.
#[derive(Debug, Clone, Copy, Default)]
pub struct FreeMtNoRecheck;

impl FreePath for FreeMtNoRecheck {
    const NAME: &'static str = "free_mt_no_recheck";
    const RECHECK_MT: bool = false;
    #[inline(always)]
    fn free_pages_prepare_check(_: &Memmap, _: Pfn, page: &Page, order: u32) -> bool {
        !(order == 0 && page.PageHWPoison())
    }
}

/// C4-merge (before 3c605096d315): a free block in an isolated pageblock
/// merges with its buddy in a normal pageblock, so one free block on one
/// list covers both.
#[derive(Debug, Clone, Copy, Default)]
pub struct MergeAcrossIsolate;

impl FreePath for MergeAcrossIsolate {
    const NAME: &'static str = "merge_across_isolate";
    const MERGE_ACROSS_ISOLATE: bool = true;
    #[inline(always)]
    fn free_pages_prepare_check(_: &Memmap, _: Pfn, page: &Page, order: u32) -> bool {
        !(order == 0 && page.PageHWPoison())
    }
}

/// A hook that looks the page up in a bitmap outside the descriptor (a
/// second cache line per free), as a design keeping "offline" or "poisoned"
/// state in a side table instead of page flags would.
#[derive(Debug, Clone, Copy, Default)]
pub struct SideBitmapHook;

impl FreePath for SideBitmapHook {
    const NAME: &'static str = "side_bitmap_hook";
    #[inline(always)]
    fn free_pages_prepare_check(mm: &Memmap, pfn: Pfn, page: &Page, order: u32) -> bool {
        !(mm.side_bit(pfn) || order == 0 && page.PageHWPoison())
    }
}

impl Zone {
    /// `free_pages_prepare`: checks and clean-up before a block may be
    /// cached or merged. `Ok(false)`: the design kept the page out.
    #[inline(always)]
    pub(crate) fn free_pages_prepare<F: FreePath>(&self, mm: &Memmap, pfn: Pfn, page: &Page, order: u32) -> Result<bool> {
        if !F::free_pages_prepare_check(mm, pfn, page, order) {
            return Ok(false);
        }
        let flags = page.flags();
        if flags & pg::PAGE_FLAGS_CHECK_AT_FREE != 0 {
            return Err(Error::BadPage { pfn, reason: "freed with PAGE_FLAGS_CHECK_AT_FREE flags set" });
        }
        if page.mapcount_word() != 0 {
            return Err(Error::BadPage { pfn, reason: "freed while mapped or with a page type" });
        }
        if page.PageTail() {
            return Err(Error::BadPage { pfn, reason: "freeing a tail page" });
        }
        if order > 0 && Self::free_tail_pages_prepare(mm, pfn, order)? && !self.hwpoison_order0_only {
            // Decided inside the high-order branch, so the order-0 path
            // pays nothing for it (measured: gungraun put_page_ir).
            self.free_healthy_subpages::<F>(mm, pfn, page, order);
            return Ok(false);
        }
        if flags & (pg::PAGE_FLAGS_CHECK_AT_PREP | pg::PG_head) != 0 {
            page.flags.fetch_and(!(pg::PAGE_FLAGS_CHECK_AT_PREP | pg::PG_head), Ordering::Relaxed);
        }
        page.owner.store(0, plain::Ordering::Relaxed);
        Ok(true)
    }

    /// A high-order block with a PG_hwpoison subpage (memory_failure on a
    /// tail of a non-compound allocation ends MF_MSG_KERNEL_HIGH_ORDER with
    /// the flag set): free its healthy pages one by one to buddy and keep
    /// the poisoned ones out, leaked with their flag, as an order-0 free of
    /// a poisoned page does (H1). The 2025 "only free healthy pages in
    /// high-order has_hwpoisoned folio" rule, applied to every high-order
    /// free; C15 (`free_prepare_hwpoison_order0_only`) is the old path.
    #[cold]
    fn free_healthy_subpages<F: FreePath>(&self, mm: &Memmap, pfn: Pfn, page: &Page, order: u32) {
        // The head's clean-up of free_pages_prepare (the PG_hwpoison bit is
        // not in PAGE_FLAGS_CHECK_AT_PREP: it stays).
        page.flags.fetch_and(!(pg::PAGE_FLAGS_CHECK_AT_PREP | pg::PG_head), Ordering::Relaxed);
        page.owner.store(0, plain::Ordering::Relaxed);
        for p in pfn..pfn + (1 << order) {
            if mm.pfn_to_page(p).is_ok_and(|d| !d.PageHWPoison()) {
                self.free_one_page::<F>(mm, p, 0);
            }
        }
    }

    /// Tail checks of a high-order free (`free_tail_pages_check`), and the
    /// undoing of the compound state. Returns whether any page of the
    /// block carries PG_hwpoison.
    #[cold]
    fn free_tail_pages_prepare(mm: &Memmap, pfn: Pfn, order: u32) -> Result<bool> {
        let head = mm.pfn_to_page(pfn)?;
        let mut poisoned = head.PageHWPoison();
        for t in pfn + 1..pfn + (1 << order) {
            let tp = mm.pfn_to_page(t)?;
            if tp.refcount.load(Ordering::Relaxed) != 0 || tp.mapcount_word() != 0 {
                return Err(Error::BadPage { pfn: t, reason: "tail page in use at free" });
            }
            poisoned |= tp.PageHWPoison();
        }
        head.compound_info.store(0, plain::Ordering::Relaxed);
        for t in pfn + 1..pfn + (1 << order) {
            mm.pfn_to_page(t)?.compound_head.store(0, plain::Ordering::Relaxed);
        }
        Ok(poisoned)
    }

    /// `free_unref_page` after prepare: to the pcp of the calling CPU, or to
    /// buddy for orders the pcp does not cache and for isolated blocks.
    #[inline(always)]
    pub(crate) fn free_unref_page<F: FreePath>(&self, mm: &Memmap, pcp: &PerCpuPages, pfn: Pfn, page: &Page, order: u32) {
        if !pcp_allowed_order(order, mm.geometry().pageblock_order) {
            self.free_one_page::<F>(mm, pfn, order);
            return;
        }
        let mut mt = super::buddy::block_mt(mm, pfn) as usize;
        if mt >= MIGRATE_PCPTYPES {
            if mt == MigrateType::Isolate as usize {
                self.free_one_page::<F>(mm, pfn, order);
                return;
            }
            mt = MigrateType::Movable as usize;
        }
        // `set_pcppage_migratetype`.
        page.index.store(mt as u32, plain::Ordering::Relaxed);
        // C1's window: the block may be isolated between this read and the
        // commit below.
        crate::sync::preempt_point("free_unref_page:mt_read");
        let g = pcp.owner_lock();
        self.free_unref_page_commit::<F>(mm, &g, pfn, page, order, mt);
    }

    /// `__free_pages`/`free_the_page` once the last reference is gone.
    #[inline(always)]
    pub(crate) fn free_the_page<F: FreePath>(&self, mm: &Memmap, pcp: &PerCpuPages, pfn: Pfn, page: &Page, order: u32) -> Result<()> {
        if self.free_pages_prepare::<F>(mm, pfn, page, order)? {
            self.free_unref_page::<F>(mm, pcp, pfn, page, order);
        }
        Ok(())
    }
}
