//! `put_page` cost against the bare refcount drop it is built on, for every
//! free-path design.
//!
//! One criterion group, `put_page`, so that all cases run in the same
//! process on the same machine state and their ratios mean something:
//!
//! 1. `bare_atomic_fetch_sub` (the reference): one `fetch_sub(1, Release)`
//!    on the refcount word of a 64-byte-aligned stand-in descriptor, with
//!    the old value consumed. This is the very instruction
//!    `page_ref::put_page_testzero` compiles to (`lock xadd` on x86_64: the
//!    old value is needed for the 1 -> 0 test). The real descriptor's
//!    `refcount` is `pub(crate)` with no public accessor to the atomic
//!    itself, hence the stand-in with the same layout (refcount at byte 8 of
//!    a 64-byte, 64-aligned line).
//! 2. `nonfinal_put`: `Cpu::put_page` on an allocated page whose refcount is
//!    high, so no call frees: pfn_to_page + compound check + the drop.
//! 3. `final_put_to_pcp/<design>`: the last put (1 -> 0) of an order-0 page:
//!    the design's check + prepare checks + pcp lock + list push. Pages are
//!    allocated untimed in chunks of 128 and their puts are timed; the pcp
//!    is drained (untimed) when needed so that no timed put ever spills to
//!    buddy (asserted per chunk).
//! 4. `alloc_free_pair/<design>`: `alloc_page` + `put_page` of the page,
//!    which stays on the pcp (LIFO: the same page every time).
//! 5. `global_lock_alloc_free_pair` (the baseline): the same pair on
//!    [`pagelab_bench::baseline::GlobalLockAlloc`], one global lock around a
//!    free stack of the same descriptors.
//!
//! `<design>` is each [`FreePath`] variant's `NAME`:
//!
//! | design | check on the final put |
//! |---|---|
//! | `no_hwpoison_check` | none: the "no hook" design (pre-5.10) |
//! | `landed` | `PageHWPoison` test on order-0 pages in `free_pages_prepare` (today's kernel) |
//! | `rfc_pageoffline_hook` | + `PageOffline` test (seed 000, RFC v3 6/9): same cache line |
//! | `side_bitmap_hook` | + a bit in a side bitmap: a second cache line per free |
//!
//! Every case uses `iter_custom` with the same plain loop, so the harness
//! overhead is identical. Each design gets its own freshly booted system,
//! warmed up (pcp refill/spill bursts, steady pairs) before anything is
//! timed. `PAGELAB_BENCH_QUICK=1` switches to the smoke configuration.

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, Throughput};
use mm::page_ref::{page_count, set_page_count};
use mm::{FreePath, Landed, NoHwpoisonCheck, RfcOfflineHook, SideBitmapHook};
use pagelab_bench::baseline::GlobalLockAlloc;
use pagelab_bench::{boot, configure, pairs, warm_up, Timing};
use std::hint::black_box;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

/// Stand-in for `mm::Page`: one cache line, refcount at byte 8.
#[repr(C, align(64))]
struct Desc {
    _flags: u64,
    refcount: AtomicI32,
    _rest: [u8; 52],
}
const _: () = {
    assert!(std::mem::size_of::<Desc>() == 64);
    assert!(std::mem::align_of::<Desc>() == 64);
    assert!(std::mem::size_of::<mm::Page>() == 64);
};

/// Pages per timed chunk of `final_put_to_pcp`. With the pcp drained to 0
/// before a chunk whenever it could overflow, `CHUNK` < high (252) keeps
/// every timed put below the spill threshold.
const CHUNK: usize = 128;

/// Largest run of refcount drops timed with one counter reset (keeps the
/// i32 refcount far from wrapping whatever `iters` criterion asks for).
const MAX_RUN: u64 = 1 << 30;

/// Boot 1 GiB.
const MEM: u64 = 1 << 30;

fn bare_atomic(g: &mut BenchmarkGroup<'_, WallTime>) {
    let desc = Desc { _flags: 0, refcount: AtomicI32::new(0), _rest: [0; 52] };
    g.bench_function("bare_atomic_fetch_sub", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let run = left.min(MAX_RUN);
                desc.refcount.store(run as i32 + 1, Ordering::Relaxed);
                let rc = black_box(&desc.refcount);
                let t = Instant::now();
                for _ in 0..run {
                    black_box(rc.fetch_sub(1, Ordering::Release));
                }
                total += t.elapsed();
                assert_eq!(desc.refcount.load(Ordering::Relaxed), 1);
                left -= run;
            }
            total
        })
    });
}

fn nonfinal_put(g: &mut BenchmarkGroup<'_, WallTime>) {
    let sys = boot::<Landed>(MEM);
    let cpu = sys.cpu(0).expect("claim cpu 0");
    warm_up(&cpu);
    let held = cpu.alloc_page().expect("alloc held page");
    let held_page = sys.pfn_to_page(held).expect("held page descriptor");
    g.bench_function("nonfinal_put", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let run = left.min(MAX_RUN);
                // We own the page exclusively (allocated, on no list).
                set_page_count(held_page, run as i32 + 1);
                let t = Instant::now();
                for _ in 0..run {
                    cpu.put_page(black_box(held)).unwrap();
                }
                total += t.elapsed();
                assert_eq!(page_count(held_page), 1, "nonfinal_put freed the page");
                left -= run;
            }
            total
        })
    });
    cpu.put_page(held).expect("free held page");
}

/// The final put and the alloc+free pair on a fresh system of design `F`.
fn design<F: FreePath>(g: &mut BenchmarkGroup<'_, WallTime>) {
    let sys = boot::<F>(MEM);
    let cpu = sys.cpu(0).expect("claim cpu 0");
    let high = sys.zone().pcp_high_batch(0).expect("cpu 0 exists").0;
    assert!(CHUNK < high as usize, "CHUNK {CHUNK} must stay below pcp high {high}");
    warm_up(&cpu);

    let mut chunk: Vec<u64> = Vec::with_capacity(CHUNK);
    g.bench_function(BenchmarkId::new("final_put_to_pcp", F::NAME), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let n = (left as usize).min(CHUNK);
                for _ in 0..n {
                    chunk.push(cpu.alloc_page().expect("chunk alloc"));
                }
                if cpu.pcp_count() as usize + n >= high as usize {
                    cpu.drain_local_pages();
                }
                let before = cpu.pcp_count();
                let t = Instant::now();
                for &p in chunk.iter() {
                    cpu.put_page(black_box(p)).unwrap();
                }
                total += t.elapsed();
                assert_eq!(cpu.pcp_count(), before + n as u32, "a timed put spilled to buddy");
                chunk.clear();
                left -= n as u64;
            }
            total
        })
    });

    g.bench_function(BenchmarkId::new("alloc_free_pair", F::NAME), |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            pairs(&cpu, iters);
            t.elapsed()
        })
    });
}

fn global_lock(g: &mut BenchmarkGroup<'_, WallTime>) {
    let sys = boot::<Landed>(MEM);
    let cpu = sys.cpu(0).expect("claim cpu 0");
    let base = GlobalLockAlloc::new(&cpu, 1024);
    pairs(&base, 100_000);
    g.bench_function("global_lock_alloc_free_pair", |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            pairs(&base, iters);
            t.elapsed()
        })
    });
    base.release(&cpu);
}

fn put_page(c: &mut Criterion) {
    let mut g = c.benchmark_group("put_page");
    g.throughput(Throughput::Elements(1));
    configure(&mut g, Timing::hot());
    bare_atomic(&mut g);
    nonfinal_put(&mut g);
    design::<NoHwpoisonCheck>(&mut g);
    design::<Landed>(&mut g);
    design::<RfcOfflineHook>(&mut g);
    design::<SideBitmapHook>(&mut g);
    global_lock(&mut g);
    g.finish();
}

criterion_group!(benches, put_page);
criterion_main!(benches);
