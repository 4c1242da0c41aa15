//! Two saved criterion baselines side by side (`--compare A B`).

use crate::*;
use std::fmt::Write as _;
use std::path::Path;

/// Compare baselines `a` and `b` saved under `crit_dir`; writes
/// `compare-<a>-<b>.md` into `out` and returns the table to print.
pub fn compare(crit_dir: &Path, out: &Path, a: &str, b: &str) -> Result<String, Error> {
    let xa = load_criterion(crit_dir, a)?;
    let xb = load_criterion(crit_dir, b)?;
    if xa.is_empty() || xb.is_empty() {
        let missing = if xa.is_empty() { a } else { b };
        return Err(Error(format!(
            "no criterion baseline named {missing:?} under {} (save one with `cargo bench -p pagelab-bench -- --save-baseline {missing}`)",
            crit_dir.display()
        )));
    }
    let mut s = String::new();
    let _ = writeln!(s, "# criterion baselines: {a} vs {b}\n");
    let _ = writeln!(
        s,
        "Time per iteration (criterion's median estimate) of each case saved in both baselines; change = \
         ({b} − {a}) / {a}. \"faster\"/\"slower\" when the 95 % intervals do not overlap, \"~\" otherwise.\n"
    );
    let _ = writeln!(s, "| case | {a} | {b} | change | |\n|---|---|---|---|---|");
    let mut rows = 0;
    let mut only = Vec::new();
    for x in &xa {
        let Some(y) = xb.iter().find(|y| y.full_id == x.full_id) else {
            only.push(format!("{} (only in {a})", x.full_id));
            continue;
        };
        let change = 100.0 * (y.median.point / x.median.point - 1.0);
        let verdict = if y.median.lo > x.median.hi {
            "slower"
        } else if y.median.hi < x.median.lo {
            "faster"
        } else {
            "~"
        };
        let _ = writeln!(s, "| `{}` | {} | {} | {change:+.1} % | {verdict} |", x.full_id, fmt_ns(x.median.point), fmt_ns(y.median.point));
        rows += 1;
    }
    for y in &xb {
        if !xa.iter().any(|x| x.full_id == y.full_id) {
            only.push(format!("{} (only in {b})", y.full_id));
        }
    }
    if !only.is_empty() {
        let _ = writeln!(s, "\nNot compared: {}.", only.join(", "));
    }
    if rows == 0 {
        return Err(Error(format!("baselines {a:?} and {b:?} have no case in common")));
    }
    std::fs::create_dir_all(out).map_err(|e| Error(format!("creating {}: {e}", out.display())))?;
    let safe = |n: &str| n.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect::<String>();
    write(&out.join(format!("compare-{}-{}.md", safe(a), safe(b))), &s)?;
    Ok(s)
}
