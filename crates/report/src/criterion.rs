//! criterion's saved results: every `<dir>/**/<which>/{benchmark.json,
//! estimates.json}`, one [`Bench`] per case.

use crate::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// A criterion estimate in ns per iteration, with its confidence interval.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Est {
    pub(crate) point: f64,
    pub(crate) lo: f64,
    pub(crate) hi: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Tp {
    Elements(u64),
    Bytes(u64),
}

/// One criterion case.
#[derive(Debug, Clone)]
pub(crate) struct Bench {
    pub(crate) group: String,
    pub(crate) function: String,
    pub(crate) value: Option<String>,
    pub(crate) full_id: String,
    pub(crate) throughput: Option<Tp>,
    /// Slope (linear sampling) or mean (flat), ns per iteration.
    pub(crate) typical: Est,
    pub(crate) median: Est,
    pub(crate) mtime: Option<SystemTime>,
}

impl Bench {
    /// The id inside its group: `function` or `function/value`.
    pub(crate) fn case(&self) -> String {
        match &self.value {
            Some(v) => format!("{}/{v}", self.function),
            None => self.function.clone(),
        }
    }
    /// Operations per second (throughput elements, or bytes, per second),
    /// from the median.
    pub(crate) fn per_sec(&self) -> Option<f64> {
        let n = match self.throughput? {
            Tp::Elements(n) | Tp::Bytes(n) => n as f64,
        };
        Some(n / self.median.point * 1e9)
    }
}

pub(crate) fn est(v: &Value, key: &str) -> Option<Est> {
    let e = v.get(key)?;
    if e.is_null() {
        return None;
    }
    let ci = e.get("confidence_interval")?;
    Some(Est {
        point: e.get("point_estimate")?.as_f64()?,
        lo: ci.get("lower_bound")?.as_f64()?,
        hi: ci.get("upper_bound")?.as_f64()?,
    })
}

pub(crate) fn read_json(path: &Path) -> Result<Value, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error(format!("reading {}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| Error(format!("parsing {}: {e}", path.display())))
}

/// Every directory under `root` (depth-first, sorted) named `leaf`.
pub(crate) fn find_dirs(root: &Path, leaf: &str, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(root) else { return };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_dir()).collect();
    entries.sort();
    for p in entries {
        if p.file_name().is_some_and(|n| n == leaf) {
            out.push(p);
        } else {
            find_dirs(&p, leaf, out);
        }
    }
}

/// The cases saved under baseline name `which` ("new" = the latest run).
pub(crate) fn load_criterion(dir: &Path, which: &str) -> Result<Vec<Bench>, Error> {
    let mut dirs = Vec::new();
    find_dirs(dir, which, &mut dirs);
    let mut out = Vec::new();
    for d in dirs {
        let (bj, ej) = (d.join("benchmark.json"), d.join("estimates.json"));
        if !bj.is_file() || !ej.is_file() {
            continue;
        }
        let b = read_json(&bj)?;
        let e = read_json(&ej)?;
        let s = |k: &str| b.get(k).and_then(|v| v.as_str()).map(str::to_string);
        let (Some(group), Some(full_id)) = (s("group_id"), s("full_id")) else { continue };
        let function = s("function_id").unwrap_or_else(|| full_id.clone());
        let throughput = b.get("throughput").and_then(|t| {
            let n = |k: &str| t.get(k).and_then(|v| v.as_u64());
            n("Elements").map(Tp::Elements).or_else(|| n("Bytes").or_else(|| n("BytesDecimal")).map(Tp::Bytes))
        });
        let Some(mean) = est(&e, "mean") else { continue };
        let typical = est(&e, "slope").unwrap_or(mean);
        let median = est(&e, "median").unwrap_or(mean);
        let mtime = std::fs::metadata(&ej).and_then(|m| m.modified()).ok();
        out.push(Bench { group, function, value: s("value_str"), full_id, throughput, typical, median, mtime });
    }
    Ok(out)
}
