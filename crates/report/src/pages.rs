//! The Markdown page of one criterion group, and number formatting.

use crate::*;
use std::fmt::Write as _;

pub(crate) fn fmt_ns(ns: f64) -> String {
    if !ns.is_finite() {
        "—".into()
    } else if ns < 10.0 {
        format!("{ns:.2} ns")
    } else if ns < 1e3 {
        format!("{ns:.1} ns")
    } else if ns < 1e6 {
        format!("{:.2} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

pub(crate) fn fmt_rate(per_sec: f64, unit: &str) -> String {
    if per_sec >= 1e9 {
        format!("{:.2} G{unit}/s", per_sec / 1e9)
    } else if per_sec >= 1e6 {
        format!("{:.1} M{unit}/s", per_sec / 1e6)
    } else if per_sec >= 1e3 {
        format!("{:.1} k{unit}/s", per_sec / 1e3)
    } else {
        format!("{per_sec:.1} {unit}/s")
    }
}

pub(crate) fn fmt_tp(b: &Bench, unit: &str) -> String {
    match (b.throughput, b.per_sec()) {
        (Some(Tp::Bytes(_)), Some(r)) => format!("{:.2} GiB/s", r / (1u64 << 30) as f64),
        (Some(Tp::Elements(_)), Some(r)) => fmt_rate(r, unit),
        _ => "—".into(),
    }
}

pub(crate) fn fmt_x(r: Option<f64>) -> String {
    match r {
        Some(r) if r.is_finite() => format!("{r:.2}×"),
        _ => "—".into(),
    }
}

pub(crate) fn ratio(kind: Ratio, b: &Bench, other: &Bench) -> Option<f64> {
    match kind {
        Ratio::Time => Some(b.median.point / other.median.point),
        Ratio::Throughput => Some(b.per_sec()? / other.per_sec()?),
    }
}

pub(crate) fn find<'a>(cases: &'a [&'a Bench], full_id: &str) -> Option<&'a Bench> {
    cases.iter().copied().find(|c| c.full_id == full_id)
}

pub(crate) fn group_page(spec: &Spec, cases: &[Bench], meta: &Meta) -> String {
    let refs: Vec<&Bench> = cases.iter().collect();
    let mut s = String::new();
    let title = if spec.title.is_empty() { spec.name.clone() } else { spec.title.to_string() };
    let _ = writeln!(s, "# {title}\n");
    let _ = writeln!(s, "{}\n", meta.line());
    if !spec.about.is_empty() {
        let _ = writeln!(s, "{}\n", spec.about);
    }
    let _ = writeln!(s, "![{}]({}.svg)\n", spec.name, spec.name);
    let has_ref = cases.iter().any(|b| (spec.reference)(b).and_then(|r| find(&refs, &r)).is_some());
    let has_base = cases.iter().any(|b| (spec.baseline)(b).and_then(|r| find(&refs, &r)).is_some());
    let base_label = match spec.ratio {
        Ratio::Time => "÷ global lock (time)",
        Ratio::Throughput => "÷ global lock (throughput)",
    };
    let _ = write!(s, "| case | time per iteration [95 % CI] | median | throughput |");
    if has_ref {
        let _ = write!(s, " {} |", spec.ref_label);
    }
    if has_base {
        let _ = write!(s, " {base_label} |");
    }
    let _ = writeln!(s);
    let _ = write!(s, "|---|---|---|---|");
    if has_ref {
        s.push_str("---|");
    }
    if has_base {
        s.push_str("---|");
    }
    let _ = writeln!(s);
    for b in cases {
        let _ = write!(
            s,
            "| `{}` | {} [{} – {}] | {} | {} |",
            b.case(),
            fmt_ns(b.typical.point),
            fmt_ns(b.typical.lo),
            fmt_ns(b.typical.hi),
            fmt_ns(b.median.point),
            fmt_tp(b, spec.unit)
        );
        if has_ref {
            let r = (spec.reference)(b).and_then(|r| find(&refs, &r)).and_then(|r| ratio(spec.ratio, b, r));
            let _ = write!(s, " {} |", fmt_x(r));
        }
        if has_base {
            let r = (spec.baseline)(b).and_then(|r| find(&refs, &r)).and_then(|r| ratio(spec.ratio, b, r));
            let _ = write!(s, " {} |", fmt_x(r));
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(
        s,
        "\nTime per iteration: criterion's typical estimate (regression slope when sampled linearly, mean \
         when sampled flat) with its 95 % confidence interval, as criterion prints it. Median: criterion's \
         median of the samples; throughput, ratios and the plot use the median, which a few disturbed \
         samples on a shared VM do not move. From \
         `target/criterion/{}/**/new/estimates.json`.",
        spec.name
    );
    s
}
