//! Instruction counts of the put_page variants and the alloc+free pair,
//! under Valgrind's Callgrind, with gungraun.
//!
//! Wall time cannot tell a 3-instruction hook from noise on a 2-vCPU VM;
//! Callgrind's counts are exact and repeatable. Each benchmark runs its
//! operation `OPS` times (the id says how many: `ops_<N>`) inside the
//! measured function, after an untimed setup (boot, warm-up, pages
//! allocated); `pagelab report` divides the counts by N.
//!
//! Build only with the `gungraun` feature and **never with
//! `-C target-cpu=native`** (Valgrind has no AVX-512 and stops with SIGILL).
//! `scripts/bench.sh ir` installs valgrind and gungraun-runner and runs:
//!
//! ```sh
//! cargo bench -p pagelab-bench --features gungraun --bench ir
//! ```
//!
//! Benchmarks (group `put_page_ir`):
//!
//! * `bare_atomic`: the reference, `fetch_sub(1, Release)` on a stand-in
//!   descriptor with the old value consumed;
//! * `nonfinal_put`: put_page that does not free (landed design);
//! * `final_put_<design>`: final puts onto the pcp (128 pages per run, pcp
//!   drained first so none spills);
//! * `pair_<design>`: alloc_page + put_page pairs through the pcp;
//! * `burst_4096_landed`: 4096 allocations then 4096 frees (pcp refill and
//!   spill through buddy), per page;
//! * `global_lock_pair`, `global_lock_burst_4096`: the baseline
//!   (`Mutex<Vec<u32>>` free stack).
//!
//! Designs: `no_hwpoison_check` (no hook), `landed`, `rfc_pageoffline_hook`,
//! `side_bitmap_hook` (see benches/put_page.rs).

use gungraun::{library_benchmark, library_benchmark_group, main, Callgrind, LibraryBenchmarkConfig};
use mm::{Cpu, FreePath, Landed, NoHwpoisonCheck, RfcOfflineHook, SideBitmapHook};
use pagelab_bench::baseline::GlobalLockAlloc;
use pagelab_bench::{boot, bursts, pairs, warm_up};
use std::hint::black_box;
use std::sync::atomic::{AtomicI32, Ordering};

/// Operations per pair / put run.
const OPS: u64 = 10_000;
/// Pages per final-put run (below pcp high 252: no spill).
const CHUNK: usize = 128;
/// Pages per burst run.
const BURST: usize = 4096;

/// Stand-in for `mm::Page`: one cache line, refcount at byte 8.
#[repr(C, align(64))]
pub struct Desc {
    _flags: u64,
    refcount: AtomicI32,
    _rest: [u8; 52],
}

fn setup_desc() -> Desc {
    Desc { _flags: 0, refcount: AtomicI32::new(OPS as i32 + 1), _rest: [0; 52] }
}

/// A booted, warmed-up machine of design `F` (leaked: one-shot process).
fn setup_cpu<F: FreePath>() -> Cpu<'static, F> {
    let sys = Box::leak(Box::new(boot::<F>(1 << 30)));
    let cpu = sys.cpu(0).expect("cpu 0");
    warm_up(&cpu);
    cpu
}

/// `CHUNK` allocated pages and an empty pcp.
fn setup_final<F: FreePath>() -> (Cpu<'static, F>, Vec<u64>) {
    let cpu = setup_cpu::<F>();
    let pages: Vec<u64> = (0..CHUNK).map(|_| cpu.alloc_page().expect("alloc")).collect();
    cpu.drain_local_pages();
    (cpu, pages)
}

/// A held page with refcount OPS + 1.
fn setup_nonfinal() -> (Cpu<'static, Landed>, u64) {
    let cpu = setup_cpu::<Landed>();
    let p = cpu.alloc_page().expect("alloc");
    mm::page_ref::set_page_count(cpu.system().pfn_to_page(p).expect("page"), OPS as i32 + 1);
    (cpu, p)
}

fn setup_global_lock() -> GlobalLockAlloc<'static> {
    let cpu = Box::leak(Box::new(setup_cpu::<Landed>()));
    let base = GlobalLockAlloc::new(cpu, 2 * BURST);
    pairs(&base, 1000);
    base
}

#[library_benchmark]
#[bench::ops_10000(setup = setup_desc)]
fn bare_atomic(d: Desc) {
    let rc = black_box(&d.refcount);
    for _ in 0..OPS {
        black_box(rc.fetch_sub(1, Ordering::Release));
    }
}

#[library_benchmark]
#[bench::ops_10000(setup = setup_nonfinal)]
fn nonfinal_put((cpu, p): (Cpu<'static, Landed>, u64)) {
    for _ in 0..OPS {
        cpu.put_page(black_box(p)).unwrap();
    }
}

macro_rules! design {
    ($final:ident, $pair:ident, $F:ty) => {
        #[library_benchmark]
        #[bench::ops_128(setup = setup_final::<$F>)]
        fn $final((cpu, pages): (Cpu<'static, $F>, Vec<u64>)) {
            for &p in pages.iter() {
                cpu.put_page(black_box(p)).unwrap();
            }
        }

        #[library_benchmark]
        #[bench::ops_10000(setup = setup_cpu::<$F>)]
        fn $pair(cpu: Cpu<'static, $F>) {
            pairs(&cpu, OPS);
        }
    };
}

design!(final_put_no_hwpoison_check, pair_no_hwpoison_check, NoHwpoisonCheck);
design!(final_put_landed, pair_landed, Landed);
design!(final_put_rfc_pageoffline_hook, pair_rfc_pageoffline_hook, RfcOfflineHook);
design!(final_put_side_bitmap_hook, pair_side_bitmap_hook, SideBitmapHook);

#[library_benchmark]
#[bench::ops_4096(setup = setup_cpu::<Landed>)]
fn burst_4096_landed(cpu: Cpu<'static, Landed>) {
    let mut buf = vec![0u64; BURST];
    bursts(&cpu, &mut buf, BURST as u64);
}

#[library_benchmark]
#[bench::ops_10000(setup = setup_global_lock)]
fn global_lock_pair(base: GlobalLockAlloc<'static>) {
    pairs(&base, OPS);
}

#[library_benchmark]
#[bench::ops_4096(setup = setup_global_lock)]
fn global_lock_burst_4096(base: GlobalLockAlloc<'static>) {
    let mut buf = vec![0u64; BURST];
    bursts(&base, &mut buf, BURST as u64);
}

library_benchmark_group!(
    name = put_page_ir;
    benchmarks =
        bare_atomic,
        nonfinal_put,
        final_put_no_hwpoison_check,
        final_put_landed,
        final_put_rfc_pageoffline_hook,
        final_put_side_bitmap_hook,
        pair_no_hwpoison_check,
        pair_landed,
        pair_rfc_pageoffline_hook,
        pair_side_bitmap_hook,
        burst_4096_landed,
        global_lock_pair,
        global_lock_burst_4096
);

main!(
    config = LibraryBenchmarkConfig::default().tool(Callgrind::default());
    library_benchmark_groups = put_page_ir
);
