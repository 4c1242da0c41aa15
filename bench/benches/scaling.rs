//! Aggregate alloc/free throughput with 1..N threads (N = the host's
//! `available_parallelism`), the model against the global-lock baseline.
//!
//! Group `scaling`; each case id is `<workload>/<threads>`:
//!
//! * `pair`: alloc + final put pairs, never leaving the pcp;
//! * `burst_128`: bursts of 128 allocations then 128 frees: inside the pcp
//!   high mark (252), so in the steady state no page goes to buddy;
//! * `burst_4096`: bursts of 4096: every 63 pages the pcp refills from or
//!   spills to the shared buddy allocator under zone->lock, so the threads
//!   meet on that lock and on each other's descriptors;
//! * `global_lock_<workload>`: the same on
//!   [`pagelab_bench::baseline::GlobalLockAlloc`] (one `Mutex<Vec<u32>>`),
//!   the baseline.
//!
//! Each thread count gets a rayon pool of exactly that many workers, worker
//! `i` pinned to host CPU `i` and acting for CPU slot `i` of the machine. A
//! measurement is one `broadcast`: every worker runs **one long loop** of
//! `iters` operations (never a rayon task per page), starting together at a
//! barrier; the time of the measurement is the slowest worker's. One
//! criterion iteration is one operation on every thread, so the reported
//! throughput (`Throughput::Elements(threads)`) is the aggregate, and the
//! ratio to the `/1` case of the same workload is the scaling factor.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mm::{Config, Landed, System};
use pagelab_bench::baseline::GlobalLockAlloc;
use pagelab_bench::{bursts, configure, nr_host_cpus, pairs, pin_to_cpu, warm_up, PageAlloc, Timing};
use rayon::{ThreadPool, ThreadPoolBuilder};
use std::sync::Barrier;
use std::time::{Duration, Instant};

/// Workloads: name and burst size (0: pairs).
const WORKLOADS: [(&str, usize); 3] = [("pair", 0), ("burst_128", 128), ("burst_4096", 4096)];

fn run_workload<A: PageAlloc + ?Sized>(a: &A, burst: usize, buf: &mut [u64], iters: u64) {
    if burst == 0 {
        pairs(a, iters)
    } else {
        bursts(a, &mut buf[..burst], iters)
    }
}

/// One measurement: every worker claims its allocator (`get`), waits at the
/// barrier, runs `iters` operations; the slowest worker's time.
fn measure<G, A>(pool: &ThreadPool, threads: usize, burst: usize, iters: u64, get: &G) -> Duration
where
    G: Fn(usize) -> A + Sync,
    A: std::ops::Deref,
    A::Target: PageAlloc,
{
    let barrier = Barrier::new(threads);
    let times = pool.broadcast(|ctx| {
        let a = get(ctx.index());
        let mut buf = vec![0u64; burst.max(1)];
        barrier.wait();
        let t = Instant::now();
        run_workload(&*a, burst, &mut buf, iters);
        t.elapsed()
    });
    times.into_iter().max().expect("at least one worker")
}

/// Owns a claimed `Cpu` so that `measure` can deref it to the allocator.
struct Claimed<'s>(mm::Cpu<'s, Landed>);
impl<'s> std::ops::Deref for Claimed<'s> {
    type Target = mm::Cpu<'s, Landed>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

fn scaling(c: &mut Criterion) {
    let n = nr_host_cpus();
    let sys = System::<Landed>::new(Config { mem_bytes: 1 << 30, nr_cpus: n + 1, ..Default::default() }).expect("boot");
    // The main thread's slot (n) only builds and releases the baseline.
    let main_cpu = sys.cpu(n).expect("main cpu slot");
    let base = GlobalLockAlloc::new(&main_cpu, 4 * 4096 * n);

    let mut g = c.benchmark_group("scaling");
    configure(&mut g, Timing::hot());

    for threads in 1..=n {
        let pool = ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("scaling-{i}"))
            .start_handler(|i| {
                pin_to_cpu(i);
            })
            .build()
            .expect("rayon pool");
        pool.broadcast(|ctx| warm_up(&sys.cpu(ctx.index()).expect("claim cpu slot")));
        g.throughput(Throughput::Elements(threads as u64));
        let model = |i: usize| Claimed(sys.cpu(i).expect("claim cpu slot"));
        let naive = |_: usize| &base;
        for (name, burst) in WORKLOADS {
            measure(&pool, threads, burst, 4 * burst.max(1000) as u64, &model);
            g.bench_function(BenchmarkId::new(name, threads), |b| {
                b.iter_custom(|iters| measure(&pool, threads, burst, iters, &model))
            });
        }
        for (name, burst) in WORKLOADS {
            measure(&pool, threads, burst, 4 * burst.max(1000) as u64, &naive);
            g.bench_function(BenchmarkId::new(format!("global_lock_{name}"), threads), |b| {
                b.iter_custom(|iters| measure(&pool, threads, burst, iters, &naive))
            });
        }
    }
    g.finish();
    base.release(&main_cpu);
}

criterion_group!(benches, scaling);
criterion_main!(benches);
