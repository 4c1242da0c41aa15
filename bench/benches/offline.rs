//! Offlining one 128 MiB memory block (32768 pages) with a fraction of its
//! pages in use, against the memcpy of the same bytes.
//!
//! Group `offline` (fixture: [`pagelab_bench::offline::OfflineFixture`], a
//! 3-section machine with the frame store on; block 0 is offlined, blocks
//! 1–2 receive the migrated pages):
//!
//! * `offline/<pct>` for 0, 10, 50, 100 % of the block in use: the time of
//!   `offline_memory_block` alone. The in-use pages (scattered at random)
//!   are migrated: isolated, unmapped, frozen, their 4 KiB copied to a page
//!   of blocks 1–2, remapped; the free pages are taken off the buddy lists;
//!   the memmap is poisoned. Before each iteration, untimed: fault the
//!   pages in (each fault writes its 4 KiB) and leave exactly the in-use
//!   ones; after it, untimed: online the block again. Throughput: pages of
//!   the block per second.
//! * `memcpy/<pct>`: the reference: the same number of 4 KiB copies, from
//!   scattered pages of a 128 MiB source (rewritten untimed before each
//!   iteration, as the faults rewrite the block) to consecutive pages of a
//!   128 MiB destination. Throughput: bytes per second.
//! * `memcpy_scattered/<pct>`: the same copies with scattered destination
//!   pages too (the migration's targets are wherever the allocator finds
//!   free pages): how much of the gap to `memcpy/<pct>` is page placement.
//! * `online`: `online_memory_block` of the block after an offline with
//!   nothing in use (memmap re-initialization, 64 free max-order blocks to
//!   buddy, undo isolation).
//!
//! * `offline_balloon/<pct>`: offline of a virtio-mem device block with
//!   <pct> % of its 64 subblocks unplugged (PageOffline pages the driver
//!   holds; it drops its references at MEM_GOING_OFFLINE and offline skips
//!   them), nothing in use; onlining again (untimed) keeps the subblocks
//!   unplugged. Throughput: pages of the block per second.
//!
//! Flat sampling with few samples: each iteration is milliseconds plus tens
//! of milliseconds of untimed setup; criterion plans from wall time, setup
//! included, so a case takes about warm-up + measurement time.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput};
use pagelab_bench::offline::{BalloonFixture, CopyRef, OfflineFixture, BLOCK_PAGES};
use pagelab_bench::{configure, Rng, Timing};
use std::time::{Duration, Instant};

const PCTS: [usize; 4] = [0, 10, 50, 100];
/// Unplugged share of the virtio-mem block.
const BALLOON_PCTS: [usize; 2] = [50, 100];

fn pages(pct: usize) -> usize {
    BLOCK_PAGES * pct / 100
}

fn offline(c: &mut Criterion) {
    let mut fx = OfflineFixture::new();
    let mut g = c.benchmark_group("offline");
    configure(&mut g, Timing::slow());
    g.sampling_mode(SamplingMode::Flat);

    g.throughput(Throughput::Elements(BLOCK_PAGES as u64));
    for pct in PCTS {
        let k = pages(pct);
        g.bench_function(BenchmarkId::new("offline", pct), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    fx.prepare(k);
                    let t = Instant::now();
                    fx.offline();
                    total += t.elapsed();
                    fx.online();
                }
                total
            })
        });
    }

    g.bench_function("online", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                fx.prepare(0);
                fx.offline();
                let t = Instant::now();
                fx.online();
                total += t.elapsed();
            }
            total
        })
    });

    for pct in BALLOON_PCTS {
        let bx = BalloonFixture::new(64 * pct as u64 / 100);
        g.bench_function(BenchmarkId::new("offline_balloon", pct), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let t = Instant::now();
                    bx.offline();
                    total += t.elapsed();
                    bx.online();
                }
                total
            })
        });
        bx.verify();
    }

    let mut copy = CopyRef::new();
    let mut rng = Rng::new(0xc0de);
    let mut all: Vec<usize> = (0..BLOCK_PAGES).collect();
    for pct in PCTS.into_iter().filter(|&p| p > 0) {
        let k = pages(pct);
        g.throughput(Throughput::Bytes((k * mm::PAGE_SIZE) as u64));
        let mut gen = 0u8;
        g.bench_function(BenchmarkId::new("memcpy", pct), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    rng.shuffle(&mut all);
                    gen = gen.wrapping_add(1);
                    copy.prepare(gen);
                    let t = Instant::now();
                    copy.copy(&all[..k]);
                    total += t.elapsed();
                }
                total
            })
        });
    }
    let mut dst: Vec<usize> = (0..BLOCK_PAGES).collect();
    for pct in PCTS.into_iter().filter(|&p| p > 0) {
        let k = pages(pct);
        g.throughput(Throughput::Bytes((k * mm::PAGE_SIZE) as u64));
        let mut gen = 0u8;
        g.bench_function(BenchmarkId::new("memcpy_scattered", pct), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    rng.shuffle(&mut all);
                    rng.shuffle(&mut dst);
                    gen = gen.wrapping_add(1);
                    copy.prepare(gen);
                    let t = Instant::now();
                    copy.copy_scattered(&all[..k], &dst[..k]);
                    total += t.elapsed();
                }
                total
            })
        });
    }
    g.finish();
    fx.verify();
}

criterion_group!(benches, offline);
criterion_main!(benches);
