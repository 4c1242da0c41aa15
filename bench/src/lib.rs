//! Fixtures shared by the benchmarks of `pagelab-bench`.
//!
//! * [`quick`] / [`configure`]: the criterion settings of every group, with
//!   the `PAGELAB_BENCH_QUICK=1` smoke configuration;
//! * [`warm_system`]: a booted machine whose pcp working set is faulted in;
//! * [`PageAlloc`] and the workloads ([`pairs`], [`bursts`]) that the
//!   `alloc_free`, `scaling` and instruction-count benches run, written once
//!   and monomorphized per allocator;
//! * [`baseline::GlobalLockAlloc`]: the naive design the model is compared
//!   with (one global lock around a free stack, same descriptors);
//! * [`pin_to_cpu`]: bind the calling thread to one host CPU;
//! * [`offline::OfflineFixture`]: a 3-section machine in which block 0 can be
//!   offlined with a chosen fraction of its pages in use.
//!
//! Nothing here is timed by itself: the benches decide what goes inside the
//! timed region, and everything that faults memory in is kept outside it.

pub mod baseline;
pub mod offline;

use criterion::measurement::WallTime;
use criterion::BenchmarkGroup;
use mm::{Config, Cpu, FreePath, System};
use std::hint::black_box;
use std::time::Duration;

/// `PAGELAB_BENCH_QUICK=1`: the CI smoke configuration.
pub fn quick() -> bool {
    std::env::var("PAGELAB_BENCH_QUICK").is_ok_and(|v| v == "1")
}

/// How long a group warms up and measures.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub warm_up: Duration,
    pub measurement: Duration,
    pub samples: usize,
}

impl Timing {
    /// Nanosecond-scale cases (put_page, alloc_free, scaling).
    pub fn hot() -> Timing {
        if quick() {
            Timing { warm_up: Duration::from_millis(100), measurement: Duration::from_millis(300), samples: 10 }
        } else {
            Timing { warm_up: Duration::from_secs(1), measurement: Duration::from_secs(3), samples: 100 }
        }
    }

    /// Millisecond-scale cases with an untimed setup per iteration (offline):
    /// flat sampling, few samples. criterion plans iterations from the wall
    /// time of a whole `iter_custom` call, setup included, so the group's run
    /// time stays near warm-up + measurement.
    pub fn slow() -> Timing {
        if quick() {
            Timing { warm_up: Duration::from_millis(50), measurement: Duration::from_millis(300), samples: 10 }
        } else {
            Timing { warm_up: Duration::from_millis(500), measurement: Duration::from_secs(4), samples: 20 }
        }
    }
}

/// Apply `t` to a criterion group.
pub fn configure(g: &mut BenchmarkGroup<'_, WallTime>, t: Timing) {
    refuse_instrumented_model();
    g.warm_up_time(t.warm_up).measurement_time(t.measurement).sample_size(t.samples);
}

/// Refuse a model built with `track-touched` (feature unification pulls it
/// in when a build also selects the fuzzing crate, as `cargo bench
/// --workspace` does): that build pays a load per descriptor lookup, and
/// its figures would not be the model's. Called by [`configure`] and
/// [`boot`], so by every bench; not by this crate's own unit tests, which
/// check the workloads and measure nothing (`cargo test --workspace`
/// builds them with the instrumented model).
pub fn refuse_instrumented_model() {
    if mm::TRACK_TOUCHED && !cfg!(test) {
        panic!("this build of the model notes touched pages for the fuzz targets; benchmark with `cargo bench -p pagelab-bench`");
    }
}

/// A machine of `mem_bytes` with default geometry, booted with design `F`.
pub fn boot<F: FreePath>(mem_bytes: u64) -> System<F> {
    refuse_instrumented_model();
    System::<F>::new(Config { mem_bytes, ..Default::default() }).expect("boot the benchmark machine")
}

/// Fault in the descriptors around `cpu`'s pcp working set: a few pcp
/// refill/spill bursts, then steady alloc/free pairs.
pub fn warm_up<F: FreePath>(cpu: &Cpu<'_, F>) {
    let high = cpu.system().zone().pcp_high_batch(cpu.id()).expect("cpu exists").0 as usize;
    let mut pfns: Vec<u64> = Vec::with_capacity(16 * high.max(256));
    for _ in 0..4 {
        for _ in 0..2 * high {
            pfns.push(cpu.alloc_page().expect("warm-up alloc"));
        }
        for p in pfns.drain(..) {
            cpu.put_page(p).expect("warm-up put");
        }
    }
    // One large burst: the 4096-page working set of the burst benches.
    for _ in 0..8192 {
        pfns.push(cpu.alloc_page().expect("warm-up alloc"));
    }
    for p in pfns.drain(..) {
        cpu.put_page(p).expect("warm-up put");
    }
    for _ in 0..5000 {
        let p = cpu.alloc_page().expect("warm-up alloc");
        cpu.put_page(p).expect("warm-up put");
    }
}

/// An order-0 page allocator as the workloads see it: the model's
/// [`Cpu`] context, or the [`baseline::GlobalLockAlloc`].
pub trait PageAlloc {
    /// Allocate one page with refcount 1 (panics when out of memory: a
    /// benchmark sized wrongly).
    fn alloc(&self) -> u64;
    /// Drop the allocation's reference (the final put: the page is freed).
    fn free(&self, pfn: u64);
}

impl<F: FreePath> PageAlloc for Cpu<'_, F> {
    #[inline(always)]
    fn alloc(&self) -> u64 {
        self.alloc_page().unwrap()
    }
    #[inline(always)]
    fn free(&self, pfn: u64) {
        self.put_page(pfn).unwrap()
    }
}

/// `n` alloc + final-put pairs. One pair = one operation.
#[inline(always)]
pub fn pairs<A: PageAlloc + ?Sized>(a: &A, n: u64) {
    for _ in 0..n {
        let p = a.alloc();
        a.free(black_box(p));
    }
}

/// `n` page operations in bursts of `buf.len()`: allocate a burst, then free
/// it in allocation order. One page allocated and freed = one operation; a
/// last partial burst makes the count exact.
#[inline(always)]
pub fn bursts<A: PageAlloc + ?Sized>(a: &A, buf: &mut [u64], n: u64) {
    let k = buf.len() as u64;
    let mut left = n;
    while left > 0 {
        let m = left.min(k) as usize;
        for slot in buf[..m].iter_mut() {
            *slot = a.alloc();
        }
        for &p in buf[..m].iter() {
            a.free(black_box(p));
        }
        left -= m as u64;
    }
}

/// Bind the calling thread to host CPU `cpu` (modulo the CPUs available).
/// Returns false if the kernel refused (the thread then floats).
pub fn pin_to_cpu(cpu: usize) -> bool {
    let n = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET writes inside
    // it for any index below CPU_SETSIZE (1024 > n); pid 0 is this thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu % n, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    }
}

/// Host CPUs available to this process (`available_parallelism`).
pub fn nr_host_cpus() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// A small deterministic PRNG (splitmix64) for choosing pages: the benches
/// must pick the same pages on every run.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0; the modulo bias is irrelevant here).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    /// Fisher–Yates shuffle.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            v.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baseline::GlobalLockAlloc;
    use mm::Landed;

    #[test]
    fn workloads_give_every_page_back() {
        let sys = boot::<Landed>(128 << 20);
        let cpu = sys.cpu(0).unwrap();
        let free = sys.stats().nr_free_pages;
        let mut buf = vec![0u64; 300];
        pairs(&cpu, 1000);
        bursts(&cpu, &mut buf, 1000);
        let base = GlobalLockAlloc::new(&cpu, 512);
        assert_eq!(base.nr_free(), 512);
        pairs(&base, 1000);
        bursts(&base, &mut buf, 1000);
        assert_eq!(base.nr_free(), 512);
        base.release(&cpu);
        cpu.drain_local_pages();
        assert_eq!(sys.stats().nr_free_pages, free);
        assert!(sys.check().is_empty());
    }

    #[test]
    fn rng_is_deterministic_and_shuffles() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        let mut v: Vec<u32> = (0..100).collect();
        a.shuffle(&mut v);
        let mut w: Vec<u32> = (0..100).collect();
        b.shuffle(&mut w);
        assert_eq!(v, w);
        assert_ne!(v, (0..100).collect::<Vec<_>>());
        v.sort_unstable();
        assert_eq!(v, (0..100).collect::<Vec<_>>());
    }
}
