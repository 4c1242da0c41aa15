//! Allocation + free throughput on one CPU, through the pcp lists and
//! through the buddy allocator, against the naive global-lock design.
//!
//! Group `alloc_free` (landed design, 1 GiB machine, one CPU slot; every
//! case warmed up before it is timed):
//!
//! * `pair`: `alloc_page` + final `put_page`, the page stays on the pcp
//!   list (a pcp hit both ways). One operation = one pair.
//! * `burst/256`, `burst/4096`: allocate a burst of N order-0 pages, then
//!   free them in allocation order. pcp high is 252 (batch 63), so both
//!   sizes refill the pcp from buddy (`rmqueue_bulk`, 63 pages under
//!   zone->lock) and spill it back (`free_pcppages_bulk`); 4096 also walks
//!   4096 descriptors (256 KiB of memmap). One operation = one page
//!   allocated and freed.
//! * `order_pair/{1,3,9,10}`: `alloc_pages(order)` + `free_pages` of a
//!   compound block. Orders 1 and 3 are cached on the pcp, order 9 on the
//!   pcp's THP list, order 10 always goes to buddy. One operation = one
//!   block; throughput is in pages (2^order per block).
//! * `global_lock_pair`, `global_lock_burst/{256,4096}`: the same workloads
//!   on [`pagelab_bench::baseline::GlobalLockAlloc`], one `Mutex<Vec<u32>>`
//!   free stack over the same descriptors: the baseline of each
//!   model case of the same name.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mm::{Landed, MigrateType};
use pagelab_bench::baseline::GlobalLockAlloc;
use pagelab_bench::{boot, bursts, configure, pairs, warm_up, Timing};
use std::hint::black_box;
use std::time::Instant;

const BURSTS: [usize; 2] = [256, 4096];
const ORDERS: [u32; 4] = [1, 3, 9, 10];

fn alloc_free(c: &mut Criterion) {
    let sys = boot::<Landed>(1 << 30);
    let cpu = sys.cpu(0).expect("claim cpu 0");
    warm_up(&cpu);

    let mut g = c.benchmark_group("alloc_free");
    configure(&mut g, Timing::hot());

    g.throughput(Throughput::Elements(1));
    g.bench_function("pair", |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            pairs(&cpu, iters);
            t.elapsed()
        })
    });
    let mut buf = vec![0u64; 4096];
    for k in BURSTS {
        bursts(&cpu, &mut buf[..k], 4 * k as u64);
        g.bench_function(BenchmarkId::new("burst", k), |b| {
            b.iter_custom(|iters| {
                let t = Instant::now();
                bursts(&cpu, &mut buf[..k], iters);
                t.elapsed()
            })
        });
    }

    for order in ORDERS {
        g.throughput(Throughput::Elements(1 << order));
        for _ in 0..64 {
            let p = cpu.alloc_pages(order, MigrateType::Movable).expect("warm-up alloc");
            cpu.free_pages(p, order).expect("warm-up free");
        }
        g.bench_function(BenchmarkId::new("order_pair", order), |b| {
            b.iter_custom(|iters| {
                let t = Instant::now();
                for _ in 0..iters {
                    let p = cpu.alloc_pages(order, MigrateType::Movable).unwrap();
                    cpu.free_pages(black_box(p), order).unwrap();
                }
                t.elapsed()
            })
        });
    }

    g.throughput(Throughput::Elements(1));
    let base = GlobalLockAlloc::new(&cpu, 8192);
    pairs(&base, 100_000);
    g.bench_function("global_lock_pair", |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            pairs(&base, iters);
            t.elapsed()
        })
    });
    for k in BURSTS {
        bursts(&base, &mut buf[..k], 4 * k as u64);
        g.bench_function(BenchmarkId::new("global_lock_burst", k), |b| {
            b.iter_custom(|iters| {
                let t = Instant::now();
                bursts(&base, &mut buf[..k], iters);
                t.elapsed()
            })
        });
    }
    g.finish();
    base.release(&cpu);
}

criterion_group!(benches, alloc_free);
criterion_main!(benches);
