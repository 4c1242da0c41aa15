//! `meta.json`: commit, CPU, kernel, rustc, and the dates of the results.

use crate::*;
use serde_json::Value;
use std::fmt::Write as _;
use std::path::Path;
use std::time::SystemTime;

pub(crate) struct Meta {
    pub(crate) generated_at: String,
    pub(crate) commit: String,
    pub(crate) dirty: Option<bool>,
    pub(crate) cpu_model: String,
    pub(crate) cores: usize,
    pub(crate) kernel: String,
    pub(crate) rustc: String,
    pub(crate) crit_count: usize,
    pub(crate) crit_oldest: Option<String>,
    pub(crate) crit_newest: Option<String>,
    pub(crate) ir_count: usize,
    pub(crate) ir_started: Option<String>,
    /// `start|end <date> <1, 5, 15-minute load averages>` written by
    /// scripts/bench.sh around the criterion run.
    pub(crate) load: Vec<String>,
}

pub(crate) fn run_cmd(cmd: &str, args: &[&str]) -> Option<String> {
    let o = std::process::Command::new(cmd).args(args).output().ok()?;
    o.status.success().then(|| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

/// UTC date and time of a SystemTime, ISO 8601 (days-from-civil inverse).
pub(crate) fn iso(t: SystemTime) -> String {
    let secs = t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

impl Meta {
    pub(crate) fn collect(crit_dir: &Path, benches: &[Bench], ir: &[IrBench]) -> Meta {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_else(|| "unknown".into());
        let times: Vec<SystemTime> = benches.iter().filter_map(|b| b.mtime).collect();
        let mut starts: Vec<&str> = ir.iter().map(|b| b.started_at.as_str()).filter(|s| !s.is_empty()).collect();
        starts.sort();
        Meta {
            generated_at: iso(SystemTime::now()),
            commit: run_cmd("git", &["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".into()),
            dirty: run_cmd("git", &["status", "--porcelain", "--untracked-files=no"]).map(|s| !s.is_empty()),
            cpu_model,
            cores: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|s| s.trim().to_string()).unwrap_or_default(),
            rustc: run_cmd("rustc", &["--version"]).unwrap_or_else(|| "unknown".into()),
            crit_count: benches.len(),
            crit_oldest: times.iter().min().map(|t| iso(*t)),
            crit_newest: times.iter().max().map(|t| iso(*t)),
            ir_count: ir.len(),
            ir_started: starts.first().map(|s| s.to_string()),
            load: std::fs::read_to_string(crit_dir.join("pagelab-load.txt"))
                .map(|t| t.lines().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect())
                .unwrap_or_default(),
        }
    }

    pub(crate) fn line(&self) -> String {
        let short = self.commit.get(..12).unwrap_or(&self.commit);
        let load = if self.load.is_empty() {
            String::new()
        } else {
            format!(" Load average (1, 5, 15 min) around the criterion run: {}.", self.load.join("; "))
        };
        format!(
            "Commit `{short}`{}, {} ({} cores), {}; criterion results of {}.{load}",
            if self.dirty == Some(true) { " (with uncommitted changes)" } else { "" },
            self.cpu_model,
            self.cores,
            self.rustc,
            self.crit_newest.as_deref().unwrap_or("—")
        )
    }

    pub(crate) fn json(&self) -> String {
        let q = |s: &str| Value::String(s.to_string()).to_string();
        let o = |s: &Option<String>| s.as_deref().map(q).unwrap_or_else(|| "null".into());
        let mut j = String::from("{\n");
        let _ = writeln!(j, "  \"generated_at\": {},", q(&self.generated_at));
        let _ = writeln!(j, "  \"commit\": {},", q(&self.commit));
        let _ = writeln!(j, "  \"commit_dirty\": {},", self.dirty.map(|d| d.to_string()).unwrap_or_else(|| "null".into()));
        let _ = writeln!(j, "  \"cpu_model\": {},", q(&self.cpu_model));
        let _ = writeln!(j, "  \"cores\": {},", self.cores);
        let _ = writeln!(j, "  \"kernel\": {},", q(&self.kernel));
        let _ = writeln!(j, "  \"rustc\": {},", q(&self.rustc));
        let _ = writeln!(j, "  \"criterion_cases\": {},", self.crit_count);
        let _ = writeln!(j, "  \"criterion_results_oldest\": {},", o(&self.crit_oldest));
        let _ = writeln!(j, "  \"criterion_results_newest\": {},", o(&self.crit_newest));
        let _ = writeln!(j, "  \"instruction_counts\": {},", self.ir_count);
        let _ = writeln!(j, "  \"instruction_counts_started_at\": {},", o(&self.ir_started));
        let loads: Vec<String> = self.load.iter().map(|l| q(l)).collect();
        let _ = writeln!(j, "  \"loadavg_around_criterion_run\": [{}]", loads.join(", "));
        j.push_str("}\n");
        j
    }
}
