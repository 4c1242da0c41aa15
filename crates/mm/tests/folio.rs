#![cfg(not(feature = "shuttle"))]
//! THP / folio paths: PMD fault, PMD split, partial and full unmap, pins,
//! swap cache, folio split, do_set_pmd on a poisoned folio (C16/H7), and
//! offline migrating THPs (split-before-migrate). Every path ends with a
//! clean checker in the landed design.

use mm::folio::{can_split_folio, folio_mapcount, folio_pincount, page_mapcount};
use mm::pgtable::Pte;
use mm::page_ref::page_count;
use mm::{Error, Landed, Switch, System};

mod common;
use common::{clean, sys};
use mm::geometry::Geometry;
const X86: Geometry = Geometry::X86_64;





fn rc(s: &System<Landed>, pfn: u64) -> i32 {
    page_count(s.pfn_to_page(pfn).unwrap())
}

fn verify_all(s: &System<Landed>, vpn: usize, n: usize) {
    for v in vpn..vpn + n {
        assert_ne!(s.verify_user_page(v).unwrap(), Some(false), "vpn {v} lost its contents");
    }
}

#[test]
fn thp_fault_maps_one_pmd_with_exact_counts() {
    let s = sys(&[]);
    let c = s.cpu(0).unwrap();
    let free0 = s.stats().nr_free_pages;
    let h = c.fault_thp(1024).unwrap();
    assert_eq!(h % X86.hpage_pmd_nr(), 0);
    let hp = s.pfn_to_page(h).unwrap();
    assert!(hp.PageHead() && hp.PageLRU());
    assert_eq!(rc(&s, h), 1, "one reference for the PMD mapping");
    assert_eq!(folio_mapcount(s.memmap(), h), 1);
    assert_eq!(page_mapcount(s.memmap(), h), 1);
    assert_eq!(page_mapcount(s.memmap(), h + 77), 1, "a subpage counts the PMD");
    assert_eq!(s.pte(1024 + 5).unwrap(), Pte::Pmd(h));
    assert_eq!(c.fault(1024 + 5).unwrap(), h + 5, "an access through the PMD reaches the subpage");
    assert_eq!(c.fault_thp(1024).unwrap(), h, "a second fault finds the PMD");
    assert!(matches!(c.fault_thp(1000), Err(Error::BadRequest(_))), "unaligned");
    verify_all(&s, 1024, 512);
    clean(&s);
    assert_eq!(c.zap_huge_pmd(1024 + 9).unwrap(), Some(h));
    assert_eq!(s.pte(1024).unwrap(), Pte::None);
    // The folio went back through the compound free path (order 9 is a
    // pcp order): nothing leaked.
    s.drain_all_pages();
    assert_eq!(s.stats().nr_free_pages, free0);
    clean(&s);
}

#[test]
fn split_huge_pmd_gives_pte_mapped_thp() {
    let s = sys(&[]);
    let c = s.cpu(0).unwrap();
    let h = c.fault_thp(0).unwrap();
    assert!(c.split_huge_pmd(3).unwrap());
    assert!(!c.split_huge_pmd(3).unwrap(), "already PTE-mapped");
    assert_eq!(rc(&s, h), 512, "one reference per PTE");
    assert_eq!(folio_mapcount(s.memmap(), h), 512);
    assert_eq!(page_mapcount(s.memmap(), h), 1, "the head's own mapcount: what B5 compared with");
    for i in 0..X86.hpage_pmd_nr() {
        assert_eq!(s.pte(i as usize).unwrap(), Pte::Present(h + i));
        assert_eq!(s.pfn_to_page(h + i).unwrap().page_mapcount(), 1);
    }
    assert_eq!(can_split_folio(s.memmap(), h, 0), Ok(512));
    verify_all(&s, 0, 512);
    clean(&s);
}

#[test]
fn partial_unmap_splits_the_pmd_and_last_unmap_frees_the_folio() {
    let s = sys(&[]);
    let c = s.cpu(0).unwrap();
    let free0 = s.stats().nr_free_pages;
    let h = c.fault_thp(512).unwrap();
    // munmap of one page of a PMD-mapped range splits the PMD first.
    assert_eq!(c.unmap(512 + 10).unwrap(), Some(h + 10));
    assert_eq!(s.pte(512).unwrap(), Pte::Present(h));
    assert_eq!(rc(&s, h), 511);
    assert_eq!(folio_mapcount(s.memmap(), h), 511);
    assert_eq!(s.pfn_to_page(h + 10).unwrap().page_mapcount(), 0);
    clean(&s);
    for v in 512..1024 {
        c.unmap(v).unwrap();
    }
    s.drain_all_pages();
    assert_eq!(s.stats().nr_free_pages, free0, "the whole order-9 folio was freed once");
    clean(&s);
}

#[test]
fn pins_are_references_and_block_a_split() {
    let s = sys(&[]);
    let c = s.cpu(0).unwrap();
    let h = c.fault_thp(0).unwrap();
    c.split_huge_pmd(0).unwrap();
    c.pin(h + 33).unwrap();
    assert_eq!(folio_pincount(s.pfn_to_page(h).unwrap()), 1);
    assert_eq!(rc(&s, h), 513);
    clean(&s);
    c.get_page(h).unwrap();
    assert!(matches!(c.split_folio(h), Err(Error::ExtraRefs { refcount: 514, expected: 513, .. })));
    c.unpin(h + 33).unwrap();
    assert!(c.unpin(h + 33).is_err(), "not pinned any more");
    c.split_folio(h).unwrap();
    c.put_page(h).unwrap();
    assert!(!s.pfn_to_page(h).unwrap().PageHead());
    clean(&s);
    // A pinned order-0 page (documented: +1 reference, +1 pincount).
    let p = c.fault(4000).unwrap();
    c.pin(p).unwrap();
    assert_eq!((rc(&s, p), folio_pincount(s.pfn_to_page(p).unwrap())), (2, 1));
    clean(&s);
    c.unpin(p).unwrap();
    clean(&s);
}

#[test]
fn swap_cache_holds_nr_pages_references_and_survives_split() {
    let s = sys(&[]);
    let c = s.cpu(0).unwrap();
    let h = c.fault_thp(0).unwrap();
    c.add_to_swap_cache(h + 1).unwrap();
    assert!(s.pfn_to_page(h).unwrap().PageSwapCache());
    assert_eq!(rc(&s, h), 1 + 512);
    assert!(c.add_to_swap_cache(h).is_err());
    clean(&s);
    c.split_huge_pmd(0).unwrap();
    c.unmap(7).unwrap();
    c.get_page(h).unwrap();
    c.split_folio(h).unwrap();
    // Each page: its PTE + its swap-cache reference; the head keeps ours.
    assert_eq!(rc(&s, h), 3);
    assert_eq!(rc(&s, h + 1), 2);
    assert_eq!(rc(&s, h + 7), 1, "unmapped but still in the swap cache");
    assert!(s.pfn_to_page(h + 7).unwrap().PageSwapCache());
    c.put_page(h).unwrap();
    clean(&s);
    c.delete_from_swap_cache(h + 7).unwrap();
    assert_eq!(rc(&s, h + 7), 0, "its last reference was the swap cache's");
    for i in [0u64, 1, 100] {
        c.delete_from_swap_cache(h + i).unwrap();
        assert_eq!(rc(&s, h + i), 1);
    }
    clean(&s);
}

#[test]
fn split_folio_keeps_mappings_contents_and_frees_unmapped_subpages() {
    let s = sys(&[]);
    let c = s.cpu(1).unwrap();
    let free0 = s.stats().nr_free_pages;
    let h = c.fault_thp(2048).unwrap();
    for v in 2048 + 100..2048 + 200 {
        c.unmap(v).unwrap();
    }
    // An extra reference (a speculative get) makes the split refuse.
    assert!(c.get_page_unless_zero(h).unwrap());
    c.get_page(h).unwrap();
    assert!(matches!(c.split_folio(h), Err(Error::ExtraRefs { .. })));
    c.put_page(h).unwrap();
    c.split_folio(h).unwrap();
    for i in 0..X86.hpage_pmd_nr() {
        let p = s.pfn_to_page(h + i).unwrap();
        assert!(!p.PageHead() && !p.PageTail());
        let mapped = !(100..200).contains(&i);
        let expect = i32::from(mapped) + i32::from(i == 0);
        assert_eq!(page_count(p), expect, "subpage {i}");
        assert_eq!(p.PageLRU(), mapped || i == 0, "subpage {i}");
    }
    verify_all(&s, 2048, 512);
    c.put_page(h).unwrap();
    clean(&s);
    for v in 2048..2048 + 512 {
        c.unmap(v).unwrap();
    }
    s.drain_all_pages();
    assert_eq!(s.stats().nr_free_pages, free0);
    clean(&s);
}

#[test]
fn split_of_a_pmd_mapped_folio_splits_the_pmd_first() {
    let s = sys(&[]);
    let c = s.cpu(0).unwrap();
    let h = c.fault_thp(0).unwrap();
    c.get_page(h + 5).unwrap();
    c.split_folio(h + 5).unwrap();
    assert_eq!(s.pte(0).unwrap(), Pte::Present(h));
    assert_eq!(rc(&s, h + 5), 2, "its PTE and the caller's reference, kept on the page it named");
    assert_eq!(rc(&s, h), 1);
    c.put_page(h + 5).unwrap();
    verify_all(&s, 0, 512);
    clean(&s);
}

/// C16 (eac96c3efdb5) → H7: a THP that memory_failure could not split is
/// faulted back in (swap-in at its own address) by do_set_pmd.
fn c16(design: &[Switch]) -> (System<Landed>, u64, bool) {
    let s = sys(design);
    let c = s.cpu(0).unwrap();
    let h = c.fault_thp(0).unwrap();
    c.add_to_swap_cache(h).unwrap();
    c.zap_huge_pmd(0).unwrap();
    s.hwpoison_unsplit_thp_subpage(h + 7).unwrap();
    let pmd = c.map_folio_pmd(0, h).unwrap();
    drop(c);
    (s, h, pmd)
}

#[test]
fn c16_landed_falls_back_to_ptes_and_keeps_the_poisoned_subpage_unmapped() {
    let (s, h, pmd) = c16(&[]);
    assert!(!pmd);
    assert_eq!(s.pte(0).unwrap(), Pte::Present(h));
    assert_eq!(s.pte(7).unwrap(), Pte::HwPoison);
    let c = s.cpu(0).unwrap();
    assert_eq!(c.fault(7), Err(Error::Sigbus { vpn: 7 }));
    assert_eq!(c.fault(8).unwrap(), h + 8);
    verify_all(&s, 0, 512);
    clean(&s);
}

#[test]
fn c16_switch_maps_a_poisoned_folio_by_pmd_h7() {
    let (s, h, pmd) = c16(&[Switch::ThpPmdMapPoisoned]);
    assert!(pmd);
    assert_eq!(s.pte(7).unwrap(), Pte::Pmd(h));
    let v = s.check();
    assert!(v.iter().any(|x| x.id == "H7" && x.pfn == Some(h + 7)), "{v:?}");
}

#[test]
fn offline_migrates_pmd_and_pte_mapped_thps() {
    let s = sys(&[]);
    let c = s.cpu(0).unwrap();
    let a = c.fault_thp(0).unwrap();
    let b = c.fault_thp(512).unwrap();
    c.split_huge_pmd(512).unwrap();
    c.unmap(600).unwrap();
    let p = c.fault(4096).unwrap();
    let block = a / X86.pages_per_section();
    assert_eq!(b / X86.pages_per_section(), block, "both THPs come from one section");
    s.offline_memory_block(&c, block).unwrap();
    for v in (0..1024).filter(|&v| v != 600) {
        let Pte::Present(q) = s.pte(v).unwrap() else { panic!("vpn {v} is no longer mapped by a PTE") };
        assert_ne!(q / X86.pages_per_section(), block, "vpn {v} still in the offlined block");
    }
    assert_eq!(s.pte(600).unwrap(), Pte::None);
    let _ = p;
    verify_all(&s, 0, 1024);
    clean(&s);
}
