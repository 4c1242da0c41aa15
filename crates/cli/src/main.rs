//! `pagelab`: the command-line front end of the model.
//!
//! * `pagelab info`: geometry and sizes, plus a measured boot of a machine
//!   (boot time, resident memory the memmap really costs);
//! * `pagelab stress`: real threads hammering the allocator's fast paths,
//!   then the invariant checker and a page-accounting audit;
//! * `pagelab bugs [--check] [--json]`: the registry of historical bugs and
//!   their reproducers' verdicts.
//! * `pagelab replay FILE...`, `pagelab fmt FILE`: run scenarios and raw
//!   fuzz inputs with a verdict each, or print an input as a scenario;
//! * `pagelab explore FILE`: search a concurrent scenario's interleavings
//!   (context bounding or PCT) and save what it finds;
//! * `pagelab fuzz`: fuzz campaigns over `fuzz/` (cargo +nightly fuzz), or
//!   the harness on random inputs on stable.
//!
//! Exit status: 0 success (a clean run), 1 the run found a problem
//! (a violation, an unaccounted page, an error from the model), 2 bad usage
//! (unknown flag, bad size), 101 an internal error. Every error is one
//! `pagelab: <message>` line on stderr; a panic is reported the same way
//! (`pagelab: internal error: ...`, exit 101), without a backtrace.
//!
//! Argument parsing and printing only: the work is done by the `mm`,
//! `fuzzing` and `report` crates.

mod bugs;
mod builds;
mod explore;
mod fuzz;
mod info;
mod out;
mod replay;
mod report;
mod size;
mod stress;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Exit status of a run that found a problem.
pub(crate) const EXIT_FAILURE: u8 = 1;
/// Exit status of bad usage (clap uses 2 as well).
pub(crate) const EXIT_USAGE: u8 = 2;

/// A lab bench for the Linux page allocator's fast paths and memory-offlining paths.
#[derive(Parser, Debug)]
#[command(
    name = "pagelab",
    version,
    arg_required_else_help = true,
    after_help = "SIZE is a byte count with an optional binary suffix K, M, G or T (1G = 1024M), \
                  a positive multiple of the 128M memory section.\n\n\
                  Exit status: 0 clean run, 1 a violation, an unaccounted page or an error \
                  from the model, 2 bad usage, 101 an internal error (a panic, reported in one line)."
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Print the geometry (page, section, pageblock, pcp) and boot a machine
    /// to measure its boot time and resident memory.
    Info(info::InfoArgs),
    /// Run threads that allocate, free, take speculative references and
    /// drain for a while; then run the invariant checker and audit every page.
    Stress(stress::StressArgs),
    /// List the registry of historical bugs; with --check, run every
    /// reproducer with the bug on and with the landed design.
    Bugs(bugs::BugsArgs),
    /// Turn the saved benchmark results (criterion, gungraun) into reports/:
    /// Markdown tables with ratios, SVG plots, meta.json; or compare two
    /// saved criterion baselines.
    Report(report::ReportArgs),
    /// Run scenarios (*.ops) and raw fuzz inputs: PASS/FAIL per file, the
    /// op trace with each op's result, the violation and the pages involved.
    Replay(replay::ReplayArgs),
    /// Print any input (scenario or raw fuzz input) as a scenario.
    Fmt(replay::FmtArgs),
    /// Search a concurrent scenario's interleavings for a violation (every
    /// schedule with at most K preemptions, or PCT), ignoring its schedule;
    /// save each finding as a scenario.
    Explore(explore::ExploreArgs),
    /// Fuzz campaigns (cargo +nightly fuzz): progress, time limit per target,
    /// minimized findings saved as scenarios; --bug ID measures time to detection.
    Fuzz(fuzz::FuzzArgs),
}

/// What a subcommand ended with, when it did not succeed cleanly.
#[derive(Debug)]
pub(crate) struct Failure {
    /// Printed as `pagelab: <msg>` (nothing if empty: the report said it).
    pub(crate) msg: String,
    pub(crate) code: u8,
}

impl Failure {
    pub(crate) fn usage(msg: impl Into<String>) -> Failure {
        Failure { msg: msg.into(), code: EXIT_USAGE }
    }
    pub(crate) fn run(msg: impl Into<String>) -> Failure {
        Failure { msg: msg.into(), code: EXIT_FAILURE }
    }
}

impl From<mm::Error> for Failure {
    fn from(e: mm::Error) -> Failure {
        match e {
            mm::Error::BadConfig(_) => Failure::usage(e.to_string()),
            _ => Failure::run(e.to_string()),
        }
    }
}

fn main() -> ExitCode {
    // A panic is a bug in the model or the CLI: say so in one line, no backtrace.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("pagelab: internal error: {info}");
        std::process::exit(101);
    }));

    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            return match e.kind() {
                ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    let _ = e.print();
                    ExitCode::from(e.exit_code().clamp(0, 255) as u8)
                }
                _ => {
                    let text = e.render().to_string();
                    let text = text.strip_prefix("error: ").unwrap_or(&text);
                    eprint!("pagelab: {text}");
                    ExitCode::from(EXIT_USAGE)
                }
            };
        }
    };

    if cfg!(feature = "shuttle") && !matches!(cli.cmd, Cmd::Bugs(_) | Cmd::Report(_) | Cmd::Replay(_) | Cmd::Fmt(_) | Cmd::Fuzz(_) | Cmd::Explore(_)) {
        eprintln!(
            "pagelab: this binary was built with the `shuttle` feature, whose primitives only run inside \
             shuttle tests; build it without that feature"
        );
        return ExitCode::from(EXIT_USAGE);
    }

    let res = match cli.cmd {
        Cmd::Info(a) => info::run(&a),
        Cmd::Stress(a) => stress::run(&a),
        Cmd::Bugs(a) => bugs::run(&a),
        Cmd::Report(a) => report::run(&a),
        Cmd::Replay(a) => replay::run(&a),
        Cmd::Fmt(a) => replay::fmt(&a),
        Cmd::Fuzz(a) => fuzz::run(&a),
        Cmd::Explore(a) => explore::run(&a),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if !f.msg.is_empty() {
                eprintln!("pagelab: {}", f.msg);
            }
            ExitCode::from(f.code)
        }
    }
}
