//! The shuttle schedulers of concurrent runs (`--features shuttle` only),
//! one concern per file, as shuttle keeps one scheduler per file:
//!
//! * `replay` ([`ReplayScheduler`]): follows a scenario's `schedule:` (named and step
//!   preemptions) — concurrent scenarios, `pagelab replay`, the `conc`
//!   fuzz target.
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
use std::sync::Arc;

mod replay;

pub use replay::{ReplayScheduler, RunStats, Taken};

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

