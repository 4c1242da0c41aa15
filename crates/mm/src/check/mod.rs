//! The invariant checker: walks the whole system and reports every
//! violation of the invariant catalogue below that the model can reach, each with its id, the pfn and an explanation.
//!
//! | id | what is checked |
//! |---|---|
//! | A2 | every pfn of an online section is in exactly one state (buddy, pcp, allocated, hwpoison-leaked, PageOffline); present/managed counters match the online sections |
//! | B1 | free blocks never overlap; two free buddies of one order are merged unless a non-mergeable migratetype boundary separates them |
//! | B2 | a free head is PageBuddy, refcount 0, private = order, aligned, on a well-linked list; no PageBuddy page is off the lists |
//! | B3 | a free block's list is its pageblocks' migratetype |
//! | B4 | NR_FREE_PAGES and nr_free\[order\] match the lists |
//! | P1 | pcp count = Σ 2^order of its lists |
//! | P2 | pcp pages: refcount 0, untyped, list migratetype cached in `index` |
//! | P3 | pcp lists terminate (no cycle) |
//! | P5 | a disabled pcp (high 0) holds no page at a quiescent point |
//! | H1 | no PG_hwpoison page on a pcp or buddy list |
//! | R1 | no reference on a page inside a free block (a get that turned 0 into 1) |
//! | R3 | no page left frozen: refcount 0 off every list (reported with A2) |
//! | R4 | no negative refcount (a put on a free page / double free) |
//! | I1 | nr_isolate_pageblock = number of ISOLATE pageblocks |
//! | P5 (isolation) | no page of an ISOLATE pageblock on an enabled pcp list at a quiescent point |
//! | M2 | vmemmap (altmap) pages are Reserved, referenced (the altmap's 1, plus speculative references), never free |
//! | M4 | altmap pages released exactly once (recorded at remove_memory) |
//! | H5 | Σ per-block nr_hwpoison = num_poisoned_pages; an online block's count = its PG_hwpoison pages |
//! | MG2 | every user mapping points at a page with refcount >= 1, mapcount 1, its owner tag, and (frame store) its bytes; THP entire/subpage mapcounts match the PMD/PTE entries ([`crate::folio`]) |
//! | MG3 | a folio's refcount >= folio_mapcount + pincount + swap-cache references |
//! | H7 | no PMD maps a THP with a hwpoisoned subpage |
//! | H2 | a page taken off buddy (MAGIC_HWPOISON) is at refcount 1 with PG_hwpoison, unmapped, outside memory_failure ([`crate::memory_failure`]) |
//! | H3 | soft offline never flags a page in use (recorded at run time) |
//! | HR1–HR3, HD1 | hugetlb reservations, counters and freelist; no folio both on the freelist and in buddy ([`crate::hugetlb`]) |
//! | A2 (LRU) | a mapped folio with PG_lru clear is held by an isolator (else its LRU flag was lost, C19) |
//! | V1–V5, CMM1 | balloon drivers' own state ([`crate::drivers`]): fake-offline pages referenced and off every list, loans conserved, every PageOffline page owned |
//! | O1, M3, V4, ... | violations recorded by the paths themselves (BUG_ON/WARN sites) |
//!
//! The checker never panics on a corrupted state: list walks are bounded and
//! every pfn is looked up fallibly.
//!
//! Lock order: memmap.hotplug → every pcp lock (remote side, ascending CPU)
//! → zone->lock. Holding all of them makes the walk see a quiescent system:
//! no CPU is inside an alloc or free while it runs.

mod balloon;
mod folio;
mod hugetlb;
mod hwpoison;

use crate::memmap::SectionState;
use crate::page::{Page, NIL};
use crate::page_alloc::pcp::{pindex_to_mt, pindex_to_order, NR_PCP_LISTS};
use crate::page_alloc::FreePath;
use crate::page_ref::page_count;
use crate::pageblock::{get_pageblock_migratetype, MigrateType, MIGRATE_PCPTYPES};
use crate::sync::plain::Ordering;
use crate::system::System;
use crate::violation::Violation;
use crate::Pfn;

/// Most violations reported by one walk; more are summarized.
pub const MAX_VIOLATIONS: usize = 1000;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Seen {
    None,
    BuddyHead,
    BuddyTail,
    Pcp,
    PcpTail,
}

struct Walk<'a, F: FreePath> {
    sys: &'a System<F>,
    seen: Vec<Seen>,
    out: Vec<Violation>,
    dropped: usize,
    bound: u64,
}

impl<'a, F: FreePath> Walk<'a, F> {
    fn report(&mut self, id: &'static str, pfn: Option<Pfn>, msg: String) {
        if self.out.len() < MAX_VIOLATIONS {
            self.out.push(Violation { id, pfn, msg });
        } else {
            self.dropped += 1;
        }
    }

    fn page(&self, pfn: Pfn) -> Option<&'a Page> {
        self.sys.memmap().pfn_to_online_page(pfn).ok()
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
    /// returns the pfns on it.
    fn walk_list(&mut self, id: &'static str, name: &str, head: u32, tail: u32) -> Vec<Pfn> {
        let mut v = Vec::new();
        let mut prev = NIL;
        let mut cur = head;
        while cur != NIL {
            if v.len() as u64 > self.bound {
                self.report(id, None, format!("{name}: list does not terminate (cycle through pfn {cur:#x})"));
                return v;
            }
            let Some(p) = self.page(cur as Pfn) else {
                // A free list entry outside online memory: the allocator can
                // hand out memory that is offline or gone (A1).
                self.report("A1", Some(cur as Pfn), format!("{name}: free list entry is not an online pfn"));
                return v;
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
        v
    }
}

impl<F: FreePath> System<F> {
    /// Walk the whole system and return every invariant violation found.
    /// Takes every lock of the allocator, so it sees a quiescent state.
    pub fn check(&self) -> Vec<Violation> {
        let mm = self.memmap();
        let zone = self.zone();
        let _h = mm.hotplug.lock();
        let pcp_guards: Vec<_> = zone.pcp.iter().map(|p| p.remote_lock()).collect();
        let fa = zone.lock.lock();
        // hugetlb_lock is a leaf: held across the walk, the pool is stable.
        let huge = self.hugetlb.lock();
        let max_pfn = mm.max_pfn();
        let mut w = Walk { sys: self, seen: vec![Seen::None; max_pfn as usize], out: Vec::new(), dropped: 0, bound: max_pfn };

        let mut online_pages = 0i64;
        let mut expect_managed = 0i64;
        let mut isolate_blocks = 0u64;
        let mut poison_total = 0i64;
        // The pages the hwpoison and balloon passes look at, gathered here
        // so that one walk of the memmap serves all three.
        let mut poison_pfns: Vec<Pfn> = Vec::new();
        let mut offline_pfns: Vec<Pfn> = Vec::new();
        // The lists and the memmap, read as one instant (under shuttle:
        // without a scheduling point per load; nothing in here blocks).
        crate::sync::quiet_loads(|| {
            // Buddy free lists (B1-B4, H1, R1).
            let mut heads: Vec<(Pfn, u32)> = Vec::new();
            let mut free_pages: i64 = 0;
            for order in 0..=mm.geometry().max_order {
                let mut blocks = 0u64;
                for mt in MigrateType::ALL {
                    let (h, t) = fa.lists[order as usize][mt as usize].raw();
                    let name = format!("free_list[{order}][{}]", mt.name());
                    for pfn in w.walk_list("B2", &name, h, t) {
                        blocks += 1;
                        let Some(p) = w.page(pfn) else { continue };
                        if !p.PageBuddy() {
                            w.report("B2", Some(pfn), format!("on {name} but not PageBuddy ({})", p.dump(pfn)));
                        }
                        if p.buddy_order() != order {
                            w.report("B2", Some(pfn), format!("on {name} but buddy_order is {}", p.buddy_order()));
                        }
                        let rc = page_count(p);
                        if rc < 0 {
                            w.report("R4", Some(pfn), format!("refcount {rc} on a free buddy page: a put on a free page"));
                        } else if rc != 0 {
                            w.report("B2", Some(pfn), format!("free buddy page has refcount {rc} (a reference to a free page, R1)"));
                        }
                        if p.PageHWPoison() {
                            w.report("H1", Some(pfn), format!("PG_hwpoison page on {name}"));
                        }
                        if pfn & ((1 << order) - 1) != 0 {
                            w.report("B1", Some(pfn), format!("order-{order} head not aligned to its order"));
                        }
                        let idx = p.index.load(Ordering::Relaxed) as usize;
                        if idx != mt as usize {
                            w.report("B2", Some(pfn), format!("records list {idx} but is on {name}"));
                        }
                        let nblocks = ((1u64 << order) / mm.geometry().pageblock_nr_pages()).max(1);
                        let start = pfn & !(mm.geometry().pageblock_nr_pages() - 1);
                        for b in 0..nblocks {
                            let bp = start + b * mm.geometry().pageblock_nr_pages();
                            if let Ok(bmt) = get_pageblock_migratetype(mm, bp) {
                                if bmt != mt {
                                    w.report("B3", Some(pfn), format!("on {name} but pageblock at {bp:#x} is {}", bmt.name()));
                                }
                            }
                        }
                        if !mt.is_isolate() {
                            free_pages += 1 << order;
                        }
                        heads.push((pfn, order));
                        w.mark(pfn, order, Seen::BuddyHead);
                    }
                }
                if blocks != fa.nr_free[order as usize] {
                    w.report("B4", None, format!("nr_free[{order}] is {} but the lists hold {blocks} blocks", fa.nr_free[order as usize]));
                }
            }
            let nr_free_pages = zone.nr_free_pages.load(Ordering::Relaxed);
            if nr_free_pages != free_pages {
                w.report("B4", None, format!("NR_FREE_PAGES is {nr_free_pages} but non-isolate free lists hold {free_pages} pages"));
            }

            // B1: free buddies that should have merged.
            for &(pfn, order) in &heads {
                if order >= mm.geometry().max_order {
                    continue;
                }
                let buddy = pfn ^ (1 << order);
                if buddy < pfn || w.seen.get(buddy as usize) != Some(&Seen::BuddyHead) {
                    continue;
                }
                let Some(b) = w.page(buddy) else { continue };
                if !b.PageBuddy() || b.buddy_order() != order {
                    continue;
                }
                if order >= mm.geometry().pageblock_order {
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
                w.report("B1", Some(pfn), format!("free order-{order} buddies {pfn:#x} and {buddy:#x} were not merged"));
            }

            // pcp lists (P1-P3, P5, H1).
            for (cpu, pcp) in zone.pcp.iter().enumerate() {
                let mut pages = 0u64;
                for pindex in 0..NR_PCP_LISTS {
                    let (h, t) = pcp.lists[pindex].raw();
                    let order = pindex_to_order(pindex, mm.geometry().pageblock_order);
                    let lmt = pindex_to_mt(pindex);
                    let name = format!("cpu{cpu} pcp list {pindex} (order {order})");
                    for pfn in w.walk_list("P3", &name, h, t) {
                        let Some(p) = w.page(pfn) else { continue };
                        let rc = page_count(p);
                        if rc < 0 {
                            w.report("R4", Some(pfn), format!("refcount {rc} on a pcp page: a put on a free page (double free)"));
                        } else if rc != 0 {
                            w.report("P2", Some(pfn), format!("pcp page has refcount {rc} (a reference to a free page, R1)"));
                        }
                        if let Some(t) = p.page_type() {
                            w.report("P2", Some(pfn), format!("pcp page has page type {t:?}"));
                        }
                        if p.PageHWPoison() {
                            w.report("H1", Some(pfn), format!("PG_hwpoison page on {name}"));
                        }
                        let idx = p.pcp_migratetype() as usize;
                        if idx >= MIGRATE_PCPTYPES || (order <= crate::PAGE_ALLOC_COSTLY_ORDER && idx != lmt) {
                            w.report("P2", Some(pfn), format!("cached migratetype {idx} does not match {name}"));
                        }
                        if pfn & ((1 << order) - 1) != 0 {
                            w.report("P2", Some(pfn), format!("order-{order} pcp block not aligned"));
                        }
                        if pcp.high() != 0 && get_pageblock_migratetype(mm, pfn) == Ok(MigrateType::Isolate) {
                            w.report("P5", Some(pfn), format!("page of an isolated pageblock stays on {name}"));
                        }
                        pages += 1 << order;
                        w.mark(pfn, order, Seen::Pcp);
                    }
                }
                let count = pcp.count_hint() as u64;
                if pages != count {
                    w.report("P1", None, format!("cpu{cpu} pcp count is {count} but its lists hold {pages} pages"));
                }
                if pcp.high() == 0 && pages > 0 {
                    w.report("P5", None, format!("cpu{cpu} pcp is disabled (high 0) yet holds {pages} pages"));
                }
            }

            // Every pfn of every online section (A2, B2, R1, R3, R4).
            for nr in 0..mm.max_sections() as u64 {
                let blk = &self.blocks[nr as usize];
                poison_total += blk.nr_hwpoison();
                if mm.section_state_nr(nr) != Ok(SectionState::Online) {
                    continue;
                }
                online_pages += mm.geometry().pages_per_section() as i64;
                let base = nr * mm.geometry().pages_per_section();
                let vm = blk.nr_vmemmap_pages() as u64;
                expect_managed += (mm.geometry().pages_per_section() - vm) as i64;
                let mut b = base;
                while b < base + mm.geometry().pages_per_section() {
                    if get_pageblock_migratetype(mm, b) == Ok(MigrateType::Isolate) {
                        isolate_blocks += 1;
                    }
                    b += mm.geometry().pageblock_nr_pages();
                }
                let mut flagged = 0i64;
                let Some(pages) = mm.online_section_pages(base) else { continue };
                for (pfn, p) in (base..).zip(pages) {
                    let rc = page_count(p);
                    if p.PageHWPoison() {
                        flagged += 1;
                    }
                    if p.PageHWPoison() || p.PageHWPoisonHeld() || p.PageHWPoisonTakenOff() {
                        poison_pfns.push(pfn);
                    }
                    if p.PageOffline() {
                        // Held by a balloon driver: not managed.
                        expect_managed -= 1;
                        offline_pfns.push(pfn);
                    }
                    if pfn < base + vm {
                        // Refcount 1 is the altmap's; a speculative reference
                        // (a pfn walker, soft offline's grab) may sit on top.
                        if !p.PageReserved() || rc < 1 || w.seen[pfn as usize] != Seen::None {
                            w.report("M2", Some(pfn), format!("vmemmap page not Reserved/referenced/off the lists: {}", p.dump(pfn)));
                        }
                        continue;
                    }
                    match w.seen[pfn as usize] {
                        Seen::BuddyHead => {}
                        Seen::Pcp => {}
                        Seen::BuddyTail | Seen::PcpTail => {
                            if p.PageBuddy() {
                                w.report("B1", Some(pfn), "PageBuddy head nested inside a larger free block".into());
                            }
                            if rc < 0 {
                                w.report("R4", Some(pfn), format!("refcount {rc} inside a free block"));
                            } else if rc != 0 {
                                w.report("R1", Some(pfn), format!("refcount {rc} on a page inside a free block"));
                            }
                            if p.PageHWPoison() {
                                w.report("H1", Some(pfn), "PG_hwpoison page inside a free block".into());
                            }
                        }
                        Seen::None => {
                            if p.PageBuddy() {
                                w.report("B2", Some(pfn), format!("PageBuddy page on no free list ({})", p.dump(pfn)));
                            } else if rc < 0 {
                                w.report("R4", Some(pfn), format!("refcount {rc}: a put on a page without a reference"));
                            } else if rc == 0 {
                                w.check_unlisted_zero(pfn, p);
                            } else if p.PageTail() {
                                w.report("A2", Some(pfn), format!("tail page holds its own refcount {rc}"));
                            }
                        }
                    }
                }
                if flagged != blk.nr_hwpoison() {
                    w.report("H5", Some(base), format!("block {nr} counts {} hwpoisoned pages but {flagged} carry PG_hwpoison", blk.nr_hwpoison()));
                }
            }
        });
        if isolate_blocks != fa.nr_isolate_pageblock {
            w.report("I1", None, format!("nr_isolate_pageblock is {} but {isolate_blocks} pageblocks are ISOLATE", fa.nr_isolate_pageblock));
        }
        let np = self.num_poisoned_pages();
        if np != poison_total {
            w.report("H5", None, format!("num_poisoned_pages is {np} but the blocks count {poison_total}"));
        }
        let present = zone.present_pages.load(Ordering::Relaxed);
        let managed = zone.managed_pages.load(Ordering::Relaxed);
        if present != online_pages {
            w.report("A2", None, format!("present_pages is {present} but online sections hold {online_pages} pages"));
        }
        if managed != expect_managed {
            w.report("A2", None, format!("managed_pages is {managed} but online sections manage {expect_managed} pages (less vmemmap and PageOffline)"));
        }
        self.check_hwpoison(&poison_pfns, &mut |id, pfn, msg| w.report(id, pfn, msg));
        self.check_hugetlb(&huge, &mut |id, pfn, msg| w.report(id, pfn, msg));
        drop(huge);
        drop(fa);
        drop(pcp_guards);
        // User mappings (MG2): taken after the allocator locks are dropped,
        // still under mem_hotplug_lock so sections cannot change.
        w.check_user_mappings();
        self.check_folios(&mut |id, pfn, msg| w.report(id, pfn, msg));
        self.check_balloons(&offline_pfns, &mut |id, pfn, msg| w.report(id, pfn, msg));
        for v in self.violations.snapshot().iter() {
            w.report(v.id, v.pfn, v.msg.clone());
        }
        if w.dropped > 0 {
            let n = w.dropped;
            w.out.push(Violation { id: "A2", pfn: None, msg: format!("... and {n} more violations not listed") });
        }
        w.out
    }
}

impl<F: FreePath> Walk<'_, F> {
    /// MG2: every present pte maps a live page carrying its owner tag and
    /// (with the frame store) its bytes.
    fn check_user_mappings(&mut self) {
        for (vpn, pfn) in self.sys.user_mappings() {
            let Some(p) = self.page(pfn) else {
                self.report("MG2", Some(pfn), format!("vpn {vpn} maps a pfn that is not online"));
                continue;
            };
            // A PTE-mapped THP subpage is referenced through its head.
            let rc = p.compound_head_pfn().and_then(|h| self.page(h)).map_or(page_count(p), page_count);
            if rc < 1 || p.page_mapcount() != 1 || p.PageBuddy() {
                self.report("MG2", Some(pfn), format!("vpn {vpn} maps a page that is not in use: {}", p.dump(pfn)));
                continue;
            }
            match self.sys.verify_user_page_with(vpn, false) {
                Ok(Some(true)) | Ok(None) => {}
                Ok(Some(false)) => self.report("MG2", Some(pfn), format!("vpn {vpn}: contents or owner tag lost")),
                Err(e) => self.report("MG2", Some(pfn), format!("vpn {vpn}: {e}")),
            }
        }
    }

    /// A page at refcount 0 on no list: legitimate only as a tail of a live
    /// compound page, a leaked hwpoison page (H2) or a PageOffline page.
    fn check_unlisted_zero(&mut self, pfn: Pfn, p: &Page) {
        if let Some(head) = p.compound_head_pfn() {
            let live = self.page(head).is_some_and(|h| {
                h.PageHead()
                    && (page_count(h) > 0 || crate::hugetlb::state::folio_is_free_hugetlb(h))
                    && pfn < head + (1u64 << h.compound_order())
            });
            if !live {
                self.report("A2", Some(pfn), format!("tail of compound head {head:#x}, which is not a live compound page"));
            }
        } else if p.PageHWPoison() || p.PageOffline() || p.PageHWPoisonTakenOff() || crate::hugetlb::state::folio_is_free_hugetlb(p) {
            // Leaked/taken-off poisoned page (H2), a balloon page, or a
            // folio on the hugetlb freelist (HR3): owned outside the allocator.
        } else {
            self.report(
                "A2",
                Some(pfn),
                "refcount 0 but on no free list: leaked by the free path, or frozen and never unfrozen (R3)".into(),
            );
        }
    }
}

#[cfg(all(test, not(feature = "shuttle")))]
mod tests {
    //! Each test corrupts the state on purpose and asserts that the right
    //! violation id comes back: a checker that cannot fail is a defect.
    use super::*;
    use crate::page_ref::{page_ref_freeze, set_page_count};
    use crate::{Config, Landed};
    use crate::geometry::Geometry;
    const X86: Geometry = Geometry::X86_64;

    fn sys() -> System<Landed> {
        System::new(Config { mem_bytes: X86.section_size(), max_sections: 2, nr_cpus: 2, ..Config::default() }).unwrap()
    }

    fn ids(v: &[Violation]) -> Vec<&'static str> {
        v.iter().map(|v| v.id).collect()
    }

    fn expect(s: &System<Landed>, id: &str, pfn: Option<Pfn>) {
        let v = s.check();
        assert!(
            v.iter().any(|x| x.id == id && (pfn.is_none() || x.pfn == pfn)),
            "expected {id} at {pfn:?}, got:\n{}",
            v.iter().map(|v| v.to_string()).collect::<Vec<_>>().join("\n")
        );
    }

    #[test]
    fn clean_system_has_no_violation() {
        let s = sys();
        let c = s.cpu(0).unwrap();
        let p = c.alloc_pages(3, MigrateType::Movable).unwrap();
        let q = c.alloc_page().unwrap();
        assert_eq!(ids(&s.check()), Vec::<&str>::new());
        c.put_page(q).unwrap();
        c.free_pages(p, 3).unwrap();
        assert_eq!(ids(&s.check()), Vec::<&str>::new());
    }

    #[test]
    fn page_on_a_pcp_list_and_a_buddy_list_is_a2() {
        let s = sys();
        let c = s.cpu(0).unwrap();
        let p = c.alloc_page().unwrap();
        c.put_page(p).unwrap(); // now on the pcp list
        {
            let mut fa = s.zone().lock.lock();
            let page = s.pfn_to_page(p).unwrap();
            page.__SetPageBuddy();
            fa.lists[0][MigrateType::Movable as usize].push_front(s.memmap(), p as u32, page);
            fa.nr_free[0] += 1;
        }
        expect(&s, "A2", Some(p));
    }

    #[test]
    fn wrong_free_counter_is_b4() {
        let s = sys();
        s.zone().mod_free_pages(5);
        expect(&s, "B4", None);
        s.zone().mod_free_pages(-5);
        assert!(s.check().is_empty());
        s.zone().lock.lock().nr_free[4] += 1;
        expect(&s, "B4", None);
    }

    #[test]
    fn buddy_page_with_a_refcount_is_b2() {
        let s = sys();
        let head = {
            let fa = s.zone().lock.lock();
            fa.lists[X86.max_order as usize][MigrateType::Movable as usize].first().unwrap() as Pfn
        };
        set_page_count(s.pfn_to_page(head).unwrap(), 1);
        expect(&s, "B2", Some(head));
        // And a reference inside the block (not the head) is R1.
        set_page_count(s.pfn_to_page(head).unwrap(), 0);
        set_page_count(s.pfn_to_page(head + 5).unwrap(), 1);
        expect(&s, "R1", Some(head + 5));
    }

    #[test]
    fn pagebuddy_off_the_lists_is_b2() {
        let s = sys();
        let c = s.cpu(0).unwrap();
        let p = c.alloc_page().unwrap();
        let page = s.pfn_to_page(p).unwrap();
        set_page_count(page, 0);
        page.__SetPageBuddy();
        expect(&s, "B2", Some(p));
    }

    #[test]
    fn unmerged_buddies_are_b1() {
        let s = sys();
        let mm = s.memmap();
        let z = s.zone();
        let mut fa = z.lock.lock();
        let head = fa.lists[mm.geometry().max_order as usize][MigrateType::Movable as usize].first().unwrap() as Pfn;
        z.del_page_from_free_list(mm, &mut fa, head, mm.geometry().max_order);
        // Two order-9 halves, both free, side by side: the merge was skipped.
        z.add_to_free_list(mm, &mut fa, head, 9, MigrateType::Movable, false);
        z.add_to_free_list(mm, &mut fa, head + 512, 9, MigrateType::Movable, false);
        drop(fa);
        expect(&s, "B1", Some(head));
    }

    #[test]
    fn block_on_the_wrong_migratetype_list_is_b3() {
        let s = sys();
        let head = s.zone().lock.lock().lists[X86.max_order as usize][MigrateType::Movable as usize].first().unwrap() as Pfn;
        crate::pageblock::set_pageblock_migratetype(s.memmap(), head, MigrateType::Unmovable).unwrap();
        expect(&s, "B3", Some(head));
    }

    #[test]
    fn pcp_count_mismatch_is_p1_and_disabled_pcp_with_pages_is_p5() {
        let s = sys();
        let c = s.cpu(0).unwrap();
        let p = c.alloc_page().unwrap();
        c.put_page(p).unwrap();
        let pcp = &s.zone().pcp[0];
        let n = pcp.count_hint();
        pcp.corrupt_count(n + 1);
        expect(&s, "P1", None);
        pcp.corrupt_count(n);
        pcp.corrupt_high(0);
        expect(&s, "P5", None);
    }

    #[test]
    fn hwpoison_on_a_pcp_list_is_h1() {
        let s = sys();
        let c = s.cpu(0).unwrap();
        let p = c.alloc_page().unwrap();
        c.put_page(p).unwrap();
        s.pfn_to_page(p).unwrap().SetPageHWPoison();
        expect(&s, "H1", Some(p));
    }

    #[test]
    fn double_free_is_r4() {
        let s = sys();
        let c = s.cpu(0).unwrap();
        let p = c.alloc_page().unwrap();
        c.put_page(p).unwrap();
        assert!(matches!(c.put_page(p), Err(crate::Error::PutOnZeroRef { pfn, count: 0 }) if pfn == p));
        expect(&s, "R4", Some(p));
    }

    #[test]
    fn frozen_and_forgotten_page_is_a2() {
        let s = sys();
        let c = s.cpu(0).unwrap();
        let p = c.alloc_page().unwrap();
        assert!(page_ref_freeze(s.pfn_to_page(p).unwrap(), 1));
        let v = s.check();
        let hit = v.iter().find(|x| x.pfn == Some(p)).expect("the frozen page is reported");
        assert_eq!(hit.id, "A2");
        assert!(hit.msg.contains("R3"), "{hit}");
    }

    #[test]
    fn broken_list_link_and_cycle_are_reported_without_panic() {
        let s = sys();
        let c = s.cpu(0).unwrap();
        let a = c.alloc_page().unwrap();
        let b = c.alloc_page().unwrap();
        c.put_page(a).unwrap();
        c.put_page(b).unwrap();
        // Make the pcp list loop: b -> a -> b ...
        let pa = s.pfn_to_page(a).unwrap();
        pa.lru_next.store(b as u32, Ordering::Relaxed);
        let v = s.check();
        assert!(v.iter().any(|x| x.id == "P3"), "{v:?}");
    }

    #[test]
    fn counters_out_of_step_with_sections_are_a2() {
        let s = sys();
        s.zone().present_pages.fetch_add(1, Ordering::Relaxed);
        expect(&s, "A2", None);
    }
}
