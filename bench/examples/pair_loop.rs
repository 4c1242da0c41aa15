//! N `alloc_page` + `put_page` pairs on one CPU, for instruction counting
//! under `valgrind --tool=callgrind` (or `perf stat`):
//!
//! ```text
//! cargo build --release -p pagelab-bench --example pair_loop
//! valgrind --tool=callgrind --toggle-collect='*pair_loop::run_pairs*' \
//!     target/release/examples/pair_loop 1000000
//! ```
//!
//! Only `run_pairs` is collected, after a warm-up, so the Ir total divided
//! by N is the instruction count of one pair (plus one loop branch).
//! A second argument `put` times `nonfinal_put`-style puts instead
//! (refcount kept high, no free). A third argument picks the free-path
//! design: `landed` (default), `no_hwpoison_check`, `rfc_pageoffline_hook`,
//! `side_bitmap_hook` (`--toggle-collect='*pair_loop::run_pairs*'` matches
//! every design's copy of `run_pairs`). With `--dump-instr=yes`, each
//! instruction's cost can be attributed to the model function it was
//! inlined from (`addr2line -i`).

use mm::page_ref::set_page_count;
use mm::{Config, Cpu, FreePath, Landed, NoHwpoisonCheck, RfcOfflineHook, SideBitmapHook, System};
use std::hint::black_box;

#[inline(never)]
fn run_pairs<F: FreePath>(cpu: &Cpu<'_, F>, n: u64) {
    for _ in 0..n {
        let p = cpu.alloc_page().unwrap();
        cpu.put_page(black_box(p)).unwrap();
    }
}

#[inline(never)]
fn run_nonfinal_puts<F: FreePath>(cpu: &Cpu<'_, F>, pfn: u64, n: u64) {
    for _ in 0..n {
        cpu.put_page(black_box(pfn)).unwrap();
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().map(|s| s.parse().expect("N")).unwrap_or(1_000_000);
    let mode = args.next().unwrap_or_else(|| "pair".into());
    let design = args.next().unwrap_or_else(|| "landed".into());
    match design.as_str() {
        "landed" => run::<Landed>(n, &mode),
        "no_hwpoison_check" => run::<NoHwpoisonCheck>(n, &mode),
        "rfc_pageoffline_hook" => run::<RfcOfflineHook>(n, &mode),
        "side_bitmap_hook" => run::<SideBitmapHook>(n, &mode),
        d => panic!("design {d}: expected landed, no_hwpoison_check, rfc_pageoffline_hook or side_bitmap_hook"),
    }
}

fn run<F: FreePath>(n: u64, mode: &str) {
    let sys = System::<F>::new(Config { mem_bytes: 1 << 30, ..Default::default() }).expect("boot");
    let cpu = sys.cpu(0).expect("cpu 0");
    for _ in 0..5000 {
        let p = cpu.alloc_page().unwrap();
        cpu.put_page(p).unwrap();
    }
    let t = std::time::Instant::now();
    match mode {
        "pair" => run_pairs(&cpu, n),
        "put" => {
            let p = cpu.alloc_page().unwrap();
            set_page_count(sys.pfn_to_page(p).unwrap(), n as i32 + 1);
            run_nonfinal_puts(&cpu, p, n);
            cpu.put_page(p).unwrap();
        }
        m => panic!("mode {m}: expected pair or put"),
    }
    let dt = t.elapsed();
    eprintln!("{mode} ({}): {n} iterations, {:.2} ns/iter", F::NAME, dt.as_nanos() as f64 / n as f64);
}
