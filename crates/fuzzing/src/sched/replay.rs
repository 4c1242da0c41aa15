//! The scheduler of the `conc` fuzz target and of concurrent scenarios
//! (`--features shuttle` only): every decision follows from the scenario's
//! schedule, so one input is exactly one interleaving, replayed bit for bit.
//!
//! Default policy (no preemption): the current task keeps running through
//! every scheduling point, including named preemption points
//! ([`mm::sync::preempt_point`]); a task that spin-yields hands over to
//! the next runnable task in cyclic id order; a blocked or finished task
//! hands over to the lowest-id runnable task. On top of it, two kinds of
//! sparse preemptions ([`crate::scenario::Schedule`]):
//!
//! * named: `preempt Ta at LABEL #n -> Tb`, taken in list order, when task
//!   a passes LABEL for the n-th time (and b is runnable);
//! * step: `at step N switch to Tb`, at the N-th *choice point* (a decision
//!   with at least two runnable tasks, counted from 0), if b is runnable;
//! * point: `at point N switch to Tb`, at the N-th *preemptible point*
//!   ([`super::Point`], counted from 0), if b is runnable.
//!
//! Precedence at one decision: named, then step, then point.
//!
//! Interleaving coverage: at each choice point the scheduler reports a
//! small integer hashed from (the previous choice point's site, this site,
//! whether the task changed), where a site is the running task's current op
//! ([`super::note_op`]) combined with the named point it stands at, if any. The
//! `conc` fuzz target feeds it to libFuzzer as extra counters.
//!
//! Recording ([`ReplayScheduler::recording`]): the run's preemptible
//! points ([`super::Point`]) go into its [`RunStats`], and a taken
//! preemption whose target blocks at once, before it touches shared data
//! (a lock the preempted task holds), is counted as *futile*: that run is
//! the same as the one without it, up to when the blocked task retries.
//!
//! Invariants: a choice is always a member of the runnable set; `next_u64`
//! is constant (0), so nothing but the schedule decides. Lock order: none;
//! the std mutex of the stats handle is only taken inside a decision and
//! after the run.

use super::{hash_str, mix_choice, no_preemption, op_site, preemptible, CovSink, Point, COV_SIZE};
use crate::scenario::{NamedPreempt, PointPreempt, Schedule as ScSchedule, StepPreempt};
use shuttle::scheduler::{Schedule, Scheduler, Task, TaskId};
use std::sync::{Arc, Mutex as StdMutex};

/// One preemption that was taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taken {
    /// The choice point it was taken at.
    pub step: u32,
    /// Its preemptible-point index, if the decision was one.
    pub point: Option<u32>,
    pub from: Option<usize>,
    /// The named point the preempted task stood at, and its pass count.
    pub at: Option<(&'static str, u32)>,
    pub to: usize,
    /// Which schedule entry took it: "named", "step" or "point" (PCT's
    /// deviations are "step").
    pub kind: &'static str,
}

/// What a run did, for reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunStats {
    pub decisions: u64,
    pub choice_points: u32,
    pub taken: Vec<Taken>,
    /// The preemptible points, in order (recording runs only).
    pub points: Vec<Point>,
    /// [`super::mix_choice`] over every decision: the interleaving's identity.
    pub interleaving: u64,
    /// Taken preemptions whose target blocked at once (see the module doc).
    pub futile: Vec<u32>,
}

/// The scheduler (see the module doc).
pub struct ReplayScheduler {
    named: Vec<NamedPreempt>,
    steps: Vec<StepPreempt>,
    points: Vec<PointPreempt>,
    next_named: usize,
    next_step: usize,
    next_point: usize,
    /// Preemptible points passed so far.
    npoints: u32,
    marks: super::Marks,
    choice: u32,
    started: bool,
    prev_site: u32,
    record: bool,
    /// The target of the preemption taken at the previous decision, and its
    /// step, when the target was left standing at a lock, spawn or join.
    just_switched: Option<(usize, u32)>,
    /// Per task: was it left at a marked point (named or shared data)?
    left_at_marked: Vec<Option<bool>>,
    cov: Option<CovSink>,
    stats: RunStats,
    handle: Arc<StdMutex<RunStats>>,
}

impl std::fmt::Debug for ReplayScheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayScheduler").field("named", &self.named).field("steps", &self.steps).finish()
    }
}

impl ReplayScheduler {
    /// A scheduler following `schedule`, reporting coverage to `cov`.
    pub fn new(schedule: &ScSchedule, cov: Option<CovSink>) -> Self {
        super::clear_sites();
        ReplayScheduler {
            named: schedule.named.clone(),
            steps: schedule.steps.clone(),
            points: schedule.points.clone(),
            next_named: 0,
            next_step: 0,
            next_point: 0,
            npoints: 0,
            marks: super::Marks::default(),
            choice: 0,
            started: false,
            prev_site: 0,
            record: false,
            just_switched: None,
            left_at_marked: Vec::new(),
            cov,
            stats: RunStats::default(),
            handle: Arc::new(StdMutex::new(RunStats::default())),
        }
    }

    /// Record the run's preemptible points and futile preemptions.
    pub fn recording(mut self) -> Self {
        self.record = true;
        self
    }

    /// Where the stats are published when the run ends (or the scheduler
    /// is dropped).
    pub fn stats_handle(&self) -> Arc<StdMutex<RunStats>> {
        self.handle.clone()
    }

}

impl Scheduler for ReplayScheduler {
    fn new_execution(&mut self) -> Option<Schedule> {
        super::one_execution(&mut self.started, &self.stats, &self.handle)
    }

    fn next_task(&mut self, runnable: &[&Task], current: Option<TaskId>, is_yielding: bool) -> Option<TaskId> {
        let cur = current.map(usize::from);
        let super::Mark { label, nth, shared } = self.marks.take(cur);
        self.stats.decisions += 1;
        if let Some((t, step)) = self.just_switched.take() {
            let blocked = current.is_some_and(|c| usize::from(c) == t && !runnable.iter().any(|r| r.id() == c));
            if blocked && label.is_none() && !shared {
                self.stats.futile.push(step);
            }
        }
        let find = |want: usize| runnable.iter().find(|t| usize::from(t.id()) == want).map(|t| t.id());
        let is_choice = runnable.len() >= 2;
        let step = self.choice;
        let alts = preemptible(runnable, current, is_yielding, label.is_some(), shared);
        let point = alts.map(|_| {
            self.npoints += 1;
            self.npoints - 1
        });
        let mut pick = None;
        if let (Some(c), Some(l)) = (cur, label) {
            if let Some(p) = self.named.get(self.next_named) {
                if p.task == c && p.label == l && p.nth == nth {
                    if let Some(t) = find(p.then) {
                        self.next_named += 1;
                        pick = Some(t);
                        self.stats.taken.push(Taken { step, point, from: cur, at: Some((l, nth)), to: p.then, kind: "named" });
                    }
                }
            }
        }
        // Step and point preemptions due here: each list is consumed up to
        // this index; the first due entry is taken if nothing was picked.
        let mut due = [None, None];
        if is_choice {
            self.choice += 1;
            due[0] = take_due(&self.steps, &mut self.next_step, step, |s| (s.step, s.then)).map(|t| (t, "step"));
        }
        if let Some(idx) = point {
            due[1] = take_due(&self.points, &mut self.next_point, idx, |p| (p.point, p.then)).map(|t| (t, "point"));
        }
        for (then, kind) in due.into_iter().flatten() {
            if pick.is_none() {
                if let Some(t) = find(then) {
                    pick = Some(t);
                    self.stats.taken.push(Taken { step, point, from: cur, at: label.map(|l| (l, nth)), to: then, kind });
                }
            }
        }
        if self.record {
            if let (Some(c), Some(alts), Some(index)) = (cur, alts, point) {
                self.stats.points.push(Point { index, step, task: c, at: label.map(|l| (l, nth)), alts });
            }
        }
        if let Some(t) = pick {
            let t = usize::from(t);
            if self.left_at_marked.get(t).copied().flatten() == Some(false) {
                self.just_switched = Some((t, step));
            }
        }
        let chosen = pick.unwrap_or_else(|| no_preemption(runnable, current, is_yielding, label.is_some()));
        if let Some(c) = cur.filter(|&c| c != usize::from(chosen)) {
            if self.left_at_marked.len() <= c {
                self.left_at_marked.resize(c + 1, None);
            }
            self.left_at_marked[c] = Some(label.is_some() || shared);
        }
        self.stats.interleaving = mix_choice(self.stats.interleaving, usize::from(chosen));
        if is_choice {
            if let Some(cov) = &self.cov {
                let site = cur.map_or(0, op_site) ^ label.map_or(0, hash_str).rotate_left(7);
                let switched = Some(usize::from(chosen)) != cur;
                let mut h = self.prev_site.wrapping_mul(0x9e37_79b1) ^ site.wrapping_mul(0x85eb_ca6b) ^ switched as u32;
                h ^= h >> 15;
                h = h.wrapping_mul(0x2c1b_3c6d);
                h ^= h >> 12;
                cov(h as usize % COV_SIZE);
                self.prev_site = site;
            }
        }
        self.stats.choice_points = self.choice;
        Some(chosen)
    }

    fn next_u64(&mut self) -> u64 {
        0
    }
}

/// Consume the entries of `list` (sorted by index) up to index `at`,
/// `next` being the first not yet consumed; the target thread of the first
/// entry at exactly `at`, if any (later duplicates at `at` are dropped).
fn take_due<T: Copy>(list: &[T], next: &mut usize, at: u32, key: impl Fn(&T) -> (u32, usize)) -> Option<usize> {
    while list.get(*next).is_some_and(|e| key(e).0 < at) {
        *next += 1;
    }
    let hit = list.get(*next).filter(|e| key(e).0 == at).map(|e| key(e).1);
    while list.get(*next).is_some_and(|e| key(e).0 == at) {
        *next += 1;
    }
    hit
}

impl Drop for ReplayScheduler {
    fn drop(&mut self) {
        if self.started {
            super::publish(&self.stats, &self.handle);
        }
    }
}
