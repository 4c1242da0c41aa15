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
//! # Full and incremental checks
//! [`System::check`] walks everything. [`System::check_incremental`] (the
//! fuzz harness's check after each op) walks every list and every counter
//! equation as a full check does — lists are short — but applies the
//! per-page rules only to the pages the ops since the last check touched
//! ([`crate::touched`], the cargo feature `track-touched`) and to what they
//! lead to (a compound page's tails, a free block's pages, every page of a
//! section that changed state), moving the per-block sums by those pages'
//! changes ([`state::CheckState`]); the folio and mapping passes likewise
//! look only at the written page-table ranges and the visited pages'
//! folios. It falls back to a full walk on its first call (unless given
//! the state of a full walk of the same machine), when asked to, and
//! without the feature. A corruption of a page nothing touched is found by
//! the next full walk (the harness makes one every few ops and at the end
//! of a run). The touched sets are drained when a check starts and emptied
//! again when it ends (the checker's own lookups are not the ops'), so an
//! incremental check needs its caller to be the machine's only actor while
//! it runs: the sequential harness.
//!
//! Lock order: memmap.hotplug → every pcp lock (remote side, ascending CPU)
//! → zone->lock. Holding all of them makes the walk see a quiescent system:
//! no CPU is inside an alloc or free while it runs.

mod balloon;
mod folio;
mod hugetlb;
mod hwpoison;
mod pages;
pub mod state;
mod walk;

use crate::page_alloc::pcp::{PcpOwnerGuard, PcpRemoteGuard};
use crate::page_alloc::FreePath;
use crate::system::Cpu;
use crate::sync::plain::Ordering;
use crate::system::System;
use crate::violation::Violation;
use pages::{Candidates, Sums};
pub use state::CheckState;
use walk::Walk;
pub use walk::MAX_VIOLATIONS;

/// The pcp locks a check holds (for their drop): from the remote side, or
/// from the owner's (the caller holds every CPU slot).
enum PcpHeld<'a> {
    Remote(#[allow(dead_code)] Vec<PcpRemoteGuard<'a>>),
    Owner(#[allow(dead_code)] Vec<PcpOwnerGuard<'a>>),
}

impl<F: FreePath> System<F> {
    /// Walk the whole system and return every invariant violation found.
    /// Takes every lock of the allocator, so it sees a quiescent state.
    pub fn check(&self) -> Vec<Violation> {
        self.run_check(None, true, None)
    }

    /// An incremental check with the state `st` of earlier checks of this
    /// run (see the module doc); `full` asks for a full walk, which also
    /// brings `st` up to date. The caller must be the machine's only actor.
    /// `held`: the CPU contexts the caller holds; when they are every slot
    /// of the machine, no other context can be inside a pcp critical
    /// section, and the check takes each pcp's lock from its owner's side
    /// (a plain store) instead of the remote side (a heavy barrier).
    pub fn check_incremental<'c>(&self, st: &mut CheckState, full: bool, held: impl IntoIterator<Item = &'c Cpu<'c, F>>) -> Vec<Violation>
    where
        F: 'c,
    {
        let mut mine = vec![None; self.zone().nr_cpus()];
        for c in held {
            if std::ptr::eq(c.system(), self) {
                if let Some(slot) = mine.get_mut(c.id()) {
                    *slot = Some(c);
                }
            }
        }
        let owned: Option<Vec<&Cpu<'_, F>>> = mine.into_iter().collect();
        self.run_check(Some(st), full, owned.as_deref())
    }

    fn run_check(&self, mut st: Option<&mut CheckState>, full: bool, owned: Option<&[&Cpu<'_, F>]>) -> Vec<Violation> {
        let mm = self.memmap();
        let zone = self.zone();
        let _h = mm.hotplug.lock();
        let pcp_guards = match owned {
            Some(cpus) => PcpHeld::Owner(cpus.iter().map(|c| c.pcp_owner_lock()).collect()),
            None => PcpHeld::Remote(crate::page_alloc::pcp::PerCpuPages::remote_lock_all(&zone.pcp)),
        };
        let fa = zone.lock.lock();
        // hugetlb_lock is a leaf: held across the walk, the pool is stable.
        let huge = self.hugetlb.lock();
        let sections: Vec<u8> = (0..mm.max_sections() as u64).map(|nr| mm.section_state_nr(nr).map_or(0, |s| s as u8)).collect();
        // What the ops since the last check touched, if this check may be
        // incremental: a primed state, the same sections, a touched set.
        let touched = match (st.as_deref_mut(), mm.touched()) {
            (Some(s), Some(t)) => {
                let mut v = std::mem::take(&mut s.touched);
                v.clear();
                t.drain(&mut v);
                let mut vpns = std::mem::take(&mut s.vpns);
                vpns.clear();
                self.aspace.ptl.lock().drain_touched(&mut vpns);
                let incremental = !full && s.primed && s.sections.len() == sections.len();
                s.touched = v;
                s.vpns = vpns;
                incremental
            }
            _ => false,
        };
        let mut w = Walk::new(self);
        let mut sums = Sums::default();
        let mut cand = Candidates::default();
        // The lists and the memmap, read as one instant (under shuttle:
        // without a scheduling point per load; nothing in here blocks).
        crate::sync::quiet_loads(|| {
            w.free_lists(&fa);
            w.pcp_lists();
            match st.as_deref_mut() {
                Some(s) if touched => {
                    let mut t = std::mem::take(&mut s.touched);
                    // A section that changed state: all its pages count
                    // anew (its sums from zero).
                    let pps = mm.geometry().pages_per_section();
                    for (nr, &now) in sections.iter().enumerate() {
                        if s.sections[nr] != now {
                            s.forget_section(nr, pps);
                            t.extend(nr as u64 * pps..(nr as u64 + 1) * pps);
                        }
                    }
                    w.touched_pages(&t, &mut sums, &mut cand, s);
                    s.touched = t;
                }
                s => w.all_pages(&mut sums, &mut cand, s),
            }
        });
        if sums.isolate_blocks != fa.nr_isolate_pageblock {
            w.report("I1", None, format!("nr_isolate_pageblock is {} but {} pageblocks are ISOLATE", fa.nr_isolate_pageblock, sums.isolate_blocks));
        }
        let np = self.num_poisoned_pages();
        if np != sums.poison_total {
            w.report("H5", None, format!("num_poisoned_pages is {np} but the blocks count {}", sums.poison_total));
        }
        let present = zone.present_pages.load(Ordering::Relaxed);
        let managed = zone.managed_pages.load(Ordering::Relaxed);
        if present != sums.online_pages {
            w.report("A2", None, format!("present_pages is {present} but online sections hold {} pages", sums.online_pages));
        }
        if managed != sums.expect_managed {
            w.report("A2", None, format!("managed_pages is {managed} but online sections manage {} pages (less vmemmap and PageOffline)", sums.expect_managed));
        }
        self.check_hwpoison(&cand.poison, &mut |id, pfn, msg| w.report(id, pfn, msg));
        self.check_hugetlb(&huge, &mut |id, pfn, msg| w.report(id, pfn, msg));
        drop(huge);
        drop(fa);
        drop(pcp_guards);
        // User mappings (MG2) and folios: taken after the allocator locks
        // are dropped, still under mem_hotplug_lock so sections cannot
        // change.
        match st.as_deref_mut() {
            Some(s) if touched => {
                let maps = {
                    let pt = self.aspace.ptl.lock();
                    pages::touched_mappings(&pt, &s.vpns, &s.visit, |pfn| mm.observe_online_page(pfn).ok().map(|p| p.owner()))
                };
                w.user_mappings(&maps);
                let (vpns, visit) = (std::mem::take(&mut s.vpns), std::mem::take(&mut s.visit));
                self.check_folios_touched(s, &vpns, &visit, &mut |id, pfn, msg| w.report(id, pfn, msg));
                (s.vpns, s.visit) = (vpns, visit);
                s.incremental_checks += 1;
            }
            s => {
                w.user_mappings(&self.user_mappings());
                let counted = s.is_some();
                self.check_folios(s, &mut |id, pfn, msg| w.report(id, pfn, msg));
                if counted {
                    if let Some(s) = st.as_deref_mut() {
                        s.full_checks += 1;
                    }
                }
            }
        }
        self.check_balloons(&cand.offline, &mut |id, pfn, msg| w.report(id, pfn, msg));
        for v in self.violations.snapshot().iter() {
            w.report(v.id, v.pfn, v.msg.clone());
        }
        if let Some(s) = st {
            // The checker's own lookups are not the ops': forget them.
            if let Some(t) = mm.touched() {
                t.clear();
            }
            let mut scratch = std::mem::take(&mut s.vpns);
            self.aspace.ptl.lock().drain_touched(&mut scratch);
            scratch.clear();
            s.vpns = scratch;
            s.sections = sections;
            s.primed = true;
        }
        w.finish()
    }
}

#[cfg(all(test, not(feature = "shuttle")))]
mod tests {
    //! Each test corrupts the state on purpose and asserts that the right
    //! violation id comes back: a checker that cannot fail is a defect.
    use super::*;
    use crate::pageblock::MigrateType;
    use crate::sync::plain::Ordering;
    use crate::Pfn;
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

    /// The incremental check sees a corruption through the touched set and
    /// only through it; the full walk sees it regardless. (A corruption
    /// nothing marked is what the harness's periodic full walk is for.)
    #[cfg(feature = "track-touched")]
    #[test]
    fn an_untouched_corruption_is_found_by_the_full_walk_only() {
        let s = sys();
        let mut st = CheckState::new();
        let none: [&Cpu<'_, Landed>; 0] = [];
        assert_eq!(ids(&s.check_incremental(&mut st, false, none)), Vec::<&str>::new());
        assert_eq!(st.full_checks, 1, "the first check of a state is a full walk");
        let head = {
            let fa = s.zone().lock.lock();
            fa.lists[X86.max_order as usize][MigrateType::Movable as usize].first().unwrap() as Pfn
        };
        // Through the accessor: the page is touched, the incremental check finds R1.
        set_page_count(s.pfn_to_page(head + 5).unwrap(), 1);
        let v = s.check_incremental(&mut st, false, none);
        assert!(v.iter().any(|x| x.id == "R1" && x.pfn == Some(head + 5)), "{v:?}");
        assert_eq!(st.incremental_checks, 1);
        // Mend it, then corrupt another tail and forget that it was touched.
        set_page_count(s.pfn_to_page(head + 5).unwrap(), 0);
        assert_eq!(ids(&s.check_incremental(&mut st, false, none)), Vec::<&str>::new());
        set_page_count(s.pfn_to_page(head + 9).unwrap(), 1);
        s.memmap().touched().unwrap().clear();
        assert_eq!(ids(&s.check_incremental(&mut st, false, none)), Vec::<&str>::new(), "nothing touched, nothing looked at");
        let v = s.check_incremental(&mut st, true, none);
        assert!(v.iter().any(|x| x.id == "R1" && x.pfn == Some(head + 9)), "{v:?}");
        assert_eq!(st.full_checks, 2);
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
