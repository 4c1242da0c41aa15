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
//! (refcount kept high, no free).

use pagelab::page_ref::set_page_count;
use pagelab::{Config, Cpu, Landed, System};
use std::hint::black_box;

#[inline(never)]
fn run_pairs(cpu: &Cpu<'_, Landed>, n: u64) {
    for _ in 0..n {
        let p = cpu.alloc_page().unwrap();
        cpu.put_page(black_box(p)).unwrap();
    }
}

#[inline(never)]
fn run_nonfinal_puts(cpu: &Cpu<'_, Landed>, pfn: u64, n: u64) {
    for _ in 0..n {
        cpu.put_page(black_box(pfn)).unwrap();
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().map(|s| s.parse().expect("N")).unwrap_or(1_000_000);
    let mode = args.next().unwrap_or_else(|| "pair".into());
    let sys = System::<Landed>::new(Config { mem_bytes: 1 << 30, ..Default::default() }).expect("boot");
    let cpu = sys.cpu(0).expect("cpu 0");
    for _ in 0..5000 {
        let p = cpu.alloc_page().unwrap();
        cpu.put_page(p).unwrap();
    }
    let t = std::time::Instant::now();
    match mode.as_str() {
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
    eprintln!("{mode}: {n} iterations, {:.2} ns/iter", dt.as_nanos() as f64 / n as f64);
}
