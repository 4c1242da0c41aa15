//! Time to bug over trials (Magma's method: Hazimeh, Herrera, Payer,
//! SIGMETRICS 2021): per bug, N independent campaigns of S seconds; the
//! trials that found it, the median time to detection (undefined when at
//! most half found it), the restricted mean time (the mean of min(T, S),
//! a trial that did not find it counting S), and the median executions to
//! detection. Written as `time-to-bug.md`, `time-to-bug.json` and
//! `time-to-bug.svg` (the survival curves: the share of trials that had
//! not yet found the bug, over time). A measurement of all bugs is long:
//! it can be made in parts — the bugs of an earlier `time-to-bug.json` in
//! the same directory, measured with the same seconds and engine, are kept
//! (a bug measured again is replaced), and the commands of every part are
//! listed.
//!
//! Invariants: figures come only from the trials passed in. Lock order: none.

use crate::{Error, PALETTE};
use plotters::prelude::*;
use std::fmt::Write as _;
use std::path::Path;

/// One campaign.
#[derive(Debug, Clone, PartialEq)]
pub struct Trial {
    /// Seconds to the detection, if it detected the bug.
    pub found_at: Option<f64>,
    /// Executions up to the detection (or in the whole campaign).
    pub execs: u64,
    /// A finding that was not the bug (it ended the campaign early), if any.
    pub other: Option<String>,
}

/// The trials of one bug.
#[derive(Debug, Clone, PartialEq)]
pub struct BugTrials {
    pub id: String,
    pub target: String,
    pub trials: Vec<Trial>,
}

/// A time-to-bug measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeToBug {
    /// Seconds per campaign.
    pub secs: f64,
    /// "libFuzzer" or "stable mode (random inputs)".
    pub engine: String,
    pub bugs: Vec<BugTrials>,
}

impl BugTrials {
    fn found(&self) -> usize {
        self.trials.iter().filter(|t| t.found_at.is_some()).count()
    }

    /// The median time to detection; None when at most half the trials found it.
    pub fn median(&self) -> Option<f64> {
        let mut t: Vec<f64> = self.trials.iter().map(|t| t.found_at.unwrap_or(f64::INFINITY)).collect();
        t.sort_by(f64::total_cmp);
        let m = if t.is_empty() {
            f64::INFINITY
        } else if t.len() % 2 == 1 {
            t[t.len() / 2]
        } else {
            (t[t.len() / 2 - 1] + t[t.len() / 2]) / 2.0
        };
        m.is_finite().then_some(m)
    }

    /// The restricted mean time to detection (bounded by `secs`).
    pub fn restricted_mean(&self, secs: f64) -> f64 {
        self.trials.iter().map(|t| t.found_at.unwrap_or(secs).min(secs)).sum::<f64>() / self.trials.len().max(1) as f64
    }

    fn median_execs(&self) -> Option<u64> {
        let mut e: Vec<u64> = self.trials.iter().filter(|t| t.found_at.is_some()).map(|t| t.execs).collect();
        e.sort_unstable();
        e.get(e.len() / 2).copied()
    }
}

/// The parts of an earlier measurement in `out` that `m` continues: its
/// commands and the bugs `m` does not measure again.
fn earlier(out: &Path, m: &TimeToBug) -> (Vec<String>, Vec<BugTrials>) {
    let Ok(text) = std::fs::read_to_string(out.join("time-to-bug.json")) else { return (Vec::new(), Vec::new()) };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else { return (Vec::new(), Vec::new()) };
    if v["secs"].as_f64() != Some(m.secs) || v["engine"].as_str() != Some(m.engine.as_str()) {
        return (Vec::new(), Vec::new());
    }
    // `command`: a file of the first version, one part only.
    let commands = match (v["commands"].as_array(), v["command"].as_str()) {
        (Some(a), _) => a.iter().filter_map(|c| c.as_str().map(String::from)).collect(),
        (None, Some(c)) => vec![c.to_string()],
        (None, None) => Vec::new(),
    };
    let bugs = v["bugs"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|b| {
                    let id = b["id"].as_str()?.to_string();
                    let trials = b["trials"]
                        .as_array()?
                        .iter()
                        .map(|t| Trial { found_at: t["found_at"].as_f64(), execs: t["execs"].as_u64().unwrap_or(0), other: t["other"].as_str().map(String::from) })
                        .collect();
                    Some(BugTrials { id, target: b["target"].as_str().unwrap_or("").to_string(), trials })
                })
                .filter(|b| !m.bugs.iter().any(|n| n.id == b.id))
                .collect()
        })
        .unwrap_or_default();
    (commands, bugs)
}

/// Write the three files into `out` (continuing an earlier measurement
/// there, see the module doc); returns the Markdown.
pub fn write_time_to_bug(out: &Path, m: &TimeToBug, command: &str) -> Result<String, Error> {
    std::fs::create_dir_all(out).map_err(|e| Error(format!("creating {}: {e}", out.display())))?;
    let (mut commands, mut bugs) = earlier(out, m);
    if !commands.iter().any(|c| c == command) {
        commands.push(command.to_string());
    }
    bugs.extend(m.bugs.iter().cloned());
    let m = &TimeToBug { bugs, ..m.clone() };
    let mut md = String::from("# Time to bug over trials\n\n");
    let n = m.bugs.first().map_or(0, |b| b.trials.len());
    let _ = writeln!(
        md,
        "Generated by {}: {n} independent campaigns of {:.0} s per bug ({}), each from a scratch corpus holding the \
         project's seeds of its target except the bug's own race seed, seeds 1..{n}. *median*: of the time to detection, a trial \
         that did not find the bug counting as never (so undefined when at most half found it); *restricted mean*: of min(time, {:.0} s).\n",
        commands.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(" and "),
        m.secs,
        m.engine,
        m.secs
    );
    md.push_str("| bug | target | found | median | restricted mean | median execs to it | other findings |\n|---|---|---|---|---|---|---|\n");
    for b in &m.bugs {
        let others: Vec<&str> = b.trials.iter().filter_map(|t| t.other.as_deref()).collect();
        let _ = writeln!(
            md,
            "| {} | {} | {}/{} | {} | {:.1} s | {} | {} |",
            b.id,
            b.target,
            b.found(),
            b.trials.len(),
            b.median().map_or(format!("> {:.0} s", m.secs), |s| format!("{s:.1} s")),
            b.restricted_mean(m.secs),
            b.median_execs().map_or("-".into(), |e| e.to_string()),
            if others.is_empty() { "-".to_string() } else { others.join("; ") }
        );
    }
    md.push_str("\n![survival](time-to-bug.svg)\n");
    let path = out.join("time-to-bug.md");
    std::fs::write(&path, &md).map_err(|e| Error(format!("{}: {e}", path.display())))?;
    let json = serde_json::json!({
        "commands": commands,
        "secs": m.secs,
        "engine": m.engine,
        "bugs": m.bugs.iter().map(|b| serde_json::json!({
            "id": b.id,
            "target": b.target,
            "found": b.found(),
            "trials": b.trials.iter().map(|t| serde_json::json!({"found_at": t.found_at, "execs": t.execs, "other": t.other})).collect::<Vec<_>>(),
            "median_secs": b.median(),
            "restricted_mean_secs": b.restricted_mean(m.secs),
        })).collect::<Vec<_>>(),
    });
    let path = out.join("time-to-bug.json");
    let text = serde_json::to_string_pretty(&json).map_err(|e| Error(e.to_string()))?;
    std::fs::write(&path, text + "\n").map_err(|e| Error(format!("{}: {e}", path.display())))?;
    survival(&out.join("time-to-bug.svg"), m).map_err(|e| Error(format!("time-to-bug.svg: {e}")))?;
    Ok(md)
}

/// The survival curves: for each bug, the share of trials still without a
/// detection at each time.
fn survival(path: &Path, m: &TimeToBug) -> Result<(), Box<dyn std::error::Error>> {
    let height = 520;
    let root = SVGBackend::new(path, (900, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("time to bug: share of trials not yet detecting it", ("sans-serif", 18))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..m.secs.max(1.0), 0.0..1.05)?;
    chart.configure_mesh().x_desc("seconds").y_desc("not yet found").draw()?;
    for (i, b) in m.bugs.iter().enumerate() {
        let n = b.trials.len().max(1) as f64;
        let mut times: Vec<f64> = b.trials.iter().filter_map(|t| t.found_at).collect();
        times.sort_by(f64::total_cmp);
        let mut pts = vec![(0.0, 1.0)];
        let mut left = 1.0;
        for t in times {
            pts.push((t, left));
            left -= 1.0 / n;
            pts.push((t, left));
        }
        pts.push((m.secs, left));
        let color = PALETTE[i % PALETTE.len()];
        let style = if i < PALETTE.len() { color.stroke_width(2) } else { color.stroke_width(1) };
        chart
            .draw_series(LineSeries::new(pts, style))?
            .label(b.id.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    chart.configure_series_labels().position(SeriesLabelPosition::UpperRight).background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trials(at: &[Option<f64>]) -> BugTrials {
        BugTrials { id: "X".into(), target: "seq".into(), trials: at.iter().map(|&found_at| Trial { found_at, execs: 10, other: None }).collect() }
    }

    #[test]
    fn median_and_restricted_mean_count_misses() {
        let b = trials(&[Some(1.0), Some(3.0), None]);
        assert_eq!(b.median(), Some(3.0));
        assert!((b.restricted_mean(60.0) - 64.0 / 3.0).abs() < 1e-9);
        assert_eq!(trials(&[Some(1.0), None, None]).median(), None);
        assert_eq!(trials(&[Some(1.0), Some(2.0), Some(4.0), None]).median(), Some(3.0));
    }

    #[test]
    fn writes_the_table_the_json_and_the_plot() {
        let dir = std::env::temp_dir().join(format!("pagelab-ttb-{}", std::process::id()));
        let m = TimeToBug { secs: 60.0, engine: "test".into(), bugs: vec![trials(&[Some(2.0), None])] };
        let md = write_time_to_bug(&dir, &m, "test").expect("written");
        assert!(md.contains("| X | seq | 1/2 |"), "{md}");
        // A second part keeps the first one's bugs.
        let mut y = trials(&[None, None]);
        y.id = "Y".into();
        let md = write_time_to_bug(&dir, &TimeToBug { bugs: vec![y], ..m.clone() }, "part 2").expect("written");
        assert!(md.contains("| X | seq | 1/2 |") && md.contains("| Y | seq | 0/2 | > 60 s |") && md.contains("`test` and `part 2`"), "{md}");
        // The same part written again (after each bug) lists its command once.
        let md = write_time_to_bug(&dir, &m, "part 2").expect("written");
        assert_eq!(md.matches("`part 2`").count(), 1, "{md}");
        assert!(dir.join("time-to-bug.svg").metadata().is_ok_and(|m| m.len() > 0));
        let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("time-to-bug.json")).unwrap()).unwrap();
        let bug = |id: &str| json["bugs"].as_array().unwrap().iter().find(|b| b["id"] == id).cloned().unwrap();
        assert_eq!(bug("X")["found"], 1);
        assert_eq!(bug("Y")["found"], 0);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
