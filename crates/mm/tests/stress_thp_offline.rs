//! Real-thread stress of THPs against memory offline: two threads fault,
//! split, zap and unmap THPs and small pages while a third offlines and
//! onlines block 1 in a loop; at the end every mapping is torn down, the
//! pcp lists drained, and the checker must be clean with every page
//! accounted for. Duration: `PAGELAB_STRESS_MS` (default 2000).
#![cfg(not(feature = "shuttle"))]

use mm::{Config, Landed, System};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use mm::geometry::Geometry;
const X86: Geometry = Geometry::X86_64;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn thp_faults_splits_and_unmaps_race_offline_online_and_checker_is_clean() {
    let ms: u64 = std::env::var("PAGELAB_STRESS_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    let sys: System<Landed> = System::new(Config {
        mem_bytes: 2 * X86.section_size(),
        max_sections: 2,
        nr_cpus: 3,
        frame_store: false,
        nr_vpages: 1 << 14,
        ..Config::default()
    })
    .unwrap();
    let stop = AtomicBool::new(false);
    let (offlines, failed_offlines, thp) = (AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_millis(ms);
    let nr_vpages = sys.nr_vpages();
    std::thread::scope(|s| {
        for id in 0..2usize {
            let (sys, stop, thp) = (&sys, &stop, &thp);
            s.spawn(move || {
                let cpu = sys.cpu(id).unwrap();
                let mut rng = Rng(0x51ed_270b ^ ((id as u64 + 7) * 0x9e37_79b9_7f4a));
                // Each thread owns half of the address space.
                let half = nr_vpages / 2;
                let base = id * half;
                while !stop.load(Ordering::Relaxed) {
                    let r = rng.next();
                    // The first quarter of each half holds small pages, the
                    // rest THPs (a THP fault needs an empty PMD).
                    let small = base + (r >> 8) as usize % (half / 4);
                    let pmd = (base + half / 4 + (r >> 8) as usize % (3 * half / 4)) & !511;
                    let res = match r % 8 {
                        0 | 1 => cpu.fault_thp(pmd).map(|_| {
                            thp.fetch_add(1, Ordering::Relaxed);
                        }),
                        2 => cpu.split_huge_pmd(pmd).map(|_| ()),
                        3 => cpu.zap_huge_pmd(pmd).map(|_| ()),
                        // Unmap a PTE-mapped THP (after a split) page by page.
                        4 => (pmd..pmd + 512).try_for_each(|v| cpu.unmap(v).map(|_| ())),
                        5 => cpu.unmap(small).map(|_| ()),
                        _ => cpu.fault(small).map(|_| ()),
                    };
                    // Occupied or empty PMDs, no memory while a block is
                    // offline, a folio busy under migration: expected.
                    match res {
                        Ok(()) | Err(mm::Error::NoMemory { .. } | mm::Error::Busy { .. } | mm::Error::BadRequest(_)) => {}
                        Err(e) => panic!("thread {id}: {e}"),
                    }
                }
            });
        }
        let (sys, stop, offlines, failed_offlines) = (&sys, &stop, &offlines, &failed_offlines);
        s.spawn(move || {
            let cpu = sys.cpu(2).unwrap();
            while Instant::now() < deadline {
                match sys.offline_memory_block(&cpu, 1) {
                    Ok(()) => {
                        offlines.fetch_add(1, Ordering::Relaxed);
                        sys.online_memory_block(1).unwrap();
                    }
                    Err(_) => {
                        failed_offlines.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            stop.store(true, Ordering::Relaxed);
        });
    });
    let cpu = sys.cpu(0).unwrap();
    for (vpn, _) in sys.user_mappings() {
        let _ = cpu.zap_huge_pmd(vpn & !511);
        let _ = cpu.unmap(vpn);
    }
    sys.drain_all_pages();
    let v = sys.check();
    eprintln!(
        "{} offlines, {} failed, {} THP faults, {} violations",
        offlines.load(Ordering::Relaxed),
        failed_offlines.load(Ordering::Relaxed),
        thp.load(Ordering::Relaxed),
        v.len()
    );
    assert!(v.is_empty(), "violations: {v:#?}");
    assert!(offlines.load(Ordering::Relaxed) > 0, "no offline succeeded");
    assert!(thp.load(Ordering::Relaxed) > 0, "no THP was faulted in");
}
