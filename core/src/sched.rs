//! Deterministic schedulers for shuttle runs (`--features shuttle` only):
//! record one interleaving of a concurrent test and replay it exactly.
//!
//! Under `--features shuttle` every protocol atomic, lock and spawn of the
//! core is a shuttle scheduling point (see [`crate::sync`]). At each point
//! shuttle asks its [`Scheduler`] which task runs next; the answers, one per
//! point, *are* the interleaving. This module supplies two schedulers that
//! make those answers explicit:
//!
//! * [`RecordingScheduler`]: a seeded random choice (splitmix64) among the
//!   runnable tasks, recording every answer.
//! * [`ReplayScheduler`]: replays an explicit schedule, a `Vec<usize>` whose
//!   entry *i* names the task (`usize::from(TaskId)`: main thread 0, first
//!   spawned thread 1, ...) that runs at scheduling point *i*.
//!
//! Both record what they actually chose into a [`Trace`], which the caller
//! reads back through a [`TraceHandle`] after the run ([`run_with`],
//! [`record`], [`replay`]).
//!
//! # Guarantees
//! * One input, one interleaving: a `RecordingScheduler` seed, or a
//!   `ReplayScheduler` schedule, fully determines every scheduling decision
//!   and every value handed out by `next_u64`, so a test body that is
//!   deterministic apart from its interleaving (no wall clock, no OS
//!   randomness, no std threads) runs bit-for-bit the same each time.
//! * Replaying a recorded [`Trace`] (decisions and random values) reproduces
//!   the recorded run exactly, with zero fallbacks, and records the same
//!   decision sequence again.
//! * Each scheduler runs exactly one execution; the trace is published when
//!   the execution ends, and also when the scheduler is dropped, so a run that
//!   panics (a failed assertion, a shuttle deadlock report) still leaves its
//!   decisions behind to replay.
//!
//! # Replay rules
//! At scheduling point *i* the task `schedule[i]` runs if it is runnable.
//! Otherwise (a fallback, counted in [`Trace::fallbacks`]), and at every
//! point after the schedule ends, the *no-preemption* rule decides:
//! the current task keeps running if it is runnable and did not yield;
//! a task that yielded (a spin-wait, [`crate::sync::spin_wait`]) hands over
//! to the next runnable task in cyclic id order after it, so that spinning
//! never starves the task it waits for; if the current task is blocked or
//! finished, the lowest-id runnable task runs.
//!
//! # Invariants
//! * `Trace::decisions[i]` is the task that shuttle ran at scheduling point
//!   *i* (the first point, with no current task, always picks task 0).
//! * A choice is always a member of the runnable set shuttle passed in.
//!
//! Lock order: none. The schedulers take no pagelab or shuttle lock and
//! create no scheduling point; the std mutex inside a [`TraceHandle`] is
//! only taken when a trace is published (end of execution, drop) or read.

use crate::rng::SplitMix64;
use shuttle::scheduler::{Schedule, Scheduler, Task, TaskId};
use std::sync::{Arc, Mutex as StdMutex};

/// What one execution under a [`RecordingScheduler`] or [`ReplayScheduler`]
/// did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trace {
    /// The task id chosen at every scheduling point, in order.
    pub decisions: Vec<usize>,
    /// Every value handed to shuttle's `next_u64` (shuttle's random
    /// source), in order.
    pub randoms: Vec<u64>,
    /// Replay only: points where the scheduled task was not runnable and the
    /// no-preemption rule chose instead.
    pub fallbacks: usize,
    /// Replay only: scheduling points past the end of the schedule.
    pub beyond_schedule: usize,
}

/// Where a scheduler publishes its [`Trace`]; cloneable, so the caller keeps
/// one copy while the scheduler moves into shuttle's `Runner`.
#[derive(Debug, Clone, Default)]
pub struct TraceHandle(Arc<StdMutex<Option<Trace>>>);

impl TraceHandle {
    /// The published trace (None until the execution ended or the scheduler
    /// was dropped).
    pub fn get(&self) -> Option<Trace> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Take the published trace out.
    pub fn take(&self) -> Option<Trace> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    fn publish(&self, t: &Trace) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(t.clone());
    }
}

/// A scheduler that publishes a [`Trace`].
pub trait Traced {
    /// The handle its trace is published to.
    fn trace_handle(&self) -> TraceHandle;
}

/// The no-preemption rule (see the module doc).
fn no_preemption(runnable: &[&Task], current: Option<TaskId>, is_yielding: bool) -> TaskId {
    let lowest = runnable.iter().map(|t| t.id()).min_by_key(|&id| usize::from(id)).expect("shuttle passes a non-empty runnable set");
    let Some(cur) = current.filter(|c| runnable.iter().any(|t| t.id() == *c)) else {
        return lowest;
    };
    if !is_yielding {
        return cur;
    }
    let c = usize::from(cur);
    runnable
        .iter()
        .map(|t| t.id())
        .filter(|&id| usize::from(id) > c)
        .min_by_key(|&id| usize::from(id))
        .unwrap_or(lowest)
}

/// Replays an explicit schedule (see the module doc for the rules).
#[derive(Debug)]
pub struct ReplayScheduler {
    schedule: Vec<usize>,
    randoms: Vec<u64>,
    fallback_rng: SplitMix64,
    started: bool,
    trace: Trace,
    handle: TraceHandle,
}

impl ReplayScheduler {
    /// Replay `schedule`: entry i is the task id to run at scheduling point i.
    /// Random values (`next_u64`) come from a fixed splitmix64 stream.
    pub fn new(schedule: Vec<usize>) -> Self {
        ReplayScheduler {
            schedule,
            randoms: Vec::new(),
            fallback_rng: SplitMix64(0),
            started: false,
            trace: Trace::default(),
            handle: TraceHandle::default(),
        }
    }

    /// Replay a recorded trace: its decisions and its random values.
    pub fn from_trace(t: &Trace) -> Self {
        let mut s = Self::new(t.decisions.clone());
        s.randoms = t.randoms.clone();
        s
    }

    /// The decisions taken so far in this execution (also published to
    /// [`Traced::trace_handle`] at its end).
    pub fn trace(&self) -> &Trace {
        &self.trace
    }
}

impl Traced for ReplayScheduler {
    fn trace_handle(&self) -> TraceHandle {
        self.handle.clone()
    }
}

impl Scheduler for ReplayScheduler {
    fn new_execution(&mut self) -> Option<Schedule> {
        if self.started {
            self.handle.publish(&self.trace);
            return None;
        }
        self.started = true;
        Some(Schedule::new(0))
    }

    fn next_task(&mut self, runnable: &[&Task], current: Option<TaskId>, is_yielding: bool) -> Option<TaskId> {
        let i = self.trace.decisions.len();
        let chosen = match self.schedule.get(i) {
            Some(&want) => match runnable.iter().find(|t| usize::from(t.id()) == want) {
                Some(t) => t.id(),
                None => {
                    self.trace.fallbacks += 1;
                    no_preemption(runnable, current, is_yielding)
                }
            },
            None => {
                self.trace.beyond_schedule += 1;
                no_preemption(runnable, current, is_yielding)
            }
        };
        self.trace.decisions.push(usize::from(chosen));
        Some(chosen)
    }

    fn next_u64(&mut self) -> u64 {
        let v = match self.randoms.get(self.trace.randoms.len()) {
            Some(&v) => v,
            None => self.fallback_rng.next(),
        };
        self.trace.randoms.push(v);
        v
    }
}

impl Drop for ReplayScheduler {
    fn drop(&mut self) {
        if self.started && self.handle.get().is_none() {
            self.handle.publish(&self.trace);
        }
    }
}

/// A seeded random scheduler that records every decision (see the module doc).
#[derive(Debug)]
pub struct RecordingScheduler {
    seed: u64,
    rng: SplitMix64,
    started: bool,
    trace: Trace,
    handle: TraceHandle,
}

impl RecordingScheduler {
    /// A random scheduler whose every choice follows from `seed`.
    pub fn new(seed: u64) -> Self {
        RecordingScheduler {
            seed,
            rng: SplitMix64(seed),
            started: false,
            trace: Trace::default(),
            handle: TraceHandle::default(),
        }
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The decisions taken so far in this execution.
    pub fn trace(&self) -> &Trace {
        &self.trace
    }
}

impl Traced for RecordingScheduler {
    fn trace_handle(&self) -> TraceHandle {
        self.handle.clone()
    }
}

impl Scheduler for RecordingScheduler {
    fn new_execution(&mut self) -> Option<Schedule> {
        if self.started {
            self.handle.publish(&self.trace);
            return None;
        }
        self.started = true;
        Some(Schedule::new(self.seed))
    }

    fn next_task(&mut self, runnable: &[&Task], _current: Option<TaskId>, _is_yielding: bool) -> Option<TaskId> {
        // A single runnable task is no choice: no random draw, so a seed's
        // stream is spent only where the interleaving can differ.
        let t = if runnable.len() == 1 { runnable[0].id() } else { runnable[self.rng.below(runnable.len())].id() };
        self.trace.decisions.push(usize::from(t));
        Some(t)
    }

    fn next_u64(&mut self) -> u64 {
        let v = self.rng.next();
        self.trace.randoms.push(v);
        v
    }
}

impl Drop for RecordingScheduler {
    fn drop(&mut self) {
        if self.started && self.handle.get().is_none() {
            self.handle.publish(&self.trace);
        }
    }
}

thread_local! {
    /// The label of the preemption point the running task just reached
    /// (set by [`crate::sync::preempt_point`], read once by the scheduler).
    /// Per OS thread: all tasks of one shuttle execution share the OS
    /// thread, while executions on other threads (parallel tests) do not.
    static LAST_LABEL: std::cell::Cell<Option<&'static str>> = const { std::cell::Cell::new(None) };
}

/// Called by [`crate::sync::preempt_point`] right before it yields.
pub fn note_label(label: &'static str) {
    LAST_LABEL.with(|l| l.set(Some(label)));
}

/// Take (and clear) the label noted by the last [`note_label`]: for a
/// scheduler that reads named preemption points (see also `crate::harness`).
pub fn take_label() -> Option<&'static str> {
    LAST_LABEL.with(|l| l.take())
}

/// One written-out preemption: when task `task` reaches its `nth` (1-based)
/// pass through the preemption point `label`, switch to task `then`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preempt {
    pub task: usize,
    pub label: &'static str,
    pub nth: u32,
    pub then: usize,
}

/// A scheduler for hand-written race schedules: tasks run without
/// preemption (the current task keeps running through named preemption
/// points; a blocked or finished task hands over to the lowest-id runnable
/// one; a spin-wait yields to the next task) except at the listed
/// [`Preempt`]s, taken in order. A race then reads as its explanation:
/// "preempt T1 at its 1st `free_unref_page:mt_read`, run T0".
#[derive(Debug)]
pub struct PreemptScheduler {
    plan: Vec<Preempt>,
    next: usize,
    seen: std::collections::HashMap<(usize, &'static str), u32>,
    started: bool,
    taken: Arc<StdMutex<usize>>,
}

impl PreemptScheduler {
    /// A scheduler following `plan`.
    pub fn new(plan: Vec<Preempt>) -> Self {
        PreemptScheduler { plan, next: 0, seen: Default::default(), started: false, taken: Arc::new(StdMutex::new(0)) }
    }

    /// After the run: how many planned preemptions were taken (a plan whose
    /// preemptions were not all taken did not produce the intended race).
    pub fn taken_handle(&self) -> Arc<StdMutex<usize>> {
        self.taken.clone()
    }
}

impl Scheduler for PreemptScheduler {
    fn new_execution(&mut self) -> Option<Schedule> {
        if self.started {
            return None;
        }
        self.started = true;
        let _ = take_label();
        Some(Schedule::new(0))
    }

    fn next_task(&mut self, runnable: &[&Task], current: Option<TaskId>, is_yielding: bool) -> Option<TaskId> {
        let label = take_label();
        if let (Some(cur), Some(label)) = (current, label) {
            let cur_id = usize::from(cur);
            let n = self.seen.entry((cur_id, label)).or_insert(0);
            *n += 1;
            let n = *n;
            if let Some(p) = self.plan.get(self.next) {
                if p.task == cur_id && p.label == label && p.nth == n {
                    if let Some(t) = runnable.iter().find(|t| usize::from(t.id()) == p.then) {
                        self.next += 1;
                        *self.taken.lock().unwrap_or_else(|e| e.into_inner()) = self.next;
                        return Some(t.id());
                    }
                }
            }
            // A named point that is not in the plan: no preemption.
            if runnable.iter().any(|t| t.id() == cur) {
                return Some(cur);
            }
        }
        Some(no_preemption(runnable, current, is_yielding))
    }

    fn next_u64(&mut self) -> u64 {
        0
    }
}

/// Run `f` once under a [`PreemptScheduler`]; returns how many of the
/// planned preemptions were taken.
pub fn run_preempt(plan: Vec<Preempt>, f: impl Fn() + Send + Sync + 'static) -> usize {
    let s = PreemptScheduler::new(plan);
    let h = s.taken_handle();
    run_with(s, f);
    let n = *h.lock().unwrap_or_else(|e| e.into_inner());
    n
}

/// The shuttle configuration used by [`run_with`]: shuttle's defaults
/// (1,000,000-step bound), with 1 MiB task stacks (debug builds of the
/// checker need more than shuttle's 60 KiB) and the "only SeqCst is modeled"
/// warning silenced (the core uses weaker orderings on purpose; shuttle
/// explores them as SeqCst).
pub fn config() -> shuttle::Config {
    let mut c = shuttle::Config::new();
    c.stack_size = 1 << 20;
    c.silence_warnings = true;
    c
}

/// Run `f` under shuttle with scheduler `sched` and [`config`]; returns the
/// number of executions. Panics (after publishing the trace of a
/// [`Traced`] scheduler) if an execution fails.
pub fn run_with<S: Scheduler + 'static>(sched: S, f: impl Fn() + Send + Sync + 'static) -> usize {
    shuttle::Runner::new(sched, config()).run(f)
}

/// Run `f` once under a [`RecordingScheduler`] seeded with `seed`; returns
/// what it did.
pub fn record(seed: u64, f: impl Fn() + Send + Sync + 'static) -> Trace {
    let s = RecordingScheduler::new(seed);
    let h = s.trace_handle();
    run_with(s, f);
    h.take().expect("the execution published its trace")
}

/// Run `f` once under a [`ReplayScheduler`] for `schedule`; returns what it
/// did.
pub fn replay(schedule: Vec<usize>, f: impl Fn() + Send + Sync + 'static) -> Trace {
    replay_with(ReplayScheduler::new(schedule), f)
}

/// Run `f` once replaying a recorded trace (decisions and random values).
pub fn replay_trace(t: &Trace, f: impl Fn() + Send + Sync + 'static) -> Trace {
    replay_with(ReplayScheduler::from_trace(t), f)
}

fn replay_with(s: ReplayScheduler, f: impl Fn() + Send + Sync + 'static) -> Trace {
    let h = s.trace_handle();
    run_with(s, f);
    h.take().expect("the execution published its trace")
}

#[cfg(test)]
mod tests {
    use super::*;
    use shuttle::sync::atomic::{AtomicU32, Ordering};

    /// c = 1; thread: c += 10; main: c *= 2. Result 12 or 22 (or a lost
    /// update: 2, 11, 20) depending on the interleaving.
    fn body(out: Arc<StdMutex<Vec<u32>>>) -> impl Fn() + Send + Sync + 'static {
        move || {
            let c = Arc::new(AtomicU32::new(1));
            let c2 = c.clone();
            let t = shuttle::thread::spawn(move || {
                let v = c2.load(Ordering::SeqCst);
                c2.store(v + 10, Ordering::SeqCst);
            });
            let v = c.load(Ordering::SeqCst);
            c.store(v * 2, Ordering::SeqCst);
            t.join().unwrap();
            out.lock().unwrap().push(c.load(Ordering::SeqCst));
        }
    }

    #[test]
    fn replay_reproduces_record_and_schedules_differ() {
        let mut results = std::collections::BTreeSet::new();
        for seed in 0..40 {
            let out = Arc::new(StdMutex::new(Vec::new()));
            let t = record(seed, body(out.clone()));
            let r = replay_trace(&t, body(out.clone()));
            assert_eq!(r.decisions, t.decisions);
            assert_eq!(r.fallbacks, 0);
            let v = out.lock().unwrap().clone();
            assert_eq!(v.len(), 2);
            assert_eq!(v[0], v[1], "seed {seed}: replay gave a different result");
            results.insert(v[0]);
        }
        assert!(results.len() >= 3, "40 seeds reached only {results:?}");
    }

    #[test]
    fn explicit_schedules_and_fallbacks() {
        // Task 0 runs until it blocks in join: thread's update comes last.
        let out = Arc::new(StdMutex::new(Vec::new()));
        let t = replay(vec![], body(out.clone()));
        assert_eq!(t.fallbacks, 0);
        assert_eq!(*out.lock().unwrap(), vec![12]);
        assert!(t.decisions.iter().all(|&d| d <= 1));
        // Naming a task that never exists: every point falls back.
        let out = Arc::new(StdMutex::new(Vec::new()));
        let t = replay(vec![7; 4], body(out.clone()));
        assert_eq!(t.fallbacks, 4);
        assert_eq!(*out.lock().unwrap(), vec![12]);
        // Switch to the spawned thread right after the spawn: 0, 0 (spawn)...
        // find the first point where task 1 is runnable by trying prefixes.
        let mut seen = std::collections::BTreeSet::new();
        for k in 0..6 {
            let mut s = vec![0; k];
            s.extend([1; 8]);
            let out = Arc::new(StdMutex::new(Vec::new()));
            replay(s, body(out.clone()));
            seen.insert(out.lock().unwrap()[0]);
        }
        assert!(seen.contains(&22), "running the thread first must give (1+10)*2: {seen:?}");
    }
}
