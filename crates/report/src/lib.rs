//! pagelab's benchmark reports: turn the saved benchmark results into
//! `reports/` (the `pagelab report` command is a thin front end).
//!
//! Reads, never re-runs:
//!
//! * criterion's results: every `<criterion dir>/**/new/{benchmark.json,
//!   estimates.json}` (the latest run of each case; `--compare A B` reads
//!   the baselines saved with `--save-baseline A` / `B` instead, [`compare`]);
//! * gungraun's instruction counts: every `<gungraun dir>/**/summary.json`
//!   (written with `GUNGRAUN_SAVE_SUMMARY=json`) and, for the profiles, the
//!   `callgrind.*.out` file next to it.
//!
//! Writes into [`Options::out`] (`pagelab report --out`, default `reports/`):
//!
//! * one Markdown page per criterion group (`put_page.md`, `alloc_free.md`,
//!   `scaling.md`, `offline.md`, ...): time per operation with its 95 %
//!   interval, median, throughput, and the ratios to the group's reference
//!   (bare atomic, 1 thread, memcpy) and to the global-lock baseline;
//! * one SVG plot per group (plotters): put_page variants as bars, alloc_free
//!   throughput as bars, the scaling curves, offline time against the
//!   fraction of the block in use;
//! * `instructions.md` + `instructions.svg`: instructions per operation and
//!   the hooks' deltas, and where the instructions of the alloc+free pair
//!   and of a burst go (per source line and per function, from the
//!   Callgrind profile);
//! * `index.md`: the performance targets, each with its figure from the
//!   results and whether it is met, and links to the pages;
//! * `meta.json`: commit, CPU model, core count, kernel, rustc version, and
//!   the dates of the results.
//!
//! Every number in the output is computed from those files; the only
//! constants here are the targets' thresholds and the descriptions of the
//! groups. Tables show criterion's typical estimate (the slope of the
//! linear regression when the group sampled linearly, the mean otherwise,
//! as criterion's own `time:` line) and the median; throughput, ratios,
//! plots, targets and `--compare` use the median, which the few disturbed
//! samples of a shared 2-vCPU VM do not move.

//! Modules: `criterion` and `gungraun` load results, `groups` describes
//! each criterion group, `pages` and `targets` write the Markdown, `plots`
//! the SVGs, `meta` the run's metadata, `compare` two baselines.
//!
//! Invariants: reading only; nothing is re-run. Lock order: none.

mod compare;
mod criterion;
mod groups;
mod gungraun;
mod meta;
mod pages;
mod plots;
mod targets;
mod time_to_bug;

pub use compare::compare;
pub use time_to_bug::{write_time_to_bug, BugTrials, TimeToBug, Trial};
pub(crate) use criterion::*;
pub(crate) use groups::*;
pub(crate) use gungraun::*;
pub(crate) use meta::*;
pub(crate) use pages::*;
pub(crate) use plots::*;
pub(crate) use targets::*;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Why a report could not be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// Where the results are and where the report goes.
#[derive(Debug, Clone)]
pub struct Options {
    /// criterion's output directory (`target/criterion`).
    pub criterion: PathBuf,
    /// gungraun's output directory (`target/gungraun`).
    pub gungraun: PathBuf,
    /// The directory to write into.
    pub out: PathBuf,
}

/// Write the report; returns a summary (one line per target) to print.
pub fn write_report(o: &Options) -> Result<String, Error> {
    let benches = load_criterion(&o.criterion, "new")?;
    if benches.is_empty() {
        return Err(Error(format!("no criterion results under {} (run `cargo bench -p pagelab-bench` first)", o.criterion.display())));
    }
    let ir = load_gungraun(&o.gungraun)?;
    std::fs::create_dir_all(&o.out).map_err(|e| Error(format!("creating {}: {e}", o.out.display())))?;
    let meta = Meta::collect(&o.criterion, &benches, &ir);

    let mut groups: BTreeMap<String, Vec<Bench>> = BTreeMap::new();
    for b in benches {
        groups.entry(b.group.clone()).or_default().push(b);
    }
    let mut pages = Vec::new();
    for (name, mut cases) in groups {
        let spec = spec_of(&name);
        sort_cases(&spec, &mut cases);
        let md = group_page(&spec, &cases, &meta);
        write(&o.out.join(format!("{name}.md")), &md)?;
        let svg = o.out.join(format!("{name}.svg"));
        plot_group(&spec, &cases, &svg).map_err(|e| Error(format!("plotting {}: {e}", svg.display())))?;
        pages.push((name, spec.title, cases));
    }
    if !ir.is_empty() {
        let md = instructions_page(&ir, &meta);
        write(&o.out.join("instructions.md"), &md)?;
        let svg = o.out.join("instructions.svg");
        plot_ir(&ir, &svg).map_err(|e| Error(format!("plotting {}: {e}", svg.display())))?;
    }
    let all: Vec<&Bench> = pages.iter().flat_map(|(_, _, c)| c.iter()).collect();
    let index = index_page(&pages, &all, &ir, &meta);
    write(&o.out.join("index.md"), &index)?;
    write(&o.out.join("meta.json"), &meta.json())?;
    let mut msg = format!("pagelab report: {} criterion cases in {} groups, {} instruction counts -> {}\n", all.len(), pages.len(), ir.len(), o.out.display());
    for t in targets(&all, &ir) {
        let _ = writeln!(msg, "  [{}] {}: {}", t.verdict.word(), t.what, t.figure);
    }
    Ok(msg)
}

fn write(path: &Path, text: &str) -> Result<(), Error> {
    std::fs::write(path, text).map_err(|e| Error(format!("writing {}: {e}", path.display())))
}
