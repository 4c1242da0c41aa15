//! Where the repository is, and the shuttle build of this binary: the
//! commands that need races (`bugs --check`, `replay` of concurrent
//! scenarios, `fuzz --stable --target conc`) hand them to
//! `cargo run --features shuttle` from the source tree this binary was
//! built from, in its own target directory (`target/shuttle`), so that
//! the two builds never overwrite each other.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The repository root (the workspace this binary was built in).
pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The cargo that built this binary (or the one on PATH).
pub(crate) fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_string())
}

/// `cargo run --release --features shuttle -- <args>` of this binary, its
/// stderr passed through.
pub(crate) fn shuttle_build(why: &str) -> Command {
    eprintln!("pagelab: {why} in the shuttle build (cargo run --features shuttle)...");
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let target = repo_root().join("target/shuttle");
    let mut cmd = Command::new(cargo());
    cmd.args(["run", "--release", "-q", "--manifest-path", manifest, "--target-dir"])
        .arg(target)
        .args(["-p", "pagelab", "--features", "shuttle", "--"])
        .stderr(Stdio::inherit());
    cmd
}
