//! The harness: applies [`crate::ops::Op`]s to a real [`mm::system::System`], checks it after
//! every sequential op (invariant checker + the reference model), runs
//! concurrent scenarios under shuttle with `crate::sched::ReplayScheduler`.
//!
//! * [`run`]: run a scenario (any design, any build) and return an
//!   [`Outcome`] — the op trace, the violations, the dumps of the pages
//!   involved. A concurrent scenario in the default build is *skipped*
//!   (it needs `--features shuttle`).
//! * `actor`: one thread's view (CPUs, held handles) and the operand
//!   resolution rules; `exec`: what each op does, one arm per op;
//!   `seq` / `conc`: the sequential and the concurrent runner;
//!   [`outcome`]: what a run reports; [`drivers`]: the drivers a
//!   scenario boots with.
//!
//! Invariants: a run is a deterministic function of its scenario (std
//! build: no threads; shuttle build: the schedule decides everything), so
//! [`Outcome::fingerprint`] is equal for two runs of one scenario. Lock
//! order: the harness holds no model lock across calls; its own std mutexes
//! (trace, published allocations) are leaves taken for a push or a copy.

use crate::scenario::Scenario;
use mm::page_alloc::{FreePath, Landed};
use mm::violation::Violation;
use std::sync::Mutex as StdMutex;

mod actor;
#[cfg(feature = "shuttle")]
mod conc;
pub mod drivers;
mod exec;
pub mod machine;
pub mod outcome;
mod seq;

pub use outcome::{Outcome, TraceLine, Work};

fn lock<T>(m: &StdMutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".into()
    }
}

fn finish(mut out: Outcome, trace: &StdMutex<Vec<TraceLine>>, panicked: Option<String>) -> Outcome {
    out.trace = std::mem::take(&mut *lock(trace));
    if let Some(msg) = panicked {
        out.violations.insert(0, Violation { id: "PANIC", pfn: None, msg });
        out.at.get_or_insert_with(|| format!("op {} (the last one traced, or the next)", out.trace.len()));
    }
    out
}

/// Where interleaving coverage goes (the shuttle build's
/// [`crate::sched::CovSink`]; unused in the default build).
#[cfg(feature = "shuttle")]
pub type CovSink = crate::sched::CovSink;
/// Where interleaving coverage goes (unused in the default build).
#[cfg(not(feature = "shuttle"))]
pub type CovSink = std::sync::Arc<dyn Fn(usize) + Send + Sync>;

/// A full walk of the machine every this many sequential ops (and at the
/// end of every run); the ops between get incremental checks.
pub const FULL_CHECK_EVERY: usize = 32;

/// How a run checks the machine after each sequential op.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checking {
    /// An incremental check ([`mm::check::CheckState`]) after each op and a
    /// full walk after every `full_every`-th (0: none but the one at the end
    /// of the run).
    Incremental {
        /// The period of the full walks (0: only the final one).
        full_every: usize,
    },
    /// A full walk after every op.
    Full,
}

impl Default for Checking {
    fn default() -> Self {
        Checking::Incremental { full_every: FULL_CHECK_EVERY }
    }
}

/// Run a scenario with free path `F` (under shuttle: with the scheduler
/// `plan` names; the default build has only the scenario's own schedule).
fn run_with<F: FreePath>(sc: &Scenario, cov: Option<CovSink>, checking: Checking, plan: Plan) -> Outcome {
    #[cfg(not(feature = "shuttle"))]
    {
        let _ = (cov, plan);
        if sc.is_concurrent() {
            return Outcome::skipped(format!("a concurrent scenario ({} threads): needs the shuttle build (--features shuttle)", sc.threads.len()));
        }
        let cfg = sc.config.to_config(sc.design());
        let (sys, booted) = match machine::take::<F>(&cfg) {
            Some((s, b)) => (s, Some(b)),
            None => match machine::boot::<F>(&cfg) {
                Ok(x) => x,
                Err(e) => return Outcome { error: Some(e.to_string()), ..Outcome::default() },
            },
        };
        let trace = StdMutex::new(Vec::new());
        let mut run = seq::Run { trace: &trace, checking, start: booted.as_ref().map(|b| &b.checked), work: Default::default() };
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| seq::body::<F>(sc, &sys, &mut run)));
        match r {
            Ok(out) => {
                if let Some(b) = booted {
                    machine::give_back::<F>(&cfg, sys, b);
                }
                finish(out, &trace, None)
            }
            Err(p) => finish(Outcome::default(), &trace, Some(panic_message(&*p))),
        }
    }
    #[cfg(feature = "shuttle")]
    {
        conc::run::<F>(sc, cov, checking, plan)
    }
}

/// The scheduler of a run: the shuttle build's [`crate::sched::Plan`].
#[cfg(feature = "shuttle")]
pub type Plan = crate::sched::Plan;
/// The scheduler of a run (the default build has no other than the
/// scenario's own schedule).
#[cfg(not(feature = "shuttle"))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Plan {
    /// The scenario's own schedule.
    #[default]
    Replay,
}
/// Run `f::<F>()` for the free path named `name` (a [`mm::design::FREE_PATHS`] name).
macro_rules! with_free_path {
    ($name:expr, $f:ident ( $($arg:expr),* )) => {
        match $name {
            "landed" => $f::<Landed>($($arg),*),
            "rfc_pageoffline_hook" => $f::<mm::RfcOfflineHook>($($arg),*),
            "no_hwpoison_check" => $f::<mm::NoHwpoisonCheck>($($arg),*),
            "side_bitmap_hook" => $f::<mm::SideBitmapHook>($($arg),*),
            "free_mt_no_recheck" => $f::<mm::FreeMtNoRecheck>($($arg),*),
            "merge_across_isolate" => $f::<mm::MergeAcrossIsolate>($($arg),*),
            other => {
                let _ = ($($arg),*);
                Outcome { error: Some(format!("unknown free path `{other}`")), ..Outcome::default() }
            }
        }
    };
}

/// Run a scenario (see the module doc).
pub fn run(sc: &Scenario) -> Outcome {
    run_cov(sc, None)
}

/// Run a scenario, reporting interleaving coverage to `cov`.
pub fn run_cov(sc: &Scenario, cov: Option<CovSink>) -> Outcome {
    run_opts(sc, cov, Checking::default(), Plan::Replay)
}

/// Run a scenario checking as `checking` says.
pub fn run_checking(sc: &Scenario, checking: Checking) -> Outcome {
    run_opts(sc, None, checking, Plan::Replay)
}

/// Run a scenario under the scheduler `plan` names (`pagelab explore`).
pub fn run_plan(sc: &Scenario, plan: Plan) -> Outcome {
    run_opts(sc, None, Checking::default(), plan)
}

fn run_opts(sc: &Scenario, cov: Option<CovSink>, checking: Checking, plan: Plan) -> Outcome {
    if let Err(e) = sc.validate() {
        return Outcome { error: Some(format!("invalid scenario: {e}")), ..Outcome::default() };
    }
    with_free_path!(sc.free_path.as_str(), run_with(sc, cov, checking, plan))
}

