//! `pagelab report`: the benchmark report (the `report` crate) from the
//! saved criterion and gungraun results.

use crate::out::emit;
use crate::Failure;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub(crate) struct ReportArgs {
    /// criterion's output directory [default: $CARGO_TARGET_DIR/criterion or target/criterion].
    #[arg(long, value_name = "DIR")]
    criterion: Option<PathBuf>,
    /// gungraun's output directory [default: $CARGO_TARGET_DIR/gungraun or target/gungraun].
    #[arg(long, value_name = "DIR")]
    gungraun: Option<PathBuf>,
    /// Directory to write the report into.
    #[arg(long, value_name = "DIR", default_value = "reports")]
    out: PathBuf,
    /// Compare two saved criterion baselines (`cargo bench -- --save-baseline A`)
    /// side by side instead: prints the table and writes compare-A-B.md.
    #[arg(long, num_args = 2, value_names = ["A", "B"])]
    compare: Option<Vec<String>>,
}

pub(crate) fn run(a: &ReportArgs) -> Result<(), Failure> {
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("target"));
    let criterion = a.criterion.clone().unwrap_or_else(|| target.join("criterion"));
    let gungraun = a.gungraun.clone().unwrap_or_else(|| target.join("gungraun"));
    let text = match &a.compare {
        Some(ab) => report::compare(&criterion, &a.out, &ab[0], &ab[1]),
        None => report::write_report(&report::Options { criterion, gungraun, out: a.out.clone() }),
    }
    .map_err(|e| Failure::run(e.0))?;
    emit(&text)
}
