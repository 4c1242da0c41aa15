#![cfg(not(feature = "shuttle"))]
//! pfn walkers: the dump tool, /proc/kpageflags and sysfs valid_zones give
//! the right answers and never read the memmap of offline memory (landed);
//! MemmapReadsOffline reads it (M3); a dump tool that does not exclude
//! PageOffline pages reads unplugged memory (V1).

use mm::memmap::pattern_word;
use mm::pgtable::USER_TAG;
use mm::drivers::hv_balloon::HvBalloon;
use std::sync::Arc;
use mm::walkers::{kpf::*, DumpOpts, DumpRead};
use mm::{Error, Landed, Switch, System, PAGE_SIZE};

mod common;
use common::{clean, sys};
use mm::geometry::Geometry;
const X86: Geometry = Geometry::X86_64;



/// Inflate a Hyper-V style balloon by one page: PageOffline, driver-held.
fn balloon_page(s: &System<Landed>, c: &mm::Cpu<'_, Landed>) -> u64 {
    let b = Arc::new(HvBalloon::new());
    s.register_memory_notifier(b.clone());
    assert_eq!(b.inflate(c, 1).unwrap(), 1);
    let p = b.pages()[0];
    assert!(s.pfn_to_page(p).unwrap().PageOffline());
    p
}

fn bit(b: u32) -> u64 {
    1 << b
}

fn pattern(tag: u64) -> Vec<u8> {
    (0..PAGE_SIZE / 8).flat_map(|i| pattern_word(tag, i).to_ne_bytes()).collect()
}

#[test]
fn kpageflags_describes_pages_by_state() {
    let s = sys(&[]);
    let c = s.cpu(0).unwrap();
    let p = c.fault(3).unwrap();
    let h = c.fault_thp(512).unwrap();
    let k = c.alloc_page().unwrap();
    let f = s.kpageflags(p).unwrap();
    assert_eq!(f & (bit(KPF_LRU) | bit(KPF_MMAP) | bit(KPF_ANON)), bit(KPF_LRU) | bit(KPF_MMAP) | bit(KPF_ANON));
    assert_eq!(f & (bit(KPF_BUDDY) | bit(KPF_NOPAGE) | bit(KPF_THP)), 0);
    let fh = s.kpageflags(h).unwrap();
    let ft = s.kpageflags(h + 100).unwrap();
    for (x, pos) in [(fh, KPF_COMPOUND_HEAD), (ft, KPF_COMPOUND_TAIL)] {
        assert_ne!(x & bit(pos), 0);
        assert_ne!(x & bit(KPF_THP), 0);
        assert_ne!(x & bit(KPF_MMAP), 0, "mapped by the PMD");
        assert_ne!(x & bit(KPF_LRU), 0, "LRU is a folio flag");
    }
    assert_eq!(s.kpageflags(k).unwrap() & (bit(KPF_LRU) | bit(KPF_ANON) | bit(KPF_MMAP)), 0);
    // A free block's head is buddy.
    c.put_page(k).unwrap();
    s.drain_all_pages();
    let free = (0..2 * X86.pages_per_section()).find(|&q| s.pfn_to_page(q).unwrap().PageBuddy()).unwrap();
    assert_ne!(s.kpageflags(free).unwrap() & bit(KPF_BUDDY), 0);
    // Poison and PageOffline.
    s.hwpoison_unsplit_thp_subpage(h + 3).unwrap();
    assert_ne!(s.kpageflags(h + 3).unwrap() & bit(KPF_HWPOISON), 0);
    assert!(matches!(s.kpageflags(2 * X86.pages_per_section()), Err(Error::PfnOutOfRange { .. })));
    c.zap_huge_pmd(512).unwrap();
    let _ = c;
}

#[test]
fn offline_memory_is_no_page_and_valid_zones_lists_choices() {
    let s = sys(&[]);
    assert_eq!(s.valid_zones(1).unwrap(), "Normal");
    {
        let c = s.cpu(0).unwrap();
        s.offline_memory_block(&c, 1).unwrap();
    }
    let pfn = X86.pages_per_section() + 77;
    assert_eq!(s.kpageflags(pfn).unwrap(), bit(KPF_NOPAGE));
    assert_eq!(s.valid_zones(1).unwrap(), "Normal Movable");
    assert_eq!(s.dump_tool_read(pfn).unwrap(), DumpRead::Hole);
    clean(&s);
    s.remove_memory(1).unwrap();
    assert!(s.valid_zones(1).is_err(), "no block device any more");
    assert_eq!(s.kpageflags(pfn).unwrap(), bit(KPF_NOPAGE));
    assert_eq!(s.dump_tool_read(pfn).unwrap(), DumpRead::Hole);
    clean(&s);
}

#[test]
fn dump_tool_reads_user_frames_and_excludes_offline_and_poisoned_pages() {
    let s = sys(&[]);
    let c = s.cpu(0).unwrap();
    let p = c.fault(42).unwrap();
    assert_eq!(s.dump_tool_read(p).unwrap(), DumpRead::Data(Some(pattern(USER_TAG | 42))));
    let h = c.fault_thp(1024).unwrap();
    assert_eq!(s.dump_tool_read(h + 9).unwrap(), DumpRead::Data(Some(pattern(USER_TAG | (1024 + 9)))));
    // A balloon page: PageOffline, refcount 1, held by the driver (V1).
    let b = balloon_page(&s, &c);
    assert_eq!(s.dump_tool_read(b).unwrap(), DumpRead::Excluded);
    c.split_huge_pmd(1024).unwrap(); // never a PMD over a poisoned subpage (H7)
    s.hwpoison_unsplit_thp_subpage(h + 2).unwrap();
    assert_eq!(s.dump_tool_read(h + 2).unwrap(), DumpRead::Excluded);
    clean(&s);
}

#[test]
fn dump_tool_without_pageoffline_exclusion_is_v1() {
    let s = sys(&[]);
    let c = s.cpu(0).unwrap();
    let b = balloon_page(&s, &c);
    let old_tool = DumpOpts { exclude_page_offline: false };
    assert!(matches!(s.dump_tool_read_opts(b, old_tool).unwrap(), DumpRead::Data(Some(_))));
    let v = s.check();
    assert!(v.iter().any(|x| x.id == "V1" && x.pfn == Some(b)), "{v:?}");
    // The current tool on the same system reads nothing more.
    let s = sys(&[]);
    let c = s.cpu(0).unwrap();
    let b = balloon_page(&s, &c);
    assert_eq!(s.dump_tool_read_opts(b, DumpOpts::default()).unwrap(), DumpRead::Excluded);
    clean(&s);
}

/// B4 / C10 / C21: sysfs valid_zones, /proc/kpageflags and the dump tool
/// on a block whose memmap offline poisoned; each reader is caught (M3).
fn three_walkers_on_offline_memory(design: &[Switch]) -> Vec<mm::violation::Violation> {
    let s = sys(design);
    {
        let c = s.cpu(0).unwrap();
        s.offline_memory_block(&c, 1).unwrap();
    }
    let pfn = X86.pages_per_section() + 5;
    s.valid_zones(1).unwrap();
    s.kpageflags(pfn).unwrap();
    s.dump_tool_read(pfn).unwrap();
    s.check()
}

#[test]
fn memmap_reads_offline_switch_on_is_m3_once_per_walker() {
    let v = three_walkers_on_offline_memory(&[Switch::MemmapReadsOffline]);
    let m3: Vec<_> = v.iter().filter(|x| x.id == "M3").collect();
    assert_eq!(m3.len(), 3, "one per walker: {v:?}");
}

#[test]
fn memmap_reads_offline_switch_off_is_clean() {
    let v = three_walkers_on_offline_memory(&[]);
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn memmap_reads_offline_switch_sees_the_poison() {
    let s = sys(&[Switch::MemmapReadsOffline]);
    {
        let c = s.cpu(0).unwrap();
        s.offline_memory_block(&c, 1).unwrap();
    }
    assert_eq!(s.valid_zones(1).unwrap(), "none", "page_zone of a poisoned descriptor is nonsense");
    let f = s.kpageflags(X86.pages_per_section()).unwrap();
    assert_ne!(f, bit(KPF_NOPAGE), "flags computed from the poisoned descriptor: {f:#x}");
    // Online memory reads the same in both designs.
    assert_eq!(s.valid_zones(0).unwrap(), "Normal");
    let v = s.check();
    assert!(v.iter().all(|x| x.id == "M3" && x.pfn.is_some_and(|p| p >= X86.pages_per_section())), "{v:?}");
}
