//! `fuzzing::explore` finds every registered race from its schedule-less
//! race seed (`corpus/scenarios/race-<id>-*.ops`) with the bug switched on,
//! saves a schedule that replays to the same violation twice, and finds
//! nothing on the landed design; a schedule anchored at named points still
//! replays after a change that adds scheduling points
//! (`cargo test -p pagelab-fuzzing --features shuttle`).
#![cfg(feature = "shuttle")]

use fuzzing::bugs::{registry, Bug};
use fuzzing::campaign::Campaign;
use fuzzing::explore::{explore, Opts};
use fuzzing::harness;
use fuzzing::scenario::{self, Scenario};

/// The race seed of `bug` (every registered race has exactly one).
fn race_seed(bug: &Bug) -> Scenario {
    let path = fuzzing::explore::race_seed(bug).unwrap_or_else(|e| panic!("{e}"));
    let sc = scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert!(sc.schedule.is_empty() && sc.is_fixed(), "{}: a race seed has no schedule and the landed design", path.display());
    sc
}

fn with_bug(sc: &Scenario, bug: &Bug) -> Scenario {
    let c = Campaign::for_bug(bug.id).expect("a registered bug");
    let mut sc = sc.clone();
    sc.design = c.design;
    sc.free_path = c.free_path.to_string();
    sc
}

/// Every registered race has a race seed (`race_seed` panics otherwise),
/// and every race seed belongs to a registered bug.
fn races() -> Vec<&'static Bug> {
    let r = fuzzing::explore::races();
    assert!(r.len() >= 5, "the registry has its races");
    for b in registry().iter().filter(|b| b.is_race()) {
        race_seed(b);
    }
    r
}

#[test]
fn every_registered_race_is_found_from_its_seed_and_replays() {
    for bug in races() {
        let sc = with_bug(&race_seed(bug), bug);
        let r = explore(&sc, &Opts { max_secs: Some(60.0), ..Opts::default() }, &mut |_| {}).expect("explores");
        let f = r.findings.first().unwrap_or_else(|| panic!("{}: not found: {}", bug.id, r.summary()));
        assert!(bug.detected_by().contains(&f.id.as_str()), "{}: found {} (detected by {:?})", bug.id, f.id, bug.detected_by());
        // The saved scenario, through its text, replays to it twice alike.
        let text = f.scenario.to_string();
        let saved = scenario::parse("found.ops", &text).expect("the saved scenario parses");
        assert_eq!(saved.schedule.is_empty(), f.found_as.is_empty(), "{}: a schedule exactly when one was needed", bug.id);
        let (a, b) = (harness::run(&saved), harness::run(&saved));
        assert!(a.satisfies(&saved.expect), "{}: the saved schedule does not replay:\n{text}\n{a}", bug.id);
        assert_eq!(a.fingerprint(), b.fingerprint(), "{}: two replays differ", bug.id);
        assert!(saved.schedule.named.len() + saved.schedule.steps.len() <= 2, "{}: not minimal: {text}", bug.id);
    }
}

#[test]
fn the_landed_design_has_no_violation_within_the_bound() {
    for bug in races() {
        let sc = race_seed(bug);
        // One preemption everywhere (debug build, CI budget); two where the
        // space is small (fewer than 30 points: a few hundred schedules,
        // where 100 points make about 40,000). `pagelab explore` runs the
        // full bound of 2 on every seed.
        let r1 = explore(&sc, &Opts { preemptions: 1, ..Opts::default() }, &mut |_| {}).expect("explores");
        assert!(r1.findings.is_empty() && r1.exhausted, "{}: {}", bug.id, r1.summary());
        assert_eq!(r1.explored, r1.per_bound.iter().sum::<u64>());
        assert_eq!(r1.per_bound[1] as usize, r1.points.0 + r1.points.1, "{}: one schedule per point of a two-thread run", bug.id);
        if r1.points.0 + r1.points.1 < 30 {
            let r2 = explore(&sc, &Opts::default(), &mut |_| {}).expect("explores");
            assert!(r2.findings.is_empty() && r2.exhausted, "{}: {}", bug.id, r2.summary());
            assert!(r2.explored > r1.explored);
        }
    }
}

#[test]
fn pct_finds_a_race_and_its_runs_replay() {
    let bug = fuzzing::bugs::find("C7").expect("C7");
    let sc = with_bug(&race_seed(bug), bug);
    let opts = Opts { pct: Some((2, 200)), seed: 1, ..Opts::default() };
    let r = explore(&sc, &opts, &mut |_| {}).expect("explores");
    let f = r.findings.first().unwrap_or_else(|| panic!("PCT did not find C7: {}", r.summary()));
    assert!(bug.detected_by().contains(&f.id.as_str()));
    assert!(harness::run(&f.scenario).satisfies(&f.scenario.expect));
    // Deterministic: the same seeds find it after the same number of runs.
    let again = explore(&sc, &opts, &mut |_| {}).expect("explores");
    assert_eq!(again.findings.first().map(|f| f.schedules), Some(f.schedules));
}

#[test]
fn a_named_schedule_survives_added_scheduling_points() {
    let bug = fuzzing::bugs::find("C1").expect("C1");
    let sc = with_bug(&race_seed(bug), bug);
    let r = explore(&sc, &Opts::default(), &mut |_| {}).expect("explores");
    let found = r.findings.first().expect("C1 is found").scenario.clone();
    assert!(found.schedule.steps.is_empty() && !found.schedule.named.is_empty(), "anchored at named points: {found}");
    let before = harness::run(&found);
    assert!(before.satisfies(&found.expect));
    // A "code change": three more atomics before every named point.
    mm::sync::shared_point::set_extra(3);
    let after = harness::run(&found);
    mm::sync::shared_point::set_extra(0);
    assert!(after.satisfies(&found.expect), "the named schedule no longer reproduces:\n{after}");
    let steps = |o: &harness::Outcome| o.sched.taken.iter().map(|t| t.step).collect::<Vec<_>>();
    assert_ne!(steps(&before), steps(&after), "the change moved the choice points the preemptions happen at");
    // The same schedule written as step indices is not anchored: taken at
    // the old indices it preempts elsewhere.
    let mut as_steps = found.clone();
    as_steps.schedule = scenario::Schedule {
        named: Vec::new(),
        steps: before.sched.taken.iter().map(|t| scenario::StepPreempt { step: t.step, then: t.to }).collect(),
        ..Default::default()
    };
    assert!(harness::run(&as_steps).satisfies(&found.expect), "the step form reproduces before the change");
    mm::sync::shared_point::set_extra(3);
    let moved = harness::run(&as_steps);
    mm::sync::shared_point::set_extra(0);
    assert_ne!(steps(&moved), steps(&after), "step preemptions stay at their indices");
}

#[test]
fn settle_anchors_a_fuzz_style_point_schedule_at_named_points() {
    let bug = fuzzing::bugs::find("C2").expect("C2");
    let sc = with_bug(&race_seed(bug), bug);
    let r = explore(&sc, &Opts::default(), &mut |_| {}).expect("explores");
    let found = r.findings.first().expect("C2 is found").scenario.clone();
    // The same interleaving as a conc fuzz input writes it: point preemptions.
    let run = harness::run(&found);
    let mut as_points = found.clone();
    as_points.schedule = scenario::Schedule {
        points: run.sched.taken.iter().map(|t| scenario::PointPreempt { point: t.point.expect("taken at a preemptible point"), then: t.to }).collect(),
        ..Default::default()
    };
    let out = harness::run(&as_points);
    assert!(out.satisfies(&found.expect), "the point form reproduces:\n{out}");
    let id = out.violations[0].id;
    let (settled, _) = fuzzing::explore::settle(&as_points, &out, id);
    assert!(settled.schedule.points.is_empty() && !settled.schedule.named.is_empty(), "settled at named points:\n{settled}");
    assert!(harness::run(&settled).satisfies(&settled.expect));
}
