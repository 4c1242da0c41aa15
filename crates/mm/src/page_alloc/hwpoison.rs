//! The buddy allocator's side of memory failure (`mm/page_alloc.c`:
//! `is_free_buddy_page`, `take_page_off_buddy`, `break_down_buddy_pages`,
//! `put_page_back_buddy`; and the pre-5.10 `set_hwpoison_free_buddy_page`
//! that B2 reintroduces): finding a free page inside a buddy block, taking
//! it off the lists alone, and giving an unpoisoned one back.
//!
//! Invariants: a page taken off buddy is at refcount 0, untyped, on no
//! list, with private = MAGIC_HWPOISON, and NR_FREE_PAGES counts it out
//! (unless its block is isolated, whose pages the counter never counts);
//! every other page of its block is back on the free lists.
//! Lock order: each function takes zone->lock itself (a leaf).

use super::buddy::block_mt;
use super::zone::FreeArea;
use super::Zone;
use crate::memmap::Memmap;
use super::FreePath;
use crate::page_ref::{page_count, put_page_testzero, set_page_count};
use crate::pageblock::MigrateType;
use crate::{Pfn, MAGIC_HWPOISON};

impl Zone {
    /// `is_free_buddy_page` with zone->lock held by the caller.
    pub(crate) fn __is_free_buddy_page(&self, mm: &Memmap, pfn: Pfn) -> bool {
        (0..=mm.geometry().max_order).any(|order| {
            let head = pfn & !((1u64 << order) - 1);
            mm.pfn_to_page(head).is_ok_and(|h| h.PageBuddy() && h.buddy_order() >= order)
        })
    }

    /// `is_free_buddy_page`: is `pfn` inside a free buddy block?
    pub fn is_free_buddy_page(&self, mm: &Memmap, pfn: Pfn) -> bool {
        let _fa = self.lock.lock();
        self.__is_free_buddy_page(mm, pfn)
    }

    /// `take_page_off_buddy`: under zone->lock, if `pfn` lies in a free
    /// buddy block, take the block off its list, give every half that does
    /// not hold `pfn` back (`break_down_buddy_pages`), and leave `pfn` at
    /// refcount 0, untyped, on no list, private = MAGIC_HWPOISON, one page
    /// less in NR_FREE_PAGES (unless its block is isolated). False if the
    /// page is not free (allocated meanwhile: the caller retries).
    pub fn take_page_off_buddy(&self, mm: &Memmap, pfn: Pfn) -> bool {
        let Ok(page) = mm.pfn_to_online_page(pfn) else { return false };
        let mut fa = self.lock.lock();
        for order in 0..=mm.geometry().max_order {
            let head = pfn & !((1u64 << order) - 1);
            let Ok(h) = mm.pfn_to_page(head) else { break };
            if h.PageBuddy() && h.buddy_order() >= order {
                let page_order = h.buddy_order();
                let mt = block_mt(mm, head);
                self.del_page_from_free_list(mm, &mut fa, head, page_order);
                self.break_down_buddy_pages(mm, &mut fa, head, pfn, page_order, mt);
                page.set_page_private(MAGIC_HWPOISON);
                if !mt.is_isolate() {
                    self.mod_free_pages(-1);
                }
                return true;
            }
            if page_count(h) > 0 {
                // An allocated (compound) page covers pfn: not free.
                break;
            }
        }
        false
    }

    /// `break_down_buddy_pages`: split a free block of order `high` at
    /// `head` down to the single page `target`, listing every other half on
    /// `mt` (zone->lock held: the guard is the proof).
    fn break_down_buddy_pages(&self, mm: &Memmap, fa: &mut FreeArea, mut head: Pfn, target: Pfn, mut high: u32, mt: MigrateType) {
        let mut size = 1u64 << high;
        while high > 0 {
            high -= 1;
            size >>= 1;
            let current = if target >= head + size {
                let c = head;
                head += size;
                c
            } else {
                head + size
            };
            self.add_to_free_list(mm, fa, current, high, mt, false);
        }
    }

    /// `put_page_back_buddy`: unpoison of a taken-off page. Drops the
    /// caller's (steady-state) reference; if it was the last, the page goes
    /// back to buddy with its flag and MAGIC cleared. True if the page was
    /// poisoned and is free again.
    pub fn put_page_back_buddy(&self, mm: &Memmap, pfn: Pfn) -> bool {
        let Ok(page) = mm.pfn_to_online_page(pfn) else { return false };
        let mut fa = self.lock.lock();
        if !matches!(put_page_testzero(page, pfn), Ok(true)) {
            return false;
        }
        page.set_page_private(0);
        let was = page.TestClearPageHWPoison();
        let mt = block_mt(mm, pfn);
        self.__free_one_page(mm, &mut fa, pfn, 0, mt, false);
        was
    }

    /// `set_hwpoison_free_buddy_page` (pre-5.10): flag `pfn` if it is
    /// inside a free buddy block, leaving it there.
    pub(crate) fn set_hwpoison_free_buddy_page(&self, mm: &Memmap, pfn: Pfn) -> bool {
        let _fa = self.lock.lock();
        if !self.__is_free_buddy_page(mm, pfn) {
            return false;
        }
        mm.pfn_to_page(pfn).is_ok_and(|p| !p.TestSetPageHWPoison())
    }

    /// Free the block `start`/`order` (compound state already destroyed,
    /// refcount 0) to buddy except its PG_hwpoison pages, which are left in
    /// the hwpoison steady state (MAGIC_HWPOISON, refcount 1): the largest
    /// healthy aligned parts go to buddy (the landed "only free the healthy
    /// pages of a folio with poisoned subpages").
    pub(crate) fn free_healthy_parts<F: FreePath>(&self, mm: &Memmap, start: Pfn, order: u32) {
        let poisoned = |p: Pfn| mm.pfn_to_page(p).is_ok_and(|d| d.PageHWPoison());
        if !(start..start + (1u64 << order)).any(poisoned) {
            self.free_one_page::<F>(mm, start, order);
            return;
        }
        if order == 0 {
            if let Ok(p) = mm.pfn_to_page(start) {
                p.set_page_private(MAGIC_HWPOISON);
                set_page_count(p, 1);
            }
            return;
        }
        self.free_healthy_parts::<F>(mm, start, order - 1);
        self.free_healthy_parts::<F>(mm, start + (1u64 << (order - 1)), order - 1);
    }
}
