//! A 1 GiB machine boots fast and its memmap costs memory in proportion to
//! what is touched, not to its size.

// Std-only: shuttle primitives need a shuttle execution (see shuttle_*.rs).
#![cfg(not(feature = "shuttle"))]

use mm::{Config, Landed, System};
use std::time::Instant;
use mm::geometry::Geometry;
const X86: Geometry = Geometry::X86_64;

fn rss_bytes() -> u64 {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap();
    let resident: u64 = s.split_whitespace().nth(1).unwrap().parse().unwrap();
    resident * 4096
}

#[test]
fn one_gib_boots_fast_and_lazily() {
    // Warm the allocator and the barrier registration so only the system's
    // own cost is measured.
    drop(System::<Landed>::new(Config { mem_bytes: 128 << 20, max_sections: 1, ..Config::default() }).unwrap());
    let before = rss_bytes();
    let t = Instant::now();
    let sys = System::<Landed>::new(Config { mem_bytes: 1 << 30, max_sections: 64, ..Config::default() }).unwrap();
    let boot = t.elapsed();
    let grown = rss_bytes().saturating_sub(before);
    let full_memmap = 8 * X86.pages_per_section() * 64;
    eprintln!("boot 1 GiB: {:.2} ms, RSS +{} KiB (full memmap would be {} KiB)", boot.as_secs_f64() * 1e3, grown >> 10, full_memmap >> 10);
    // The bound holds in a debug build too; the release figure is far lower.
    assert!(boot.as_millis() < 100, "boot took {boot:?}");
    assert!(grown < full_memmap / 4, "RSS grew {grown} bytes: the memmap was touched wholesale");
    assert_eq!(sys.stats().nr_free_pages, 8 * X86.pages_per_section() as i64);
    // Touching pages grows RSS: the measurement can see memmap use at all.
    let c = sys.cpu(0).unwrap();
    let held: Vec<_> = (0..20_000).map(|_| c.alloc_page().unwrap()).collect();
    let after_touch = rss_bytes().saturating_sub(before);
    assert!(after_touch > grown, "touching 20000 descriptors must show in RSS ({after_touch} <= {grown})");
    for p in held {
        c.put_page(p).unwrap();
    }
}
