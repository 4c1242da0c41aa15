//! hugetlb: pool, reservations, faults, frees, dissolve, offline migration,
//! hwpoison of huge pages, and one test per historical-bug switch, each run
//! on the same operation sequence with the switch on (its invariant is
//! reported) and off (nothing is). The two race windows (C6, C7) are
//! written out step by step with the public halves of the split operations.
#![cfg(not(feature = "shuttle"))]

use mm::hugetlb::state::HugetlbCounters;
use mm::memory_failure::{HwpGet, MfResult};
use mm::page_ref::page_count;
use mm::{Error, Landed, Switch, System};

mod common;
use common::{clean, has, show, sys};
use mm::geometry::Geometry;
const X86: Geometry = Geometry::X86_64;





fn counters(nr: i64, free: i64, resv: i64, surplus: i64) -> HugetlbCounters {
    HugetlbCounters { nr, free, resv, surplus }
}

fn all_free_in_buddy(s: &System<Landed>, head: u64, except: Option<u64>) -> bool {
    (head..head + X86.hpage_pmd_nr()).filter(|&p| Some(p) != except).all(|p| s.zone().is_free_buddy_page(s.memmap(), p))
}

#[test]
fn pool_reserve_fault_free_roundtrip() {
    let s = sys(&[]);
    let c = s.cpu(0).unwrap();
    assert_eq!(s.hugetlb_alloc_pool(&c, 3).unwrap(), 3);
    assert_eq!(s.hugetlb_counters(), counters(3, 3, 0, 0));
    for f in s.hugetlb_freelist() {
        let p = s.pfn_to_page(f).unwrap();
        assert!(p.PageHugetlb() && p.PageHead() && p.compound_order() == 9 && f % X86.hpage_pmd_nr() == 0);
        assert_eq!(page_count(p), 0, "pool folios are free at refcount 0");
    }
    clean(&s);
    s.hugetlb_reserve(2).unwrap();
    assert!(matches!(s.hugetlb_reserve(2), Err(Error::NoMemory { .. })), "only one left unreserved");
    let a = s.hugetlb_fault().unwrap();
    assert_eq!(s.hugetlb_counters(), counters(3, 2, 1, 0));
    assert_eq!(page_count(s.pfn_to_page(a).unwrap()), 1);
    assert_eq!(s.hugetlb_mapped(), vec![a]);
    clean(&s);
    s.hugetlb_free(a).unwrap();
    assert_eq!(s.hugetlb_counters(), counters(3, 3, 1, 0));
    assert!(s.hugetlb_free(a).is_err(), "not mapped any more");
    s.hugetlb_unreserve(1).unwrap();
    clean(&s);
    // Without reservations every free folio can be faulted, then no more.
    let got: Vec<_> = (0..3).map(|_| s.hugetlb_fault().unwrap()).collect();
    assert_eq!(s.hugetlb_fault(), Err(Error::HugetlbSigbus { reserved: false }));
    clean(&s);
    for f in got {
        s.hugetlb_free(f).unwrap();
    }
    clean(&s);
}

#[test]
fn dissolve_gives_a_free_folio_back_to_buddy_and_refuses_an_in_use_one() {
    let s = sys(&[]);
    let c = s.cpu(0).unwrap();
    s.hugetlb_alloc_pool(&c, 2).unwrap();
    let a = s.hugetlb_fault().unwrap();
    let b = s.hugetlb_freelist()[0];
    assert!(matches!(s.dissolve_free_hugetlb_folio(a + 5), Err(Error::Busy { .. })));
    s.dissolve_free_hugetlb_folio(b + 5).unwrap();
    assert_eq!(s.hugetlb_counters(), counters(1, 0, 0, 0));
    assert!(all_free_in_buddy(&s, b, None));
    s.dissolve_free_hugetlb_folio(b).unwrap(); // not hugetlb any more: nothing to do
    clean(&s);
    s.hugetlb_free(a).unwrap();
    clean(&s);
}

/// C8: dissolving the free folio a reservation counts on.
#[test]
fn dissolve_of_a_reserved_folio_hr1_only_with_dissolve_ignores_resv() {
    let run = |sw: &[Switch]| {
        let s = sys(sw);
        let c = s.cpu(0).unwrap();
        s.hugetlb_alloc_pool(&c, 1).unwrap();
        s.hugetlb_reserve(1).unwrap();
        let f = s.hugetlb_freelist()[0];
        let d = s.dissolve_free_hugetlb_folio(f);
        let fault = s.hugetlb_fault();
        (d, fault, s.check())
    };
    let (d, fault, fixed) = run(&[]);
    assert!(matches!(d, Err(Error::Busy { .. })), "{d:?}");
    assert!(fault.is_ok());
    assert!(fixed.is_empty(), "{}", show(&fixed));
    let (d, fault, buggy) = run(&[Switch::DissolveIgnoresResv]);
    assert_eq!(d, Ok(()));
    assert_eq!(fault, Err(Error::HugetlbSigbus { reserved: true }));
    assert!(has(&buggy, "HR1", None), "{}", show(&buggy));
}

/// C8 through memory offline: offline fails rather than dissolving a
/// reserved folio.
#[test]
fn offline_of_a_block_with_a_reserved_free_folio_hr1_only_with_dissolve_ignores_resv() {
    let run = |sw: &[Switch]| {
        let s = sys(sw);
        let c = s.cpu(0).unwrap();
        s.hugetlb_alloc_pool(&c, 1).unwrap();
        s.hugetlb_reserve(1).unwrap();
        let blk = s.hugetlb_freelist()[0] / X86.pages_per_section();
        let r = s.offline_memory_block(&c, blk);
        (r, s.check())
    };
    let (r, fixed) = run(&[]);
    assert!(matches!(&r, Err(Error::OfflineFailed { reason, .. }) if reason.contains("dissolve")), "{r:?}");
    assert!(fixed.is_empty(), "{}", show(&fixed));
    let (r, buggy) = run(&[Switch::DissolveIgnoresResv]);
    assert!(r.is_ok(), "{r:?}");
    assert!(has(&buggy, "HR1", None), "{}", show(&buggy));
}

/// C6: the last put of a folio, then a dissolve, then the enqueue.
#[test]
fn dissolve_during_free_hd1_only_with_dissolve_no_freed_check() {
    let run = |sw: &[Switch]| {
        let s = sys(sw);
        let c = s.cpu(0).unwrap();
        s.hugetlb_alloc_pool(&c, 2).unwrap();
        let a = s.hugetlb_fault().unwrap();
        assert!(s.free_huge_folio_begin(a).unwrap(), "the mapping held the last reference");
        // The window: refcount 0, not yet on the freelist.
        let d = s.dissolve_free_hugetlb_folio(a);
        s.free_huge_folio_finish(a).unwrap();
        (d, s.hugetlb_counters(), s.check())
    };
    let (d, cnt, fixed) = run(&[]);
    assert!(matches!(d, Err(Error::Busy { .. })), "{d:?}");
    assert_eq!(cnt, counters(2, 2, 0, 0));
    assert!(fixed.is_empty(), "{}", show(&fixed));
    let (d, _, buggy) = run(&[Switch::DissolveNoFreedCheck]);
    assert_eq!(d, Ok(()));
    assert!(has(&buggy, "HD1", None) && has(&buggy, "A2", None), "{}", show(&buggy));
}

/// C7: memory_failure's speculative reference while a new folio is prepared.
#[test]
fn speculative_ref_during_prep_r3_only_with_hwpoison_spec_ref_hugetlb() {
    let run = |sw: &[Switch]| {
        let s = sys(sw);
        let c = s.cpu(0).unwrap();
        let f = s.hugetlb_alloc_folio_begin(&c).unwrap();
        // The window: memory_failure's get_hwpoison_page on the new folio.
        let got = s.get_hwpoison_page(&c, f, false).unwrap();
        s.hugetlb_alloc_folio_finish(f).unwrap();
        (got, s.hugetlb_counters(), s.check())
    };
    let (got, cnt, fixed) = run(&[]);
    assert_ne!(got, HwpGet::Got, "a frozen folio refuses the speculative reference");
    assert_eq!(cnt, counters(1, 1, 0, 0));
    assert!(fixed.is_empty(), "{}", show(&fixed));
    let (got, _, buggy) = run(&[Switch::HwpoisonSpecRefHugetlb]);
    assert_eq!(got, HwpGet::Got);
    assert!(has(&buggy, "R3", None), "{}", show(&buggy));
}

/// B3 race 2: soft offline of the free folio a reservation counts on.
#[test]
fn soft_offline_of_a_reserved_free_folio_hr1_only_with_soft_offline_flag_first() {
    let run = |sw: &[Switch]| {
        let s = sys(sw);
        let c = s.cpu(0).unwrap();
        s.hugetlb_alloc_pool(&c, 1).unwrap();
        s.hugetlb_reserve(1).unwrap();
        let f = s.hugetlb_freelist()[0];
        let r = s.soft_offline_page(&c, f + 3);
        let flagged = s.pfn_to_page(f).unwrap().PageHWPoison();
        let fault = s.hugetlb_fault();
        (r, flagged, fault, s.check())
    };
    let (r, flagged, fault, fixed) = run(&[]);
    assert!(matches!(r, Err(Error::Busy { .. })), "{r:?}");
    assert!(!flagged, "soft offline flags only contained pages");
    assert!(fault.is_ok());
    assert!(fixed.is_empty(), "{}", show(&fixed));
    let (r, flagged, fault, buggy) = run(&[Switch::SoftOfflineFlagFirst]);
    assert_eq!(r, Ok(()), "the 2018 code did not notice the refused dissolve");
    assert!(flagged);
    assert_eq!(fault, Err(Error::HugetlbSigbus { reserved: true }));
    assert!(has(&buggy, "HR1", None), "{}", show(&buggy));
}

/// B3 race 1: the free folio is faulted between soft offline's look and
/// its flag.
#[test]
fn soft_offline_vs_fault_h3_only_with_soft_offline_flag_first() {
    let run = |sw: &[Switch]| {
        let s = sys(sw);
        let c = s.cpu(0).unwrap();
        s.hugetlb_alloc_pool(&c, 1).unwrap();
        let f = s.hugetlb_freelist()[0];
        let mut op = s.soft_offline_begin(f + 7).unwrap();
        assert_eq!(op.step(&c), None, "get_hwpoison_page: a free huge page");
        assert_eq!(s.hugetlb_fault().unwrap(), f, "allocated in the window");
        let r = loop {
            if let Some(r) = op.step(&c) {
                break r;
            }
        };
        drop(op);
        drop(c);
        (f, r, s)
    };
    let (f, r, s) = run(&[]);
    assert_eq!(r, Ok(()), "retried as an in-use folio: migrated, then contained");
    let mapped = s.hugetlb_mapped();
    assert_eq!(mapped.len(), 1);
    assert_ne!(mapped[0], f, "the user's folio moved");
    let raw = s.pfn_to_page(f + 7).unwrap();
    assert!(raw.PageHWPoison() && raw.PageHWPoisonTakenOff());
    assert_eq!(page_count(raw), 1);
    assert!(all_free_in_buddy(&s, f, Some(f + 7)));
    assert_eq!(s.hugetlb_counters(), counters(1, 0, 0, 0));
    assert_eq!(s.num_poisoned_pages(), 1);
    clean(&s);
    s.hugetlb_free(mapped[0]).unwrap();
    clean(&s);

    let (f, r, s) = run(&[Switch::SoftOfflineFlagFirst]);
    assert_eq!(r, Ok(()));
    assert!(s.pfn_to_page(f).unwrap().PageHWPoison(), "the in-use folio was flagged");
    let v = s.check();
    assert!(has(&v, "H3", None), "{}", show(&v));
}

#[test]
fn soft_offline_of_an_in_use_folio_migrates_it() {
    let s = sys(&[]);
    let c = s.cpu(0).unwrap();
    s.hugetlb_alloc_pool(&c, 2).unwrap();
    let a = s.hugetlb_fault().unwrap();
    s.soft_offline_page(&c, a).unwrap();
    let mapped = s.hugetlb_mapped();
    assert_eq!(mapped.len(), 1);
    assert_ne!(mapped[0], a);
    let p = s.pfn_to_page(a).unwrap();
    assert!(p.PageHWPoison() && p.PageHWPoisonTakenOff());
    assert!(all_free_in_buddy(&s, a, Some(a)));
    assert_eq!(s.hugetlb_counters(), counters(1, 0, 0, 0));
    clean(&s);
}

#[test]
fn hard_offline_of_a_free_folio_dissolves_it_and_contains_the_raw_page() {
    let s = sys(&[]);
    let c = s.cpu(0).unwrap();
    s.hugetlb_alloc_pool(&c, 2).unwrap();
    let f = s.hugetlb_freelist()[0];
    let raw = f + 17;
    assert_eq!(s.memory_failure(&c, raw).unwrap(), MfResult::Recovered);
    assert_eq!(s.hugetlb_counters(), counters(1, 1, 0, 0));
    let p = s.pfn_to_page(raw).unwrap();
    assert!(p.PageHWPoison() && p.PageHWPoisonTakenOff());
    assert_eq!(page_count(p), 1);
    assert!(!s.pfn_to_page(f).unwrap().PageHWPoison(), "the flag moved from the folio to its raw page");
    assert!(all_free_in_buddy(&s, f, Some(raw)));
    assert_eq!(s.num_poisoned_pages(), 1);
    clean(&s);
    assert_eq!(s.memory_failure(&c, raw).unwrap(), MfResult::AlreadyPoisoned);
    s.unpoison_memory(&c, raw).unwrap();
    assert!(all_free_in_buddy(&s, f, None));
    assert_eq!(s.num_poisoned_pages(), 0);
    clean(&s);
}

#[test]
fn hard_offline_of_a_reserved_free_folio_fails_and_dequeue_skips_it() {
    let s = sys(&[]);
    let c = s.cpu(0).unwrap();
    s.hugetlb_alloc_pool(&c, 2).unwrap();
    s.hugetlb_reserve(2).unwrap();
    let f = s.hugetlb_freelist()[0];
    assert_eq!(s.memory_failure(&c, f + 1).unwrap(), MfResult::Failed, "may not dissolve a reserved folio");
    assert!(s.pfn_to_page(f).unwrap().PageHWPoison());
    clean(&s);
    let a = s.hugetlb_fault().unwrap();
    assert_ne!(a, f, "dequeue skips the poisoned folio");
    // The data of a hard error is gone: a reservation may go unmet.
    assert_eq!(s.hugetlb_fault(), Err(Error::HugetlbSigbus { reserved: true }));
    clean(&s);
}

#[test]
fn hard_offline_of_an_in_use_folio_unmaps_and_dissolves_it() {
    let s = sys(&[]);
    let c = s.cpu(0).unwrap();
    s.hugetlb_alloc_pool(&c, 1).unwrap();
    let a = s.hugetlb_fault().unwrap();
    let raw = a + 300;
    assert_eq!(s.memory_failure(&c, raw).unwrap(), MfResult::Recovered);
    assert!(s.hugetlb_mapped().is_empty(), "unmapped: an access would SIGBUS");
    assert_eq!(s.hugetlb_counters(), counters(0, 0, 0, 0));
    let p = s.pfn_to_page(raw).unwrap();
    assert!(p.PageHWPoison() && p.PageHWPoisonTakenOff() && page_count(p) == 1);
    assert!(all_free_in_buddy(&s, a, Some(raw)));
    clean(&s);
    s.hugetlb_free(a).unwrap(); // munmap of the poisoned mapping
    clean(&s);
}

#[test]
fn offline_migrates_an_in_use_folio_and_dissolves_the_free_ones() {
    let s = sys(&[]);
    let c = s.cpu(0).unwrap();
    s.hugetlb_alloc_pool(&c, 2).unwrap();
    let a = s.hugetlb_fault().unwrap();
    let blk = a / X86.pages_per_section();
    s.offline_memory_block(&c, blk).unwrap();
    let mapped = s.hugetlb_mapped();
    assert_eq!(mapped.len(), 1);
    assert_ne!(mapped[0] / X86.pages_per_section(), blk, "migrated out of the offlined block");
    assert_eq!(s.hugetlb_counters(), counters(1, 0, 0, 0));
    clean(&s);
    s.online_memory_block(blk).unwrap();
    s.hugetlb_free(mapped[0]).unwrap();
    clean(&s);
}
