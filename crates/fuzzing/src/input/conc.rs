//! The `conc` target's input: a knobs byte, the setup's op count, the
//! thread count and each thread's op count, the ops back to back, then
//! (preemptible point u16, thread u8) point preemptions until the end.
//!
//! A preemption names a *preemptible point* (`at point N switch to Tb`: the
//! N-th decision where the running thread stands at a named preemption
//! point or at an access to shared lock-free data), not a raw scheduling
//! decision: a run has hundreds of those points where it has hundreds of
//! thousands of decisions, so every value of the bytes means a preemption
//! where another thread can observe it, and a mutation of a point by a few
//! units moves the preemption a few shared accesses away ([`mutate_conc`]
//! does exactly that). Points are taken modulo [`POINT_RANGE`].
//!
//! Invariants: [`conc_input`] is total and inverts [`conc_bytes`] for a
//! scenario it can describe. Lock order: none (plain data).

use super::seq::{base_config, knobs_for, ops_back_to_back};
use super::{with_campaign, MAX_PREEMPTIONS, MAX_SETUP_OPS, MAX_THREAD_OPS};
use crate::campaign::Campaign;
use crate::ops::{Encode, Op};
use crate::scenario::{PointPreempt, Scenario};
use arbitrary::{Arbitrary, Unstructured};

/// The `conc` target's input.
#[derive(Debug, Clone)]
pub struct ConcInput {
    pub knobs: u8,
    pub setup: Vec<Op>,
    pub threads: Vec<Vec<Op>>,
    /// (preemptible point, thread) preemptions.
    pub preempts: Vec<(u16, u8)>,
}

/// Point preemptions name points below this (the race seeds' runs have 20
/// to 1,200 preemptible points).
pub const POINT_RANGE: u32 = 2048;

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
    let mut points: Vec<PointPreempt> =
        input.preempts.iter().take(MAX_PREEMPTIONS).map(|&(p, t)| PointPreempt { point: p as u32 % POINT_RANGE, then: t as usize % n }).collect();
    points.sort_by_key(|p| p.point);
    let sc = Scenario {
        config,
        setup,
        threads,
        schedule: crate::scenario::Schedule { points, ..Default::default() },
        ..Scenario::sequential(Vec::new())
    };
    with_campaign(sc, c)
}

/// Decode `conc` fuzz bytes as a scenario.
pub fn conc_input(data: &[u8], c: &Campaign) -> Scenario {
    conc_scenario(&decode(data), c)
}

/// Decode `conc` fuzz bytes (total: missing bytes read as zeros).
pub(super) fn decode(data: &[u8]) -> ConcInput {
    let mut u = Unstructured::new(data);
    let mut byte = || u8::arbitrary(&mut u).unwrap_or(0);
    let knobs = byte();
    let n_setup = byte() as usize % (MAX_SETUP_OPS + 1);
    let n_threads = 2 + byte() as usize % 3;
    let per: Vec<usize> = (0..n_threads).map(|_| byte() as usize % (MAX_THREAD_OPS + 1)).collect();
    let setup = ops_back_to_back(&mut u, n_setup);
    let threads = per.iter().map(|&n| ops_back_to_back(&mut u, n)).collect();
    let mut preempts = Vec::new();
    while !u.is_empty() && preempts.len() < MAX_PREEMPTIONS {
        match <(u16, u8)>::arbitrary(&mut u) {
            Ok(st) => preempts.push(st),
            Err(_) => break,
        }
    }
    ConcInput { knobs, setup, threads, preempts }
}

impl ConcInput {
    /// Its bytes (what [`decode`] reads back).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![self.knobs, self.setup.len() as u8, self.threads.len().saturating_sub(2) as u8];
        out.extend(self.threads.iter().map(|t| t.len() as u8));
        for op in self.setup.iter().chain(self.threads.iter().flatten()) {
            op.encode(&mut out);
        }
        for &(p, t) in &self.preempts {
            p.encode(&mut out);
            t.encode(&mut out);
        }
        out
    }
}

/// Fuzz bytes of the `conc` target that decode to `sc` (its point
/// preemptions; named and step ones have no byte form and are left out).
pub fn conc_bytes(sc: &Scenario) -> Result<Vec<u8>, String> {
    if !sc.is_concurrent() || sc.threads.len() > 4 {
        return Err("a conc input has 2 to 4 threads".into());
    }
    let knobs = knobs_for(&sc.config, true).ok_or("the machine is not one of the conc target's knob settings")?;
    if sc.setup.len() > MAX_SETUP_OPS || sc.threads.iter().any(|t| t.len() > MAX_THREAD_OPS) {
        return Err(format!("a conc input has at most {MAX_SETUP_OPS} setup ops and {MAX_THREAD_OPS} ops per thread"));
    }
    if sc.schedule.points.iter().any(|p| p.point >= POINT_RANGE) {
        return Err(format!("a conc input's point preemptions name points below {POINT_RANGE}"));
    }
    let input = ConcInput {
        knobs,
        setup: sc.setup.clone(),
        threads: sc.threads.clone(),
        preempts: sc.schedule.points.iter().take(MAX_PREEMPTIONS).map(|p| (p.point as u16, p.then as u8)).collect(),
    };
    Ok(input.encode())
}

