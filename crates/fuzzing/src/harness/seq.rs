//! The sequential runner: a scenario's setup applied op by op with one
//! actor holding every CPU, the reference model's prediction checked and
//! the invariant checker run after each op; at the end pending operations
//! finish, walkers let go of their references, and the checker runs once
//! more. A concurrent run's setup goes through [`run_checked`] too.
//!
//! Harness violation ids (next to the checker's): `MODEL` the reference
//! model disagrees with the model's code, `OPERR` an operation on a handle
//! the harness holds failed.
//!
//! Invariants: deterministic (no threads). Lock order: the trace mutex is
//! a leaf, taken for a push.

use super::actor::{Actor, Shared};
use super::drivers::DriverSet;
use super::{lock, Checking};
use mm::check::CheckState;
use super::outcome::{dumps, Outcome, TraceLine, Work};
use crate::model::{Expect, Model};
use crate::ops::{Applied, Op, OpResult};
use crate::scenario::Scenario;
use mm::page_alloc::FreePath;
use mm::system::System;
use mm::violation::Violation;
use std::sync::{Arc, Mutex as StdMutex};

/// Does the core's result meet the model's prediction?
fn meets(expect: &Expect, res: &OpResult) -> bool {
    match expect {
        Expect::Any => true,
        Expect::Ok => res.is_ok(),
        Expect::Err => res.is_err(),
        Expect::Exactly(x) => x == res,
    }
}

/// How a sequential run records and checks: the trace it appends to, how
/// it checks, the checker state of the booted machine (when the machine is
/// a kept one: the first check is incremental too), and its work counters.
pub(super) struct Run<'a> {
    pub(super) trace: &'a StdMutex<Vec<TraceLine>>,
    pub(super) checking: Checking,
    pub(super) start: Option<&'a CheckState>,
    pub(super) work: Work,
}

impl Run<'_> {
    /// A check of `sys`, counted and timed.
    pub(super) fn check<F: FreePath>(&mut self, sys: &System<F>, f: impl FnOnce(&System<F>) -> Vec<Violation>) -> Vec<Violation> {
        let t = std::time::Instant::now();
        let v = f(sys);
        self.work.checks += 1;
        self.work.check_ns += t.elapsed().as_nanos() as u64;
        v
    }
}

/// Apply `ops` with `actor`, checking after each one. Returns the index and
/// the violations of the first failing op.
pub(super) fn run_checked<F: FreePath>(actor: &mut Actor<'_, F>, model: &mut Option<Model>, ops: &[Op], run: &mut Run<'_>) -> Option<(usize, Vec<Violation>)> {
    let sys = actor.sys;
    let mut st = run.start.cloned().unwrap_or_default();
    let mut checks = 0usize;
    for (i, op) in ops.iter().enumerate() {
        run.work.ops += 1;
        let mut expect = None;
        let done = actor.apply(op, &mut |r| expect = model.as_ref().map(|m| m.predict(r)));
        let res = &done.result;
        let mut vs = Vec::new();
        if done.operr {
            vs.push(Violation { id: "OPERR", pfn: None, msg: format!("{op} on a held handle failed: {res}") });
        }
        let mut shown = None;
        if let (Some(m), Some(r)) = (model.as_mut(), done.resolved.as_ref()) {
            if let Some(x) = expect.as_ref().filter(|x| !meets(x, res)) {
                let want = match x {
                    Expect::Ok => "success".to_string(),
                    Expect::Err => "an error".to_string(),
                    Expect::Exactly(r) => r.to_string(),
                    Expect::Any => "anything".to_string(),
                };
                vs.push(Violation { id: "MODEL", pfn: None, msg: format!("{op} [{r}]: the model expected {want}, the core returned {res}") });
                shown = Some(want);
            }
            if let Err(msg) = m.apply(r, res, sys) {
                vs.push(Violation { id: "MODEL", pfn: None, msg: format!("after {op}: {msg}") });
            }
        }
        if let Some(m) = model.as_ref() {
            for (pfn, msg) in m.compare(sys) {
                vs.push(Violation { id: "MODEL", pfn, msg });
            }
        }
        // A skipped op never called the core: the state is the one the
        // previous check found clean, so the walk is not repeated.
        let skipped = done.resolved.is_none();
        let mut checked = if skipped && vs.is_empty() {
            Vec::new()
        } else {
            checks += 1;
            let cpus = &actor.cpus;
            match run.checking {
                Checking::Full => run.check(sys, |s| s.check()),
                Checking::Incremental { full_every } => {
                    let full = full_every > 0 && checks.is_multiple_of(full_every);
                    run.check(sys, |s| s.check_incremental(&mut st, full, cpus.iter().flatten()))
                }
            }
        };
        checked.append(&mut vs);
        lock(run.trace).push(TraceLine { thread: None, index: i, op: op.clone(), applied: Applied { resolved: done.resolved, result: done.result }, expect: shown });
        if !checked.is_empty() {
            return Some((i, checked));
        }
    }
    None
}

/// The model of a scenario's machine after boot, when the design under
/// test is the landed one (and no driver the model does not follow runs).
pub(super) fn boot_model<F: FreePath>(sc: &Scenario, sys: &System<F>) -> Option<Model> {
    let mut model = sc.is_fixed().then(|| Model::new(sys.config(), sc.config.memmap_on_memory));
    if sc.config.has_drivers() {
        model.as_mut().map(Model::retire);
    }
    model
}

/// A sequential scenario (no threads) on `sys`, a machine just booted or
/// reset: run the setup checked.
pub(super) fn body<F: FreePath>(sc: &Scenario, sys: &System<F>, run: &mut Run<'_>) -> Outcome {
    let drivers = DriverSet::boot(sys, &sc.config);
    let mut actor = match Actor::all_cpus(sys, Arc::new(Shared::default()), sc.config.memmap_on_memory, drivers) {
        Ok(a) => a,
        Err(e) => return Outcome { error: Some(e.to_string()), ..Outcome::default() },
    };
    let mut model = boot_model(sc, sys);
    let bad = run_checked(&mut actor, &mut model, &sc.setup, run);
    let mut out = Outcome::default();
    if let Some((i, vs)) = bad {
        out.dumps = dumps(sys, &vs);
        out.violations = vs;
        out.at = Some(format!("setup #{i}"));
        out.fail_step = Some(i);
    } else {
        // The end of the run: what is half done finishes and the walkers
        // let go of their speculative references, as they would in the
        // kernel a moment later; then one more check.
        actor.quiesce();
        let vs = run.check(sys, |s| s.check());
        if !vs.is_empty() {
            out.dumps = dumps(sys, &vs);
            out.violations = vs;
            out.at = Some("the end of the run (pending ops finished, walkers' references dropped)".into());
        }
    }
    drop(actor);
    out.work = run.work;
    out
}
