//! gungraun's instruction counts (`summary.json`) and the Callgrind
//! profiles next to them: the instructions page.

use crate::*;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One gungraun benchmark's instruction count.
#[derive(Debug, Clone)]
pub(crate) struct IrBench {
    pub(crate) function: String,
    /// Operations in the measured run (from the `ops_<N>` id).
    pub(crate) ops: u64,
    pub(crate) ir: u64,
    pub(crate) started_at: String,
    /// The Callgrind output next to the summary, if any.
    pub(crate) out_file: Option<PathBuf>,
}

impl IrBench {
    pub(crate) fn per_op(&self) -> f64 {
        self.ir as f64 / self.ops.max(1) as f64
    }
}

pub(crate) fn load_gungraun(dir: &Path) -> Result<Vec<IrBench>, Error> {
    let mut files = Vec::new();
    find_files(dir, "summary.json", &mut files);
    let mut out = Vec::new();
    for f in files {
        let v = read_json(&f)?;
        let s = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
        let function = s("function_name");
        let id = s("id");
        let Some(profile) = v
            .get("profiles")
            .and_then(|p| p.as_array())
            .and_then(|a| a.iter().find(|p| p.get("tool").and_then(|t| t.as_str()) == Some("Callgrind")))
        else {
            continue;
        };
        let Some(ir) = profile.pointer("/data/total/metrics/Ir/values/new").and_then(|x| x.as_u64()) else { continue };
        let ops = id.strip_prefix("ops_").and_then(|n| n.parse().ok()).unwrap_or(1);
        let out_file = f.parent().and_then(|d| {
            let rd = std::fs::read_dir(d).ok()?;
            let mut outs: Vec<PathBuf> = rd
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("callgrind.") && n.ends_with(".out")))
                .collect();
            outs.sort();
            outs.into_iter().next()
        });
        out.push(IrBench { function, ops, ir, started_at: s("started_at"), out_file });
    }
    out.sort_by_key(|b| ir_order(&b.function));
    Ok(out)
}

pub(crate) fn ir_order(f: &str) -> (usize, usize, String) {
    const ORDER: [&str; 7] = ["bare_atomic", "nonfinal_put", "final_put_", "pair_", "burst_", "global_lock_pair", "global_lock_burst"];
    let pos = ORDER.iter().position(|o| f == *o || (o.ends_with('_') && f.starts_with(o))).unwrap_or(ORDER.len());
    let design = DESIGNS.iter().position(|d| f.ends_with(d)).unwrap_or(DESIGNS.len());
    (pos, design, f.to_string())
}

pub(crate) fn find_files(root: &Path, name: &str, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(root) else { return };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            find_files(&p, name, out);
        } else if p.file_name().is_some_and(|n| n == name) {
            out.push(p);
        }
    }
}

pub(crate) fn ir_get<'a>(ir: &'a [IrBench], f: &str) -> Option<&'a IrBench> {
    ir.iter().find(|b| b.function == f)
}

/// A Callgrind profile: self instructions per (file, line) and inclusive
/// instructions per function.
#[derive(Default)]
pub(crate) struct Profile {
    pub(crate) total: u64,
    pub(crate) lines: BTreeMap<(String, u64), u64>,
    pub(crate) fn_self: BTreeMap<String, u64>,
    pub(crate) fn_calls: BTreeMap<String, u64>,
}

/// Parse the uncompressed or compressed Callgrind format (positions: line;
/// the first event is Ir).
pub(crate) fn parse_callgrind(path: &Path) -> Option<Profile> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut p = Profile::default();
    let mut names: BTreeMap<(char, String), String> = BTreeMap::new();
    // Resolve "(id) name" / "(id)" compression.
    let mut resolve = |kind: char, raw: &str| -> String {
        let raw = raw.trim();
        if let Some(rest) = raw.strip_prefix('(') {
            if let Some((id, name)) = rest.split_once(')') {
                let name = name.trim();
                if name.is_empty() {
                    return names.get(&(kind, id.to_string())).cloned().unwrap_or_default();
                }
                names.insert((kind, id.to_string()), name.to_string());
                return name.to_string();
            }
        }
        raw.to_string()
    };
    let (mut fl, mut fi, mut func) = (String::new(), None::<String>, String::new());
    let mut after_calls = false;
    let mut last_line: u64 = 0;
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            continue;
        }
        let first = line.as_bytes()[0];
        if first.is_ascii_digit() || first == b'+' || first == b'-' || first == b'*' {
            let mut it = line.split_whitespace();
            let pos = it.next().unwrap_or("0");
            let ln = match pos.as_bytes()[0] {
                b'+' => last_line + pos[1..].parse::<u64>().unwrap_or(0),
                b'-' => last_line.saturating_sub(pos[1..].parse::<u64>().unwrap_or(0)),
                b'*' => last_line,
                _ => pos.parse().unwrap_or(0),
            };
            last_line = ln;
            let ir: u64 = it.next().and_then(|x| x.parse().ok()).unwrap_or(0);
            if after_calls {
                *p.fn_calls.entry(func.clone()).or_default() += ir;
                after_calls = false;
            } else {
                let file = fi.clone().unwrap_or_else(|| fl.clone());
                *p.lines.entry((file, ln)).or_default() += ir;
                *p.fn_self.entry(func.clone()).or_default() += ir;
                p.total += ir;
            }
            continue;
        }
        let Some((key, val)) = line.split_once('=') else { continue };
        match key {
            "fl" => {
                fl = resolve('f', val);
                fi = None;
            }
            "fi" | "fe" => fi = Some(resolve('f', val)),
            "fn" => {
                func = resolve('n', val);
                fi = None;
            }
            "cfi" | "cfl" => {
                resolve('f', val);
            }
            "cfn" => {
                resolve('n', val);
            }
            "calls" => after_calls = true,
            _ => {}
        }
    }
    Some(p)
}

/// `path` relative to the project, and the text of its line `ln` if the
/// file is readable.
pub(crate) fn source_line(file: &str, ln: u64) -> (String, String) {
    // The standard library (rustc's source paths) first: its `core/src/`
    // is not pagelab's.
    let short = match file.find("/library/") {
        Some(i) if file.starts_with("/rustc/") => format!("std: {}", &file[i + 1..]),
        _ => file
            .find("/core/src/")
            .or_else(|| file.find("/bench/"))
            .map(|i| file[i + 1..].to_string())
            .unwrap_or_else(|| file.to_string()),
    };
    let text = std::fs::read_to_string(file)
        .ok()
        .and_then(|t| t.lines().nth(ln.saturating_sub(1) as usize).map(|l| l.trim().to_string()))
        .unwrap_or_default();
    (short, text)
}

pub(crate) fn profile_tables(s: &mut String, b: &IrBench, top: usize) {
    let Some(p) = b.out_file.as_deref().and_then(parse_callgrind) else { return };
    if p.total == 0 {
        return;
    }
    let ops = b.ops.max(1) as f64;
    let _ = writeln!(s, "\n#### Where the instructions of `{}` go\n", b.function);
    let _ = writeln!(
        s,
        "From `{}`: {} instructions in all, {:.1} per operation.\n",
        b.out_file.as_deref().map(|f| f.display().to_string()).unwrap_or_default(),
        p.total,
        p.total as f64 / ops
    );
    // Per source file (the hot path is inlined into one function, so files
    // and lines say more than functions).
    let mut files: BTreeMap<String, u64> = BTreeMap::new();
    for ((f, _), ir) in &p.lines {
        *files.entry(source_line(f, 0).0).or_default() += ir;
    }
    let mut files: Vec<_> = files.into_iter().filter(|(_, ir)| *ir as f64 / ops >= 0.05).collect();
    files.sort_by_key(|f| std::cmp::Reverse(f.1));
    let _ = writeln!(s, "| source file (inlined code included) | Ir per op | share |\n|---|---|---|");
    for (f, ir) in &files {
        let _ = writeln!(s, "| `{f}` | {:.1} | {:.1} % |", *ir as f64 / ops, 100.0 * *ir as f64 / p.total as f64);
    }
    let mut lines: Vec<_> = p.lines.iter().filter(|(_, ir)| **ir as f64 / ops >= 0.5).collect();
    lines.sort_by_key(|l| std::cmp::Reverse(*l.1));
    let _ = writeln!(s, "\nTop source lines (self instructions per operation):\n");
    let _ = writeln!(s, "| Ir per op | where | code |\n|---|---|---|");
    for ((f, ln), ir) in lines.into_iter().take(top) {
        let (short, text) = source_line(f, *ln);
        let text = text.replace('|', "\\|");
        let code = if text.is_empty() { String::new() } else { format!("`{text}`") };
        let _ = writeln!(s, "| {:.1} | `{short}:{ln}` | {code} |", *ir as f64 / ops);
    }
    let _ = writeln!(
        s,
        "\n`std:` lines are standard-library code inlined into the model: atomic loads, stores and \
         read-modify-writes of descriptor and pcp fields (`sync/atomic.rs`), slice bounds checks \
         (`slice/index.rs`) and the like; the model's lines that call them are in the same table."
    );
    // Functions with their own frames (not inlined): inclusive costs.
    let mut incl: Vec<(String, u64)> = p
        .fn_self
        .iter()
        .map(|(f, sf)| (f.clone(), sf + p.fn_calls.get(f).copied().unwrap_or(0)))
        .filter(|(f, ir)| f.contains("pagelab") && *ir as f64 / ops >= 0.5)
        .collect();
    incl.sort_by_key(|f| std::cmp::Reverse(f.1));
    if incl.len() > 1 {
        let _ = writeln!(s, "\nFunctions with a frame of their own (inclusive instructions per operation):\n");
        let _ = writeln!(s, "| Ir per op | share | function |\n|---|---|---|");
        for (f, ir) in incl.into_iter().take(top) {
            let _ = writeln!(s, "| {:.1} | {:.1} % | `{}` |", ir as f64 / ops, 100.0 * ir as f64 / p.total as f64, f.replace('|', "\\|"));
        }
    }
}

pub(crate) fn instructions_page(ir: &[IrBench], meta: &Meta) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Instructions per operation (Callgrind, gungraun)\n");
    let _ = writeln!(s, "{}\n", meta.line());
    let _ = writeln!(
        s,
        "Each benchmark of `bench/benches/ir.rs` runs its operation N times (`ops_N`) under Valgrind's \
         Callgrind after an untimed setup; the count is exact and repeats run to run, so hook deltas of a \
         few instructions show up where wall time cannot see them. The reference is `bare_atomic` (one \
         `fetch_sub` on a stand-in descriptor, loop included); deltas are against the same operation with \
         the `no_hwpoison_check` design (no hook) and with `landed`. Read from \
         `target/gungraun/**/summary.json`.\n"
    );
    let _ = writeln!(s, "![instructions](instructions.svg)\n");
    let bare = ir_get(ir, "bare_atomic").map(IrBench::per_op);
    let _ = writeln!(s, "| benchmark | N | Ir | Ir per op | ÷ bare atomic | Δ vs no hook | Δ vs landed |\n|---|---|---|---|---|---|---|");
    for b in ir {
        let delta = |design: &str| -> String {
            let stem = b.function.rsplit_once('_').map(|_| ()).and_then(|_| {
                DESIGNS.iter().find(|d| b.function.ends_with(*d)).map(|d| b.function[..b.function.len() - d.len()].to_string())
            });
            match stem.and_then(|st| ir_get(ir, &format!("{st}{design}"))) {
                Some(o) if o.function != b.function => format!("{:+.1}", b.per_op() - o.per_op()),
                _ => "—".into(),
            }
        };
        let _ = writeln!(
            s,
            "| `{}` | {} | {} | {:.1} | {} | {} | {} |",
            b.function,
            b.ops,
            b.ir,
            b.per_op(),
            fmt_x(bare.map(|r| b.per_op() / r)),
            delta("no_hwpoison_check"),
            delta("landed")
        );
    }
    if let Some(b) = ir_get(ir, "pair_landed") {
        profile_tables(&mut s, b, 15);
    }
    if let Some(b) = ir_get(ir, "burst_4096_landed") {
        profile_tables(&mut s, b, 12);
    }
    s
}
