//! `pagelab fuzz`: fuzz campaigns over the targets of `fuzz/` (seq, conc,
//! scenario), with a progress line, a time limit per target, minimization
//! of what they find (saved as scenarios under `corpus/scenarios/`), and
//! `--bug ID`: the time and executions to the first detection of a
//! registered bug injected into the build.
//!
//! With a nightly toolchain (`cargo +nightly`) it runs `cargo +nightly fuzz
//! run` (installing cargo-fuzz with `cargo install cargo-fuzz --locked` if
//! it is missing) from the repository root this binary was built from.
//! Without one — or with `--stable` — it runs the same harness on random
//! inputs in this process (no coverage feedback), and says so; `conc` then
//! runs in a shuttle build of this binary, as `bugs --check` does.
//!
//! The design under test is passed to the targets as `PAGELAB_BUG`, never
//! through the fuzz bytes. A `--bug` campaign starts from a scratch corpus
//! (`fuzz/corpus-bug/<target>-<id>`, emptied first) holding the project's
//! seeds of the target (`corpus/<target>/`: schedule-less situations on the
//! landed design) except the bug's own race seed, so its time to detection
//! measures the fuzzer from the starting points a user would write;
//! `--trials N` runs N such campaigns with seeds 1..N (see `trials`);
//! its default target is the form of the first bug reproducer in
//! `corpus/scenarios/` by file name (`conc` when that is a concurrent
//! scenario, else `seq`; `conc` for a race without one; a bug with both
//! forms has a `-seq.ops` one, which sorts first, because `seq` runs ten
//! times more inputs per second). A finding detects the bug when any of its
//! violations is one of [`fuzzing::bugs::Bug::detected_by`]: the registered
//! invariant, or one the same mechanism breaks first.

mod trials;

use crate::out::emit;
use crate::Failure;
use fuzzing::campaign::Campaign;
use fuzzing::harness;
use fuzzing::input;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TARGETS: &[&str] = &["seq", "conc", "scenario"];

#[derive(clap::Args, Debug)]
pub(crate) struct FuzzArgs {
    /// The target to fuzz (seq, conc, scenario); default: seq, or the
    /// bug's (conc for a race) with --bug.
    #[arg(long, conflicts_with = "all")]
    target: Option<String>,
    /// Fuzz every target, one after the other.
    #[arg(long)]
    all: bool,
    /// Seconds per target.
    #[arg(long, default_value_t = 60)]
    secs: u64,
    /// Inject this registered bug (`pagelab bugs` lists them) and report
    /// the time and executions to its first detection.
    #[arg(long)]
    bug: Option<String>,
    /// libFuzzer fork mode with N jobs (`-fork=N`).
    #[arg(long, default_value_t = 1)]
    jobs: u32,
    /// Violation ids that are not findings (known findings), comma separated.
    #[arg(long, value_delimiter = ',')]
    allow: Vec<String>,
    /// Run the harness on random inputs in this process even when nightly is there.
    #[arg(long)]
    stable: bool,
    /// Seed of the random inputs of the stable mode.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Stable mode: stop after this many executions (a fixed workload, to
    /// count instructions under valgrind), or at --secs, whichever is first.
    #[arg(long)]
    runs: Option<u64>,
    /// Do not minimize or save findings.
    #[arg(long)]
    no_save: bool,
    /// Build the targets as cargo-fuzz does by default (AddressSanitizer,
    /// debug assertions: about 7x slower) instead of `-O -s none`.
    #[arg(long)]
    asan: bool,
    /// Time to bug: N independent campaigns (seeds 1..N) per bug of --bug
    /// or --bugs, and a table of trials that found it, median and
    /// restricted-mean time to detection (written to --report).
    #[arg(long, default_value_t = 1)]
    trials: u32,
    /// The bugs of a time-to-bug measurement: ids, comma separated, or `all`.
    #[arg(long, value_delimiter = ',', conflicts_with = "bug")]
    bugs: Vec<String>,
    /// Where a time-to-bug measurement writes time-to-bug.{md,json,svg}.
    #[arg(long, value_name = "DIR", default_value = "target/time-to-bug")]
    report: PathBuf,
}

fn nightly_available() -> bool {
    Command::new("cargo").args(["+nightly", "--version"]).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

fn ensure_cargo_fuzz() -> Result<(), Failure> {
    let ok = Command::new("cargo").args(["+nightly", "fuzz", "--version"]).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
    if ok {
        return Ok(());
    }
    eprintln!("pagelab: cargo-fuzz is missing: cargo install cargo-fuzz --locked");
    let st = Command::new(crate::builds::cargo())
        .args(["install", "cargo-fuzz", "--locked"])
        .status()
        .map_err(|e| Failure::run(format!("cargo install cargo-fuzz: {e}")))?;
    if !st.success() {
        return Err(Failure::run("cargo install cargo-fuzz --locked failed"));
    }
    Ok(())
}

/// cargo-fuzz build options: the target's features, and the build kind
/// (`-O -s none`: optimized, no sanitizer, no debug assertions, unless
/// `--asan`). Always `--no-trace-compares`: the compare tracing hooks every
/// comparison of the checker's memmap walk (a hundred thousand descriptors
/// after every op) and cut `seq` from 74 to 22 exec/s in a 30 s run on the
/// landed design; the inputs have no magic values for it to solve (operands
/// are taken modulo what exists), so the edge counters are what guides.
fn build_opts(target: &str, asan: bool) -> Vec<&'static str> {
    let mut v = vec!["--no-trace-compares"];
    if !asan {
        v.extend(["-O", "-s", "none"]);
    }
    if target == "conc" {
        v.extend(["--features", "shuttle"]);
    }
    v
}

/// What one libFuzzer run reported.
#[derive(Debug, Default, Clone)]
pub(crate) struct Progress {
    execs: u64,
    exec_s: u64,
    cov: u64,
    ft: u64,
    corpus: u64,
    crashed_at: Option<Duration>,
    artifact: Option<PathBuf>,
    final_execs: Option<u64>,
    text: String,
    /// The target's throughput counters (fuzzing::stats).
    totals: Option<fuzzing::stats::Totals>,
    /// How long it ran.
    secs_run: f64,
}

fn field(line: &str, key: &str) -> Option<u64> {
    let i = line.find(key)? + key.len();
    line[i..].trim_start().split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

fn parse_line(p: &mut Progress, line: &str, started: Instant) {
    if let Some(rest) = line.strip_prefix('#') {
        if let Some(n) = rest.split(|c: char| !c.is_ascii_digit()).next().and_then(|d| d.parse().ok()) {
            p.execs = n;
        }
        if let Some(v) = field(line, "cov:") {
            p.cov = v;
        }
        if let Some(v) = field(line, "ft:") {
            p.ft = v;
        }
        if let Some(v) = field(line, "corp:") {
            p.corpus = v;
        }
        if let Some(v) = field(line, "exec/s:") {
            p.exec_s = v;
        }
    }
    if p.crashed_at.is_none() && (line.contains("pagelab harness finding") || line.contains("ERROR: libFuzzer: deadly signal") || line.contains("panicked at")) {
        p.crashed_at = Some(started.elapsed());
    }
    if let Some(rest) = line.split("Test unit written to ").nth(1) {
        p.artifact = Some(PathBuf::from(rest.trim()));
    }
    if let Some(v) = line.strip_prefix("stat::number_of_executed_units:") {
        p.final_execs = v.trim().parse().ok();
    }
    if p.text.len() < 1 << 20 {
        p.text.push_str(line);
        p.text.push('\n');
    }
}

/// Run `cmd` (a libFuzzer process through cargo fuzz), showing progress,
/// killing it `grace` after `secs`.
fn run_libfuzzer(mut cmd: Command, label: &str, secs: u64) -> Result<Progress, Failure> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Failure::run(format!("could not start cargo fuzz: {e}")))?;
    let started = Instant::now();
    let p = Arc::new(Mutex::new(Progress::default()));
    let mut readers = Vec::new();
    for stream in [child.stderr.take().map(|s| Box::new(s) as Box<dyn std::io::Read + Send>), child.stdout.take().map(|s| Box::new(s) as Box<dyn std::io::Read + Send>)]
        .into_iter()
        .flatten()
    {
        let p = p.clone();
        readers.push(std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(|l| l.ok()) {
                parse_line(&mut p.lock().unwrap_or_else(|e| e.into_inner()), &line, started);
            }
        }));
    }
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let every = if tty { Duration::from_secs(1) } else { Duration::from_secs(10) };
    let mut last = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().map_err(|e| Failure::run(e.to_string()))? {
            break st;
        }
        if started.elapsed() > Duration::from_secs(secs + 120) {
            let _ = child.kill();
            break child.wait().map_err(|e| Failure::run(e.to_string()))?;
        }
        if last.elapsed() >= every {
            last = Instant::now();
            let q = p.lock().unwrap_or_else(|e| e.into_inner()).clone();
            let line = format!(
                "pagelab fuzz: {label:<8} {:>4}/{secs} s  execs {:>9}  exec/s {:>6}  cov {:>5}  ft {:>6}  corpus {:>5}",
                started.elapsed().as_secs(),
                q.execs,
                q.exec_s,
                q.cov,
                q.ft,
                q.corpus
            );
            if tty {
                eprint!("\r{line}");
            } else {
                eprintln!("{line}");
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    for r in readers {
        let _ = r.join();
    }
    if tty {
        eprintln!();
    }
    let mut q = p.lock().unwrap_or_else(|e| e.into_inner()).clone();
    q.secs_run = started.elapsed().as_secs_f64();
    if q.crashed_at.is_none() && !status.success() && q.artifact.is_some() {
        q.crashed_at = Some(started.elapsed());
    }
    if q.crashed_at.is_none() && !status.success() && q.execs == 0 {
        let tail: Vec<&str> = q.text.lines().rev().take(30).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(Failure::run(format!("cargo fuzz failed ({status}):\n{}", tail.join("\n"))));
    }
    Ok(q)
}

/// The target a `--bug` campaign fuzzes by default: the form of the bug's
/// reproducer in corpus/scenarios/ (the design on, expecting one of the
/// invariants that detect it), else `conc` for a race and `seq` otherwise.
fn bug_target(b: &'static fuzzing::bugs::Bug) -> &'static str {
    let fallback = if b.is_race() { "conc" } else { "seq" };
    let Ok(c) = Campaign::for_bug(b.id) else { return fallback };
    let want: Vec<fuzzing::scenario::Verdict> = b.detected_by().iter().map(|id| fuzzing::scenario::Verdict::Violation(id.to_string())).collect();
    let Ok(dir) = std::fs::read_dir(crate::builds::repo_root().join("corpus/scenarios")) else { return fallback };
    let mut names: Vec<PathBuf> = dir.filter_map(|e| e.ok().map(|e| e.path())).collect();
    names.sort();
    for p in names {
        let n = p.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        if !n.ends_with(".ops") || n.ends_with(".fixed.ops") {
            continue;
        }
        if let Ok(sc) = fuzzing::scenario::load(&p) {
            if sc.design == c.design && sc.free_path == c.free_path && want.contains(&sc.expect) {
                return if sc.is_concurrent() { "conc" } else { "seq" };
            }
        }
    }
    fallback
}

/// Does a finding's report name violation `id` (any of its violations)?
fn finding_has(text: &str, id: &str) -> bool {
    let tag = format!("[{id}]");
    text.lines().any(|l| l.trim_start().starts_with(&tag) || l.contains(&format!("finding: {tag}")))
}

/// The scenario text a finding's panic message carries.
fn scenario_from_report(text: &str) -> Option<String> {
    let start = text.find("---- scenario")?;
    let body = &text[start..];
    let body = &body[body.find('\n')? + 1..];
    let end = body.find("---- trace ----")?;
    Some(body[..end].to_string())
}

fn first_finding_line(text: &str) -> String {
    text.lines().find_map(|l| l.split("pagelab harness finding: ").nth(1)).unwrap_or("(no harness report: see the libFuzzer output)").to_string()
}

fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Shrink a finding's scenario text by deleting ops; a concurrent one is
/// settled in the shuttle build (`explore --settle`: its schedule at named
/// points where it can be, shrunk, replayed twice).
fn shrink_text(text: &str) -> String {
    let Ok(sc) = fuzzing::scenario::parse("finding", text) else { return text.to_string() };
    if sc.is_concurrent() {
        let tmp = crate::builds::repo_root().join("target").join("finding-to-settle.ops");
        if std::fs::create_dir_all(crate::builds::repo_root().join("target")).is_err() || std::fs::write(&tmp, text).is_err() {
            return text.to_string();
        }
        let mut cmd = crate::builds::shuttle_build("settling a concurrent finding");
        cmd.arg("explore").arg("--settle").arg(&tmp);
        return match cmd.output() {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
            _ => {
                eprintln!("pagelab fuzz: could not settle the concurrent finding; saved as found");
                text.to_string()
            }
        };
    }
    let (small, runs) = fuzzing::minimize::minimize(&sc, 2000);
    eprintln!("pagelab fuzz: shrunk the finding from {} to {} ops in {runs} runs", sc.setup.len() + sc.threads.iter().map(Vec::len).sum::<usize>(), small.setup.len() + small.threads.iter().map(Vec::len).sum::<usize>());
    small.to_string()
}

/// Save a finding's scenario under corpus/scenarios/; returns the path.
fn save_scenario(text: &str, target: &str, note: &str) -> Result<PathBuf, Failure> {
    let mut sc = fuzzing::scenario::parse("finding", text).map_err(|e| Failure::run(format!("the finding's scenario does not parse: {e}")))?;
    sc.notes.insert(0, note.to_string());
    let id = match &sc.expect {
        fuzzing::scenario::Verdict::Violation(id) => id.to_ascii_lowercase(),
        _ => "ok".into(),
    };
    let text = sc.to_string();
    let dir = crate::builds::repo_root().join("corpus/scenarios");
    std::fs::create_dir_all(&dir).map_err(|e| Failure::run(format!("{}: {e}", dir.display())))?;
    let path = dir.join(format!("found-{target}-{id}-{:08x}.ops", fnv(&text) as u32));
    std::fs::write(&path, text).map_err(|e| Failure::run(format!("{}: {e}", path.display())))?;
    Ok(path)
}

fn fuzz_cmd(target: &str, sub: &str, c: &Campaign, asan: bool) -> Command {
    let mut cmd = Command::new("cargo");
    cmd.current_dir(crate::builds::repo_root()).args(["+nightly", "fuzz", sub]).args(build_opts(target, asan)).arg(target);
    cmd.env("PAGELAB_BUG", c.bug.map_or("fixed", |b| b.id));
    cmd.env("PAGELAB_ALLOW", c.allow.join(","));
    cmd
}

/// Where a campaign's target writes its throughput counters (a
/// measurement: under target/, never in the tree).
fn stats_path(target: &str) -> PathBuf {
    crate::builds::repo_root().join("target").join("fuzz-stats").join(format!("{target}.txt"))
}

/// Minimize a crash and save it as a scenario.
fn minimize_and_save(target: &str, artifact: &Path, c: &Campaign, found: &Progress, asan: bool) -> Result<Option<PathBuf>, Failure> {
    if target == "scenario" {
        return Ok(None);
    }
    eprintln!("pagelab fuzz: minimizing {} ...", artifact.display());
    let mut tmin = fuzz_cmd(target, "tmin", c, asan);
    tmin.args(["-r", "128"]).arg(artifact);
    let q = run_libfuzzer(tmin, "tmin", 240)?;
    let minimized = q.text.lines().find_map(|l| l.split("Minimized artifact:").nth(1)).map(|s| PathBuf::from(s.trim()));
    let mut text = None;
    if let Some(m) = minimized.filter(|m| m.exists()) {
        let mut rerun = fuzz_cmd(target, "run", c, asan);
        rerun.arg(&m);
        let r = run_libfuzzer(rerun, "replay", 120)?;
        text = scenario_from_report(&r.text);
    }
    let text = match text.or_else(|| scenario_from_report(&found.text)) {
        Some(t) => shrink_text(&t),
        None => return Ok(None),
    };
    let design = c.bug.map_or("the landed design".to_string(), |b| format!("bug {} ({})", b.id, b.variant));
    let note = format!("found by `pagelab fuzz --target {target}` on {design}; minimized with cargo fuzz tmin, then by deleting ops");
    save_scenario(&text, target, &note).map(Some)
}

/// The stable mode's generator.
use fuzzing::rng::SplitMix64 as Rng;

/// 16 to 1039 random bytes: one stable-mode input.
fn random_bytes(rng: &mut Rng) -> Vec<u8> {
    let n = 16 + (rng.next_u64() % 1024) as usize;
    (0..n).map(|_| rng.next_u64() as u8).collect()
}

fn random_ops(rng: &mut Rng, max: u64) -> Vec<fuzzing::ops::Op> {
    use arbitrary::Arbitrary;
    let n = rng.next_u64() % (max + 1);
    let bytes: Vec<u8> = (0..n * 12).map(|_| rng.next_u64() as u8).collect();
    let mut u = arbitrary::Unstructured::new(&bytes);
    (0..n).filter_map(|_| fuzzing::ops::Op::arbitrary(&mut u).ok()).collect()
}

/// A random `seq` input with up to the target's op count (random bytes
/// through `arbitrary` would stop after a couple of ops).
fn random_seq(rng: &mut Rng, c: &Campaign) -> fuzzing::scenario::Scenario {
    let input = input::SeqInput { knobs: rng.next_u64() as u8, ops: random_ops(rng, input::MAX_SEQ_OPS as u64) };
    input::seq_scenario(&input, c)
}

fn random_conc(rng: &mut Rng, c: &Campaign) -> fuzzing::scenario::Scenario {
    let nt = 2 + rng.next_u64() % 3;
    let input = input::ConcInput {
        knobs: rng.next_u64() as u8,
        setup: random_ops(rng, input::MAX_SETUP_OPS as u64),
        threads: (0..nt).map(|_| random_ops(rng, input::MAX_THREAD_OPS as u64)).collect(),
        preempts: (0..rng.next_u64() % 4).map(|_| ((rng.next_u64() % 256) as u16, rng.next_u64() as u8)).collect(),
    };
    input::conc_scenario(&input, c)
}

/// The stable mode: the harness on random inputs in this process.
fn stable_run(target: &str, secs: u64, runs: Option<u64>, c: &Campaign, seed: u64) -> Progress {
    let mut p = Progress::default();
    let started = Instant::now();
    let mut rng = Rng(seed ^ fnv(target));
    let mut last = Instant::now();
    while started.elapsed() < Duration::from_secs(secs) && runs.is_none_or(|n| p.execs < n) {
        let data = random_bytes(&mut rng);
        let finding = match target {
            "seq" | "conc" => {
                let sc = if target == "seq" { random_seq(&mut rng, c) } else { random_conc(&mut rng, c) };
                let t = Instant::now();
                let out = harness::run(&sc);
                fuzzing::stats::record(&out, t.elapsed().as_nanos() as u64);
                if out.skipped.is_some() {
                    p.text = format!("{}\n", out.skipped.unwrap_or_default());
                    break;
                }
                fuzzing::campaign::is_finding(&out, c).then(|| fuzzing::minimize::report(&sc, &out))
            }
            _ => std::panic::catch_unwind(|| fuzzing::targets::fuzz_scenario(&data)).err().map(|_| format!("the scenario parser panicked on {data:?}")),
        };
        p.execs += 1;
        if let Some(r) = finding {
            p.crashed_at = Some(started.elapsed());
            p.final_execs = Some(p.execs);
            p.text = r;
            break;
        }
        if last.elapsed() >= Duration::from_secs(10) {
            last = Instant::now();
            let s = started.elapsed().as_secs_f64();
            eprintln!("pagelab fuzz: {target:<8} {:>4}/{secs} s  execs {:>9}  exec/s {:>6.0}  (stable mode: random inputs)", s as u64, p.execs, p.execs as f64 / s);
        }
    }
    p.exec_s = (p.execs as f64 / started.elapsed().as_secs_f64().max(1e-9)) as u64;
    p.totals = Some(fuzzing::stats::totals());
    p.secs_run = started.elapsed().as_secs_f64();
    p
}

/// One campaign of target `t` (libFuzzer, or the stable mode) with seed
/// `seed`. A `--bug` campaign starts from a scratch corpus holding the
/// project's seeds of the target except the bug's own race seed
/// ([`bug_corpus`]); a landed one from `fuzz/corpus/<t>` plus the seeds.
pub(crate) fn run_target(t: &str, a: &FuzzArgs, c: &Campaign, stable: bool, seed: u64) -> Result<Progress, Failure> {
    let p = if stable {
        if t == "conc" && !cfg!(feature = "shuttle") {
            stable_conc_via_shuttle(a, c, seed)?
        } else {
            stable_run(t, a.secs, a.runs, c, seed)
        }
    } else {
        let status = Command::new("cargo")
            .current_dir(crate::builds::repo_root())
            .args(["+nightly", "fuzz", "build"])
            .args(build_opts(t, a.asan))
            .arg(t)
            .status()
            .map_err(|e| Failure::run(format!("cargo fuzz build: {e}")))?;
        if !status.success() {
            return Err(Failure::run(format!("cargo +nightly fuzz build {t} failed")));
        }
        let seeds = crate::builds::repo_root().join("corpus").join(t);
        let work = match c.bug {
            Some(b) => bug_corpus(t, b, &seeds)?,
            None => crate::builds::repo_root().join("fuzz/corpus").join(t),
        };
        std::fs::create_dir_all(&work).map_err(|e| Failure::run(format!("{}: {e}", work.display())))?;
        let mut cmd = fuzz_cmd(t, "run", c, a.asan);
        let stats = stats_path(t);
        if let Some(d) = stats.parent() {
            std::fs::create_dir_all(d).map_err(|e| Failure::run(format!("{}: {e}", d.display())))?;
        }
        let _ = std::fs::remove_file(&stats);
        cmd.env("PAGELAB_FUZZ_STATS", &stats);
        cmd.arg(&work);
        if seeds.is_dir() && c.bug.is_none() {
            cmd.arg(&seeds);
        }
        // -len_control=0: full-length inputs from the first execution.
        // libFuzzer's default grows the length limit slowly from a few
        // bytes, which suits parsers; here a few bytes decode to one or
        // two ops, and the seeds' bugs need a sequence of five or six.
        cmd.arg("--")
            .arg(format!("-max_total_time={}", a.secs))
            .arg("-print_final_stats=1")
            .arg("-timeout=30")
            .arg("-rss_limit_mb=4096")
            .arg("-len_control=0")
            .arg(format!("-seed={}", seed.max(1)));
        if a.jobs > 1 {
            cmd.arg(format!("-fork={}", a.jobs));
        }
        let mut p = run_libfuzzer(cmd, t, a.secs)?;
        p.totals = fuzzing::stats::read_file(&stats);
        p
    };
    Ok(p)
}

/// The scratch corpus of a `--bug` campaign, `fuzz/corpus-bug/<t>-<id>`:
/// emptied, then filled with the project's seeds of target `t` except the
/// bug's own race seed (`race-<id>-*`), so that the time to detection is
/// the fuzzer's from realistic starting points, never a replay of the
/// bug's reproducer.
fn bug_corpus(t: &str, b: &fuzzing::bugs::Bug, seeds: &Path) -> Result<PathBuf, Failure> {
    let w = crate::builds::repo_root().join("fuzz/corpus-bug").join(format!("{t}-{}", b.id));
    let _ = std::fs::remove_dir_all(&w);
    std::fs::create_dir_all(&w).map_err(|e| Failure::run(format!("{}: {e}", w.display())))?;
    let own = format!("race-{}-", b.id.to_ascii_lowercase());
    for e in std::fs::read_dir(seeds).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if e.path().is_file() && !name.starts_with(&own) && !name.starts_with('.') {
            std::fs::copy(e.path(), w.join(&name)).map_err(|err| Failure::run(format!("{}: {err}", e.path().display())))?;
        }
    }
    Ok(w)
}

/// The stable mode for conc, in the shuttle build of this binary.
fn stable_conc_via_shuttle(a: &FuzzArgs, c: &Campaign, seed: u64) -> Result<Progress, Failure> {
    let mut cmd = crate::builds::shuttle_build("conc runs");
    cmd.args(["fuzz", "--stable", "--target", "conc", "--no-save", "--secs", &a.secs.to_string(), "--seed", &seed.to_string()]);
    if let Some(n) = a.runs {
        cmd.args(["--runs", &n.to_string()]);
    }
    if let Some(b) = c.bug {
        cmd.args(["--bug", b.id]);
    }
    if !c.allow.is_empty() {
        cmd.args(["--allow", &c.allow.join(",")]);
    }
    let out = cmd.output().map_err(|e| Failure::run(format!("cargo run --features shuttle: {e}")))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut p = Progress { text: text.clone(), ..Progress::default() };
    for l in text.lines() {
        if let Some(v) = l.strip_prefix("STATS\t") {
            p.totals = fuzzing::stats::Totals::parse(v);
        }
        if let Some(v) = l.strip_prefix("STABLE\t") {
            let f: Vec<&str> = v.split('\t').collect();
            if f.len() == 3 {
                p.execs = f[0].parse().unwrap_or(0);
                p.exec_s = f[1].parse().unwrap_or(0);
                p.crashed_at = f[2].parse::<f64>().ok().filter(|&s| s >= 0.0).map(Duration::from_secs_f64);
                p.final_execs = p.crashed_at.map(|_| p.execs);
            }
        }
    }
    Ok(p)
}

pub(crate) fn run(a: &FuzzArgs) -> Result<(), Failure> {
    if (a.trials > 1 || !a.bugs.is_empty()) && !cfg!(feature = "shuttle") {
        return trials::run(a);
    }
    let mut c = match &a.bug {
        Some(id) => Campaign::for_bug(id).map_err(Failure::usage)?,
        None => Campaign::fixed(),
    };
    c.allow = a.allow.clone();
    let targets: Vec<String> = if a.all {
        TARGETS.iter().map(|s| s.to_string()).collect()
    } else if let Some(t) = &a.target {
        if !TARGETS.contains(&t.as_str()) {
            return Err(Failure::usage(format!("unknown target `{t}` (seq, conc, scenario)")));
        }
        vec![t.clone()]
    } else if let Some(b) = c.bug {
        vec![bug_target(b).to_string()]
    } else {
        vec!["seq".to_string()]
    };
    let design = c.bug.map_or("the landed design".to_string(), |b| format!("bug {} injected ({}; invariant {})", b.id, b.variant, b.invariant));
    let stable = a.stable || cfg!(feature = "shuttle") || !nightly_available();
    if cfg!(feature = "shuttle") && !(a.stable && targets == ["conc"]) {
        return Err(Failure::usage("the shuttle build of pagelab only runs `fuzz --stable --target conc` (used by the default build)"));
    }
    if stable && !a.stable {
        eprintln!("pagelab fuzz: no nightly toolchain (cargo +nightly): running the harness on random inputs on stable, without coverage feedback");
    }
    if !stable {
        ensure_cargo_fuzz()?;
    }
    let mut report = String::new();
    let mut findings = 0;
    for t in &targets {
        eprintln!("pagelab fuzz: target {t}, {} s, {design}{}", a.secs, if stable { ", stable mode" } else { "" });
        if stable && cfg!(feature = "shuttle") {
            // The shuttle build's part of `stable_conc_via_shuttle`: one
            // campaign, its result as lines for the default build.
            let p = stable_run(t, a.secs, a.runs, &c, a.seed);
            let at = p.crashed_at.map_or(-1.0, |d| d.as_secs_f64());
            let stats = p.totals.map_or(String::new(), |t| format!("STATS\t{}", t.to_line()));
            emit(&format!("{}{stats}STABLE\t{}\t{}\t{at}\n", if p.crashed_at.is_some() { &p.text } else { "" }, p.execs, p.exec_s))?;
            return Ok(());
        }
        let p = run_target(t, a, &c, stable, a.seed)?;
        let execs = p.final_execs.unwrap_or(p.execs);
        let line = match p.crashed_at {
            Some(at) => {
                findings += 1;
                let what = first_finding_line(&p.text);
                let mut s = format!("{t}: FINDING after {:.1} s and {execs} executions: {what}\n", at.as_secs_f64());
                if let Some(b) = c.bug {
                    let hit = b.detected_by().iter().find(|id| finding_has(&p.text, id));
                    s.push_str(&format!(
                        "{t}: bug {}: {} (registered invariant {}{})\n",
                        b.id,
                        match hit {
                            Some(id) => format!("detected by {id}"),
                            None => "a violation, not one the bug is registered to break".to_string(),
                        },
                        b.invariant,
                        if b.detected_by().len() > 1 { format!("; also counts: {}", b.detected_by()[1..].join(", ")) } else { String::new() }
                    ));
                }
                if !a.no_save {
                    let saved = match (&p.artifact, stable) {
                        (Some(art), false) => minimize_and_save(t, art, &c, &p, a.asan)?,
                        _ => match scenario_from_report(&p.text) {
                            Some(text) => {
                                let text = shrink_text(&text);
                                Some(save_scenario(&text, t, &format!("found by `pagelab fuzz --target {t} --stable` on {design}; shrunk by deleting ops"))?)
                            }
                            None => None,
                        },
                    };
                    if let Some(path) = saved {
                        s.push_str(&format!("{t}: saved as {} (pagelab replay runs it)\n", path.display()));
                    }
                }
                s
            }
            None => {
                let secs = if p.secs_run > 0.0 { p.secs_run.min(a.secs as f64) } else { a.secs as f64 };
                format!("{t}: no finding in {secs:.0} s, {execs} executions ({} exec/s)\n", if p.exec_s > 0 { p.exec_s } else { (execs as f64 / secs.max(1.0)) as u64 })
            }
        };
        let line = match p.totals.filter(|t| t.execs > 0) {
            Some(tot) if t != "scenario" => format!("{line}{t}: {}\n", tot.summary()),
            _ => line,
        };
        eprint!("{line}");
        report.push_str(&line);
    }
    emit(&report)?;
    if findings > 0 && c.bug.is_none() {
        return Err(Failure::run(format!("{findings} finding(s) on the landed design")));
    }
    if findings == 0 && c.bug.is_some() {
        return Err(Failure::run("the injected bug was not detected in time"));
    }
    Ok(())
}
