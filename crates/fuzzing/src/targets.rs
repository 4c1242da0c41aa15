//! The bodies of the three libFuzzer targets (`fuzz/fuzz_targets/*.rs` are
//! one-liners over them): they panic on a finding with the input printed as
//! a scenario and its trace. The design under test comes from the campaign
//! ([`crate::campaign::campaign`]), never from the bytes.
//!
//! Invariants: a target's verdict is a function of its input. Lock order:
//! none.

use crate::campaign::{campaign, is_finding};
use crate::harness::{run, run_cov, CovSink, Outcome};
use crate::input::{conc_input, seq_input};
use crate::minimize::report;
use crate::scenario::Scenario;

fn check_outcome(sc: &Scenario, out: &Outcome) {
    if is_finding(out, campaign()) {
        panic!("{}", report(sc, out));
    }
}

/// The `seq` target: decode, run with the checker and the model after
/// every op; panic on a finding.
pub fn fuzz_seq(data: &[u8]) {
    let sc = seq_input(data, campaign());
    let t = std::time::Instant::now();
    let out = run(&sc);
    crate::stats::record(&out, t.elapsed().as_nanos() as u64);
    check_outcome(&sc, &out);
}

/// The `conc` target: decode, run under the fuzz scheduler; panic on a
/// finding. `cov` receives interleaving-coverage indices.
pub fn fuzz_conc(data: &[u8], cov: Option<CovSink>) {
    let sc = conc_input(data, campaign());
    let t = std::time::Instant::now();
    let out = run_cov(&sc, cov);
    crate::stats::record(&out, t.elapsed().as_nanos() as u64);
    give_back_free_heap();
    if out.skipped.is_some() {
        return;
    }
    check_outcome(&sc, &out);
}

/// Every 64th run, return the heap's free pages to the kernel (glibc
/// `malloc_trim`). A shuttle run allocates its machine as vectors of tens
/// of MiB; glibc's dynamic mmap threshold soon serves them from the heap,
/// whose holes stay resident: a `conc` campaign grew to 2.1 GB of RSS in
/// 8000 runs and libFuzzer stopped it as out of memory (`-rss_limit_mb`),
/// with no leak (with a fixed mmap threshold RSS stayed at 70-80 MB, at
/// half the runs per second). Trimming after every run kept RSS flat but
/// also halved the rate (the next run faults its pages back in); every
/// 64th keeps both.
fn give_back_free_heap() {
    static RUNS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    if RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 64 != 63 {
        return;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory of the allocator's
    // arenas; no pointer the program holds is affected.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The `scenario` target: any text into the parser (it must never panic);
/// a scenario that parses must print back to text that parses to itself.
pub fn fuzz_scenario(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(sc) = crate::scenario::parse("input", &text) {
        let again = crate::scenario::parse("printed", &sc.print()).unwrap_or_else(|e| panic!("printed scenario does not parse: {e}\n{sc}"));
        assert_eq!(again, sc, "print/parse round trip changed the scenario");
    }
}

