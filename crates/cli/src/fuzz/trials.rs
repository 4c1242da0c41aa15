//! `pagelab fuzz --bug ID --trials N --secs S` and `--bugs all`: time to
//! bug over N independent campaigns per bug (seeds 1..N, each from a
//! scratch corpus of the project's seeds without the bug's own race seed;
//! see [`super::run_target`]), rendered by [`report::write_time_to_bug`]
//! into `--report DIR` (default `target/time-to-bug/`; `--report reports`
//! for the committed table).

use super::{bug_target, finding_has, first_finding_line, nightly_available, run_target, FuzzArgs};
use crate::out::emit;
use crate::Failure;
use fuzzing::bugs::Bug;
use fuzzing::campaign::Campaign;

/// The bugs of `--bugs` (or `--bug`).
fn selected(a: &FuzzArgs) -> Result<Vec<&'static Bug>, Failure> {
    let ids: Vec<String> = if a.bugs.is_empty() { a.bug.iter().cloned().collect() } else { a.bugs.clone() };
    if ids.iter().any(|i| i.eq_ignore_ascii_case("all")) {
        return Ok(fuzzing::bugs::registry().iter().collect());
    }
    ids.iter().map(|id| fuzzing::bugs::find(id).ok_or_else(|| Failure::usage(format!("no bug `{id}` in the registry (`pagelab bugs` lists them)")))).collect()
}

pub(super) fn run(a: &FuzzArgs) -> Result<(), Failure> {
    let bugs = selected(a)?;
    if bugs.is_empty() {
        return Err(Failure::usage("--trials needs --bug ID or --bugs ID,ID|all"));
    }
    let stable = a.stable || !nightly_available();
    if !stable {
        super::ensure_cargo_fuzz()?;
    }
    let mut rows = Vec::new();
    for bug in bugs {
        let mut c = Campaign::for_bug(bug.id).map_err(Failure::usage)?;
        c.allow = a.allow.clone();
        let t = a.target.clone().unwrap_or_else(|| bug_target(bug).to_string());
        let mut trials = Vec::new();
        for seed in 1..=a.trials.max(1) as u64 {
            let p = run_target(&t, a, &c, stable, seed)?;
            let execs = p.final_execs.unwrap_or(p.execs);
            let hit = p.crashed_at.is_some() && bug.detected_by().iter().any(|id| finding_has(&p.text, id));
            let trial = report::Trial {
                found_at: p.crashed_at.filter(|_| hit).map(|d| d.as_secs_f64()),
                execs,
                other: (p.crashed_at.is_some() && !hit).then(|| first_finding_line(&p.text)),
            };
            eprintln!(
                "pagelab fuzz: bug {} trial {seed}/{}: {}",
                bug.id,
                a.trials,
                match (&trial.found_at, &trial.other) {
                    (Some(s), _) => format!("found after {s:.1} s, {execs} executions"),
                    (None, Some(o)) => format!("ended by another finding: {o}"),
                    (None, None) => format!("not found in {} s ({execs} executions)", a.secs),
                }
            );
            trials.push(trial);
        }
        rows.push(report::BugTrials { id: bug.id.to_string(), target: t, trials });
        // Written after every bug (a later write replaces the same bugs'
        // rows), so a long measurement cut short keeps what it measured.
        write(a, stable, &rows)?;
    }
    let md = write(a, stable, &rows)?;
    emit(&md)?;
    emit(&format!("wrote {}/time-to-bug.{{md,json,svg}}\n", a.report.display()))
}

/// Write the measurement so far into `--report`; returns the Markdown.
fn write(a: &FuzzArgs, stable: bool, rows: &[report::BugTrials]) -> Result<String, Failure> {
    let engine = if stable { "stable mode: random inputs, no coverage feedback" } else { "libFuzzer via cargo +nightly fuzz" };
    let m = report::TimeToBug { secs: a.secs as f64, engine: engine.into(), bugs: rows.to_vec() };
    let command = format!(
        "pagelab fuzz {} --trials {} --secs {}{}",
        if a.bugs.is_empty() { format!("--bug {}", a.bug.as_deref().unwrap_or("")) } else { format!("--bugs {}", a.bugs.join(",")) },
        a.trials,
        a.secs,
        if a.stable { " --stable" } else { "" }
    );
    report::write_time_to_bug(&a.report, &m, &command).map_err(|e| Failure::run(e.0))
}
