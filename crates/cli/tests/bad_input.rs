//! Bad input gives a clear error naming the pfn (or the checker reports the
//! damage), never a panic or undefined behaviour.

// Std-only: shuttle primitives need a shuttle execution (see shuttle_*.rs).
#![cfg(not(feature = "shuttle"))]

use mm::{Config, Error, Landed, MigrateType, System};
use mm::geometry::Geometry;
const X86: Geometry = Geometry::X86_64;

fn sys() -> System<Landed> {
    System::new(Config { mem_bytes: X86.section_size(), max_sections: 2, nr_cpus: 1, ..Config::default() }).unwrap()
}

#[test]
fn out_of_range_and_absent_pfns_are_errors() {
    let s = sys();
    let c = s.cpu(0).unwrap();
    let far = 10 * X86.pages_per_section();
    assert_eq!(c.put_page(far), Err(Error::PfnOutOfRange { pfn: far, max_pfn: 2 * X86.pages_per_section() }));
    let absent = X86.pages_per_section() + 1;
    assert_eq!(c.put_page(absent), Err(Error::PfnNotPresent { pfn: absent }));
    assert!(c.get_page_unless_zero(u64::MAX).unwrap_err().to_string().contains("out of range"));
    let msg = c.put_page(far).unwrap_err().to_string();
    assert!(msg.contains(&format!("{far:#x}")), "the error names the pfn: {msg}");
    assert!(s.check().is_empty());
}

#[test]
fn double_free_is_an_error_and_a_violation() {
    let s = sys();
    let c = s.cpu(0).unwrap();
    let p = c.alloc_page().unwrap();
    c.put_page(p).unwrap();
    let e = c.put_page(p).unwrap_err();
    assert_eq!(e, Error::PutOnZeroRef { pfn: p, count: 0 });
    assert!(e.to_string().contains("double free"));
    assert!(s.check().iter().any(|v| v.id == "R4" && v.pfn == Some(p)));
}

#[test]
fn put_on_a_never_allocated_page_is_refused() {
    let s = sys();
    let c = s.cpu(0).unwrap();
    // pfn 5 sits inside a free order-10 block: refcount 0.
    assert_eq!(c.put_page(5), Err(Error::PutOnZeroRef { pfn: 5, count: 0 }));
    assert!(s.check().iter().any(|v| v.id == "R4" && v.pfn == Some(5)));
}

#[test]
fn get_page_without_a_reference_is_refused_and_harmless() {
    let s = sys();
    let c = s.cpu(0).unwrap();
    assert_eq!(c.get_page(7), Err(Error::GetOnZeroRef { pfn: 7, count: 0 }));
    assert!(!c.get_page_unless_zero(7).unwrap());
    assert!(s.check().is_empty(), "a refused get leaves no trace");
}

#[test]
fn wrong_order_free_and_bad_requests_are_errors() {
    let s = sys();
    let c = s.cpu(0).unwrap();
    let p = c.alloc_pages(2, MigrateType::Movable).unwrap();
    assert_eq!(c.free_pages(p, 1), Err(Error::BadOrder { pfn: p, order: 1 }));
    assert_eq!(c.free_pages(p + 1, 2), Err(Error::BadOrder { pfn: p + 1, order: 2 }));
    assert_eq!(c.alloc_pages(11, MigrateType::Movable).unwrap_err(), Error::BadOrder { pfn: 0, order: 11 });
    assert!(c.alloc_pages(0, MigrateType::Isolate).is_err());
    c.free_pages(p, 2).unwrap();
    assert!(s.check().is_empty());
}

#[test]
fn freeing_a_reserved_page_is_a_bad_page() {
    let s = sys();
    let c = s.cpu(0).unwrap();
    let p = c.alloc_page().unwrap();
    s.pfn_to_page(p).unwrap().SetPageReserved();
    let e = c.put_page(p).unwrap_err();
    assert!(matches!(e, Error::BadPage { pfn, .. } if pfn == p), "{e}");
    // Like the kernel's bad_page, the page is leaked, and the checker says so.
    assert!(s.check().iter().any(|v| v.id == "A2" && v.pfn == Some(p)));
}

#[test]
fn cpu_slots_are_exclusive_and_bounded() {
    let s = sys();
    let c = s.cpu(0).unwrap();
    assert_eq!(s.cpu(0).err(), Some(Error::CpuBusy { cpu: 0 }));
    assert_eq!(s.cpu(1).err(), Some(Error::CpuOutOfRange { cpu: 1, nr_cpus: 1 }));
    drop(c);
    assert!(s.cpu(0).is_ok(), "released on drop");
}

#[test]
fn bad_configs_are_refused() {
    for cfg in [
        Config { mem_bytes: 100 << 20, ..Config::default() },
        Config { mem_bytes: 0, ..Config::default() },
        Config { max_sections: 2, mem_bytes: 4 * X86.section_size(), ..Config::default() },
        Config { nr_cpus: 0, ..Config::default() },
        Config { pcp_batch: 0, ..Config::default() },
        Config { max_sections: 1 << 20, ..Config::default() },
    ] {
        assert!(matches!(System::<Landed>::new(cfg.clone()), Err(Error::BadConfig(_))), "{cfg:?}");
    }
}
