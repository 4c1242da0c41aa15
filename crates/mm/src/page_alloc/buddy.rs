//! The buddy allocator: `__free_one_page` (merge), `expand` (split),
//! `__rmqueue_smallest`, the migratetype fallback, and the direct-to-buddy
//! free/alloc paths.
//!
//! Every function here that takes `&mut FreeArea` runs under zone->lock
//! (the guard is the proof).
//!
//! Invariants kept (`__free_one_page`, `expand`, `__rmqueue_smallest` in
//! `mm/page_alloc.c`):
//! * B1: free heads never overlap; two free buddies of one order are merged
//!   unless a migratetype boundary that may not be merged (isolate, CMA,
//!   highatomic against anything else) lies between them.
//! * B2: a free head has page type Buddy, refcount 0, `private` = order, is
//!   aligned to its order, and is on `free_list[order][index]`.
//! * B3: `index` (the list a free head is on) equals its pageblock's
//!   migratetype, for every pageblock the block covers. Merging two
//!   mergeable blocks of different types converts the buddy's block (as
//!   v6.9's `__free_one_page` does) and stealing for a fallback claims
//!   whole pageblocks, so B3 holds exactly, with no "benign steal" slack.
//! * B4: `nr_free_pages` counts non-isolate free pages; `nr_free[order]`
//!   counts blocks.
//!
//! Lock order: called with zone->lock held; takes no other lock.

use super::zone::{FreeArea, Zone};
use crate::memmap::Memmap;
use crate::page::Page;
use crate::pageblock::{get_pageblock_migratetype, set_pageblock_migratetype, MigrateType, MIGRATE_PCPTYPES};
use crate::sync::plain::Ordering;
use crate::Pfn;

/// Migratetypes whose blocks may be merged with and converted into each
/// other (`migratetype_is_mergeable`).
#[inline(always)]
fn mergeable(mt: MigrateType) -> bool {
    (mt as usize) < MIGRATE_PCPTYPES
}

/// `fallbacks[]`: where to steal from when a migratetype runs dry.
const FALLBACKS: [[MigrateType; 2]; MIGRATE_PCPTYPES] = [
    [MigrateType::Reclaimable, MigrateType::Movable],   // Unmovable
    [MigrateType::Reclaimable, MigrateType::Unmovable], // Movable
    [MigrateType::Unmovable, MigrateType::Movable],     // Reclaimable
];

/// The pageblock migratetype of an online pfn (its section is known good).
#[inline(always)]
pub(crate) fn block_mt(mm: &Memmap, pfn: Pfn) -> MigrateType {
    get_pageblock_migratetype(mm, pfn).unwrap_or(MigrateType::Unmovable)
}

#[inline(always)]
fn page(mm: &Memmap, pfn: Pfn) -> &Page {
    super::list::page(mm, pfn as u32)
}

impl Zone {
    /// `add_to_free_list`: make `pfn` a free head of `order` on list `mt`.
    #[inline]
    pub(crate) fn add_to_free_list(
        &self,
        mm: &Memmap,
        fa: &mut FreeArea,
        pfn: Pfn,
        order: u32,
        mt: MigrateType,
        tail: bool,
    ) {
        let p = page(mm, pfn);
        p.private.store(order as u64, Ordering::Relaxed);
        p.index.store(mt as u32, Ordering::Relaxed);
        p.__SetPageBuddy();
        let list = &fa.lists[order as usize][mt as usize];
        if tail {
            list.push_back(mm, pfn as u32, p);
        } else {
            list.push_front(mm, pfn as u32, p);
        }
        fa.nr_free[order as usize] += 1;
    }

    /// `del_page_from_free_list`: take a free head off the list it is on
    /// (recorded in `index`) and clear its buddy state.
    #[inline]
    pub(crate) fn del_page_from_free_list(&self, mm: &Memmap, fa: &mut FreeArea, pfn: Pfn, order: u32) {
        let p = page(mm, pfn);
        let mt = p.index.load(Ordering::Relaxed) as usize;
        fa.lists[order as usize][mt].remove(mm, pfn as u32, p);
        p.__ClearPageBuddy();
        p.private.store(0, Ordering::Relaxed);
        fa.nr_free[order as usize] -= 1;
    }

    /// `page_is_buddy`: is `buddy_pfn` a free head of exactly `order`?
    /// Buddies of order < max_order share an aligned block no larger than a
    /// section (max_order < section_shift), so they share its section.
    #[inline]
    fn page_is_buddy(mm: &Memmap, buddy_pfn: Pfn, order: u32) -> bool {
        let b = page(mm, buddy_pfn);
        b.PageBuddy() && b.buddy_order() == order
    }

    /// `__free_one_page`: put a block of `order` into buddy on list `mt`,
    /// merging with free buddies as far as allowed.
    pub(crate) fn __free_one_page(&self, mm: &Memmap, fa: &mut FreeArea, pfn: Pfn, order: u32, mt: MigrateType, to_tail: bool) {
        self.free_one_page_merging(mm, fa, pfn, order, mt, to_tail, false);
    }

    /// `__free_one_page` with the merge rule chosen: `across_isolate` lets
    /// blocks merge across an isolate boundary (the C4-merge bug).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn free_one_page_merging(
        &self,
        mm: &Memmap,
        fa: &mut FreeArea,
        mut pfn: Pfn,
        mut order: u32,
        mt: MigrateType,
        to_tail: bool,
        across_isolate: bool,
    ) {
        debug_assert!(pfn & ((1 << order) - 1) == 0);
        if !mt.is_isolate() {
            self.mod_free_pages(1 << order);
        }
        while order < mm.geometry().max_order {
            let buddy_pfn = pfn ^ (1 << order);
            if !Self::page_is_buddy(mm, buddy_pfn, order) {
                break;
            }
            if order >= mm.geometry().pageblock_order {
                // Crossing a pageblock boundary: only mergeable types merge,
                // and the buddy's blocks take our type (v6.9 semantics).
                let buddy_mt = block_mt(mm, buddy_pfn);
                if buddy_mt != mt {
                    if !mergeable(mt) || !mergeable(buddy_mt) {
                        if !across_isolate {
                            break;
                        }
                    } else {
                        self.move_free_block_accounting(fa, buddy_mt, mt, 1 << order);
                        self.set_blocks_mt(mm, buddy_pfn, order, mt);
                    }
                }
            }
            self.del_page_from_free_list(mm, fa, buddy_pfn, order);
            pfn &= buddy_pfn;
            order += 1;
        }
        self.add_to_free_list(mm, fa, pfn, order, mt, to_tail);
    }

    /// NR_FREE_PAGES bookkeeping when free pages change migratetype.
    #[inline]
    fn move_free_block_accounting(&self, _fa: &mut FreeArea, from: MigrateType, to: MigrateType, nr: i64) {
        match (from.is_isolate(), to.is_isolate()) {
            (true, false) => self.mod_free_pages(nr),
            (false, true) => self.mod_free_pages(-nr),
            _ => {}
        }
    }

    /// Set the migratetype of every pageblock covered by a block of `order`.
    fn set_blocks_mt(&self, mm: &Memmap, pfn: Pfn, order: u32, mt: MigrateType) {
        let nr = (1u64 << order).max(mm.geometry().pageblock_nr_pages());
        let start = pfn & !(mm.geometry().pageblock_nr_pages() - 1);
        let mut b = start;
        while b < start + nr {
            let _ = set_pageblock_migratetype(mm, b, mt);
            b += mm.geometry().pageblock_nr_pages();
        }
    }

    /// `expand`: split a block of order `high` at `pfn` down to `low`,
    /// putting the upper halves back on list `mt`.
    #[inline]
    fn expand(&self, mm: &Memmap, fa: &mut FreeArea, pfn: Pfn, low: u32, mut high: u32, mt: MigrateType) {
        while high > low {
            high -= 1;
            self.add_to_free_list(mm, fa, pfn + (1 << high), high, mt, false);
        }
    }

    /// `__rmqueue_smallest`: the smallest free block of at least `order` on
    /// list `mt`, split down to `order`. The returned page is off all lists,
    /// untyped, with `index` = `mt`.
    pub(crate) fn __rmqueue_smallest(&self, mm: &Memmap, fa: &mut FreeArea, order: u32, mt: MigrateType) -> Option<Pfn> {
        for cur in order..=mm.geometry().max_order {
            let Some(pfn) = fa.lists[cur as usize][mt as usize].first() else { continue };
            let pfn = pfn as Pfn;
            self.del_page_from_free_list(mm, fa, pfn, cur);
            self.expand(mm, fa, pfn, order, cur, mt);
            page(mm, pfn).index.store(mt as u32, Ordering::Relaxed);
            return Some(pfn);
        }
        None
    }

    /// `move_freepages_block`: move every free block inside the pageblock
    /// of `pfn` to list `mt` and give the pageblock that type. Returns the
    /// number of free pages moved.
    pub(crate) fn move_freepages_block(&self, mm: &Memmap, fa: &mut FreeArea, pfn: Pfn, mt: MigrateType) -> u64 {
        let start = pfn & !(mm.geometry().pageblock_nr_pages() - 1);
        let old = block_mt(mm, start);
        let mut moved = 0;
        let mut p = start;
        while p < start + mm.geometry().pageblock_nr_pages() {
            let d = page(mm, p);
            if d.PageBuddy() {
                let order = d.buddy_order();
                let from = d.index.load(Ordering::Relaxed) as usize;
                fa.lists[order as usize][from].remove(mm, p as u32, d);
                d.index.store(mt as u32, Ordering::Relaxed);
                fa.lists[order as usize][mt as usize].push_front(mm, p as u32, d);
                moved += 1 << order;
                p += 1 << order;
            } else {
                p += 1;
            }
        }
        self.move_free_block_accounting(fa, old, mt, moved as i64);
        let _ = set_pageblock_migratetype(mm, start, mt);
        moved
    }

    /// `__rmqueue_fallback`: steal the largest free block of a fallback
    /// type, claiming its pageblock(s) for `mt`. True if something moved.
    fn __rmqueue_fallback(&self, mm: &Memmap, fa: &mut FreeArea, order: u32, mt: MigrateType) -> bool {
        let Some(fallbacks) = FALLBACKS.get(mt as usize) else { return false };
        for cur in (order..=mm.geometry().max_order).rev() {
            for &from in fallbacks {
                let Some(pfn) = fa.lists[cur as usize][from as usize].first() else { continue };
                let pfn = pfn as Pfn;
                if cur >= mm.geometry().pageblock_order {
                    // The block covers whole pageblocks: re-list it under mt.
                    self.del_page_from_free_list(mm, fa, pfn, cur);
                    self.set_blocks_mt(mm, pfn, cur, mt);
                    self.add_to_free_list(mm, fa, pfn, cur, mt, false);
                } else {
                    self.move_freepages_block(mm, fa, pfn, mt);
                }
                return true;
            }
        }
        false
    }

    /// `__rmqueue`: smallest block of `mt`, falling back to other types.
    pub(crate) fn __rmqueue(&self, mm: &Memmap, fa: &mut FreeArea, order: u32, mt: MigrateType) -> Option<Pfn> {
        if let Some(p) = self.__rmqueue_smallest(mm, fa, order, mt) {
            return Some(p);
        }
        if self.__rmqueue_fallback(mm, fa, order, mt) {
            return self.__rmqueue_smallest(mm, fa, order, mt);
        }
        None
    }

    /// `rmqueue_buddy`: allocate straight from buddy (orders the pcp does
    /// not cache, or when the pcp is unavailable).
    pub(crate) fn rmqueue_buddy(&self, mm: &Memmap, order: u32, mt: MigrateType) -> Option<Pfn> {
        let mut fa = self.lock.lock();
        let pfn = self.__rmqueue(mm, &mut fa, order, mt)?;
        self.mod_free_pages(-(1 << order));
        Some(pfn)
    }

    /// `rmqueue_bulk`: move up to `count` blocks of `order` onto a pcp list
    /// (at its tail, as the kernel does). Returns how many were moved.
    pub(crate) fn rmqueue_bulk(
        &self,
        mm: &Memmap,
        order: u32,
        count: u32,
        list: &super::list::ListHead,
        mt: MigrateType,
    ) -> u32 {
        let mut fa = self.lock.lock();
        let mut n = 0;
        while n < count {
            let Some(pfn) = self.__rmqueue(mm, &mut fa, order, mt) else { break };
            let p = page(mm, pfn);
            // `index` caches the migratetype (set_pcppage_migratetype).
            p.index.store(block_mt(mm, pfn) as u32, Ordering::Relaxed);
            list.push_back(mm, pfn as u32, p);
            n += 1;
        }
        self.mod_free_pages(-((n as i64) << order));
        n
    }

    /// `free_one_page`: free straight to buddy under zone->lock, re-reading
    /// the pageblock migratetype under the lock (ad53f92eb416) unless the
    /// design is C4's.
    pub(crate) fn free_one_page<F: super::FreePath>(&self, mm: &Memmap, pfn: Pfn, order: u32) {
        let racy = block_mt(mm, pfn);
        crate::sync::preempt_point("free_one_page:mt_read");
        let mut fa = self.lock.lock();
        let mt = if F::RECHECK_MT { block_mt(mm, pfn) } else { racy };
        self.free_one_page_merging(mm, &mut fa, pfn, order, mt, false, F::MERGE_ACROSS_ISOLATE);
    }
}
