//! Memory failure: hard offline (flag first, contain after), soft offline
//! (contain first, flag after, -EBUSY on a race), unpoison, and one test
//! per historical-bug switch: the switch on yields its invariant, the
//! landed design yields nothing, on the same sequence of operations.
#![cfg(not(feature = "shuttle"))]

use mm::violation::Violation;
use mm::pgtable::Pte;
use mm::memory_failure::{HwpGet, MfResult};
use mm::page_ref::page_count;
use mm::{Error, Landed, Switch, System};

mod common;
use common::{clean, has, show, sys};
use mm::geometry::Geometry;
const X86: Geometry = Geometry::X86_64;





/// (num_poisoned_pages, the pfn's memory block's nr_hwpoison)
fn poisoned(s: &System<Landed>, pfn: u64) -> (i64, i64) {
    (s.num_poisoned_pages(), s.memory_block(pfn / X86.pages_per_section()).unwrap().nr_hwpoison())
}

/// A pfn inside a free max-order block of block 1 (nothing allocated there).
const FREE_PFN: u64 = X86.pages_per_section() + 1000 + 7;

#[test]
fn hard_offline_of_a_free_page_takes_it_off_buddy_and_unpoison_gives_it_back() {
    let s = sys(&[]);
    let c = s.cpu(0).unwrap();
    let before = s.stats();
    assert!(s.zone().is_free_buddy_page(s.memmap(), FREE_PFN));
    assert_eq!(s.memory_failure(&c, FREE_PFN).unwrap(), MfResult::Recovered);
    let p = s.pfn_to_page(FREE_PFN).unwrap();
    assert!(p.PageHWPoison() && p.PageHWPoisonTakenOff() && !p.PageBuddy(), "{}", p.dump(FREE_PFN));
    assert_eq!(page_count(p), 1, "steady state: one reference, never freed");
    assert!(!s.zone().is_free_buddy_page(s.memmap(), FREE_PFN));
    assert!(s.zone().is_free_buddy_page(s.memmap(), FREE_PFN - 1) && s.zone().is_free_buddy_page(s.memmap(), FREE_PFN + 1), "the rest of the block stays free");
    let after = s.stats();
    assert_eq!(after.nr_free_pages, before.nr_free_pages - 1);
    assert_eq!(after.buddy_pages(), before.buddy_pages() - 1);
    assert_eq!(poisoned(&s, FREE_PFN), (1, 1));
    clean(&s);
    assert_eq!(s.memory_failure(&c, FREE_PFN).unwrap(), MfResult::AlreadyPoisoned);
    assert_eq!(poisoned(&s, FREE_PFN), (1, 1));

    s.unpoison_memory(&c, FREE_PFN).unwrap();
    assert!(!p.PageHWPoison() && !p.PageHWPoisonTakenOff());
    assert!(s.zone().is_free_buddy_page(s.memmap(), FREE_PFN));
    assert_eq!(poisoned(&s, FREE_PFN), (0, 0));
    assert_eq!(s.stats().nr_free_pages, before.nr_free_pages);
    assert_eq!(s.stats().buddy_pages(), before.buddy_pages());
    clean(&s);
}

#[test]
fn a_taken_off_page_is_never_allocated_again() {
    let s = sys(&[]);
    let c = s.cpu(0).unwrap();
    assert_eq!(s.memory_failure(&c, FREE_PFN).unwrap(), MfResult::Recovered);
    let mut held = Vec::new();
    while let Ok(p) = c.alloc_page() {
        assert_ne!(p, FREE_PFN, "allocated the poisoned page (H1/A1)");
        held.push(p);
    }
    assert_eq!(held.len() as u64, 2 * X86.pages_per_section() - 1, "everything else was allocatable");
    clean(&s);
    for p in held {
        c.put_page(p).unwrap();
    }
    clean(&s);
}

#[test]
fn hard_offline_of_a_mapped_page_unmaps_it_and_the_next_access_gets_sigbus() {
    let s = sys(&[]);
    let c = s.cpu(0).unwrap();
    let pfn = c.fault(3).unwrap();
    assert_eq!(s.memory_failure(&c, pfn).unwrap(), MfResult::Recovered);
    assert_eq!(s.pte(3).unwrap(), Pte::HwPoison);
    assert_eq!(c.fault(3), Err(Error::Sigbus { vpn: 3 }));
    let p = s.pfn_to_page(pfn).unwrap();
    assert!(p.PageHWPoison() && !p.PageLRU() && !p.page_mapped());
    assert_eq!(page_count(p), 1, "memory_failure keeps its reference");
    assert_eq!(poisoned(&s, pfn), (1, 1));
    clean(&s);
    assert_eq!(s.memory_failure(&c, pfn).unwrap(), MfResult::AlreadyPoisoned);

    s.unpoison_memory(&c, pfn).unwrap();
    assert!(!p.PageHWPoison());
    assert_eq!(page_count(p), 0, "unpoison dropped the last reference: freed");
    assert_eq!(poisoned(&s, pfn), (0, 0));
    clean(&s);
}

#[test]
fn hard_offline_of_a_pmd_mapped_thp_splits_it_first() {
    let s = sys(&[]);
    let c = s.cpu(0).unwrap();
    let head = c.fault_thp(512).unwrap();
    let raw = head + 5;
    assert_eq!(s.memory_failure(&c, raw).unwrap(), MfResult::Recovered);
    let p = s.pfn_to_page(raw).unwrap();
    assert!(p.PageHWPoison() && !p.PageTail() && !p.page_mapped());
    assert_eq!(page_count(p), 1);
    assert_eq!(s.pte(512 + 5).unwrap(), Pte::HwPoison);
    assert_eq!(c.fault(512 + 5), Err(Error::Sigbus { vpn: 512 + 5 }));
    assert_eq!(s.pte(512 + 6).unwrap(), Pte::Present(raw + 1), "the other subpages stay mapped by PTEs");
    assert_eq!(s.verify_user_page(512 + 6).unwrap(), Some(true));
    clean(&s);
}

#[test]
fn hard_offline_of_a_pinned_thp_marks_it_has_hwpoisoned() {
    let s = sys(&[]);
    let c = s.cpu(0).unwrap();
    let head = c.fault_thp(512).unwrap();
    c.pin(head).unwrap(); // an extra reference: the split is refused
    assert_eq!(s.memory_failure(&c, head + 9).unwrap(), MfResult::Ignored, "MF_MSG_UNSPLIT_THP");
    let hp = s.pfn_to_page(head).unwrap();
    assert!(hp.PageHasHWPoisoned() && hp.PageHead());
    assert!(s.pfn_to_page(head + 9).unwrap().PageHWPoison());
    assert_eq!(poisoned(&s, head), (1, 1));
}

#[test]
fn hard_offline_of_offline_memory_is_refused_and_m3_with_memmap_reads_offline() {
    let run = |sw: &[Switch]| {
        let s = sys(sw);
        let c = s.cpu(0).unwrap();
        s.offline_memory_block(&c, 1).unwrap();
        let pfn = X86.pages_per_section() + 5;
        assert_eq!(s.memory_failure(&c, pfn), Err(Error::PfnOffline { pfn }));
        assert_eq!(s.soft_offline_page(&c, pfn), Err(Error::PfnOffline { pfn }));
        assert_eq!(poisoned(&s, pfn), (0, 0));
        s.check()
    };
    let fixed = run(&[]);
    assert!(fixed.is_empty(), "{}", show(&fixed));
    let buggy = run(&[Switch::MemmapReadsOffline]);
    assert!(has(&buggy, "M3", Some(X86.pages_per_section() + 5)), "{}", show(&buggy));
}

/// C17: a free page that sits on a pcp list.
#[test]
fn hard_offline_of_a_page_on_a_pcp_list_h1_only_with_hwpoison_ignore_pcp_free() {
    let run = |sw: &[Switch]| {
        let s = sys(sw);
        let c = s.cpu(0).unwrap();
        let pfn = c.alloc_page().unwrap();
        c.put_page(pfn).unwrap();
        assert!(c.pcp_count() > 0 && !s.zone().is_free_buddy_page(s.memmap(), pfn), "setup: the page is on the pcp list");
        let r = s.memory_failure(&c, pfn).unwrap();
        assert!(s.pfn_to_page(pfn).unwrap().PageHWPoison(), "hard offline flags first");
        assert_eq!(poisoned(&s, pfn), (1, 1));
        (r, pfn, s.check())
    };
    let (r, _, fixed) = run(&[]);
    assert_eq!(r, MfResult::Recovered);
    assert!(fixed.is_empty(), "{}", show(&fixed));
    let (r, pfn, buggy) = run(&[Switch::HwpoisonIgnorePcpFree]);
    assert_eq!(r, MfResult::Ignored, "MF_MSG_KERNEL_HIGH_ORDER");
    assert!(has(&buggy, "H1", Some(pfn)), "{}", show(&buggy));
}

#[test]
fn hard_offline_of_a_kernel_page_is_ignored_and_leaked_at_its_free() {
    let s = sys(&[]);
    let c = s.cpu(0).unwrap();
    let pfn = c.alloc_page().unwrap();
    assert_eq!(s.memory_failure(&c, pfn).unwrap(), MfResult::Ignored, "not LRU, not free: unhandlable");
    let p = s.pfn_to_page(pfn).unwrap();
    assert!(p.PageHWPoison());
    assert_eq!(page_count(p), 1, "the owner keeps its reference");
    clean(&s);
    c.put_page(pfn).unwrap();
    assert_eq!(page_count(p), 0);
    assert!(!s.zone().is_free_buddy_page(s.memmap(), pfn), "the landed free path leaks the poisoned page");
    clean(&s);
    s.unpoison_memory(&c, pfn).unwrap();
    assert_eq!(poisoned(&s, pfn), (0, 0));
    clean(&s);
}

#[test]
fn the_checker_sees_a_taken_off_page_out_of_its_steady_state() {
    let s = sys(&[]);
    let c = s.cpu(0).unwrap();
    assert_eq!(s.memory_failure(&c, FREE_PFN).unwrap(), MfResult::Recovered);
    c.get_page(FREE_PFN).unwrap();
    let v = s.check();
    assert!(has(&v, "H2", Some(FREE_PFN)), "{}", show(&v));
    c.put_page(FREE_PFN).unwrap();
    clean(&s);
}

#[test]
fn unpoison_is_refused_after_a_hardware_memory_failure() {
    let s = sys(&[]);
    let c = s.cpu(0).unwrap();
    assert_eq!(s.memory_failure_mce(&c, FREE_PFN).unwrap(), MfResult::Recovered);
    assert!(matches!(s.unpoison_memory(&c, FREE_PFN), Err(Error::BadRequest(_))));
    assert_eq!(poisoned(&s, FREE_PFN), (1, 1));
    clean(&s);
}

#[test]
fn a_poisoned_page_does_not_stop_offline_but_stops_online() {
    let s = sys(&[]);
    let c = s.cpu(0).unwrap();
    assert_eq!(s.memory_failure(&c, FREE_PFN).unwrap(), MfResult::Recovered);
    s.offline_memory_block(&c, 1).unwrap();
    assert!(matches!(s.online_memory_block(1), Err(Error::HwPoisoned { block: 1, .. })));
    clean(&s);
    s.remove_memory(1).unwrap();
    assert_eq!(s.num_poisoned_pages(), 0, "remove_memory clears the block's poison");
    clean(&s);
}

#[test]
fn soft_offline_of_a_free_page_takes_it_off_buddy() {
    let s = sys(&[]);
    let c = s.cpu(0).unwrap();
    let before = s.stats().nr_free_pages;
    s.soft_offline_page(&c, FREE_PFN).unwrap();
    let p = s.pfn_to_page(FREE_PFN).unwrap();
    assert!(p.PageHWPoison() && p.PageHWPoisonTakenOff());
    assert_eq!(page_count(p), 1);
    assert_eq!(s.stats().nr_free_pages, before - 1);
    assert_eq!(poisoned(&s, FREE_PFN), (1, 1));
    clean(&s);
    s.soft_offline_page(&c, FREE_PFN).unwrap();
    assert_eq!(poisoned(&s, FREE_PFN), (1, 1), "already poisoned: nothing more");
    s.unpoison_memory(&c, FREE_PFN).unwrap();
    assert_eq!(s.stats().nr_free_pages, before);
    clean(&s);
}

/// B2(a): pre-5.10 soft offline flags a free page where it lies, in buddy.
#[test]
fn soft_offline_of_a_free_page_h1_only_with_soft_offline_poison_in_buddy() {
    let run = |sw: &[Switch]| {
        let s = sys(sw);
        let c = s.cpu(0).unwrap();
        s.soft_offline_page(&c, FREE_PFN).unwrap();
        assert!(s.pfn_to_page(FREE_PFN).unwrap().PageHWPoison());
        assert_eq!(poisoned(&s, FREE_PFN), (1, 1));
        s.check()
    };
    let fixed = run(&[]);
    assert!(fixed.is_empty(), "{}", show(&fixed));
    let buggy = run(&[Switch::SoftOfflinePoisonInBuddy]);
    assert!(has(&buggy, "H1", None), "{}", show(&buggy));
}

#[test]
fn soft_offline_of_a_mapped_page_migrates_it_and_never_sigbuses() {
    let s = sys(&[]);
    let c = s.cpu(0).unwrap();
    let pfn = c.fault(7).unwrap();
    s.soft_offline_page(&c, pfn).unwrap();
    let Pte::Present(new) = s.pte(7).unwrap() else { panic!("vpn 7 lost its mapping") };
    assert_ne!(new, pfn);
    assert_eq!(s.verify_user_page(7).unwrap(), Some(true), "contents preserved");
    assert_eq!(c.fault(7).unwrap(), new, "no SIGBUS for a corrected error");
    let p = s.pfn_to_page(pfn).unwrap();
    assert!(p.PageHWPoison() && !p.page_mapped() && !p.PageLRU());
    assert_eq!(page_count(p), 1, "flagged before its last put, leaked, then one reference");
    assert_eq!(poisoned(&s, pfn), (1, 1));
    clean(&s);
    s.unpoison_memory(&c, pfn).unwrap();
    assert_eq!(page_count(p), 0);
    clean(&s);
}

#[test]
fn soft_offline_of_a_thp_subpage_splits_and_migrates_it() {
    let s = sys(&[]);
    let c = s.cpu(0).unwrap();
    let head = c.fault_thp(1024).unwrap();
    s.soft_offline_page(&c, head + 3).unwrap();
    let Pte::Present(new) = s.pte(1024 + 3).unwrap() else { panic!("lost the mapping") };
    assert_ne!(new, head + 3);
    assert_eq!(s.verify_user_page(1024 + 3).unwrap(), Some(true));
    assert_eq!(s.verify_user_page(1024 + 4).unwrap(), Some(true));
    assert!(s.pfn_to_page(head + 3).unwrap().PageHWPoison());
    clean(&s);
}

#[test]
fn soft_offline_of_a_pinned_page_fails_busy_and_leaves_it_usable() {
    let s = sys(&[]);
    let c = s.cpu(0).unwrap();
    let pfn = c.fault(7).unwrap();
    c.get_page(pfn).unwrap(); // a pin: migration cannot freeze the page
    assert!(matches!(s.soft_offline_page(&c, pfn), Err(Error::Busy { .. })));
    assert_eq!(s.pte(7).unwrap(), Pte::Present(pfn));
    assert!(!s.pfn_to_page(pfn).unwrap().PageHWPoison());
    assert_eq!(s.verify_user_page(7).unwrap(), Some(true));
    assert_eq!(poisoned(&s, pfn), (0, 0));
    c.put_page(pfn).unwrap();
    clean(&s);
}

/// The step machine: step 1 grabs the page, step 2 migrates it (inside the
/// isolate dance when it is on), step 3 poisons the source.
fn dance(sw: &[Switch]) -> (Vec<Violation>, Vec<Violation>, u64) {
    let s = sys(sw);
    let c = s.cpu(0).unwrap();
    let pfn = c.fault(9).unwrap();
    let mut op = s.soft_offline_begin(pfn).unwrap();
    assert_eq!(op.step(&c), None, "get_hwpoison_page: in use");
    assert_eq!(op.step(&c), None, "isolated and migrated");
    let mid = s.check();
    assert_eq!(op.step(&c), Some(Ok(())));
    assert!(op.is_done());
    drop(op);
    (mid, s.check(), pfn)
}

/// B2(c): the raw ISOLATE flip of the pre-5.10 soft offline.
#[test]
fn soft_offline_i1_and_b3_inside_the_window_only_with_soft_offline_isolate_dance() {
    let (mid, end, pfn) = dance(&[]);
    assert!(mid.is_empty(), "{}", show(&mid));
    assert!(end.is_empty(), "{}", show(&end));
    let _ = pfn;
    let (mid, _end, _) = dance(&[Switch::SoftOfflineIsolateDance]);
    assert!(has(&mid, "I1", None) && has(&mid, "B3", None), "{}", show(&mid));
    // The migration target was refilled into the pcp from the flipped
    // block, so after the restore pages listed as Movable still carry a
    // cached ISOLATE type (P2): the damage outlives the window.
}

/// B2(a/b): the pre-5.10 in-use path frees the migrated source and flags it
/// only if it reached buddy, which the isolate dance makes happen.
#[test]
fn soft_offline_poison_in_buddy_h1_with_the_dance_silent_failure_without() {
    let (_, end, pfn) = dance(&[Switch::SoftOfflinePoisonInBuddy, Switch::SoftOfflineIsolateDance]);
    assert!(has(&end, "H1", Some(pfn)), "{}", show(&end));

    // Alone, the source goes to a pcp list, is not found in buddy and is
    // not poisoned, yet soft offline reports success (B2(b)).
    let s = sys(&[Switch::SoftOfflinePoisonInBuddy]);
    let c = s.cpu(0).unwrap();
    let pfn = c.fault(9).unwrap();
    assert_eq!(s.soft_offline_page(&c, pfn), Ok(()));
    assert!(!s.pfn_to_page(pfn).unwrap().PageHWPoison());
    assert_eq!(poisoned(&s, pfn), (0, 0));
    clean(&s);
}

#[test]
fn get_hwpoison_page_reports_what_it_found() {
    let s = sys(&[]);
    let c = s.cpu(0).unwrap();
    assert_eq!(s.get_hwpoison_page(&c, FREE_PFN, false).unwrap(), HwpGet::Free);
    let user = c.fault(2).unwrap();
    assert_eq!(s.get_hwpoison_page(&c, user, false).unwrap(), HwpGet::Got);
    assert_eq!(page_count(s.pfn_to_page(user).unwrap()), 2);
    c.put_page(user).unwrap();
    let kernel = c.alloc_page().unwrap();
    assert_eq!(s.get_hwpoison_page(&c, kernel, false).unwrap(), HwpGet::Unhandlable);
    c.put_page(kernel).unwrap();
    clean(&s);
}
