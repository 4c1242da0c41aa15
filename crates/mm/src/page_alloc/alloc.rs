//! The allocation path: `rmqueue` (pcp first, then buddy) and
//! `prep_new_page`.
//!
//! Invariants: A1 — an allocated block never comes from an isolated
//! pageblock (isolate lists are never allocated from), and leaves with
//! refcount 1, published with `Release` so a speculative getter that sees
//! the count also sees the page's new state. Blocks of order > 0 are
//! compound (`__GFP_COMP`): PG_head on the head, tails point at it, so the
//! checker and `put_page` know the block's extent.
//! Lock order: pcp lock → zone->lock.

use super::pcp::{pcp_allowed_order, PerCpuPages};
use super::zone::Zone;
use crate::error::Result;
use crate::memmap::Memmap;
use crate::page::Page;
use crate::page_ref::set_page_refcounted;
use crate::pageblock::MigrateType;
use crate::sync::plain::Ordering;
use crate::Pfn;

impl Zone {
    /// `rmqueue`: a free block of `order` on the calling CPU.
    #[inline(always)]
    pub(crate) fn rmqueue<'m>(&self, mm: &'m Memmap, pcp: &PerCpuPages, order: u32, mt: MigrateType) -> Option<(Pfn, &'m Page)> {
        if pcp_allowed_order(order, mm.geometry().pageblock_order) {
            let g = pcp.owner_lock();
            if let Some(hit) = self.rmqueue_pcplist(mm, &g, order, mt) {
                return Some(hit);
            }
        }
        let pfn = self.rmqueue_buddy(mm, order, mt)?;
        Some((pfn, mm.listed_page(pfn)?))
    }

    /// `prep_new_page`: compound setup and the first reference.
    #[inline(always)]
    pub(crate) fn prep_new_page(&self, mm: &Memmap, pfn: Pfn, page: &Page, order: u32) -> Result<()> {
        if order > 0 {
            page.compound_info.store(order, Ordering::Relaxed);
            page.SetPageHead();
            for t in pfn + 1..pfn + (1 << order) {
                mm.pfn_to_page(t)?.compound_head.store((pfn << 1) | 1, Ordering::Relaxed);
            }
        }
        set_page_refcounted(page);
        Ok(())
    }
}
