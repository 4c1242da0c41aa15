//! `pagelab bugs`: the registry of historical bugs, and `--check`, which
//! runs every reproducer with the bug on and with the landed design.
//!
//! Race reproducers run under shuttle, which needs the crate built with
//! `--features shuttle`. A default-build binary hands those to a shuttle
//! build of itself (`cargo run --features shuttle -- bugs --check
//! --verdict-lines`, from the source tree it was built from) and merges the
//! verdicts, so one command checks everything.

use crate::out::{emit, JsonObject};
use crate::Failure;
use fuzzing::bugs::{check_bug, registry, Bug, Verdict};
use mm::violation::Violation;

#[derive(clap::Args, Debug)]
pub(crate) struct BugsArgs {
    /// Run each reproducer with the bug on and off and print a verdict.
    #[arg(long)]
    check: bool,
    /// Machine-readable output (a JSON array).
    #[arg(long)]
    json: bool,
    /// Only these bug ids (comma separated).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Internal: one tab-separated verdict per line (used between builds).
    #[arg(long, hide = true)]
    verdict_lines: bool,
}

/// A verdict as printed: reproduced, fixed clean, and what each run said.
struct Row {
    reproduced: bool,
    fixed_clean: bool,
    buggy: String,
    fixed: String,
}

fn summary(r: &Result<Vec<Violation>, String>) -> String {
    match r {
        Err(m) => format!("error: {m}"),
        Ok(v) if v.is_empty() => "clean".into(),
        Ok(v) => {
            let mut ids: Vec<(&str, usize)> = Vec::new();
            for x in v {
                match ids.iter_mut().find(|(i, _)| *i == x.id) {
                    Some((_, n)) => *n += 1,
                    None => ids.push((x.id, 1)),
                }
            }
            let first = v.first().map(|x| x.to_string()).unwrap_or_default();
            let ids: Vec<String> = ids.iter().map(|(i, n)| format!("{i}x{n}")).collect();
            format!("{} (first: {first})", ids.join(" "))
        }
    }
}

fn row(v: &Verdict) -> Row {
    Row { reproduced: v.reproduced(), fixed_clean: v.fixed_clean(), buggy: summary(&v.buggy), fixed: summary(&v.fixed) }
}

fn clean_field(s: &str) -> String {
    s.replace(['\t', '\n'], " ")
}

/// Ask a shuttle build of this program for the race verdicts.
fn races_from_shuttle_build(ids: &[&str]) -> Result<Vec<(String, Row)>, Failure> {
    let out = crate::builds::shuttle_build(&format!("running {} race reproducer(s)", ids.len()))
        .args(["bugs", "--check", "--verdict-lines", "--only", &ids.join(",")])
        .output()
        .map_err(|e| Failure::run(format!("could not start the shuttle build through cargo: {e}")))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut rows = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() == 6 && f[0] == "VERDICT" {
            rows.push((
                f[1].to_string(),
                Row { reproduced: f[2] == "1", fixed_clean: f[3] == "1", buggy: f[4].into(), fixed: f[5].into() },
            ));
        }
    }
    if rows.len() != ids.len() {
        return Err(Failure::run(format!(
            "the shuttle build returned {} verdicts for {} race reproducers (exit {:?})",
            rows.len(),
            ids.len(),
            out.status.code()
        )));
    }
    Ok(rows)
}

pub(crate) fn run(a: &BugsArgs) -> Result<(), Failure> {
    let bugs: Vec<&'static Bug> = if a.only.is_empty() {
        registry().iter().collect()
    } else {
        let mut v = Vec::new();
        for id in &a.only {
            v.push(fuzzing::bugs::find(id).ok_or_else(|| Failure::usage(format!("no bug with id {id:?}")))?);
        }
        v
    };
    let mut rows: Vec<Option<Row>> = bugs.iter().map(|_| None).collect();
    if a.check {
        let shuttle = cfg!(feature = "shuttle");
        let mut race_ids = Vec::new();
        for (i, b) in bugs.iter().enumerate() {
            if b.is_race() && !shuttle {
                race_ids.push(b.id);
            } else {
                if !a.verdict_lines {
                    eprintln!("pagelab: {} ...", b.id);
                }
                rows[i] = Some(row(&check_bug(b)));
            }
        }
        if !race_ids.is_empty() {
            for (id, r) in races_from_shuttle_build(&race_ids)? {
                if let Some(i) = bugs.iter().position(|b| b.id == id) {
                    rows[i] = Some(r);
                }
            }
        }
    }
    if a.verdict_lines {
        let mut s = String::new();
        for (b, r) in bugs.iter().zip(&rows) {
            if let Some(r) = r {
                s.push_str(&format!(
                    "VERDICT\t{}\t{}\t{}\t{}\t{}\n",
                    b.id,
                    r.reproduced as u8,
                    r.fixed_clean as u8,
                    clean_field(&r.buggy),
                    clean_field(&r.fixed)
                ));
            }
        }
        return emit(&s);
    }
    let text = if a.json {
        let objs: Vec<String> = bugs
            .iter()
            .zip(&rows)
            .map(|(b, r)| {
                let mut o = JsonObject::new();
                o.str("id", b.id)
                    .str("title", b.title)
                    .str("fix_commit", b.fix_commit)
                    .str("invariant", b.invariant)
                    .str("mechanism", b.mechanism)
                    .str("source", b.source)
                    .str("variant", b.variant)
                    .str("kind", if b.is_race() { "race" } else { "sequential" });
                if let Some(r) = r {
                    o.str("verdict", if r.reproduced && r.fixed_clean { "pass" } else { "fail" })
                        .str("buggy", &r.buggy)
                        .str("fixed", &r.fixed);
                }
                o.finish().trim_end().to_string()
            })
            .collect();
        format!("[{}]\n", objs.join(",\n"))
    } else {
        let mut s = format!(
            "{:<5} {:<22} {:<9} {:<13} {:<24} {}\n",
            "id", "source", "invariant", "fix", "variant", if a.check { "verdict" } else { "title" }
        );
        for (b, r) in bugs.iter().zip(&rows) {
            let last = match r {
                None => b.title.to_string(),
                Some(r) => format!(
                    "{}  (bug on: {}; landed: {})",
                    if r.reproduced && r.fixed_clean { "PASS" } else { "FAIL" },
                    r.buggy,
                    r.fixed
                ),
            };
            s.push_str(&format!(
                "{:<5} {:<22} {:<9} {:<13} {:<24} {}\n",
                b.id, b.source, b.invariant, b.fix_commit, b.variant, last
            ));
        }
        if a.check {
            let pass = rows.iter().flatten().filter(|r| r.reproduced && r.fixed_clean).count();
            s.push_str(&format!("\n{pass} of {} bugs reproduced with the bug on and clean with it off\n", rows.len()));
        }
        s
    };
    emit(&text)?;
    if a.check && rows.iter().flatten().any(|r| !(r.reproduced && r.fixed_clean)) {
        return Err(Failure::run(String::new()));
    }
    Ok(())
}
