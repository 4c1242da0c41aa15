//! `pagelab explore`: search a concurrent scenario's interleavings for a
//! violation, without a hand-written schedule (`--features shuttle` only).
//!
//! The scenario's setup and threads are kept, its `schedule:` ignored.
//! Preemptions happen only at preemptible points ([`crate::sched::Point`]:
//! named preemption points and accesses to shared lock-free data); between
//! them every thread runs under the no-preemption policy.
//!
//! * Iterative context bounding (Musuvathi and Qadeer, PLDI 2007, as in
//!   CHESS): every schedule with 0, then 1, ... up to `preemptions`
//!   preemptions, each a point preemption (`at point N switch to Tb`). A
//!   schedule with k preemptions extends one with k-1 by a preemption at a
//!   point after its last one (the runs agree up to there, so the child's
//!   point indices are the parent's). Within a bound,
//!   schedules whose preemptions are all at named points run first.
//!   Pruning: a schedule whose newest preemption was *futile* (its target
//!   blocked at once on a lock, before touching shared data) is the same
//!   state as its parent, so it is run but not extended; every run's
//!   interleaving identity ([`crate::sched::RunStats::interleaving`]) is
//!   counted, to report distinct interleavings.
//! * PCT ([`crate::sched::PctScheduler`]): `runs` runs of seeds `seed`,
//!   `seed + 1`, ..., with `depth - 1` change points among the points of
//!   the run without preemptions.
//!
//! A violation ends the search (or, with `all`, is recorded once per
//! invariant id): its schedule is rewritten with named preemptions where
//! the preempted thread stood at a named point (kept only if it replays to
//! the same invariant), shrunk by [`crate::minimize::minimize`] (fewer
//! ops and preemptions), and replayed twice to the same fingerprint.
//!
//! Invariants: a search is a deterministic function of the scenario and
//! the options; every saved schedule replays under
//! [`crate::sched::ReplayScheduler`]. Lock order: none (runs one scenario
//! at a time on the caller's thread).

use crate::bugs::Bug;
use crate::harness::{run_plan, Outcome};
use crate::scenario::{NamedPreempt, PointPreempt, Scenario, Schedule, StepPreempt, Verdict};
use crate::sched::{Pct, Plan, Point};
use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Instant;

/// The bugs explore is measured on: every registered race (its reproducer
/// is concurrent) and every bug with a race seed.
pub fn races() -> Vec<&'static Bug> {
    crate::bugs::registry().iter().filter(|b| b.is_race() || race_seed(b).is_ok()).collect()
}

/// The race seed of `bug`: the one `corpus/scenarios/race-<id>-*.ops` of
/// this source tree (a two-thread situation without a schedule, expecting
/// ok on the landed design).
pub fn race_seed(bug: &Bug) -> Result<PathBuf, String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../corpus/scenarios");
    let prefix = format!("race-{}-", bug.id.to_ascii_lowercase());
    let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(&prefix)))
        .collect();
    found.sort();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(format!("race {}: no race seed {prefix}*.ops in {}", bug.id, dir.display())),
        _ => Err(format!("race {}: more than one race seed: {found:?}", bug.id)),
    }
}

/// How to search.
#[derive(Debug, Clone, PartialEq)]
pub struct Opts {
    /// The preemption bound of the context-bounded search.
    pub preemptions: u32,
    /// PCT instead: (depth, runs).
    pub pct: Option<(u32, u64)>,
    /// The first PCT seed.
    pub seed: u64,
    /// Keep going after a violation; report each invariant once.
    pub all: bool,
    /// Violation ids that are not findings.
    pub allow: Vec<String>,
    /// Stop after this many schedules (the bound is then not exhausted).
    pub max_schedules: Option<u64>,
    /// Stop after this many seconds (likewise).
    pub max_secs: Option<f64>,
}

impl Default for Opts {
    fn default() -> Self {
        Opts { preemptions: 2, pct: None, seed: 0, all: false, allow: Vec::new(), max_schedules: None, max_secs: None }
    }
}

/// One violation found.
#[derive(Debug, Clone)]
pub struct Finding {
    /// The invariant.
    pub id: String,
    /// The minimized scenario: the found schedule, `expect: violation ID`.
    pub scenario: Scenario,
    /// The schedule as found, before rewriting and shrinking (in words).
    pub found_as: Vec<String>,
    /// Schedules run up to and including the one that found it.
    pub schedules: u64,
    /// Seconds from the start of the search to the finding.
    pub secs: f64,
    /// Runs spent shrinking and verifying it.
    pub shrink_runs: usize,
}

/// What a search did.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// "preemptions <= K" or "PCT depth D, N runs".
    pub mode: String,
    /// Schedules run.
    pub explored: u64,
    /// Distinct interleavings among them.
    pub distinct: u64,
    /// Schedules not extended because their newest preemption was futile.
    pub futile: u64,
    /// Preemptible points of the run without preemptions (named, shared data).
    pub points: (usize, usize),
    /// Schedules run per preemption count (context-bounded search).
    pub per_bound: Vec<u64>,
    /// Did the search cover its whole space (every schedule within the
    /// bound, or every PCT run) without a finding cutting it short?
    pub exhausted: bool,
    pub secs: f64,
    pub findings: Vec<Finding>,
}

impl Report {
    /// The one-line result ("no violation with <= 2 preemptions in 1,234 schedules").
    pub fn summary(&self) -> String {
        let found: Vec<&str> = self.findings.iter().map(|f| f.id.as_str()).collect();
        let space = if self.exhausted { "exhausted" } else { "not exhausted" };
        if found.is_empty() {
            format!("no violation with {} in {} schedules ({} distinct, {space}), {:.1} s", self.mode, self.explored, self.distinct, self.secs)
        } else {
            format!("violation {} with {} after {} schedules, {:.1} s", found.join(", "), self.mode, self.explored, self.secs)
        }
    }
}

/// The search state shared by both strategies.
struct Search<'a> {
    base: Scenario,
    opts: &'a Opts,
    start: Instant,
    last_progress: Instant,
    seen: HashSet<u64>,
    report: Report,
    progress: &'a mut dyn FnMut(&str),
}

impl Search<'_> {
    fn out_of_budget(&self) -> bool {
        self.opts.max_schedules.is_some_and(|m| self.report.explored >= m) || self.opts.max_secs.is_some_and(|s| self.start.elapsed().as_secs_f64() >= s)
    }

    fn finding_id(&self, out: &Outcome) -> Option<String> {
        if let Some(e) = &out.error {
            return Some(format!("ERROR ({e})"));
        }
        out.violations.iter().find(|v| !self.opts.allow.iter().any(|a| a == v.id)).map(|v| v.id.to_string())
    }

    /// Run one schedule; the outcome, and whether the search must stop.
    fn run(&mut self, sched: Schedule, plan: Plan, what: &str) -> (Outcome, bool) {
        let mut sc = self.base.clone();
        sc.schedule = sched;
        let out = run_plan(&sc, plan);
        self.report.explored += 1;
        if self.seen.insert(out.sched.interleaving) {
            self.report.distinct += 1;
        }
        if self.last_progress.elapsed().as_secs_f64() >= 1.0 {
            self.last_progress = Instant::now();
            let msg = format!("explore: {what}: {} schedules, {} distinct, {:.0} s", self.report.explored, self.report.distinct, self.start.elapsed().as_secs_f64());
            (self.progress)(&msg);
        }
        let mut stop = false;
        if let Some(id) = self.finding_id(&out) {
            if !self.report.findings.iter().any(|f| f.id == id) {
                let f = self.finding(id, &sc, &out);
                self.report.findings.push(f);
            }
            stop = !self.opts.all;
        }
        (out, stop || self.out_of_budget())
    }

    /// Rewrite, shrink and verify a failing run's schedule.
    fn finding(&self, id: String, sc: &Scenario, out: &Outcome) -> Finding {
        let secs = self.start.elapsed().as_secs_f64();
        let (scenario, shrink_runs) = settle(sc, out, &id);
        Finding { id, scenario, found_as: out.preemptions.clone(), schedules: self.report.explored, secs, shrink_runs }
    }
}

/// A failing concurrent run made into a scenario worth keeping: `out` is a
/// run of `sc` that reported `id`; the schedule it took
/// ([`crate::sched::RunStats::taken`]) is written as point preemptions
/// (step preemptions for a PCT decision that was not at a preemptible
/// point), then as named preemptions where the preempted thread stood at a
/// named point if that still reports `id`; then shrunk by
/// [`crate::minimize::minimize`] and replayed twice to the same
/// fingerprint (if either fails, the unshrunk form is kept, with a note
/// saying so). Returns it, expecting `id`, and the runs it took.
pub fn settle(sc: &Scenario, out: &Outcome, id: &str) -> (Scenario, usize) {
    let reports = |c: &Scenario| crate::harness::run(c).violations.iter().any(|v| v.id == id);
    let mut runs = 0;
    let unnamed = |s: &mut Schedule, t: &crate::sched::Taken| match t.point {
        Some(point) => s.points.push(PointPreempt { point, then: t.to }),
        None => s.steps.push(StepPreempt { step: t.step, then: t.to }),
    };
    let mut cur = sc.clone();
    cur.schedule = Schedule::default();
    let mut named = cur.clone();
    for t in &out.sched.taken {
        unnamed(&mut cur.schedule, t);
        match (t.at, t.from) {
            (Some((label, nth)), Some(task)) => named.schedule.named.push(NamedPreempt { task, label: label.to_string(), nth, then: t.to }),
            _ => unnamed(&mut named.schedule, t),
        }
    }
    runs += 1;
    if named.schedule != cur.schedule && reports(&named) {
        cur = named;
    }
    runs += 1;
    if !reports(&cur) {
        cur.notes.push("WARNING: this schedule did not replay to the violation it was found with".into());
    }
    let (mut min, n) = crate::minimize::minimize(&cur, 400);
    runs += n;
    let (a, b) = (crate::harness::run(&min), crate::harness::run(&min));
    runs += 2;
    if a.fingerprint() != b.fingerprint() || !a.violations.iter().any(|v| v.id == id) {
        min = cur;
        min.notes.push("WARNING: the shrunk schedule did not replay twice to the same outcome; this is the unshrunk one".into());
    }
    min.expect = Verdict::Violation(id.to_string());
    (min, runs)
}

/// Search `sc`'s interleavings as `opts` says; `progress` gets a line
/// about once a second.
pub fn explore(sc: &Scenario, opts: &Opts, progress: &mut dyn FnMut(&str)) -> Result<Report, String> {
    if !sc.is_concurrent() {
        return Err("explore needs a scenario with threads (thread T0: ..., thread T1: ...)".into());
    }
    sc.validate()?;
    let mut base = sc.clone();
    base.notes.clear();
    base.schedule = Schedule::default();
    base.expect = Verdict::Ok;
    let start = Instant::now();
    let mode = match opts.pct {
        Some((depth, runs)) => format!("PCT depth {depth}, seeds {}..{}", opts.seed, opts.seed + runs),
        None => format!("<= {} preemptions", opts.preemptions),
    };
    let mut s = Search { base, opts, start, last_progress: start, seen: HashSet::new(), report: Report { mode, ..Report::default() }, progress };
    let (out0, stop) = s.run(Schedule::default(), Plan::Record, "no preemption");
    if let Some(e) = &out0.error {
        return Err(format!("the scenario does not run: {e}"));
    }
    let points = out0.sched.points.clone();
    s.report.points = (points.iter().filter(|p| p.at.is_some()).count(), points.iter().filter(|p| p.at.is_none()).count());
    s.report.per_bound.push(1);
    if !stop {
        match opts.pct {
            Some((depth, runs)) => pct(&mut s, depth, runs, points.len() as u32),
            None => bounded(&mut s, points),
        }
    }
    s.report.secs = start.elapsed().as_secs_f64();
    Ok(s.report)
}

/// A schedule of the bounded search and the points after its last preemption.
struct Node {
    schedule: Vec<PointPreempt>,
    shared: u32,
    points: Vec<Point>,
}

fn bounded(s: &mut Search<'_>, points0: Vec<Point>) {
    let mut frontier = vec![Node { schedule: Vec::new(), shared: 0, points: points0 }];
    for k in 1..=s.opts.preemptions {
        // (schedule, shared-data preemptions, the newest one's choice point)
        let mut cands: Vec<(Vec<PointPreempt>, u32, u32)> = Vec::new();
        for n in &frontier {
            for p in &n.points {
                for t in (0..64).filter(|t| p.alts & (1 << t) != 0) {
                    let mut schedule = n.schedule.clone();
                    schedule.push(PointPreempt { point: p.index, then: t });
                    cands.push((schedule, n.shared + p.at.is_none() as u32, p.step));
                }
            }
        }
        drop(std::mem::take(&mut frontier));
        // Named points first (fewest shared-data preemptions), stable.
        cands.sort_by_key(|c| c.1);
        let last_level = k == s.opts.preemptions;
        let mut ran = 0;
        for (schedule, shared, last_step) in cands {
            let last = schedule.last().map_or(0, |p| p.point);
            let plan = if last_level { Plan::Replay } else { Plan::Record };
            let (out, stop) = s.run(Schedule { points: schedule.clone(), ..Schedule::default() }, plan, &format!("{k} preemption(s)"));
            ran += 1;
            if stop {
                s.report.per_bound.push(ran);
                return;
            }
            if !last_level {
                if out.sched.futile.contains(&last_step) {
                    s.report.futile += 1;
                } else {
                    let points = out.sched.points.into_iter().filter(|p| p.index > last).collect();
                    frontier.push(Node { schedule, shared, points });
                }
            }
        }
        s.report.per_bound.push(ran);
    }
    s.report.exhausted = true;
}

fn pct(s: &mut Search<'_>, depth: u32, runs: u64, points: u32) {
    for r in 0..runs {
        let p = Pct { seed: s.opts.seed.wrapping_add(r), depth, points };
        let (_, stop) = s.run(Schedule::default(), Plan::Pct(p), &format!("PCT depth {depth}"));
        if stop {
            return;
        }
    }
    s.report.exhausted = true;
}
