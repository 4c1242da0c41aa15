//! `pagelab replay FILE...` and `pagelab fmt FILE`: run scenarios and raw
//! fuzz inputs with a verdict per file, or print any input as a scenario.
//!
//! An input is a scenario when its first non-comment line is the version
//! line (`pagelab-scenario v1`); anything else is a raw fuzz input of the
//! target named by `--target`, or by the directory it sits in
//! (`corpus/seq/...`, `fuzz/artifacts/conc/...`), decoded with the design
//! of `PAGELAB_BUG` (the landed design when unset). A raw `scenario`-target
//! input is text for the parser: it passes when the parser neither panics
//! nor breaks the print/parse round trip.
//!
//! Concurrent scenarios need the shuttle build; a default-build binary
//! hands them to a shuttle build of itself (`cargo run --features shuttle
//! -- replay`, from the source tree it was built from), as `bugs --check`
//! does, and prints its report.

use crate::out::emit;
use crate::Failure;
use fuzzing::campaign::Campaign;
use fuzzing::harness::{self, Outcome};
use fuzzing::input;
use fuzzing::scenario::{self, Scenario};
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub(crate) struct ReplayArgs {
    /// Scenario files (*.ops) or raw fuzz inputs (directories: every file in them).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// The fuzz target of raw inputs (seq, conc, scenario); default: the
    /// name of the directory a file is in.
    #[arg(long)]
    target: Option<String>,
    /// Only the verdict lines, no op traces.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(clap::Args, Debug)]
pub(crate) struct FmtArgs {
    /// A scenario or a raw fuzz input.
    file: PathBuf,
    /// The fuzz target of a raw input (seq, conc); default: its directory's name.
    #[arg(long)]
    target: Option<String>,
    /// Write the fuzz bytes of the scenario (seq or conc target, by whether
    /// it has threads) to this file instead: a seed for a fuzz corpus.
    #[arg(long, value_name = "OUT")]
    raw: Option<PathBuf>,
}

/// What an input file is.
pub(crate) enum Input {
    Scenario(Box<Scenario>),
    /// Raw bytes of the `scenario` target (parser input).
    ParserText(Vec<u8>),
}

/// Is this text a scenario (version line first, after comments)?
pub(crate) fn looks_like_scenario(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else { return false };
    text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#')).is_some_and(|l| l.starts_with("pagelab-scenario"))
}

fn target_of(path: &Path, given: Option<&str>) -> Option<String> {
    if let Some(t) = given {
        return Some(t.to_string());
    }
    path.ancestors().skip(1).filter_map(|p| p.file_name()).map(|n| n.to_string_lossy().to_string()).find(|n| ["seq", "conc", "scenario"].contains(&n.as_str()))
}

/// Read `path` as a scenario (decoding raw inputs with `campaign`).
pub(crate) fn load(path: &Path, target: Option<&str>, campaign: &Campaign) -> Result<Input, String> {
    let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let target = target_of(path, target);
    if target.as_deref() == Some("scenario") {
        return Ok(Input::ParserText(data));
    }
    if looks_like_scenario(&data) {
        let text = String::from_utf8_lossy(&data);
        return scenario::parse(&path.display().to_string(), &text).map(|sc| Input::Scenario(Box::new(sc))).map_err(|e| e.to_string());
    }
    match target.as_deref() {
        Some("seq") => Ok(Input::Scenario(Box::new(input::seq_input(&data, campaign)))),
        Some("conc") => Ok(Input::Scenario(Box::new(input::conc_input(&data, campaign)))),
        Some("scenario") => Ok(Input::ParserText(data)),
        Some(t) => Err(format!("{}: unknown fuzz target `{t}` (seq, conc or scenario)", path.display())),
        None => Err(format!(
            "{}: not a scenario (no `pagelab-scenario v1` line) and no fuzz target known for a raw input: pass --target seq|conc|scenario",
            path.display()
        )),
    }
}

fn expand(files: &[PathBuf]) -> Result<Vec<PathBuf>, Failure> {
    let mut out = Vec::new();
    for f in files {
        if f.is_dir() {
            let mut v: Vec<PathBuf> = std::fs::read_dir(f)
                .map_err(|e| Failure::run(format!("{}: {e}", f.display())))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')) && p.extension().is_none_or(|e| e != "md"))
                .collect();
            v.sort();
            out.extend(v);
        } else {
            out.push(f.clone());
        }
    }
    Ok(out)
}

/// Replay one loaded input; (verdict word, report text).
pub(crate) fn replay_one(input: &Input, quiet: bool) -> (&'static str, String, Option<Outcome>) {
    match input {
        Input::ParserText(data) => {
            let r = std::panic::catch_unwind(|| fuzzing::targets::fuzz_scenario(data));
            match r {
                Ok(()) => ("PASS", "parser input: no panic, round trip holds\n".into(), None),
                Err(p) => {
                    let msg = p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default();
                    ("FAIL", format!("the parser panicked: {msg}\n"), None)
                }
            }
        }
        Input::Scenario(sc) => {
            let out = harness::run(sc);
            let word = if out.skipped.is_some() {
                "SKIP"
            } else if out.satisfies(&sc.expect) {
                "PASS"
            } else {
                "FAIL"
            };
            let mut text = String::new();
            if !quiet || word == "FAIL" {
                text.push_str(&out.to_string());
            }
            if word == "FAIL" {
                text.push_str(&format!("expected: {}, got: {}\n", sc.expect, out.verdict()));
            }
            (word, text, Some(out))
        }
    }
}

/// Run the concurrent scenarios in a shuttle build of this binary.
fn replay_in_shuttle_build(files: &[PathBuf], a: &ReplayArgs) -> Result<(String, bool), Failure> {
    let mut cmd = crate::builds::shuttle_build(&format!("replaying {} concurrent input(s)", files.len()));
    cmd.arg("replay");
    if a.quiet {
        cmd.arg("--quiet");
    }
    if let Some(t) = &a.target {
        cmd.args(["--target", t]);
    }
    cmd.args(files);
    let out = cmd.output().map_err(|e| Failure::run(format!("could not start the shuttle build through cargo: {e}")))?;
    Ok((String::from_utf8_lossy(&out.stdout).into_owned(), out.status.success()))
}

pub(crate) fn run(a: &ReplayArgs) -> Result<(), Failure> {
    // The harness reports core panics as PANIC violations; no one-line exit.
    std::panic::set_hook(Box::new(|_| {}));
    let campaign = Campaign::for_bug(&std::env::var("PAGELAB_BUG").unwrap_or_default()).map_err(Failure::usage)?;
    let files = expand(&a.files)?;
    let (mut pass, mut fail, mut skip) = (0, 0, 0);
    let mut deferred = Vec::new();
    for f in &files {
        let input = match load(f, a.target.as_deref(), &campaign) {
            Ok(i) => i,
            Err(e) => {
                emit(&format!("FAIL {}: {e}\n", f.display()))?;
                fail += 1;
                continue;
            }
        };
        if let Input::Scenario(sc) = &input {
            if sc.is_concurrent() && !cfg!(feature = "shuttle") {
                deferred.push(f.clone());
                continue;
            }
            if !a.quiet {
                emit(&format!("==== {}\n{sc}---- trace\n", f.display()))?;
            }
        }
        let (word, text, _) = replay_one(&input, a.quiet);
        emit(&text)?;
        emit(&format!("{word} {}\n", f.display()))?;
        match word {
            "PASS" => pass += 1,
            "SKIP" => skip += 1,
            _ => fail += 1,
        }
    }
    if !deferred.is_empty() {
        let (text, _ok) = replay_in_shuttle_build(&deferred, a)?;
        emit(&text)?;
        for line in text.lines() {
            match line.split_whitespace().next() {
                Some("PASS") => pass += 1,
                Some("FAIL") => fail += 1,
                Some("SKIP") => skip += 1,
                _ => {}
            }
        }
        let counted = text.lines().filter(|l| l.starts_with("PASS ") || l.starts_with("FAIL ") || l.starts_with("SKIP ")).count();
        if counted < deferred.len() {
            fail += deferred.len() - counted;
            emit(&format!("FAIL {} concurrent input(s): the shuttle build gave no verdict\n", deferred.len() - counted))?;
        }
    }
    if files.len() > 1 || !deferred.is_empty() {
        emit(&format!("{pass} passed, {fail} failed, {skip} skipped\n"))?;
    }
    if fail > 0 {
        return Err(Failure::run(String::new()));
    }
    Ok(())
}

pub(crate) fn fmt(a: &FmtArgs) -> Result<(), Failure> {
    let campaign = Campaign::for_bug(&std::env::var("PAGELAB_BUG").unwrap_or_default()).map_err(Failure::usage)?;
    match load(&a.file, a.target.as_deref(), &campaign).map_err(Failure::run)? {
        Input::Scenario(sc) if a.raw.is_some() => {
            let out = a.raw.as_ref().expect("checked");
            let bytes = if sc.is_concurrent() { input::conc_bytes(&sc) } else { input::seq_bytes(&sc) };
            let bytes = bytes.map_err(|e| Failure::run(format!("{}: {e}", a.file.display())))?;
            std::fs::write(out, bytes).map_err(|e| Failure::run(format!("{}: {e}", out.display())))
        }
        Input::Scenario(sc) => emit(&sc.to_string()),
        Input::ParserText(_) => Err(Failure::usage(format!("{}: a `scenario`-target input is parser text, not a scenario", a.file.display()))),
    }
}
