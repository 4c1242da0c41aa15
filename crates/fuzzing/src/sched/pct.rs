//! PCT, probabilistic concurrency testing (Burckhardt, Kothari, Musuvathi,
//! Nagarakatte, ASPLOS 2010), over pagelab's preemptible points
//! (`--features shuttle` only).
//!
//! Each task gets a random initial priority above `depth`; `depth - 1`
//! change points are drawn uniformly among the first `points` preemptible
//! points ([`super::Point`]); at the i-th of them the running task's
//! priority drops to `i`. Every decision runs the highest-priority
//! runnable task, except that a task spin-yielding outside a named point
//! hands over as under the no-preemption policy (a spinning task of high
//! priority would otherwise starve the one it waits for). For a bug of
//! depth d among n tasks and k points, one run finds it with probability at
//! least 1/(n·k^(d-1)).
//!
//! Every decision that differs from the no-preemption policy is recorded
//! as a step preemption ([`super::Taken`], kind "step"), so a run
//! replays exactly under [`super::ReplayScheduler`] from those steps alone.
//!
//! Invariants: a run is a function of (seed, depth, points) and the
//! scenario; a choice is a member of the runnable set. Lock order: as the
//! replay scheduler's (the stats mutex only inside a decision and after).

use super::{no_preemption, preemptible, mix_choice, RunStats, Taken};
use crate::rng::SplitMix64;
use shuttle::scheduler::{Schedule, Scheduler, Task, TaskId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex as StdMutex};

/// The parameters of one PCT run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pct {
    /// The run's seed (priorities and change points follow from it).
    pub seed: u64,
    /// The bug depth searched for: `depth - 1` priority change points.
    pub depth: u32,
    /// How many preemptible points to draw the change points from (the
    /// count of a run without preemptions).
    pub points: u32,
}

/// The scheduler (see the module doc).
#[derive(Debug)]
pub struct PctScheduler {
    rng: SplitMix64,
    depth: u32,
    /// Sorted preemptible-point indices (1-based) where a priority drops.
    change: Vec<u32>,
    prio: HashMap<usize, u64>,
    npoints: u32,
    choice: u32,
    marks: super::Marks,
    started: bool,
    stats: RunStats,
    handle: Arc<StdMutex<RunStats>>,
}

impl PctScheduler {
    /// A scheduler for one PCT run.
    pub fn new(p: Pct) -> Self {
        super::clear_sites();
        let mut rng = SplitMix64(p.seed ^ 0x5043_5400);
        let mut change: Vec<u32> = (1..p.depth.max(1)).map(|_| 1 + rng.below(p.points.max(1) as usize) as u32).collect();
        change.sort_unstable();
        PctScheduler {
            rng,
            depth: p.depth.max(1),
            change,
            prio: HashMap::new(),
            npoints: 0,
            choice: 0,
            marks: super::Marks::default(),
            started: false,
            stats: RunStats::default(),
            handle: Arc::new(StdMutex::new(RunStats::default())),
        }
    }

    /// Where the stats are published when the run ends.
    pub fn stats_handle(&self) -> Arc<StdMutex<RunStats>> {
        self.handle.clone()
    }

    fn prio(&mut self, task: usize) -> u64 {
        let d = self.depth as u64;
        let rng = &mut self.rng;
        *self.prio.entry(task).or_insert_with(|| d + 1 + (rng.next_u64() >> 8))
    }

}

impl Scheduler for PctScheduler {
    fn new_execution(&mut self) -> Option<Schedule> {
        super::one_execution(&mut self.started, &self.stats, &self.handle)
    }

    fn next_task(&mut self, runnable: &[&Task], current: Option<TaskId>, is_yielding: bool) -> Option<TaskId> {
        let cur = current.map(usize::from);
        let super::Mark { label, nth, shared } = self.marks.take(cur);
        self.stats.decisions += 1;
        let step = self.choice;
        if runnable.len() >= 2 {
            self.choice += 1;
        }
        let mut point = None;
        if let (Some(c), Some(_)) = (cur, preemptible(runnable, current, is_yielding, label.is_some(), shared)) {
            point = Some(self.npoints);
            self.npoints += 1;
            // Change points are 1-based counts of the points passed.
            let drops = self.change.iter().position(|&k| k == self.npoints);
            if let Some(i) = drops {
                self.prio.insert(c, i as u64 + 1);
            }
        }
        let default = no_preemption(runnable, current, is_yielding, label.is_some());
        let chosen = if is_yielding && label.is_none() {
            default
        } else {
            let ids: Vec<usize> = runnable.iter().map(|t| usize::from(t.id())).collect();
            let best = ids.iter().copied().max_by_key(|&id| (self.prio(id), std::cmp::Reverse(id))).expect("shuttle passes a non-empty runnable set");
            runnable.iter().map(|t| t.id()).find(|&t| usize::from(t) == best).unwrap_or(default)
        };
        if chosen != default {
            self.stats.taken.push(Taken { step, point, from: cur, at: label.map(|l| (l, nth)), to: usize::from(chosen), kind: "step" });
        }
        self.stats.interleaving = mix_choice(self.stats.interleaving, usize::from(chosen));
        self.stats.choice_points = self.choice;
        Some(chosen)
    }

    fn next_u64(&mut self) -> u64 {
        0
    }
}

impl Drop for PctScheduler {
    fn drop(&mut self) {
        if self.started {
            super::publish(&self.stats, &self.handle);
        }
    }
}
