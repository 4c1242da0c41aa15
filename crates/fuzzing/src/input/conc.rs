//! The `conc` target's input: a knobs byte, the setup's op count, the
//! thread count and each thread's op count, the ops back to back, then
//! (choice point u16, thread u8) step preemptions until the end.
//!
//! Invariants: [`conc_input`] is total and inverts [`conc_bytes`] for a
//! scenario it can describe. Lock order: none (plain data).

use super::seq::{base_config, knobs_for, ops_back_to_back};
use super::{with_campaign, MAX_PREEMPTIONS, MAX_SETUP_OPS, MAX_THREAD_OPS};
use crate::campaign::Campaign;
use crate::ops::{Encode, Op};
use crate::scenario::{Scenario, StepPreempt};
use arbitrary::{Arbitrary, Unstructured};

/// The `conc` target's input.
#[derive(Debug, Clone)]
pub struct ConcInput {
    pub knobs: u8,
    pub setup: Vec<Op>,
    pub threads: Vec<Vec<Op>>,
    /// (choice point, thread) preemptions.
    pub steps: Vec<(u16, u8)>,
}

/// A `conc` input as a scenario: 2 to 4 threads, one CPU each.
pub fn conc_scenario(input: &ConcInput, c: &Campaign) -> Scenario {
    let mut setup = input.setup.clone();
    setup.truncate(MAX_SETUP_OPS);
    let mut threads: Vec<Vec<Op>> = input
        .threads
        .iter()
        .take(4)
        .map(|t| t.iter().take(MAX_THREAD_OPS).map(Op::without_cpu).collect())
        .collect();
    while threads.len() < 2 {
        threads.push(Vec::new());
    }
    let n = threads.len();
    let mut config = base_config(input.knobs & !2);
    config.cpus = n;
    let mut steps: Vec<StepPreempt> =
        input.steps.iter().take(MAX_PREEMPTIONS).map(|&(s, t)| StepPreempt { step: s as u32 % 4096, then: t as usize % n }).collect();
    steps.sort_by_key(|s| s.step);
    let sc = Scenario {
        config,
        setup,
        threads,
        schedule: crate::scenario::Schedule { named: Vec::new(), steps },
        ..Scenario::sequential(Vec::new())
    };
    with_campaign(sc, c)
}

/// Decode `conc` fuzz bytes as a scenario.
pub fn conc_input(data: &[u8], c: &Campaign) -> Scenario {
    let mut u = Unstructured::new(data);
    let mut byte = || u8::arbitrary(&mut u).unwrap_or(0);
    let knobs = byte();
    let n_setup = byte() as usize % (MAX_SETUP_OPS + 1);
    let n_threads = 2 + byte() as usize % 3;
    let per: Vec<usize> = (0..n_threads).map(|_| byte() as usize % (MAX_THREAD_OPS + 1)).collect();
    let setup = ops_back_to_back(&mut u, n_setup);
    let threads = per.iter().map(|&n| ops_back_to_back(&mut u, n)).collect();
    let mut steps = Vec::new();
    while !u.is_empty() && steps.len() < MAX_PREEMPTIONS {
        match <(u16, u8)>::arbitrary(&mut u) {
            Ok(st) => steps.push(st),
            Err(_) => break,
        }
    }
    conc_scenario(&ConcInput { knobs, setup, threads, steps }, c)
}

/// Fuzz bytes of the `conc` target that decode to `sc` (its step
/// preemptions; named ones have no byte form and are left out).
pub fn conc_bytes(sc: &Scenario) -> Result<Vec<u8>, String> {
    if !sc.is_concurrent() || sc.threads.len() > 4 {
        return Err("a conc input has 2 to 4 threads".into());
    }
    let knobs = knobs_for(&sc.config, true).ok_or("the machine is not one of the conc target's knob settings")?;
    if sc.setup.len() > MAX_SETUP_OPS || sc.threads.iter().any(|t| t.len() > MAX_THREAD_OPS) {
        return Err(format!("a conc input has at most {MAX_SETUP_OPS} setup ops and {MAX_THREAD_OPS} ops per thread"));
    }
    let mut out = vec![knobs, sc.setup.len() as u8, (sc.threads.len() - 2) as u8];
    out.extend(sc.threads.iter().map(|t| t.len() as u8));
    for op in sc.setup.iter().chain(sc.threads.iter().flatten()) {
        op.encode(&mut out);
    }
    for st in sc.schedule.steps.iter().take(MAX_PREEMPTIONS) {
        (st.step.min(u16::MAX as u32) as u16).encode(&mut out);
        (st.then as u8).encode(&mut out);
    }
    Ok(out)
}

