//! The shuttle schedulers of concurrent runs (`--features shuttle` only),
//! one concern per file, as shuttle keeps one scheduler per file:
//!
//! * `replay` ([`ReplayScheduler`]): follows a scenario's `schedule:` (named and step
//!   preemptions) — concurrent scenarios, `pagelab replay`, the `conc`
//!   fuzz target, and each schedule `pagelab explore` tries; optionally it
//!   records the run's preemptible points ([`Point`]);
//! * `pct` ([`PctScheduler`]): probabilistic concurrency testing
//!   (Burckhardt et al., ASPLOS 2010) over the same points.
//!
//! A *preemptible point* is a decision where the running task could go
//! on but another task is runnable, and the running task stands at a
//! named preemption point or at an access to shared lock-free data
//! ([`mm::sync::shared_point`]); those are the only places the explorer
//! preempts. Lock operations, spawns and joins are not: between two marked
//! points of one task, a preemption at any of them is observed by the
//! other tasks only through the lock, which serializes it anyway.
//!
//! Shared here: the no-preemption policy every scheduler falls back on,
//! and the interleaving-coverage sites (the op each task runs, combined
//! with the named preemption point it stands at) the `conc` target feeds to
//! libFuzzer.
//!
//! Named preemption points are the model's ([`mm::sync::preempt_point`]);
//! the label of the point a task stands at is read once per decision
//! through [`mm::sync::preempt_label::take`].
//!
//! Invariants: a choice is always a member of the runnable set shuttle
//! passes in. Lock order: none; schedulers take no model lock and create no
//! scheduling point.

use shuttle::scheduler::{Task, TaskId};
use std::collections::HashMap;
use std::sync::Arc;

mod pct;
mod replay;

pub use pct::{Pct, PctScheduler};
pub use replay::{ReplayScheduler, RunStats, Taken};

/// What the running task stands at, read once per decision.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mark {
    /// The named preemption point, if any.
    pub label: Option<&'static str>,
    /// Its pass count by this task (1-based; 0 without a label).
    pub nth: u32,
    /// An access to shared lock-free data.
    pub shared: bool,
}

/// The per-run pass counts of named points, and the marks the model
/// leaves for the decision ([`mm::sync::preempt_label`],
/// [`mm::sync::shared_point`]): every scheduler's first step of a decision.
#[derive(Debug, Default)]
pub(crate) struct Marks {
    seen: HashMap<(usize, &'static str), u32>,
}

impl Marks {
    /// Take this decision's marks for task `cur`.
    pub(crate) fn take(&mut self, cur: Option<usize>) -> Mark {
        let label = mm::sync::preempt_label::take();
        let shared = mm::sync::shared_point::take();
        let nth = match (cur, label) {
            (Some(c), Some(l)) => {
                let n = self.seen.entry((c, l)).or_insert(0);
                *n += 1;
                *n
            }
            _ => 0,
        };
        Mark { label, nth, shared }
    }
}

/// `Scheduler::new_execution` of a one-execution scheduler: the first
/// call starts it (dropping marks left by an earlier run on this thread),
/// the second publishes its stats and ends the test.
pub(crate) fn one_execution(started: &mut bool, stats: &RunStats, handle: &std::sync::Mutex<RunStats>) -> Option<shuttle::scheduler::Schedule> {
    if *started {
        publish(stats, handle);
        return None;
    }
    *started = true;
    let _ = mm::sync::preempt_label::take();
    let _ = mm::sync::shared_point::take();
    Some(shuttle::scheduler::Schedule::new(0))
}

/// Publish a run's stats where its handle's holder reads them.
pub(crate) fn publish(stats: &RunStats, handle: &std::sync::Mutex<RunStats>) {
    *handle.lock().unwrap_or_else(|e| e.into_inner()) = stats.clone();
}

/// Which scheduler a concurrent run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Plan {
    /// [`ReplayScheduler`] on the scenario's schedule.
    #[default]
    Replay,
    /// The same, recording the preemptible points ([`ReplayScheduler::recording`]).
    Record,
    /// [`PctScheduler`]; the scenario's schedule is ignored.
    Pct(Pct),
}

impl Plan {
    /// The scheduler for a run of `schedule`, and where its stats appear.
    pub fn scheduler(&self, schedule: &crate::scenario::Schedule, cov: Option<CovSink>) -> (Box<dyn shuttle::scheduler::Scheduler + Send>, Arc<std::sync::Mutex<RunStats>>) {
        match self {
            Plan::Replay | Plan::Record => {
                let mut s = ReplayScheduler::new(schedule, cov);
                if *self == Plan::Record {
                    s = s.recording();
                }
                let h = s.stats_handle();
                (Box::new(s), h)
            }
            Plan::Pct(p) => {
                let s = PctScheduler::new(*p);
                let h = s.stats_handle();
                (Box::new(s), h)
            }
        }
    }
}

/// One preemptible point of a run (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Point {
    /// Its index among the run's preemptible points (what a point preemption names).
    pub index: u32,
    /// Its choice point index (what a step preemption names).
    pub step: u32,
    /// The task that stands there.
    pub task: usize,
    /// The named point it stands at, with its pass count; None: an access
    /// to shared lock-free data.
    pub at: Option<(&'static str, u32)>,
    /// The other runnable tasks, as a bit mask of task ids.
    pub alts: u64,
}

/// Is this decision a preemptible point (see the module doc)? The other
/// runnable tasks as a bit mask, if it is.
pub(crate) fn preemptible(runnable: &[&Task], current: Option<TaskId>, is_yielding: bool, at_named: bool, shared: bool) -> Option<u64> {
    let cur = current.filter(|c| runnable.iter().any(|t| t.id() == *c))?;
    if runnable.len() < 2 || !(at_named || (shared && !is_yielding)) {
        return None;
    }
    Some(runnable.iter().map(|t| usize::from(t.id())).filter(|&id| id != usize::from(cur) && id < 64).fold(0u64, |m, id| m | 1 << id))
}

/// A running hash of the tasks chosen at each decision: equal for two
/// runs exactly when they are the same interleaving.
pub(crate) fn mix_choice(h: u64, chosen: usize) -> u64 {
    (h ^ chosen as u64).wrapping_add(0x9e37_79b9_7f4a_7c15).wrapping_mul(0xbf58_476d_1ce4_e5b9).rotate_left(27)
}

/// Size of the interleaving-coverage map.
pub const COV_SIZE: usize = 4096;

/// Where coverage indices (`< COV_SIZE`) go.
pub type CovSink = Arc<dyn Fn(usize) + Send + Sync>;

fn hash_str(s: &str) -> u32 {
    // FNV-1a: stable across builds and platforms.
    let mut h: u32 = 0x811c_9dc5;
    for b in s.bytes() {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

thread_local! {
    /// The op each task is running (a hash of its label), by task id.
    static OP_SITE: std::cell::RefCell<Vec<u32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Record that task `task` starts the op with label `label` (the harness
/// calls this; the scheduler folds it into coverage sites).
pub fn note_op(task: usize, label: &'static str) {
    OP_SITE.with(|s| {
        let mut s = s.borrow_mut();
        if s.len() <= task {
            s.resize(task + 1, 0);
        }
        s[task] = hash_str(label);
    });
}

/// Forget every task's op (a new execution begins).
pub(crate) fn clear_sites() {
    OP_SITE.with(|s| s.borrow_mut().clear());
}

pub(crate) fn op_site(task: usize) -> u32 {
    OP_SITE.with(|s| s.borrow().get(task).copied().unwrap_or(0))
}

/// Scheduling steps after which a concurrent run fails as a livelock.
pub const MAX_STEPS: usize = 20_000_000;

/// The shuttle configuration of every pagelab run: 1 MiB task stacks (debug
/// builds of the checker need more than shuttle's default), no failure
/// persistence (fuzz workers must not write files), the "only SeqCst is
/// modeled" warning off (the model uses weaker orderings on purpose;
/// shuttle runs them as SeqCst), and a livelock bound of [`MAX_STEPS`].
pub fn config() -> shuttle::Config {
    let mut c = shuttle::Config::new();
    c.stack_size = 1 << 20;
    c.silence_warnings = true;
    c.failure_persistence = shuttle::FailurePersistence::None;
    c.max_steps = shuttle::MaxSteps::FailAfter(MAX_STEPS);
    c
}

/// The no-preemption policy: the current task keeps running through every
/// scheduling point, including named preemption points (`at_named`); a
/// task that spin-yields hands over to the next runnable task in cyclic id
/// order, so spinning never starves the task it waits for; a blocked or
/// finished task hands over to the lowest-id runnable task.
pub(crate) fn no_preemption(runnable: &[&Task], current: Option<TaskId>, is_yielding: bool, at_named: bool) -> TaskId {
    let lowest = runnable.iter().map(|t| t.id()).min_by_key(|&id| usize::from(id)).expect("shuttle passes a non-empty runnable set");
    let Some(cur) = current.filter(|c| runnable.iter().any(|t| t.id() == *c)) else {
        return lowest;
    };
    if !is_yielding || at_named {
        return cur;
    }
    let c = usize::from(cur);
    runnable.iter().map(|t| t.id()).filter(|&id| usize::from(id) > c).min_by_key(|&id| usize::from(id)).unwrap_or(lowest)
}

