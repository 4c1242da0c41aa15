//! Offline/online cycles of one 128 MiB block with K of its pages in use,
//! for profiling the offline path under `valgrind --tool=callgrind` (perf
//! is not available on the development VMs):
//!
//! ```text
//! cargo build --release -p pagelab-bench --example offline_loop
//! valgrind --tool=callgrind --toggle-collect='*OfflineFixture*offline*' \
//!     target/release/examples/offline_loop 100 2
//! callgrind_annotate --inclusive=yes callgrind.out.<pid>
//! ```
//!
//! Arguments: the percentage of the block in use (default 100) and the
//! number of cycles (default 3). Only `OfflineFixture::offline` is worth
//! collecting: the fixture's set-up (faulting pages in) and the online are
//! outside it. Without valgrind it prints the wall time of each offline.

use pagelab_bench::offline::{OfflineFixture, BLOCK_PAGES};

fn main() {
    let mut args = std::env::args().skip(1);
    let pct: usize = args.next().map(|s| s.parse().expect("percentage in use")).unwrap_or(100);
    let cycles: usize = args.next().map(|s| s.parse().expect("cycles")).unwrap_or(3);
    let k = BLOCK_PAGES * pct.min(100) / 100;
    let mut fx = OfflineFixture::new();
    for _ in 0..cycles {
        fx.prepare(k);
        let t = std::time::Instant::now();
        fx.offline();
        let dt = t.elapsed();
        fx.online();
        eprintln!("offline with {k} pages in use: {:.3} ms ({:.1} ns per migrated page)", dt.as_secs_f64() * 1e3, dt.as_nanos() as f64 / k.max(1) as f64);
    }
    fx.verify();
}
