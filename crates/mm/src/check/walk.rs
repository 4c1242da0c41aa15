//! The checker's walk state and its list passes: the buddy free lists
//! (B1–B4, H1, R1, R4), unmerged buddies (B1) and the pcp lists (P1–P3,
//! P5, H1). Every check, full or incremental, walks every list: the lists
//! are what the per-page rules need to know which pages are free, and
//! they are short (free blocks, not free pages).
//!
//! Invariants: a walk is bounded (a cycle is reported, not followed) and
//! looks every pfn up fallibly. Lock order: run under the locks
//! [`super`] takes.

use crate::page::{Page, NIL};
use crate::page_alloc::pcp::{pindex_to_mt, pindex_to_order, NR_PCP_LISTS};
use crate::page_alloc::zone::FreeArea;
use crate::page_alloc::FreePath;
use crate::page_ref::page_count;
use crate::pageblock::{get_pageblock_migratetype, MigrateType, MIGRATE_PCPTYPES};
use crate::sync::plain::Ordering;
use crate::system::System;
use crate::violation::Violation;
use crate::Pfn;

/// Most violations reported by one walk; more are summarized.
pub const MAX_VIOLATIONS: usize = 1000;

/// What the list walks found a pfn to be.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Seen {
    None,
    BuddyHead,
    BuddyTail,
    Pcp,
    PcpTail,
}

/// A list the checker walks, named in its reports (formatted only when one
/// is made: the walk runs after every op).
#[derive(Clone, Copy)]
enum ListName {
    Free { order: u32, mt: MigrateType },
    Pcp { cpu: usize, pindex: usize, order: u32 },
}

impl std::fmt::Display for ListName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            ListName::Free { order, mt } => write!(f, "free_list[{order}][{}]", mt.name()),
            ListName::Pcp { cpu, pindex, order } => write!(f, "cpu{cpu} pcp list {pindex} (order {order})"),
        }
    }
}

/// One check's state: what the lists say of each pfn, and the findings.
pub(super) struct Walk<'a, F: FreePath> {
    pub(super) sys: &'a System<F>,
    pub(super) seen: Vec<Seen>,
    /// The order of the free block each listed head starts.
    pub(super) head_order: Vec<u8>,
    out: Vec<Violation>,
    dropped: usize,
    bound: u64,
}

impl<'a, F: FreePath> Walk<'a, F> {
    pub(super) fn new(sys: &'a System<F>) -> Self {
        let max_pfn = sys.memmap().max_pfn();
        Walk { sys, seen: vec![Seen::None; max_pfn as usize], head_order: vec![0; max_pfn as usize], out: Vec::new(), dropped: 0, bound: max_pfn }
    }

    pub(super) fn report(&mut self, id: &'static str, pfn: Option<Pfn>, msg: String) {
        if self.out.len() < MAX_VIOLATIONS {
            self.out.push(Violation { id, pfn, msg });
        } else {
            self.dropped += 1;
        }
    }

    /// The findings (with a summary line for those beyond the cap).
    pub(super) fn finish(mut self) -> Vec<Violation> {
        if self.dropped > 0 {
            let n = self.dropped;
            self.out.push(Violation { id: "A2", pfn: None, msg: format!("... and {n} more violations not listed") });
        }
        self.out
    }

    pub(super) fn page(&self, pfn: Pfn) -> Option<&'a Page> {
        self.sys.memmap().observe_online_page(pfn).ok()
    }

    /// Mark `pfn..pfn+2^order` as `what`, reporting overlaps. The common
    /// case (in range, nothing marked yet) is one scan and one fill of the
    /// slice; the first conflict is reported as the per-pfn rules say.
    fn mark(&mut self, pfn: Pfn, order: u32, what: Seen) {
        let (head, tail) = match what {
            Seen::BuddyHead => (Seen::BuddyHead, Seen::BuddyTail),
            Seen::Pcp => (Seen::Pcp, Seen::PcpTail),
            w => (w, w),
        };
        let start = pfn as usize;
        let end = start.saturating_add(1usize << order);
        let len = self.seen.len();
        let clean = self.seen.get(start..end.min(len)).map_or(0, |s| s.iter().position(|x| *x != Seen::None).unwrap_or(s.len()));
        if let Some(s) = self.seen.get_mut(start..start + clean) {
            if let Some((first, rest)) = s.split_first_mut() {
                *first = head;
                rest.fill(tail);
            }
        }
        if let Some(o) = self.head_order.get_mut(start) {
            *o = order as u8;
        }
        let p = pfn + clean as u64;
        if p >= pfn + (1u64 << order) {
            return;
        }
        let Some(slot) = self.seen.get(p as usize).copied() else {
            self.report("A2", Some(p), "free block extends beyond the memmap".into());
            return;
        };
        let (id, msg) = match (slot, what) {
            (Seen::Pcp | Seen::PcpTail, Seen::Pcp) => ("A2", "page is on two pcp list positions".to_string()),
            (Seen::Pcp | Seen::PcpTail, _) | (_, Seen::Pcp) => ("A2", "page is on a pcp list and in a buddy free block".to_string()),
            _ => ("B1", "page is covered by two free buddy blocks".to_string()),
        };
        self.report(id, Some(p), msg);
    }

    /// Walk one list from `head`, checking the doubly-linked structure;
    /// leaves the pfns on it in `v`.
    fn walk_list(&mut self, id: &'static str, name: ListName, head: u32, tail: u32, v: &mut Vec<Pfn>) {
        v.clear();
        let mut prev = NIL;
        let mut cur = head;
        while cur != NIL {
            if v.len() as u64 > self.bound {
                self.report(id, None, format!("{name}: list does not terminate (cycle through pfn {cur:#x})"));
                return;
            }
            let Some(p) = self.page(cur as Pfn) else {
                // A free list entry outside online memory: the allocator can
                // hand out memory that is offline or gone (A1).
                self.report("A1", Some(cur as Pfn), format!("{name}: free list entry is not an online pfn"));
                return;
            };
            let back = p.lru_prev.load(Ordering::Relaxed);
            if back != prev {
                self.report(id, Some(cur as Pfn), format!("{name}: prev link {back:#x} should be {prev:#x}"));
            }
            v.push(cur as Pfn);
            prev = cur;
            cur = p.lru_next.load(Ordering::Relaxed);
        }
        if prev != tail {
            self.report(id, None, format!("{name}: tail is {tail:#x} but the last entry is {prev:#x}"));
        }
    }

    /// The buddy free lists (B1-B4, H1, R1, R4) and unmerged buddies (B1).
    pub(super) fn free_lists(&mut self, fa: &FreeArea) {
        let mm = self.sys.memmap();
        let geo = *mm.geometry();
        let zone = self.sys.zone();
        let mut heads: Vec<(Pfn, u32)> = Vec::new();
        let mut listed: Vec<Pfn> = Vec::new();
        let mut free_pages: i64 = 0;
        for order in 0..=geo.max_order {
            let mut blocks = 0u64;
            for mt in MigrateType::ALL {
                let (h, t) = fa.lists[order as usize][mt as usize].raw();
                let name = ListName::Free { order, mt };
                self.walk_list("B2", name, h, t, &mut listed);
                for &pfn in &listed {
                    blocks += 1;
                    let Some(p) = self.page(pfn) else { continue };
                    if !p.PageBuddy() {
                        self.report("B2", Some(pfn), format!("on {name} but not PageBuddy ({})", p.dump(pfn)));
                    }
                    if p.buddy_order() != order {
                        self.report("B2", Some(pfn), format!("on {name} but buddy_order is {}", p.buddy_order()));
                    }
                    let rc = page_count(p);
                    if rc < 0 {
                        self.report("R4", Some(pfn), format!("refcount {rc} on a free buddy page: a put on a free page"));
                    } else if rc != 0 {
                        self.report("B2", Some(pfn), format!("free buddy page has refcount {rc} (a reference to a free page, R1)"));
                    }
                    if p.PageHWPoison() {
                        self.report("H1", Some(pfn), format!("PG_hwpoison page on {name}"));
                    }
                    if pfn & ((1 << order) - 1) != 0 {
                        self.report("B1", Some(pfn), format!("order-{order} head not aligned to its order"));
                    }
                    let idx = p.index.load(Ordering::Relaxed) as usize;
                    if idx != mt as usize {
                        self.report("B2", Some(pfn), format!("records list {idx} but is on {name}"));
                    }
                    let nblocks = ((1u64 << order) / geo.pageblock_nr_pages()).max(1);
                    let start = pfn & !(geo.pageblock_nr_pages() - 1);
                    for b in 0..nblocks {
                        let bp = start + b * geo.pageblock_nr_pages();
                        if let Ok(bmt) = get_pageblock_migratetype(mm, bp) {
                            if bmt != mt {
                                self.report("B3", Some(pfn), format!("on {name} but pageblock at {bp:#x} is {}", bmt.name()));
                            }
                        }
                    }
                    if !mt.is_isolate() {
                        free_pages += 1 << order;
                    }
                    heads.push((pfn, order));
                    self.mark(pfn, order, Seen::BuddyHead);
                }
            }
            if blocks != fa.nr_free[order as usize] {
                self.report("B4", None, format!("nr_free[{order}] is {} but the lists hold {blocks} blocks", fa.nr_free[order as usize]));
            }
        }
        let nr_free_pages = zone.nr_free_pages.load(Ordering::Relaxed);
        if nr_free_pages != free_pages {
            self.report("B4", None, format!("NR_FREE_PAGES is {nr_free_pages} but non-isolate free lists hold {free_pages} pages"));
        }

        // B1: free buddies that should have merged.
        for &(pfn, order) in &heads {
            if order >= geo.max_order {
                continue;
            }
            let buddy = pfn ^ (1 << order);
            if buddy < pfn || self.seen.get(buddy as usize) != Some(&Seen::BuddyHead) {
                continue;
            }
            let Some(b) = self.page(buddy) else { continue };
            if !b.PageBuddy() || b.buddy_order() != order {
                continue;
            }
            if order >= geo.pageblock_order {
                let (m1, m2) = (get_pageblock_migratetype(mm, pfn), get_pageblock_migratetype(mm, buddy));
                if let (Ok(m1), Ok(m2)) = (m1, m2) {
                    // Different non-pcp types never merge; and isolated
                    // pageblocks keep the pieces set_migratetype_isolate
                    // split them into (split_large_buddy then
                    // move_freepages_block, which moves without merging)
                    // until undo_isolate_page_range frees them back.
                    let blocked = (m1 != m2 && ((m1 as usize) >= MIGRATE_PCPTYPES || (m2 as usize) >= MIGRATE_PCPTYPES))
                        || m1.is_isolate()
                        || m2.is_isolate();
                    if blocked {
                        continue;
                    }
                }
            }
            self.report("B1", Some(pfn), format!("free order-{order} buddies {pfn:#x} and {buddy:#x} were not merged"));
        }
    }

    /// Every CPU's pcp lists (P1-P3, P5, H1, R4).
    pub(super) fn pcp_lists(&mut self) {
        let mm = self.sys.memmap();
        let pageblock_order = mm.geometry().pageblock_order;
        let mut listed: Vec<Pfn> = Vec::new();
        for (cpu, pcp) in self.sys.zone().pcp.iter().enumerate() {
            let mut pages = 0u64;
            for pindex in 0..NR_PCP_LISTS {
                let (h, t) = pcp.lists[pindex].raw();
                let order = pindex_to_order(pindex, pageblock_order);
                let lmt = pindex_to_mt(pindex);
                let name = ListName::Pcp { cpu, pindex, order };
                self.walk_list("P3", name, h, t, &mut listed);
                for &pfn in &listed {
                    let Some(p) = self.page(pfn) else { continue };
                    let rc = page_count(p);
                    if rc < 0 {
                        self.report("R4", Some(pfn), format!("refcount {rc} on a pcp page: a put on a free page (double free)"));
                    } else if rc != 0 {
                        self.report("P2", Some(pfn), format!("pcp page has refcount {rc} (a reference to a free page, R1)"));
                    }
                    if let Some(t) = p.page_type() {
                        self.report("P2", Some(pfn), format!("pcp page has page type {t:?}"));
                    }
                    if p.PageHWPoison() {
                        self.report("H1", Some(pfn), format!("PG_hwpoison page on {name}"));
                    }
                    let idx = p.pcp_migratetype() as usize;
                    if idx >= MIGRATE_PCPTYPES || (order <= crate::PAGE_ALLOC_COSTLY_ORDER && idx != lmt) {
                        self.report("P2", Some(pfn), format!("cached migratetype {idx} does not match {name}"));
                    }
                    if pfn & ((1 << order) - 1) != 0 {
                        self.report("P2", Some(pfn), format!("order-{order} pcp block not aligned"));
                    }
                    // Only where offline isolated it (see System::alloc_on's A1).
                    if pcp.high() != 0 && self.sys.isolated_while_going_offline(pfn) {
                        self.report("P5", Some(pfn), format!("page of an isolated pageblock of a block going offline stays on {name}"));
                    }
                    pages += 1 << order;
                    self.mark(pfn, order, Seen::Pcp);
                }
            }
            let count = pcp.count_hint() as u64;
            if pages != count {
                self.report("P1", None, format!("cpu{cpu} pcp count is {count} but its lists hold {pages} pages"));
            }
            if pcp.high() == 0 && pages > 0 {
                self.report("P5", None, format!("cpu{cpu} pcp is disabled (high 0) yet holds {pages} pages"));
            }
        }
    }
}
