//! Real-thread stress: several OS threads, each acting for a CPU slot,
//! allocate (orders 0..=3, occasionally higher), free, take speculative
//! references on random pfns and drain — local and remote — for a few
//! seconds; then the checker finds nothing and every page is accounted for.
//!
//! Duration: `PAGELAB_STRESS_MS` (default 3000).

// Std-only: shuttle primitives need a shuttle execution (see shuttle_*.rs).
#![cfg(not(feature = "shuttle"))]

use fuzzing::rng::SplitMix64;
use mm::{Config, Landed, MigrateType, System};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use mm::geometry::Geometry;
const X86: Geometry = Geometry::X86_64;


#[test]
fn threads_alloc_free_speculate_and_drain_then_checker_is_clean() {
    let ms: u64 = std::env::var("PAGELAB_STRESS_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(3000);
    let sys: System<Landed> = System::new(Config {
        mem_bytes: 2 * X86.section_size(),
        max_sections: 2,
        nr_cpus: 4,
        pcp_high: 252,
        pcp_batch: 63,
        frame_store: false,
        ..Config::default()
    })
    .unwrap();
    let max_pfn = sys.memmap().max_pfn();
    let stop = AtomicBool::new(false);
    let ops = AtomicU64::new(0);
    let spec_hits = AtomicU64::new(0);
    let drains = AtomicU64::new(0);
    let deadline = Instant::now() + Duration::from_millis(ms);

    std::thread::scope(|s| {
        for id in 0..3usize {
            let (sys, stop, ops, spec_hits) = (&sys, &stop, &ops, &spec_hits);
            s.spawn(move || {
                let cpu = sys.cpu(id).unwrap();
                let mut rng = SplitMix64(0x9e37_79b9 ^ ((id as u64 + 1) * 0x1234_5678_9abc));
                let mut held: Vec<(u64, u32)> = Vec::new();
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let r = rng.next_u64();
                    match r % 16 {
                        0..=6 if held.len() < 3000 => {
                            let order = match r >> 8 & 63 {
                                0 => 9,
                                1..=3 => 3,
                                4..=8 => 1 + (r >> 20 & 1) as u32,
                                _ => 0,
                            };
                            let mt = if r >> 30 & 7 == 0 { MigrateType::Unmovable } else { MigrateType::Movable };
                            match cpu.alloc_pages(order, mt) {
                                Ok(p) => held.push((p, order)),
                                Err(mm::Error::NoMemory { .. }) => {}
                                Err(e) => panic!("alloc: {e}"),
                            }
                        }
                        0..=11 if !held.is_empty() => {
                            let i = (r >> 16) as usize % held.len();
                            let (p, order) = held.swap_remove(i);
                            cpu.free_pages(p, order).unwrap();
                        }
                        12..=13 => {
                            // Speculative reference on any pfn, as a pfn
                            // walker (compaction, memory_failure) takes it.
                            let pfn = (r >> 20) % max_pfn;
                            if cpu.get_page_unless_zero(pfn).unwrap() {
                                spec_hits.fetch_add(1, Ordering::Relaxed);
                                cpu.put_page(pfn).unwrap();
                            }
                        }
                        14 if !held.is_empty() => {
                            // A second reference on a held block, dropped again.
                            let (p, _) = held[(r >> 16) as usize % held.len()];
                            cpu.get_page(p).unwrap();
                            cpu.put_page(p).unwrap();
                        }
                        15 if r >> 40 & 63 == 0 => cpu.drain_local_pages(),
                        _ => {}
                    }
                    n += 1;
                }
                for (p, order) in held {
                    cpu.free_pages(p, order).unwrap();
                }
                ops.fetch_add(n, Ordering::Relaxed);
            });
        }
        let (sys, stop, drains) = (&sys, &stop, &drains);
        s.spawn(move || {
            let cpu = sys.cpu(3).unwrap();
            let mut i = 0u64;
            while Instant::now() < deadline {
                if i % 8 == 7 {
                    let _off = sys.zone_pcp_disable();
                    let p = cpu.alloc_page().unwrap();
                    cpu.put_page(p).unwrap();
                    assert_eq!(cpu.pcp_count(), 0, "disabled pcp kept a page");
                } else {
                    sys.drain_all_pages();
                }
                drains.fetch_add(1, Ordering::Relaxed);
                i += 1;
                std::thread::sleep(Duration::from_millis(2));
            }
            stop.store(true, Ordering::Relaxed);
        });
    });

    sys.drain_all_pages();
    let v = sys.check();
    assert!(v.is_empty(), "violations:\n{}", v.iter().map(|v| v.to_string()).collect::<Vec<_>>().join("\n"));
    let st = sys.stats();
    assert_eq!(st.pcp_pages(), 0);
    assert_eq!(st.nr_free_pages, st.managed_pages, "every page is back in buddy");
    assert_eq!(st.nr_free[X86.max_order as usize] << X86.max_order, st.managed_pages as u64, "and fully merged");
    let (ops, hits, drains) = (ops.into_inner(), spec_hits.into_inner(), drains.into_inner());
    eprintln!("stress: {ops} ops, {hits} speculative refs taken, {drains} remote drains/disables in {ms} ms");
    assert!(ops > 10_000 && hits > 0 && drains > 10, "the workload really ran: {ops} ops, {hits} spec refs, {drains} drains");
}
