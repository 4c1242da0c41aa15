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
use super::lock;
use super::outcome::{dumps, Outcome, TraceLine};
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

/// Apply `ops` with `actor`, checking after each one. Returns the index and
/// the violations of the first failing op.
pub(super) fn run_checked<F: FreePath>(
    actor: &mut Actor<'_, F>,
    model: &mut Option<Model>,
    ops: &[Op],
    trace: &StdMutex<Vec<TraceLine>>,
) -> Option<(usize, Vec<Violation>)> {
    let sys = actor.sys;
    for (i, op) in ops.iter().enumerate() {
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
        let mut checked = if skipped && vs.is_empty() { Vec::new() } else { sys.check() };
        checked.append(&mut vs);
        lock(trace).push(TraceLine { thread: None, index: i, op: op.clone(), applied: Applied { resolved: done.resolved, result: done.result }, expect: shown });
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

/// A sequential scenario (no threads): build, run the setup checked.
pub(super) fn body<F: FreePath>(sc: &Scenario, trace: &StdMutex<Vec<TraceLine>>) -> Outcome {
    let sys = match System::<F>::new(sc.config.to_config(sc.design())) {
        Ok(s) => s,
        Err(e) => return Outcome { error: Some(e.to_string()), ..Outcome::default() },
    };
    let drivers = DriverSet::boot(&sys, &sc.config);
    let mut actor = match Actor::all_cpus(&sys, Arc::new(Shared::default()), sc.config.memmap_on_memory, drivers) {
        Ok(a) => a,
        Err(e) => return Outcome { error: Some(e.to_string()), ..Outcome::default() },
    };
    let mut model = boot_model(sc, &sys);
    let bad = run_checked(&mut actor, &mut model, &sc.setup, trace);
    let mut out = Outcome::default();
    if let Some((i, vs)) = bad {
        out.dumps = dumps(&sys, &vs);
        out.violations = vs;
        out.at = Some(format!("setup #{i}"));
        out.fail_step = Some(i);
    } else {
        // The end of the run: what is half done finishes and the walkers
        // let go of their speculative references, as they would in the
        // kernel a moment later; then one more check.
        actor.quiesce();
        let vs = sys.check();
        if !vs.is_empty() {
            out.dumps = dumps(&sys, &vs);
            out.violations = vs;
            out.at = Some("the end of the run (pending ops finished, walkers' references dropped)".into());
        }
    }
    drop(actor);
    out
}
