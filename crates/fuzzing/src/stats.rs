//! A campaign's throughput counters: executions, ops per execution, checks
//! and the share of the run time they took, scheduling decisions per
//! execution (`conc`). The fuzz targets add every run's
//! [`crate::harness::Work`] here; a libFuzzer process writes the totals to
//! the file `PAGELAB_FUZZ_STATS` names (when set) every few thousand
//! executions and when it exits, for `pagelab fuzz` to read and report.
//!
//! Invariants: totals only grow within a process. Lock order: none
//! (relaxed atomic counters; the file is written by one thread at a time,
//! `WRITING` guarding it).

use crate::harness::Outcome;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Once;

static EXECS: AtomicU64 = AtomicU64::new(0);
static OPS: AtomicU64 = AtomicU64::new(0);
static CHECKS: AtomicU64 = AtomicU64::new(0);
static CHECK_NS: AtomicU64 = AtomicU64::new(0);
static RUN_NS: AtomicU64 = AtomicU64::new(0);
static DECISIONS: AtomicU64 = AtomicU64::new(0);
static CHOICE_POINTS: AtomicU64 = AtomicU64::new(0);
static WRITING: AtomicBool = AtomicBool::new(false);
static AT_EXIT: Once = Once::new();

/// The totals of this process.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Totals {
    pub execs: u64,
    pub ops: u64,
    pub checks: u64,
    pub check_ns: u64,
    pub run_ns: u64,
    pub decisions: u64,
    pub choice_points: u64,
}

impl Totals {
    /// Ops per execution.
    pub fn ops_per_exec(&self) -> f64 {
        self.ops as f64 / self.execs.max(1) as f64
    }
    /// Scheduling decisions per execution (`conc`).
    pub fn decisions_per_exec(&self) -> f64 {
        self.decisions as f64 / self.execs.max(1) as f64
    }
    /// The checker's share of the time spent in runs, in percent.
    pub fn check_share(&self) -> f64 {
        100.0 * self.check_ns as f64 / self.run_ns.max(1) as f64
    }

    /// One line of `key=value` fields (the file's format).
    pub fn to_line(&self) -> String {
        format!(
            "execs={} ops={} checks={} check_ns={} run_ns={} decisions={} choice_points={}\n",
            self.execs, self.ops, self.checks, self.check_ns, self.run_ns, self.decisions, self.choice_points
        )
    }

    /// Parse [`Totals::to_line`]'s format (None: not such a line).
    pub fn parse(line: &str) -> Option<Totals> {
        let mut t = Totals::default();
        for kv in line.split_whitespace() {
            let (k, v) = kv.split_once('=')?;
            let v: u64 = v.parse().ok()?;
            match k {
                "execs" => t.execs = v,
                "ops" => t.ops = v,
                "checks" => t.checks = v,
                "check_ns" => t.check_ns = v,
                "run_ns" => t.run_ns = v,
                "decisions" => t.decisions = v,
                "choice_points" => t.choice_points = v,
                _ => return None,
            }
        }
        Some(t)
    }

    /// A human summary: "31.2 ops/exec, checker 41 % of run time" (and the
    /// scheduling decisions of concurrent runs).
    pub fn summary(&self) -> String {
        let mut s = format!("{:.1} ops/exec, {:.1} checks/exec, checker {:.0} % of run time", self.ops_per_exec(), self.checks as f64 / self.execs.max(1) as f64, self.check_share());
        if self.decisions > 0 {
            s.push_str(&format!(", {:.0} scheduling decisions/exec ({:.0} with a choice)", self.decisions_per_exec(), self.choice_points as f64 / self.execs.max(1) as f64));
        }
        s
    }
}

/// This process's totals so far.
pub fn totals() -> Totals {
    let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
    Totals {
        execs: r(&EXECS),
        ops: r(&OPS),
        checks: r(&CHECKS),
        check_ns: r(&CHECK_NS),
        run_ns: r(&RUN_NS),
        decisions: r(&DECISIONS),
        choice_points: r(&CHOICE_POINTS),
    }
}

/// Add one run that took `run_ns`.
pub fn record(out: &Outcome, run_ns: u64) {
    let add = |a: &AtomicU64, v: u64| a.fetch_add(v, Ordering::Relaxed);
    let n = add(&EXECS, 1) + 1;
    add(&OPS, out.work.ops as u64);
    add(&CHECKS, out.work.checks as u64);
    add(&CHECK_NS, out.work.check_ns);
    add(&RUN_NS, run_ns);
    add(&DECISIONS, out.decisions);
    add(&CHOICE_POINTS, out.choice_points as u64);
    if std::env::var_os("PAGELAB_FUZZ_STATS").is_some() {
        AT_EXIT.call_once(|| {
            // SAFETY: `write_at_exit` is an `extern "C" fn()` that does not
            // unwind (it catches everything); atexit only stores it.
            unsafe { libc::atexit(write_at_exit) };
        });
        if n.is_multiple_of(4096) {
            write_file();
        }
    }
}

/// Write the totals to `PAGELAB_FUZZ_STATS` (errors ignored: the counters
/// are a report, not the campaign's result).
pub fn write_file() {
    let Some(path) = std::env::var_os("PAGELAB_FUZZ_STATS") else { return };
    if WRITING.swap(true, Ordering::Acquire) {
        return;
    }
    let _ = std::fs::write(path, totals().to_line());
    WRITING.store(false, Ordering::Release);
}

extern "C" fn write_at_exit() {
    let _ = std::panic::catch_unwind(write_file);
}

/// Read a totals file (None: missing or not in the format).
pub fn read_file(path: &std::path::Path) -> Option<Totals> {
    Totals::parse(std::fs::read_to_string(path).ok()?.lines().next()?)
}
