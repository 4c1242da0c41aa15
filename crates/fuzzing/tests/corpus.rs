//! Regression: every kept fuzz input and every scenario, replayed twice.
//!
//! * `corpus/scenarios/*.ops`: each runs twice with identical outcomes
//!   (trace, violations, page dumps) and must meet its `expect:` line; a
//!   concurrent one must take every named preemption of its schedule (a
//!   plan that is not followed did not produce the race it describes).
//!   Concurrent scenarios need the shuttle build: in the default build they
//!   are asserted to be skipped *because they are concurrent*, and listed;
//!   `cargo test -p pagelab --features shuttle` runs them (and only them:
//!   the sequential ones are the default build's).
//! * `corpus/seq/*`, `corpus/conc/*`: raw libFuzzer inputs decoded as the
//!   targets decode them, on the landed design: each runs twice, identical,
//!   and finds nothing. `seq` inputs run in the default build, `conc` ones
//!   in the shuttle build.
//! * `corpus/scenario/*`: parser inputs: no panic, the round trip holds.

use fuzzing::campaign::Campaign;
use fuzzing::harness::{self, Outcome};
use fuzzing::input::{conc_input, seq_input};
use fuzzing::minimize::report;
use fuzzing::targets::fuzz_scenario;
use fuzzing::scenario::{self, Scenario};
use std::path::{Path, PathBuf};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../corpus")
}

fn files(dir: &str) -> Vec<PathBuf> {
    let d = corpus().join(dir);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&d)
        .unwrap_or_else(|e| panic!("{}: {e}", d.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && !p.file_name().unwrap().to_string_lossy().starts_with('.') && p.extension().is_none_or(|e| e != "md"))
        .collect();
    v.sort();
    v
}

fn twice(name: &str, sc: &Scenario) -> Outcome {
    let a = harness::run(sc);
    let b = harness::run(sc);
    assert_eq!(a.fingerprint(), b.fingerprint(), "{name}: two runs differ:\n{a}\n---- second run\n{b}");
    a
}

#[test]
fn every_scenario_meets_its_expectation_twice() {
    let mut ran = Vec::new();
    let mut skipped = Vec::new();
    for path in files("scenarios") {
        let name = path.display().to_string();
        if path.extension().is_none_or(|e| e != "ops") {
            continue;
        }
        let sc = scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
        if cfg!(feature = "shuttle") && !sc.is_concurrent() {
            // Sequential scenarios run in the default build; under shuttle
            // they would only run slower.
            continue;
        }
        let out = twice(&name, &sc);
        if let Some(why) = &out.skipped {
            assert!(sc.is_concurrent(), "{name}: a sequential scenario was skipped: {why}");
            assert!(why.contains("shuttle"), "{name}: skipped for another reason: {why}");
            skipped.push(name);
            continue;
        }
        assert!(out.satisfies(&sc.expect), "{name}: expected {}, got {}:\n{out}", sc.expect, out.verdict());
        if sc.is_concurrent() {
            let named = out.preemptions.iter().filter(|p| p.starts_with("named")).count();
            assert_eq!(named, sc.schedule.named.len(), "{name}: only {named} of {} named preemptions were taken:\n{out}", sc.schedule.named.len());
        }
        ran.push(name);
    }
    eprintln!("ran {} scenarios; skipped {} concurrent ones (need --features shuttle): {skipped:#?}", ran.len(), skipped.len());
    assert!(!ran.is_empty());
    if cfg!(feature = "shuttle") {
        assert!(skipped.is_empty(), "skipped in the shuttle build: {skipped:#?}");
    } else {
        assert!(!skipped.is_empty(), "the corpus has concurrent scenarios; none was seen");
    }
}

#[test]
fn raw_seq_inputs_are_clean_and_deterministic() {
    let c = Campaign::fixed();
    let mut n = 0;
    for path in files("seq") {
        let data = std::fs::read(&path).unwrap();
        let sc = seq_input(&data, &c);
        if cfg!(feature = "shuttle") {
            // Covered by the default build; the shuttle build replays the
            // concurrent inputs (a sequential one would only run slower).
            continue;
        }
        let out = twice(&path.display().to_string(), &sc);
        assert!(out.violations.is_empty() && out.error.is_none(), "{}:\n{}", path.display(), report(&sc, &out));
        n += 1;
    }
    assert!(cfg!(feature = "shuttle") || n > 0);
}

#[test]
fn raw_conc_inputs_are_clean_and_deterministic() {
    let c = Campaign::fixed();
    for path in files("conc") {
        let data = std::fs::read(&path).unwrap();
        let sc = conc_input(&data, &c);
        assert!(sc.is_concurrent());
        let out = twice(&path.display().to_string(), &sc);
        if !cfg!(feature = "shuttle") {
            assert!(out.skipped.is_some(), "{}: a conc input ran in the default build", path.display());
            continue;
        }
        assert!(out.violations.is_empty() && out.error.is_none(), "{}:\n{}", path.display(), report(&sc, &out));
    }
}

#[test]
fn raw_scenario_inputs_never_panic_the_parser() {
    for path in files("scenario") {
        let data = std::fs::read(&path).unwrap();
        fuzz_scenario(&data);
        fuzz_scenario(&data);
    }
}
