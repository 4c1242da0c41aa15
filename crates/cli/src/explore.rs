//! `pagelab explore FILE.ops`: search a concurrent scenario's
//! interleavings (context bounding, or PCT with `--pct`) for a violation,
//! ignoring its `schedule:`; print the result, and save each finding as a
//! scenario that `pagelab replay` reproduces. The search itself is
//! [`fuzzing::explore`]; it needs the shuttle build, to which a
//! default-build binary hands the whole command line.
//!
//! Findings go to `target/explore/` (a measurement never writes into the
//! corpus); progress goes to stderr. Exit status: 0 no violation, 1 a
//! violation (or an error), 2 bad usage.

#[cfg(feature = "shuttle")]
use crate::out::emit;
use crate::Failure;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub(crate) struct ExploreArgs {
    /// A concurrent scenario (its schedule is ignored).
    #[arg(required_unless_present_any = ["races", "settle"])]
    file: Option<PathBuf>,
    /// Instead of a search: run this failing concurrent scenario once and
    /// print it settled — its schedule as it ran, at named points where it
    /// can be, shrunk and verified (what `fuzz` does to a `conc` finding).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["file", "races"])]
    settle: Option<PathBuf>,
    /// Instead of one file: every registered race (and bug with a race seed) from its race seed
    /// (`corpus/scenarios/race-<id>-*.ops`) with the bug on (the bounded
    /// search and PCT of depth 2, time to the first violation) and on the
    /// landed design (the bounded search to exhaustion); writes a table to
    /// DIR/explore.md (`--report reports` for the committed one).
    #[arg(long, conflicts_with_all = ["file", "bug", "pct"])]
    races: bool,
    /// Where `--races` writes explore.md.
    #[arg(long, value_name = "DIR", default_value = "target/explore")]
    report: PathBuf,
    /// The preemption bound: every schedule with at most this many preemptions.
    #[arg(long, default_value_t = 2)]
    preemptions: u32,
    /// PCT of this depth (DEPTH-1 priority change points) instead of the bounded search.
    #[arg(long, value_name = "DEPTH")]
    pct: Option<u32>,
    /// PCT runs.
    #[arg(long, default_value_t = 1000)]
    runs: u64,
    /// The first PCT seed (run i uses seed + i).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Run the scenario with this registered bug switched on (`pagelab bugs` lists them).
    #[arg(long)]
    bug: Option<String>,
    /// Keep going after a violation and report every distinct one.
    #[arg(long)]
    all: bool,
    /// Violation ids that are not findings (comma separated).
    #[arg(long, value_delimiter = ',')]
    allow: Vec<String>,
    /// Stop after this many schedules (the bound is then not exhausted).
    #[arg(long)]
    max_schedules: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long)]
    max_secs: Option<f64>,
    /// Where findings are saved.
    #[arg(long, default_value = "target/explore")]
    out: PathBuf,
}

pub(crate) fn run(a: &ExploreArgs) -> Result<(), Failure> {
    #[cfg(feature = "shuttle")]
    return shuttle_run(a);
    #[cfg(not(feature = "shuttle"))]
    {
        let _ = a;
        let mut cmd = crate::builds::shuttle_build("exploring interleavings");
        cmd.args(std::env::args_os().skip(1)).stdout(std::process::Stdio::inherit());
        let st = cmd.status().map_err(|e| Failure::run(format!("could not start the shuttle build through cargo: {e}")))?;
        match st.code() {
            Some(0) => Ok(()),
            Some(c) => Err(Failure { msg: String::new(), code: c.clamp(1, 255) as u8 }),
            None => Err(Failure::run("the shuttle build was killed")),
        }
    }
}

#[cfg(feature = "shuttle")]
fn opts(a: &ExploreArgs) -> fuzzing::explore::Opts {
    fuzzing::explore::Opts {
        preemptions: a.preemptions,
        pct: a.pct.map(|d| (d.max(1), a.runs)),
        seed: a.seed,
        all: a.all,
        allow: a.allow.clone(),
        max_schedules: a.max_schedules,
        max_secs: a.max_secs,
    }
}

/// `sc` with registered bug `id` switched on.
#[cfg(feature = "shuttle")]
fn with_bug(sc: &mut fuzzing::scenario::Scenario, id: &str) -> Result<(), Failure> {
    let c = fuzzing::campaign::Campaign::for_bug(id).map_err(Failure::usage)?;
    sc.design = c.design.clone();
    sc.free_path = c.free_path.to_string();
    Ok(())
}

#[cfg(feature = "shuttle")]
fn shuttle_run(a: &ExploreArgs) -> Result<(), Failure> {
    use fuzzing::explore::explore;
    // Core panics are reported as PANIC violations by the harness.
    std::panic::set_hook(Box::new(|_| {}));
    if a.races {
        return races(a);
    }
    if let Some(path) = &a.settle {
        let sc = fuzzing::scenario::load(path).map_err(Failure::usage)?;
        let out = fuzzing::harness::run(&sc);
        let Some(id) = out.violations.first().map(|v| v.id) else {
            return Err(Failure::run(format!("{}: reports no violation; nothing to settle", path.display())));
        };
        let (settled, _) = fuzzing::explore::settle(&sc, &out, id);
        return emit(&settled.to_string());
    }
    let file = a.file.as_ref().expect("clap: FILE unless --races");
    let mut sc = fuzzing::scenario::load(file).map_err(Failure::usage)?;
    if let Some(id) = &a.bug {
        with_bug(&mut sc, id)?;
    }
    let r = explore(&sc, &opts(a), &mut |line| eprintln!("{line}")).map_err(|e| Failure::usage(format!("{}: {e}", file.display())))?;
    let design = a.bug.as_deref().map_or_else(|| "the scenario's design".to_string(), |b| format!("bug {b}"));
    emit(&format!("{} ({design})\n", file.display()))?;
    emit(&format!(
        "preemptible points without preemption: {} named, {} on shared data; schedules per preemption count: {:?}; futile (not extended): {}\n",
        r.points.0, r.points.1, r.per_bound, r.futile
    ))?;
    let stem = file.file_stem().map_or("explore".into(), |s| s.to_string_lossy().trim_end_matches(".fixed").to_string());
    for f in &r.findings {
        let mut sc = f.scenario.clone();
        sc.notes.push(format!(
            "Found by `pagelab explore {}{}` ({}) after {} schedules, {:.2} s; as found: {}.",
            file.display(),
            a.bug.as_deref().map_or(String::new(), |b| format!(" --bug {b}")),
            r.mode,
            f.schedules,
            f.secs,
            f.found_as.join("; ")
        ));
        std::fs::create_dir_all(&a.out).map_err(|e| Failure::run(format!("{}: {e}", a.out.display())))?;
        let path = a.out.join(format!("{stem}-{}.ops", f.id.split_whitespace().next().unwrap_or("finding")));
        std::fs::write(&path, sc.to_string()).map_err(|e| Failure::run(format!("{}: {e}", path.display())))?;
        emit(&format!(
            "violation {} after {} schedules ({:.2} s), shrunk and verified in {} runs; saved {}\n{sc}",
            f.id,
            f.schedules,
            f.secs,
            f.shrink_runs,
            path.display()
        ))?;
    }
    emit(&format!("{}\n", r.summary()))?;
    if r.findings.is_empty() {
        Ok(())
    } else {
        Err(Failure::run(String::new()))
    }
}

/// `--races`: the table of every registered race (see [`ExploreArgs::races`]).
#[cfg(feature = "shuttle")]
fn races(a: &ExploreArgs) -> Result<(), Failure> {
    use fuzzing::explore::{explore, race_seed, races, Opts};
    let mut rows = Vec::new();
    let mut bad = Vec::new();
    let quiet = &mut |_: &str| {};
    for bug in races() {
        let path = race_seed(bug).map_err(Failure::run)?;
        let seed = fuzzing::scenario::load(&path).map_err(Failure::run)?;
        let mut on = seed.clone();
        with_bug(&mut on, bug.id)?;
        let fail = |e: String| Failure::run(format!("{}: {e}", path.display()));
        let icb = explore(&on, &Opts { max_secs: Some(60.0), ..opts(a) }, quiet).map_err(fail)?;
        let pct = explore(&on, &Opts { pct: Some((2, 1000)), seed: 0, max_secs: Some(60.0), ..opts(a) }, quiet).map_err(fail)?;
        let landed = explore(&seed, &opts(a), quiet).map_err(fail)?;
        // (what was found, schedules to it or in all, seconds)
        let found = |r: &fuzzing::explore::Report| match r.findings.first() {
            Some(f) if bug.detected_by().contains(&f.id.as_str()) => (f.id.clone(), f.schedules, f.secs),
            Some(f) => (format!("{} (not its invariant)", f.id), f.schedules, f.secs),
            None => ("not found".to_string(), r.explored, r.secs),
        };
        let (icb_id, icb_n, icb_s) = found(&icb);
        let (pct_id, pct_n, _) = found(&pct);
        let landed_found = landed.findings.iter().map(|f| format!(" violation {}", f.id)).collect::<String>();
        let ok = icb.findings.first().is_some_and(|f| bug.detected_by().contains(&f.id.as_str()) && f.secs <= 10.0) && landed.findings.is_empty() && landed.exhausted;
        if !ok {
            bad.push(bug.id);
        }
        let name = path.file_name().map_or(String::new(), |n| n.to_string_lossy().into_owned());
        let row = format!(
            "| {} | `{name}` | {}/{} | {icb_id} | {icb_n} | {icb_s:.2} s | {pct_id} | {pct_n} | {}{landed_found} | {} | {} | {:.1} s |",
            bug.id,
            icb.points.0,
            icb.points.1,
            landed.explored,
            landed.distinct,
            if landed.exhausted { "yes" } else { "no" },
            landed.secs
        );
        eprintln!("explore --races: {row}");
        rows.push(row);
    }
    let mut md = String::from("# Finding the registered races without a schedule\n\n");
    md.push_str(&format!(
        "Generated by `pagelab explore --races` (the bounded search with at most {} preemptions; PCT of depth 2, seeds 0..1000), \
         one run on this machine. Each race starts from its race seed: the two threads of its reproducer without the schedule. \
         *points*: named / shared-data preemptible points of the run without preemptions. *schedules*: runs up to and including the \
         first that reported the violation (bug on), or all of them (landed).\n\n",
        a.preemptions
    ));
    md.push_str("| bug | race seed | points | bug on: found | schedules | time | PCT: found | PCT runs | landed: schedules | distinct | exhausted | time |\n");
    md.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for r in &rows {
        md.push_str(r);
        md.push('\n');
    }
    if !bad.is_empty() {
        md.push_str(&format!("\nNot met (found within 10 s with the bug on, clean and exhausted on the landed design): {}\n", bad.join(", ")));
    }
    std::fs::create_dir_all(&a.report).map_err(|e| Failure::run(format!("{}: {e}", a.report.display())))?;
    let out = a.report.join("explore.md");
    std::fs::write(&out, &md).map_err(|e| Failure::run(format!("{}: {e}", out.display())))?;
    emit(&md)?;
    emit(&format!("wrote {}\n", out.display()))?;
    if bad.is_empty() {
        Ok(())
    } else {
        Err(Failure::run(format!("races not met: {}", bad.join(", "))))
    }
}
