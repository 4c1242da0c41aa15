//! Pageblock isolation (`mm/page_isolation.c`): start_isolate_page_range,
//! has_unmovable_pages, test_pages_isolated, undo_isolate_page_range.
//!
//! Invariants (`set_migratetype_isolate`, `unset_migratetype_isolate`,
//! `test_pages_isolated` in `mm/page_isolation.c`):
//! * I1: `nr_isolate_pageblock` = number of ISOLATE pageblocks.
//! * I2: a block is isolated by one isolator at a time; a second gets
//!   [`IsolateError::Busy`].
//! * I3: while ISOLATE, nothing is allocated from the block: its free pages
//!   are on the ISOLATE lists (never allocated from) and not counted in
//!   NR_FREE_PAGES; frees into it go to those lists (the free path re-reads
//!   the block type under zone->lock).
//! * I4: undo restores the given migratetype and re-credits NR_FREE_PAGES.
//!
//! A free block larger than a pageblock that straddles a block being
//! isolated is split at pageblock granularity first (v6.10's
//! `split_large_buddy`), so B3 holds for every block.
//!
//! Lock order: everything here runs under zone->lock, taken per call.

use crate::memmap::Memmap;
use crate::page::Page;
use crate::page_alloc::zone::FreeArea;
use crate::page_alloc::Zone;
use crate::page_ref::page_count;
use crate::pageblock::{get_pageblock_migratetype, set_pageblock_migratetype, MigrateType};
use crate::Pfn;

/// `isol_flags`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IsolFlags {
    /// MEMORY_OFFLINE: PageHWPoison and PageOffline pages do not block.
    pub memory_offline: bool,
    /// C11 (pre-b15c87263a69): hwpoisoned pages are unmovable.
    pub hwpoison_unmovable: bool,
    /// C22 (the kernel since b15c87263a69): every hwpoisoned page is
    /// skipped, also one its owner still holds. Landed: only a contained
    /// one ([`crate::page::Page::hwpoison_contained`]).
    pub hwpoison_skip_held: bool,
}

impl IsolFlags {
    /// Offline may step over this page: PG_hwpoison and contained (or any
    /// PG_hwpoison page under C22).
    #[inline]
    pub fn skips_hwpoison(self, p: &Page) -> bool {
        self.memory_offline && p.PageHWPoison() && (self.hwpoison_skip_held || p.hwpoison_contained())
    }
}

/// Why isolation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsolateError {
    /// Another isolator owns the block (I2).
    Busy {
        /// The block's first pfn.
        pfn: Pfn,
    },
    /// has_unmovable_pages found this page.
    Unmovable {
        /// The page.
        pfn: Pfn,
    },
}

/// What a page looks like to has_unmovable_pages.
fn movable_or_free(p: &Page, flags: IsolFlags) -> bool {
    if p.PageReserved() {
        return false;
    }
    if page_count(p) == 0 {
        return true;
    }
    if !flags.hwpoison_unmovable && flags.skips_hwpoison(p) {
        return true;
    }
    if flags.memory_offline && p.PageOffline() {
        // The driver drops its reference at MEM_GOING_OFFLINE (aa218795cb5f).
        return true;
    }
    p.PageLRU() || p.PageHugetlb()
}

impl Zone {
    /// `has_unmovable_pages` over `[start, end)` (inside one pageblock).
    /// Runs under zone->lock; the refcount reads are racy, as in the kernel.
    pub(crate) fn has_unmovable_pages(&self, mm: &Memmap, start: Pfn, end: Pfn, flags: IsolFlags) -> Option<Pfn> {
        let mut pfn = start;
        while pfn < end {
            let Ok(p) = mm.pfn_to_page(pfn) else { return Some(pfn) };
            if p.PageBuddy() {
                pfn += 1 << p.buddy_order().min(mm.geometry().max_order);
                continue;
            }
            if let Some(head) = p.compound_head_pfn() {
                // A tail: judge by its head (LRU THP or hugetlb are movable).
                let movable = mm.pfn_to_page(head).map(|h| h.PageLRU() || h.PageHugetlb()).unwrap_or(false);
                if !movable {
                    return Some(pfn);
                }
                pfn += 1;
                continue;
            }
            if !movable_or_free(p, flags) {
                return Some(pfn);
            }
            pfn += 1;
        }
        None
    }

    /// Split a free block of order > pageblock_order that covers `pfn`'s
    /// pageblock into pageblock-order blocks on their own blocks' lists.
    fn split_large_buddy(&self, mm: &Memmap, fa: &mut FreeArea, pfn: Pfn) {
        for order in mm.geometry().pageblock_order + 1..=mm.geometry().max_order {
            let head = pfn & !((1u64 << order) - 1);
            let Ok(h) = mm.pfn_to_page(head) else { return };
            if h.PageBuddy() && h.buddy_order() == order {
                self.del_page_from_free_list(mm, fa, head, order);
                let mut b = head;
                while b < head + (1 << order) {
                    let mt = get_pageblock_migratetype(mm, b).unwrap_or(MigrateType::Movable);
                    self.add_to_free_list(mm, fa, b, mm.geometry().pageblock_order, mt, false);
                    b += mm.geometry().pageblock_nr_pages();
                }
                return;
            }
        }
    }

    /// `set_migratetype_isolate` of the pageblock at `pfn`.
    pub(crate) fn set_migratetype_isolate(&self, mm: &Memmap, pfn: Pfn, flags: IsolFlags) -> Result<(), IsolateError> {
        let block = pfn & !(mm.geometry().pageblock_nr_pages() - 1);
        let mut fa = self.lock.lock();
        let mt = get_pageblock_migratetype(mm, block).map_err(|_| IsolateError::Busy { pfn: block })?;
        if mt.is_isolate() {
            return Err(IsolateError::Busy { pfn: block });
        }
        if let Some(bad) = self.has_unmovable_pages(mm, block, block + mm.geometry().pageblock_nr_pages(), flags) {
            return Err(IsolateError::Unmovable { pfn: bad });
        }
        self.split_large_buddy(mm, &mut fa, block);
        fa.nr_isolate_pageblock += 1;
        self.isolate_gen.fetch_add(1, crate::sync::plain::Ordering::Relaxed);
        // move_freepages_block moves the free pages to the ISOLATE lists and
        // takes them out of NR_FREE_PAGES, then marks the block.
        self.move_freepages_block(mm, &mut fa, block, MigrateType::Isolate);
        Ok(())
    }

    /// `unset_migratetype_isolate`: back to `mt`, free pages re-credited.
    pub(crate) fn unset_migratetype_isolate(&self, mm: &Memmap, pfn: Pfn, mt: MigrateType) {
        let block = pfn & !(mm.geometry().pageblock_nr_pages() - 1);
        let mut fa = self.lock.lock();
        if get_pageblock_migratetype(mm, block) != Ok(MigrateType::Isolate) {
            return;
        }
        // Two adjacent ISOLATE pageblocks may have merged into one free
        // block larger than a pageblock (same migratetype, so
        // __free_one_page allows it); split it back into pageblocks before
        // this one changes type, as move_freepages_block_isolate does in
        // both directions, or the block would sit on the ISOLATE list
        // covering a pageblock that is no longer ISOLATE (B3).
        self.split_large_buddy(mm, &mut fa, block);
        self.move_freepages_block(mm, &mut fa, block, mt);
        fa.nr_isolate_pageblock -= 1;
        // Free pageblock-order blocks may now merge with their neighbours:
        // pull each whole free pageblock off and put it back through
        // __free_one_page (the kernel's __isolate_free_page + putback).
        // To the head: the kernel's putback passes no FPI_TO_TAIL, and its
        // buddy_merge_likely() heuristic answers "no" from
        // MAX_PAGE_ORDER - 1 (= pageblock_order) up.
        let h = mm.pfn_to_page(block).ok();
        if let Some(h) = h {
            if h.PageBuddy() && h.buddy_order() == mm.geometry().pageblock_order {
                self.del_page_from_free_list(mm, &mut fa, block, mm.geometry().pageblock_order);
                self.mod_free_pages(-(mm.geometry().pageblock_nr_pages() as i64));
                self.__free_one_page(mm, &mut fa, block, mm.geometry().pageblock_order, mt, false);
            }
        }
    }

    /// `start_isolate_page_range`: isolate every pageblock of a
    /// pageblock-aligned range, undoing on the first failure.
    pub fn start_isolate_page_range(&self, mm: &Memmap, start: Pfn, end: Pfn, flags: IsolFlags) -> Result<(), IsolateError> {
        let mut pfn = start;
        while pfn < end {
            if let Err(e) = self.set_migratetype_isolate(mm, pfn, flags) {
                self.undo_isolate_page_range(mm, start, pfn, MigrateType::Movable);
                return Err(e);
            }
            pfn += mm.geometry().pageblock_nr_pages();
        }
        Ok(())
    }

    /// `undo_isolate_page_range`.
    pub fn undo_isolate_page_range(&self, mm: &Memmap, start: Pfn, end: Pfn, mt: MigrateType) {
        let mut pfn = start;
        while pfn < end {
            self.unset_migratetype_isolate(mm, pfn, mt);
            pfn += mm.geometry().pageblock_nr_pages();
        }
    }

    /// `test_pages_isolated`: every pfn is a free block on an ISOLATE list,
    /// or (offline) a contained PG_hwpoison page, or PageOffline at
    /// refcount 0. Returns the
    /// first pfn that is not.
    pub fn test_pages_isolated(&self, mm: &Memmap, start: Pfn, end: Pfn, flags: IsolFlags) -> Result<(), Pfn> {
        let mut b = start;
        while b < end {
            if get_pageblock_migratetype(mm, b) != Ok(MigrateType::Isolate) {
                return Err(b);
            }
            b += mm.geometry().pageblock_nr_pages();
        }
        let _fa = self.lock.lock();
        let mut pfn = start;
        while pfn < end {
            let Ok(p) = mm.pfn_to_page(pfn) else { return Err(pfn) };
            if p.PageBuddy() {
                pfn += 1 << p.buddy_order();
            } else if flags.skips_hwpoison(p) || (flags.memory_offline && p.PageOffline() && page_count(p) == 0) {
                pfn += 1;
            } else {
                return Err(pfn);
            }
        }
        Ok(())
    }

    /// The ISOLATE pageblock count (I1).
    pub fn nr_isolate_pageblock(&self) -> u64 {
        self.lock.lock().nr_isolate_pageblock
    }
}

/// Set a pageblock's migratetype without any accounting: the raw flip of
/// the pre-5.10 soft offline (`SoftOfflineIsolateDance`, B2(c)).
#[allow(dead_code)]
pub(crate) fn raw_set_pageblock_migratetype(mm: &Memmap, pfn: Pfn, mt: MigrateType) {
    let _ = set_pageblock_migratetype(mm, pfn, mt);
}
