#![cfg(not(feature = "shuttle"))]
//! The compaction migration scanner and compact_range: landed behaviour
//! with a clean checker, and the scanner's steps of the isolation races in
//! explicit orders (the registered bugs B5, B5r and C19 are reproduced by
//! their scenarios in corpus/scenarios/).

use mm::compaction::{IsolateFail, ScanCheck, ScanTake};
use mm::pgtable::Pte;
use mm::page_ref::page_count;
use mm::{Landed, Switch, System};

mod common;
use common::{clean, sys};
use mm::geometry::Geometry;
const X86: Geometry = Geometry::X86_64;




fn block_of(pfn: u64) -> (u64, u64) {
    let b = pfn & !(X86.pageblock_nr_pages() - 1);
    (b, b + X86.pageblock_nr_pages())
}

fn verify_all(s: &System<Landed>, vpns: impl IntoIterator<Item = usize>) {
    for v in vpns {
        assert_ne!(s.verify_user_page(v).unwrap(), Some(false), "vpn {v} lost its contents");
    }
}

#[test]
fn scanner_isolates_lru_pages_and_skips_the_rest() {
    let s = sys(&[]);
    let c = s.cpu(0).unwrap();
    let p = c.fault(3).unwrap();
    let k = c.alloc_page().unwrap(); // a kernel page: not on the LRU
    let h = c.fault_thp(512).unwrap();
    c.split_huge_pmd(512).unwrap();
    assert_eq!(c.isolate_migratepages_block(k, k + 1), Vec::<u64>::new());
    assert_eq!(c.isolate_migratepages_block(h + 1, h + 512), Vec::<u64>::new(), "tails are never isolated alone");
    assert_eq!(c.isolate_migratepages_block(p, p + 1), vec![p]);
    assert_eq!(c.isolate_migratepages_block(h, h + 512), vec![h], "a PTE-mapped THP is isolated by its head");
    assert!(!s.pfn_to_page(h).unwrap().PageLRU() && !s.pfn_to_page(p).unwrap().PageLRU());
    assert_eq!(page_count(s.pfn_to_page(h).unwrap()), 513, "512 PTEs + the scanner's reference");
    // Isolated pages are not isolated twice.
    assert_eq!(c.isolate_scan_check(p), ScanCheck::Skip(1, IsolateFail::NotLru));
    // A pinned page is skipped with its reference given back.
    let q = c.fault(4).unwrap();
    c.pin(q).unwrap();
    let chk = c.isolate_scan_check(q);
    assert_eq!(c.isolate_scan_take(q, chk), ScanTake::Failed(IsolateFail::Pinned));
    assert_eq!(page_count(s.pfn_to_page(q).unwrap()), 2);
    assert!(s.pfn_to_page(q).unwrap().PageLRU());
    c.unpin(q).unwrap();
    // A page in the swap cache has a mapping: the test does not apply.
    c.add_to_swap_cache(q).unwrap();
    assert_eq!(c.isolate_migratepages_block(q, q + 1), vec![q]);
    for x in [p, h, q] {
        c.putback_lru_page(x).unwrap();
    }
    c.put_page(k).unwrap();
    clean(&s);
}

#[test]
fn compact_range_moves_order0_pages_and_a_pte_mapped_thp() {
    let s = sys(&[]);
    let c = s.cpu(0).unwrap();
    let pages: Vec<u64> = (100..140).map(|v| c.fault(v).unwrap()).collect();
    let h = c.fault_thp(1024).unwrap();
    c.split_huge_pmd(1024).unwrap();
    c.unmap(1024 + 17).unwrap();
    s.drain_all_pages();
    let free0 = s.stats().nr_free_pages;
    let (start, end) = block_of(h);
    let r = c.compact_range(start, end).unwrap();
    assert!(r.success, "{r:?}");
    assert!(r.migrated >= 510, "{r:?}");
    for v in (1024..1024 + 512).filter(|&v| v != 1024 + 17) {
        let Pte::Present(q) = s.pte(v).unwrap() else { panic!("vpn {v} unmapped") };
        assert!(!(start..end).contains(&q), "vpn {v} still maps {q:#x} in the compacted block");
    }
    verify_all(&s, 1024..1024 + 512);
    clean(&s);
    // The order-0 pages' block, compacted on its own.
    let (start, end) = block_of(pages[0]);
    let r = c.compact_range(start, end).unwrap();
    assert!(r.success, "{r:?}");
    for (i, v) in (100..140).enumerate() {
        let Pte::Present(q) = s.pte(v).unwrap() else { panic!("vpn {v} unmapped") };
        if (start..end).contains(&pages[i]) {
            assert!(!(start..end).contains(&q));
        }
    }
    verify_all(&s, 100..140);
    s.drain_all_pages();
    // Only the unmapped subpage, released when the THP was split, was freed.
    assert_eq!(s.stats().nr_free_pages, free0 + 1, "migration neither leaks nor double-frees");
    clean(&s);
}

#[test]
fn a_pinned_page_fails_compaction_without_o4() {
    let s = sys(&[]);
    let c = s.cpu(0).unwrap();
    let h = c.fault_thp(0).unwrap();
    c.split_huge_pmd(0).unwrap();
    c.pin(h + 9).unwrap();
    let (start, end) = block_of(h);
    let r = c.compact_range(start, end).unwrap();
    assert!(!r.success);
    assert_eq!(r.remaining, vec![h]);
    clean(&s);
    c.unpin(h + 9).unwrap();
    let r = c.compact_range(start, end).unwrap();
    assert!(r.success, "{r:?}");
    clean(&s);
}

#[test]
fn pmd_mapped_thp_is_not_affected_by_the_head_mapcount_switch() {
    let s = sys(&[Switch::IsolateUsesHeadMapcount]);
    let c = s.cpu(0).unwrap();
    let h = c.fault_thp(0).unwrap();
    let (start, end) = block_of(h);
    let r = c.compact_range(start, end).unwrap();
    assert!(r.success, "refcount 1 + ours vs page_mapcount 1: not pinned; {r:?}");
    verify_all(&s, 0..512);
    clean(&s);
}




#[test]
fn b5_check_before_ref_switch_off_is_clean_and_skips_the_pinned_page() {
    let s = sys(&[]);
    let c0 = s.cpu(0).unwrap();
    let c1 = s.cpu(1).unwrap();
    let p = c1.fault(5).unwrap();
    let chk = c0.isolate_scan_check(p);
    assert_eq!(chk, ScanCheck::Candidate(None), "the landed phase 1 decides nothing");
    c1.unmap(5).unwrap();
    assert_eq!(c1.fault(9).unwrap(), p);
    c1.pin(p).unwrap();
    assert_eq!(c0.isolate_scan_take(p, chk), ScanTake::Failed(IsolateFail::Pinned));
    c1.unpin(p).unwrap();
    drop((c0, c1));
    clean(&s);
}



#[test]
fn c19_step_order_shows_the_flag_lost_on_a_live_folio() {
    for buggy in [false, true] {
        let s = sys(if buggy { &[Switch::ClearLruBeforeRef] } else { &[] });
        let c0 = s.cpu(0).unwrap();
        let c1 = s.cpu(1).unwrap();
        let h = c1.fault_thp(0).unwrap();
        c1.get_page(h).unwrap();
        let split = c1.split_folio_begin(h).unwrap();
        let chk = c0.isolate_scan_check(h);
        let expect = if buggy { IsolateFail::LruClearedNoRef } else { IsolateFail::NoRef };
        assert_eq!(c0.isolate_scan_take(h, chk), ScanTake::Failed(expect));
        assert_eq!(s.pfn_to_page(h).unwrap().PageLRU(), !buggy, "frozen folio, flag cleared by the scanner: {buggy}");
        c1.split_folio_finish(split, None).unwrap();
        c1.put_page(h).unwrap();
        // The head is mapped, unreferenced beyond its PTE, and off the LRU:
        // no scanner can isolate it again.
        let again = c0.isolate_migratepages_block(h, h + 1);
        assert_eq!(again.is_empty(), buggy);
        for x in again {
            c0.putback_lru_page(x).unwrap();
        }
    }
}

#[test]
fn head_mapcount_switch_misjudges_only_unpinned_pte_mapped_thps() {
    let s = sys(&[Switch::IsolateUsesHeadMapcount]);
    let c = s.cpu(0).unwrap();
    let h = c.fault_thp(0).unwrap();
    c.split_huge_pmd(0).unwrap();
    let chk = c.isolate_scan_check(h);
    assert_eq!(chk, ScanCheck::Candidate(None));
    assert_eq!(c.isolate_scan_take(h, chk), ScanTake::Failed(IsolateFail::LooksPinned));
    c.pin(h + 1).unwrap();
    let chk = c.isolate_scan_check(h);
    assert_eq!(c.isolate_scan_take(h, chk), ScanTake::Failed(IsolateFail::Pinned), "really pinned");
    c.unpin(h + 1).unwrap();
    // A truly pinned folio is a legitimate failure: no O4.
    c.pin(h + 1).unwrap();
    let (start, end) = block_of(h);
    assert!(!c.compact_range(start, end).unwrap().success);
    c.unpin(h + 1).unwrap();
    clean(&s);
}

#[test]
fn compact_range_refuses_unmovable_and_bad_ranges() {
    let s = sys(&[]);
    let c = s.cpu(0).unwrap();
    let k = c.alloc_page().unwrap();
    let (start, end) = block_of(k);
    assert!(matches!(c.compact_range(start, end), Err(mm::Error::Busy { pfn, .. }) if pfn == k));
    assert!(matches!(c.compact_range(start + 1, end), Err(mm::Error::BadRequest(_))));
    c.put_page(k).unwrap();
    clean(&s);
}
