//! The concurrent runner (`--features shuttle` only): the setup runs
//! checked like a sequential run ([`super::seq::run_checked`]), then one
//! shuttle task per thread (T0 on the main task, T1.. spawned in order:
//! shuttle task ids 0, 1, ...), each acting for its own CPU, under
//! [`crate::sched::ReplayScheduler`] following the scenario's schedule.
//! The checker runs once, at the end; `OPERR`s of the threads are added.
//!
//! Each thread passes the named preemption point `op:<name>` right before
//! each of its ops, so a schedule can say "preempt T0 at its 1st
//! `op:offline`".
//!
//! Invariants: the schedule decides every interleaving (the scheduler's
//! `next_u64` is constant), so two runs of one scenario are identical.
//! Lock order: the trace and OPERR mutexes are leaves.

use super::actor::{Actor, Shared};
use super::drivers::DriverSet;
use super::outcome::{dumps, Outcome, TraceLine};
use super::seq::{boot_model, run_checked, Run};
use super::{finish, lock, machine, panic_message, Checking};
use crate::ops::{Applied, Op};
use crate::scenario::Scenario;
use crate::sched::{CovSink, Plan};
use mm::page_alloc::FreePath;
use mm::system::System;
use mm::violation::Violation;
use std::sync::{Arc, Mutex as StdMutex};

fn thread_ops<F: FreePath>(actor: &mut Actor<'_, F>, t: usize, ops: &[Op], trace: &StdMutex<Vec<TraceLine>>, operr: &StdMutex<Vec<Violation>>) {
    for (i, op) in ops.iter().enumerate() {
        crate::sched::note_op(t, op.label());
        mm::sync::preempt_point(op.label());
        let done = actor.apply(op, &mut |_| {});
        if done.operr {
            lock(operr).push(Violation { id: "OPERR", pfn: None, msg: format!("T{t} {op} on a held handle failed: {}", done.result) });
        }
        lock(trace).push(TraceLine { thread: Some(t), index: i, op: op.clone(), applied: Applied { resolved: done.resolved, result: done.result }, expect: None });
    }
}

pub(super) fn body<F: FreePath>(sc: &Scenario, sys: &Arc<System<F>>, run: &mut Run<'_>) -> Outcome {
    if !sc.is_concurrent() {
        return super::seq::body::<F>(sc, sys, run);
    }
    let shared = Arc::new(Shared::default());
    let mom = sc.config.memmap_on_memory;
    let drivers = DriverSet::boot(&**sys, &sc.config);
    let operr = Arc::new(StdMutex::new(Vec::new()));
    {
        let mut a0 = match Actor::all_cpus(sys, shared.clone(), mom, drivers.clone()) {
            Ok(a) => a,
            Err(e) => return Outcome { error: Some(e.to_string()), ..Outcome::default() },
        };
        let mut model = boot_model(sc, sys);
        if let Some((i, vs)) = run_checked(&mut a0, &mut model, &sc.setup, run) {
            return Outcome { dumps: dumps(sys, &vs), violations: vs, at: Some(format!("setup #{i}")), fail_step: Some(i), work: run.work, ..Outcome::default() };
        }
        a0.keep_only(0);
        // Threads T1.. are spawned in order: shuttle task ids 1.. .
        let trace_arc: Arc<StdMutex<Vec<TraceLine>>> = Arc::new(StdMutex::new(Vec::new()));
        let mut joins = Vec::new();
        for (t, ops) in sc.threads.iter().enumerate().skip(1) {
            let (sys, shared, ops, tr, oe, dr) = (sys.clone(), shared.clone(), ops.clone(), trace_arc.clone(), operr.clone(), drivers.clone());
            joins.push(mm::sync::thread::spawn(move || {
                let mut a = match Actor::one_cpu(&sys, t, shared, mom, dr) {
                    Ok(a) => a,
                    Err(e) => {
                        lock(&oe).push(Violation { id: "OPERR", pfn: None, msg: format!("T{t}: cannot claim cpu {t}: {e}") });
                        return;
                    }
                };
                thread_ops(&mut a, t, &ops, &tr, &oe);
            }));
        }
        thread_ops(&mut a0, 0, &sc.threads[0], &trace_arc, &operr);
        drop(a0);
        for j in joins {
            if let Err(p) = j.join() {
                std::panic::resume_unwind(p);
            }
        }
        lock(run.trace).extend(std::mem::take(&mut *lock(&trace_arc)));
    }
    run.work.ops += sc.threads.iter().map(|t| t.len() as u32).sum::<u32>();
    let mut vs = run.check(&**sys, |s| s.check());
    vs.extend(std::mem::take(&mut *lock(&operr)));
    Outcome { dumps: dumps(sys, &vs), at: (!vs.is_empty()).then(|| "end of the run".into()), violations: vs, work: run.work, ..Outcome::default() }
}

/// A machine a run hands back to the cache.
type Kept<F> = (machine::Held<F>, machine::Booted);

/// Run a scenario (sequential or concurrent) as one shuttle execution,
/// under the scheduler `plan` names.
pub(super) fn run<F: FreePath>(sc: &Scenario, cov: Option<CovSink>, checking: Checking, plan: Plan) -> Outcome {
    let (sched, stats) = plan.scheduler(&sc.schedule, cov);
    let sc_arc = Arc::new(sc.clone());
    let trace: Arc<StdMutex<Vec<TraceLine>>> = Arc::new(StdMutex::new(Vec::new()));
    let out: Arc<StdMutex<Option<Outcome>>> = Arc::new(StdMutex::new(None));
    let (t2, o2) = (trace.clone(), out.clone());
    // The machine: a kept one, reset here between executions, or one the
    // execution boots; handed back through `back` when the run ends normally.
    let cfg = sc.config.to_config(sc.design());
    let pre = Arc::new(StdMutex::new(machine::take::<F>(&cfg)));
    let back: Arc<StdMutex<Option<Kept<F>>>> = Arc::new(StdMutex::new(None));
    let (cfg2, b2) = (cfg.clone(), back.clone());
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        shuttle::Runner::new(sched, crate::sched::config()).run(move || {
            let (sys, booted) = match lock(&pre).take() {
                Some((s, b)) => (s, Some(b)),
                None => match machine::boot::<F>(&cfg2) {
                    Ok(x) => x,
                    Err(e) => {
                        *lock(&o2) = Some(Outcome { error: Some(e.to_string()), ..Outcome::default() });
                        return;
                    }
                },
            };
            let mut run = Run { trace: &t2, checking, start: booted.as_ref().map(|b| &b.checked), work: Default::default() };
            let o = body::<F>(&sc_arc, &sys, &mut run);
            *lock(&o2) = Some(o);
            if let Some(b) = booted {
                *lock(&b2) = Some((sys, b));
            }
        })
    }));
    let panicked = r.err().map(|p| panic_message(&*p));
    if panicked.is_none() {
        if let Some((sys, b)) = lock(&back).take() {
            machine::give_back::<F>(&cfg, sys, b);
        }
    }
    let o = lock(&out).take().unwrap_or_default();
    let mut o = finish(o, &trace, panicked);
    let st = lock(&stats).clone();
    o.choice_points = st.choice_points;
    o.decisions = st.decisions;
    o.preemptions = st
        .taken
        .iter()
        .map(|t| {
            let from = t.from.map_or("-".to_string(), |f| format!("T{f}"));
            let at = t.at.map_or(String::new(), |(l, n)| format!(" at {l} #{n}"));
            let point = t.point.map_or(String::new(), |p| format!(", point {p}"));
            format!("{} preemption at choice point {}{point}: {from}{at} -> T{}", t.kind, t.step, t.to)
        })
        .collect();
    o.sched = st;
    o
}
