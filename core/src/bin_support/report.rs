//! `pagelab report`: turn the saved benchmark results into `reports/`.
//!
//! Reads, never re-runs:
//!
//! * criterion's results: every `<criterion dir>/**/new/{benchmark.json,
//!   estimates.json}` (the latest run of each case; `--compare A B` reads
//!   the baselines saved with `--save-baseline A` / `B` instead);
//! * gungraun's instruction counts: every `<gungraun dir>/**/summary.json`
//!   (written with `GUNGRAUN_SAVE_SUMMARY=json`) and, for the profiles, the
//!   `callgrind.*.out` file next to it.
//!
//! Writes into `--out` (default `reports/`):
//!
//! * one Markdown page per criterion group (`put_page.md`, `alloc_free.md`,
//!   `scaling.md`, `offline.md`, ...): time per operation with its 95 %
//!   interval, median, throughput, and the ratios to the group's reference
//!   (bare atomic, 1 thread, memcpy) and to the global-lock baseline;
//! * one SVG plot per group (plotters): put_page variants as bars, alloc_free
//!   throughput as bars, the scaling curves, offline time against the
//!   fraction of the block in use;
//! * `instructions.md` + `instructions.svg`: instructions per operation and
//!   the hooks' deltas, and where the instructions of the alloc+free pair
//!   and of a burst go (per source line and per function, from the
//!   Callgrind profile);
//! * `index.md`: the performance targets, each with its figure from the
//!   results and whether it is met, and links to the pages;
//! * `meta.json`: commit, CPU model, core count, kernel, rustc version, and
//!   the dates of the results.
//!
//! Every number in the output is computed from those files; the only
//! constants here are the targets' thresholds and the descriptions of the
//! groups. Tables show criterion's typical estimate (the slope of the
//! linear regression when the group sampled linearly, the mean otherwise,
//! as criterion's own `time:` line) and the median; throughput, ratios,
//! plots, targets and `--compare` use the median, which the few disturbed
//! samples of a shared 2-vCPU VM do not move.

use crate::out::emit;
use crate::Failure;
use plotters::prelude::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

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
    let crit_dir = a.criterion.clone().unwrap_or_else(|| target.join("criterion"));
    let gg_dir = a.gungraun.clone().unwrap_or_else(|| target.join("gungraun"));
    if let Some(ab) = &a.compare {
        return compare(&crit_dir, &a.out, &ab[0], &ab[1]);
    }
    let benches = load_criterion(&crit_dir, "new")?;
    if benches.is_empty() {
        return Err(Failure::run(format!(
            "no criterion results under {} (run `cargo bench -p pagelab-bench` first)",
            crit_dir.display()
        )));
    }
    let ir = load_gungraun(&gg_dir)?;
    std::fs::create_dir_all(&a.out).map_err(|e| Failure::run(format!("creating {}: {e}", a.out.display())))?;
    let meta = Meta::collect(&crit_dir, &benches, &ir);

    let mut groups: BTreeMap<String, Vec<Bench>> = BTreeMap::new();
    for b in benches {
        groups.entry(b.group.clone()).or_default().push(b);
    }
    let mut pages = Vec::new();
    for (name, mut cases) in groups {
        let spec = spec_of(&name);
        sort_cases(&spec, &mut cases);
        let md = group_page(&spec, &cases, &meta);
        write(&a.out.join(format!("{name}.md")), &md)?;
        let svg = a.out.join(format!("{name}.svg"));
        plot_group(&spec, &cases, &svg).map_err(|e| Failure::run(format!("plotting {}: {e}", svg.display())))?;
        pages.push((name, spec.title, cases));
    }
    if !ir.is_empty() {
        let md = instructions_page(&ir, &meta);
        write(&a.out.join("instructions.md"), &md)?;
        let svg = a.out.join("instructions.svg");
        plot_ir(&ir, &svg).map_err(|e| Failure::run(format!("plotting {}: {e}", svg.display())))?;
    }
    let all: Vec<&Bench> = pages.iter().flat_map(|(_, _, c)| c.iter()).collect();
    let index = index_page(&pages, &all, &ir, &meta);
    write(&a.out.join("index.md"), &index)?;
    write(&a.out.join("meta.json"), &meta.json())?;
    let mut msg = format!(
        "pagelab report: {} criterion cases in {} groups, {} instruction counts -> {}\n",
        all.len(),
        pages.len(),
        ir.len(),
        a.out.display()
    );
    for t in targets(&all, &ir) {
        let _ = writeln!(msg, "  [{}] {}: {}", t.verdict.word(), t.what, t.figure);
    }
    emit(&msg)
}

fn write(path: &Path, text: &str) -> Result<(), Failure> {
    std::fs::write(path, text).map_err(|e| Failure::run(format!("writing {}: {e}", path.display())))
}

// ---------------------------------------------------------------- criterion

/// A criterion estimate in ns per iteration, with its confidence interval.
#[derive(Debug, Clone, Copy)]
struct Est {
    point: f64,
    lo: f64,
    hi: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tp {
    Elements(u64),
    Bytes(u64),
}

/// One criterion case.
#[derive(Debug, Clone)]
struct Bench {
    group: String,
    function: String,
    value: Option<String>,
    full_id: String,
    throughput: Option<Tp>,
    /// Slope (linear sampling) or mean (flat), ns per iteration.
    typical: Est,
    median: Est,
    mtime: Option<SystemTime>,
}

impl Bench {
    /// The id inside its group: `function` or `function/value`.
    fn case(&self) -> String {
        match &self.value {
            Some(v) => format!("{}/{v}", self.function),
            None => self.function.clone(),
        }
    }
    /// Operations per second (throughput elements, or bytes, per second),
    /// from the median.
    fn per_sec(&self) -> Option<f64> {
        let n = match self.throughput? {
            Tp::Elements(n) | Tp::Bytes(n) => n as f64,
        };
        Some(n / self.median.point * 1e9)
    }
}

fn est(v: &Value, key: &str) -> Option<Est> {
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

fn read_json(path: &Path) -> Result<Value, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| Failure::run(format!("reading {}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| Failure::run(format!("parsing {}: {e}", path.display())))
}

/// Every directory under `root` (depth-first, sorted) named `leaf`.
fn find_dirs(root: &Path, leaf: &str, out: &mut Vec<PathBuf>) {
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
fn load_criterion(dir: &Path, which: &str) -> Result<Vec<Bench>, Failure> {
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

// ---------------------------------------------------------------- groups

/// How a case's ratio to another case is taken.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Ratio {
    /// time per iteration ÷ the other's (1.9 = takes 1.9× as long).
    Time,
    /// throughput ÷ the other's (1.9 = does 1.9× the work per second).
    Throughput,
}

/// What the report knows about a group: its description, the order of its
/// cases, its reference and baseline, and its plot.
struct Spec {
    name: String,
    title: &'static str,
    about: &'static str,
    order: &'static [&'static str],
    /// Full id of a case's reference, if it has one.
    reference: fn(&Bench) -> Option<String>,
    ref_label: &'static str,
    /// Full id of a case's global-lock baseline, if it has one.
    baseline: fn(&Bench) -> Option<String>,
    ratio: Ratio,
    unit: &'static str,
    plot: Plot,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Plot {
    /// Horizontal bars of ns per operation.
    BarsNs,
    /// Horizontal bars of throughput.
    BarsThroughput,
    /// Aggregate throughput against the thread count, one line per workload.
    Scaling,
    /// ms per iteration against the parameter (% in use), one line per function.
    Offline,
}

/// The free-path designs in the order the reports list them.
const DESIGNS: [&str; 6] = [
    "no_hwpoison_check",
    "landed",
    "rfc_pageoffline_hook",
    "side_bitmap_hook",
    "free_mt_no_recheck",
    "merge_across_isolate",
];

fn none(_: &Bench) -> Option<String> {
    None
}

fn global_lock_of(b: &Bench) -> Option<String> {
    if b.function.starts_with("global_lock") {
        return None;
    }
    let f = format!("{}/global_lock_{}", b.group, b.function);
    Some(match &b.value {
        Some(v) => format!("{f}/{v}"),
        None => f,
    })
}

fn spec_of(group: &str) -> Spec {
    let generic = Spec {
        name: group.to_string(),
        title: "",
        about: "",
        order: &[],
        reference: none,
        ref_label: "",
        baseline: none,
        ratio: Ratio::Time,
        unit: "elem",
        plot: Plot::BarsNs,
    };
    match group {
        "put_page" => Spec {
            title: "put_page: the final put and its hooks",
            about: "All cases run in one process, one after the other, on the same machine state, so their \
                    ratios mean something. `bare_atomic_fetch_sub` is the reference: the one `lock xadd` \
                    every put is built on, on a stand-in 64-byte descriptor. `nonfinal_put` drops a \
                    reference without freeing. `final_put_to_pcp/<design>` is the last put of an order-0 page \
                    onto the pcp list (no spill), `alloc_free_pair/<design>` an `alloc_page` + final \
                    `put_page` pair that stays on the pcp. Designs: `no_hwpoison_check` (no hook), `landed` \
                    (PageHWPoison test in free_pages_prepare, today's kernel), `rfc_pageoffline_hook` \
                    (+ PageOffline test in the put path, same cache line), `side_bitmap_hook` (+ a bit in a \
                    side bitmap, a second cache line). `global_lock_alloc_free_pair` is the pair on the \
                    naive baseline (one `Mutex<Vec<u32>>` free stack over the same descriptors).",
            order: &["bare_atomic_fetch_sub", "nonfinal_put", "final_put_to_pcp", "alloc_free_pair", "global_lock_alloc_free_pair"],
            reference: |b| (b.function != "bare_atomic_fetch_sub").then(|| "put_page/bare_atomic_fetch_sub".to_string()),
            ref_label: "÷ bare atomic (time)",
            baseline: |b| {
                (b.function.contains("pair") && !b.function.starts_with("global_lock"))
                    .then(|| "put_page/global_lock_alloc_free_pair".to_string())
            },
            unit: "ops",
            plot: Plot::BarsNs,
            ..generic
        },
        "alloc_free" => Spec {
            title: "alloc_free: one CPU, through the pcp and through buddy",
            about: "Landed design, one CPU slot, 1 GiB machine, warmed up. `pair`: alloc + final put staying \
                    on the pcp. `burst/N`: N allocations then N frees (pcp high 252, batch 63: both sizes \
                    refill from and spill to buddy under zone->lock); one operation = one page allocated \
                    and freed. `order_pair/K`: alloc_pages(K) + free_pages of a compound block (orders 1, \
                    3 and 9 are cached on the pcp, 10 is buddy only); one operation = one block, \
                    throughput in pages. `global_lock_*`: the same workloads on the naive baseline, one \
                    `Mutex<Vec<u32>>` free stack over the same descriptors; each model case is compared \
                    with the baseline case of the same workload.",
            order: &["pair", "burst", "order_pair", "global_lock_pair", "global_lock_burst"],
            baseline: global_lock_of,
            unit: "pages",
            plot: Plot::BarsThroughput,
            ..generic
        },
        "scaling" => Spec {
            title: "scaling: aggregate throughput with 1..N threads",
            about: "Each thread count gets a rayon pool of exactly that many workers, each pinned to one host \
                    CPU and acting for its own CPU slot; each worker runs one long loop (no task per page), \
                    all starting at a barrier, and the slowest worker's time counts. One iteration is one \
                    operation on every thread, so throughput is the aggregate. `pair`: alloc + free inside \
                    the pcp; `burst_128`: bursts of 128, inside the pcp high mark (252); `burst_4096`: bursts \
                    of 4096, refilling from and spilling to the shared buddy every 63 pages. \
                    `global_lock_*`: the naive baseline (one `Mutex<Vec<u32>>`). Ratios are throughput \
                    ratios: to the same workload on 1 thread (the scaling factor) and to the baseline at the \
                    same thread count.",
            order: &["pair", "burst_128", "burst_4096", "global_lock_pair", "global_lock_burst_128", "global_lock_burst_4096"],
            reference: |b| (b.value.as_deref() != Some("1")).then(|| format!("{}/{}/1", b.group, b.function)),
            ref_label: "÷ 1 thread (throughput)",
            baseline: global_lock_of,
            ratio: Ratio::Throughput,
            unit: "ops",
            plot: Plot::Scaling,
            ..generic
        },
        "offline" => Spec {
            title: "offline: one 128 MiB block",
            about: "A 3-section machine with the frame store on; block 0 is offlined, blocks 1-2 hold the \
                    migration targets. `offline/P`: `offline_memory_block` with P % of the block's 32768 \
                    pages in use (scattered at random), each migrated with a 4 KiB copy; faulting the \
                    pages in and onlining the block again are outside the timed region. Throughput: pages \
                    of the block per second. `memcpy/P`: the reference, the same number of 4 KiB copies \
                    between two pre-faulted 128 MiB buffers (scattered source pages, consecutive \
                    destination pages). `memcpy_scattered/P`: the same copies to scattered destination pages \
                    as well (where the migration's targets are). `online`: onlining the block after an offline with nothing in use. \
                    `offline_balloon/P`: offline of a virtio-mem device block with P % of its 64 subblocks \
                    unplugged (PageOffline pages the driver holds and lets go of at MEM_GOING_OFFLINE), \
                    nothing in use; its reference is `offline/0`, the same offline with no PageOffline page.",
            order: &["offline", "online", "memcpy", "memcpy_scattered", "offline_balloon", "soft_offline"],
            reference: |b| match b.function.as_str() {
                "offline" => Some(format!("{}/memcpy/{}", b.group, b.value.as_deref().unwrap_or(""))),
                "offline_balloon" => Some(format!("{}/offline/0", b.group)),
                _ => None,
            },
            ref_label: "÷ reference (time): memcpy/P for offline/P, offline/0 for balloon",
            unit: "pages",
            plot: Plot::Offline,
            ..generic
        },
        _ => generic,
    }
}

fn value_key(v: &Option<String>) -> (usize, u64, String) {
    match v {
        None => (0, 0, String::new()),
        Some(s) => match s.parse::<u64>() {
            Ok(n) => (1, n, String::new()),
            Err(_) => (2, DESIGNS.iter().position(|d| d == s).unwrap_or(DESIGNS.len()) as u64, s.clone()),
        },
    }
}

fn sort_cases(spec: &Spec, cases: &mut [Bench]) {
    cases.sort_by_key(|b| {
        let pos = spec.order.iter().position(|f| *f == b.function).unwrap_or(spec.order.len());
        (pos, b.function.clone(), value_key(&b.value))
    });
}

// ---------------------------------------------------------------- formatting

fn fmt_ns(ns: f64) -> String {
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

fn fmt_rate(per_sec: f64, unit: &str) -> String {
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

fn fmt_tp(b: &Bench, unit: &str) -> String {
    match (b.throughput, b.per_sec()) {
        (Some(Tp::Bytes(_)), Some(r)) => format!("{:.2} GiB/s", r / (1u64 << 30) as f64),
        (Some(Tp::Elements(_)), Some(r)) => fmt_rate(r, unit),
        _ => "—".into(),
    }
}

fn fmt_x(r: Option<f64>) -> String {
    match r {
        Some(r) if r.is_finite() => format!("{r:.2}×"),
        _ => "—".into(),
    }
}

fn ratio(kind: Ratio, b: &Bench, other: &Bench) -> Option<f64> {
    match kind {
        Ratio::Time => Some(b.median.point / other.median.point),
        Ratio::Throughput => Some(b.per_sec()? / other.per_sec()?),
    }
}

fn find<'a>(cases: &'a [&'a Bench], full_id: &str) -> Option<&'a Bench> {
    cases.iter().copied().find(|c| c.full_id == full_id)
}

fn group_page(spec: &Spec, cases: &[Bench], meta: &Meta) -> String {
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
         samples on a shared VM do not move (research/perf.md 7.5). From \
         `target/criterion/{}/**/new/estimates.json`.",
        spec.name
    );
    s
}

// ---------------------------------------------------------------- gungraun

/// One gungraun benchmark's instruction count.
#[derive(Debug, Clone)]
struct IrBench {
    function: String,
    /// Operations in the measured run (from the `ops_<N>` id).
    ops: u64,
    ir: u64,
    started_at: String,
    /// The Callgrind output next to the summary, if any.
    out_file: Option<PathBuf>,
}

impl IrBench {
    fn per_op(&self) -> f64 {
        self.ir as f64 / self.ops.max(1) as f64
    }
}

fn load_gungraun(dir: &Path) -> Result<Vec<IrBench>, Failure> {
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

fn ir_order(f: &str) -> (usize, usize, String) {
    const ORDER: [&str; 7] = ["bare_atomic", "nonfinal_put", "final_put_", "pair_", "burst_", "global_lock_pair", "global_lock_burst"];
    let pos = ORDER.iter().position(|o| f == *o || (o.ends_with('_') && f.starts_with(o))).unwrap_or(ORDER.len());
    let design = DESIGNS.iter().position(|d| f.ends_with(d)).unwrap_or(DESIGNS.len());
    (pos, design, f.to_string())
}

fn find_files(root: &Path, name: &str, out: &mut Vec<PathBuf>) {
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

fn ir_get<'a>(ir: &'a [IrBench], f: &str) -> Option<&'a IrBench> {
    ir.iter().find(|b| b.function == f)
}

/// A Callgrind profile: self instructions per (file, line) and inclusive
/// instructions per function.
#[derive(Default)]
struct Profile {
    total: u64,
    lines: BTreeMap<(String, u64), u64>,
    fn_self: BTreeMap<String, u64>,
    fn_calls: BTreeMap<String, u64>,
}

/// Parse the uncompressed or compressed Callgrind format (positions: line;
/// the first event is Ir).
fn parse_callgrind(path: &Path) -> Option<Profile> {
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
fn source_line(file: &str, ln: u64) -> (String, String) {
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

fn profile_tables(s: &mut String, b: &IrBench, top: usize) {
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

fn instructions_page(ir: &[IrBench], meta: &Meta) -> String {
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

// ---------------------------------------------------------------- targets

#[derive(Debug, Clone, Copy, PartialEq)]
enum Verdict {
    Met,
    Missed,
    NoData,
}

impl Verdict {
    fn word(self) -> &'static str {
        match self {
            Verdict::Met => "met",
            Verdict::Missed => "MISSED",
            Verdict::NoData => "no data",
        }
    }
    fn of(ok: Option<bool>) -> Verdict {
        match ok {
            Some(true) => Verdict::Met,
            Some(false) => Verdict::Missed,
            None => Verdict::NoData,
        }
    }
}

struct Target {
    what: String,
    figure: String,
    verdict: Verdict,
}

fn targets(all: &[&Bench], ir: &[IrBench]) -> Vec<Target> {
    let get = |id: &str| find(all, id);
    let irg = |f: &str| ir_get(ir, f).map(IrBench::per_op);
    let mut t = Vec::new();

    let pair = get("put_page/alloc_free_pair/landed");
    let bare = get("put_page/bare_atomic_fetch_sub");
    let r = pair.zip(bare).map(|(p, b)| p.median.point / b.median.point);
    t.push(Target {
        what: "alloc + final put pair through pcp ≤ 2× one bare atomic (same run)".into(),
        figure: match (pair, bare, r) {
            (Some(p), Some(b), Some(r)) => format!("median {} / {} = {r:.2}×", fmt_ns(p.median.point), fmt_ns(b.median.point)),
            _ => "—".into(),
        },
        verdict: Verdict::of(r.map(|r| r <= 2.0)),
    });

    let ir_pair = irg("pair_landed");
    t.push(Target {
        what: "alloc + final put pair ≤ 40 instructions".into(),
        figure: ir_pair.map(|v| format!("{v:.1} Ir per pair (landed)")).unwrap_or_else(|| "—".into()),
        verdict: Verdict::of(ir_pair.map(|v| v <= 40.0)),
    });

    // The same-line hook: RFC's PageOffline test over the landed design.
    let d_pair = irg("pair_rfc_pageoffline_hook").zip(irg("pair_landed")).map(|(a, b)| a - b);
    let d_final = irg("final_put_rfc_pageoffline_hook").zip(irg("final_put_landed")).map(|(a, b)| a - b);
    t.push(Target {
        what: "hook reading a flag in the descriptor's own cache line ≤ +4 instructions (rfc_pageoffline_hook − landed)".into(),
        figure: match (d_pair, d_final) {
            (Some(p), Some(f)) => format!("{p:+.1} Ir per pair, {f:+.1} Ir per final put"),
            (Some(p), None) => format!("{p:+.1} Ir per pair"),
            _ => "—".into(),
        },
        verdict: Verdict::of(d_pair.map(|d| d <= 4.0 && d_final.map_or(true, |f| f <= 4.0))),
    });
    let hook = get("put_page/alloc_free_pair/rfc_pageoffline_hook");
    let landed = pair;
    // Measurable cost: the hook's median is above landed's with disjoint 95 %
    // intervals *and* by more than the 5 % noise threshold research/perf.md
    // 7.5 recommends for this VM (wall-time CV 11-18 %): two designs are two
    // machines booted one after the other, whose layouts differ by that much.
    let measurable = hook.zip(landed).map(|(h, l)| h.median.lo > l.median.hi && h.median.point > 1.05 * l.median.point);
    t.push(Target {
        what: "the same hook: no measurable ns on the pair (median not above landed's by more than its 95 % interval and the 5 % noise threshold)".into(),
        figure: match (hook, landed) {
            (Some(h), Some(l)) => format!(
                "{} [{} – {}] vs landed {} [{} – {}] ({:+.1} %)",
                fmt_ns(h.median.point),
                fmt_ns(h.median.lo),
                fmt_ns(h.median.hi),
                fmt_ns(l.median.point),
                fmt_ns(l.median.lo),
                fmt_ns(l.median.hi),
                100.0 * (h.median.point / l.median.point - 1.0)
            ),
            _ => "—".into(),
        },
        verdict: Verdict::of(measurable.map(|m| !m)),
    });

    let two = max_threads(all);
    for (wl, min, what) in [
        ("pair", 1.8, "2 threads inside pcp (pairs) ≥ 1.8× one thread"),
        ("burst_128", 1.8, "2 threads inside pcp (bursts of 128) ≥ 1.8× one thread"),
        ("burst_4096", 1.3, "2 threads spilling to buddy (bursts of 4096) ≥ 1.3× one thread"),
    ] {
        let n = get(&format!("scaling/{wl}/{two}"));
        let one = get(&format!("scaling/{wl}/1"));
        let r = n.zip(one).and_then(|(n, o)| Some(n.per_sec()? / o.per_sec()?)).filter(|_| two > 1);
        let base = get(&format!("scaling/global_lock_{wl}/{two}"));
        let base1 = get(&format!("scaling/global_lock_{wl}/1"));
        let rb = base.zip(base1).and_then(|(n, o)| Some(n.per_sec()? / o.per_sec()?));
        t.push(Target {
            what: what.to_string(),
            figure: match (n, one, r) {
                (Some(n), Some(o), Some(r)) => format!(
                    "{} → {} aggregate = {r:.2}× (global lock: {})",
                    fmt_tp(o, "ops"),
                    fmt_tp(n, "ops"),
                    fmt_x(rb)
                ),
                _ => "—".into(),
            },
            verdict: Verdict::of(r.map(|r| r >= min)),
        });
    }

    let off0 = get("offline/offline/0");
    t.push(Target {
        what: "offline of a 128 MiB block, all free ≤ 0.5 ms".into(),
        figure: off0.map(|b| format!("median {} ({})", fmt_ns(b.median.point), fmt_tp(b, "pages"))).unwrap_or_else(|| "—".into()),
        verdict: Verdict::of(off0.map(|b| b.median.point <= 0.5e6)),
    });
    let off1 = get("offline/offline/100");
    let cp1 = get("offline/memcpy/100");
    let r = off1.zip(cp1).map(|(o, c)| o.median.point / c.median.point);
    t.push(Target {
        what: "offline of a 128 MiB block, fully in use ≤ 1.3× the memcpy of its bytes".into(),
        figure: match (off1, cp1, r) {
            (Some(o), Some(c), Some(r)) => format!("median {} / {} = {r:.2}×", fmt_ns(o.median.point), fmt_ns(c.median.point)),
            _ => "—".into(),
        },
        verdict: Verdict::of(r.map(|r| r <= 1.3)),
    });
    t
}

/// The largest thread count in the scaling group (2 on a 2-core machine).
fn max_threads(all: &[&Bench]) -> u64 {
    all.iter()
        .filter(|b| b.group == "scaling")
        .filter_map(|b| b.value.as_deref()?.parse::<u64>().ok())
        .max()
        .unwrap_or(1)
}

fn index_page(pages: &[(String, &'static str, Vec<Bench>)], all: &[&Bench], ir: &[IrBench], meta: &Meta) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# pagelab benchmark report\n");
    let _ = writeln!(s, "{}\n", meta.line());
    let _ = writeln!(
        s,
        "Generated by `pagelab report` from the saved criterion and gungraun results (nothing is re-run, \
         no number is written by hand); see [meta.json](meta.json) for the machine and the dates of the \
         results. Wall-time targets are judged on criterion's medians (robust to the few disturbed \
         samples a shared 2-vCPU VM produces); instruction counts are exact.\n"
    );
    let _ = writeln!(s, "## Targets\n\n| target | figure | verdict |\n|---|---|---|");
    for t in targets(all, ir) {
        let _ = writeln!(s, "| {} | {} | **{}** |", t.what, t.figure, t.verdict.word());
    }
    let _ = writeln!(s, "\n## Pages\n");
    for (name, title, cases) in pages {
        let title = if title.is_empty() { name.as_str() } else { title };
        let _ = writeln!(s, "* [{title}]({name}.md): {} cases, plot [{name}.svg]({name}.svg)", cases.len());
    }
    if !ir.is_empty() {
        let _ = writeln!(s, "* [Instructions per operation](instructions.md): {} Callgrind counts, plot [instructions.svg](instructions.svg)", ir.len());
    }
    s
}

// ---------------------------------------------------------------- compare

fn compare(crit_dir: &Path, out: &Path, a: &str, b: &str) -> Result<(), Failure> {
    let xa = load_criterion(crit_dir, a)?;
    let xb = load_criterion(crit_dir, b)?;
    if xa.is_empty() || xb.is_empty() {
        let missing = if xa.is_empty() { a } else { b };
        return Err(Failure::run(format!(
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
        return Err(Failure::run(format!("baselines {a:?} and {b:?} have no case in common")));
    }
    std::fs::create_dir_all(out).map_err(|e| Failure::run(format!("creating {}: {e}", out.display())))?;
    let safe = |n: &str| n.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect::<String>();
    write(&out.join(format!("compare-{}-{}.md", safe(a), safe(b))), &s)?;
    emit(&s)
}

// ---------------------------------------------------------------- meta

struct Meta {
    generated_at: String,
    commit: String,
    dirty: Option<bool>,
    cpu_model: String,
    cores: usize,
    kernel: String,
    rustc: String,
    crit_count: usize,
    crit_oldest: Option<String>,
    crit_newest: Option<String>,
    ir_count: usize,
    ir_started: Option<String>,
    /// `start|end <date> <1, 5, 15-minute load averages>` written by
    /// scripts/bench.sh around the criterion run.
    load: Vec<String>,
}

fn run_cmd(cmd: &str, args: &[&str]) -> Option<String> {
    let o = std::process::Command::new(cmd).args(args).output().ok()?;
    o.status.success().then(|| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

/// UTC date and time of a SystemTime, ISO 8601 (days-from-civil inverse).
fn iso(t: SystemTime) -> String {
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
    fn collect(crit_dir: &Path, benches: &[Bench], ir: &[IrBench]) -> Meta {
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

    fn line(&self) -> String {
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

    fn json(&self) -> String {
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

// ---------------------------------------------------------------- plots

type PlotResult = Result<(), Box<dyn std::error::Error>>;
/// A line of a line plot: label, points, drawn thin.
type Series = (String, Vec<(f64, f64)>, bool);

const PALETTE: [RGBColor; 6] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
];

/// Horizontal bars: (label, value, highlighted).
fn hbars(path: &Path, title: &str, x_label: &str, items: &[(String, f64, bool)]) -> PlotResult {
    let n = items.len().max(1);
    let height = 90 + 28 * n as u32;
    let root = SVGBackend::new(path, (900, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let max = items.iter().map(|i| i.1).fold(0.0f64, f64::max).max(f64::MIN_POSITIVE);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(10)
        .build_cartesian_2d(0.0..max * 1.6, 0.0..n as f64)?;
    chart.configure_mesh().disable_y_mesh().disable_y_axis().y_labels(0).x_desc(x_label).draw()?;
    for (i, (label, v, hi)) in items.iter().enumerate() {
        let y = (n - 1 - i) as f64;
        let color = if *hi { PALETTE[1] } else { PALETTE[0] };
        chart.draw_series(std::iter::once(Rectangle::new([(0.0, y + 0.15), (*v, y + 0.85)], color.filled())))?;
        chart.draw_series(std::iter::once(Text::new(
            format!("{label}  {}", fmt_num(*v)),
            (*v + max * 0.01, y + 0.7),
            ("sans-serif", 13).into_font(),
        )))?;
    }
    root.present()?;
    Ok(())
}

fn fmt_num(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Lines: (series label, points, dashed).
fn lines(path: &Path, title: &str, x_label: &str, y_label: &str, series: &[Series]) -> PlotResult {
    let root = SVGBackend::new(path, (900, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let pts = series.iter().flat_map(|s| s.1.iter());
    let (mut x0, mut x1, mut y1) = (f64::MAX, f64::MIN, 0.0f64);
    for &(x, y) in pts {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        (x0, x1) = (0.0, 1.0);
    }
    let pad = ((x1 - x0) * 0.05).max(0.1);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d((x0 - pad)..(x1 + pad), 0.0..(y1 * 1.15).max(f64::MIN_POSITIVE))?;
    let integer_x = series.iter().all(|s| s.1.iter().all(|p| p.0.fract() == 0.0)) && x1 - x0 <= 16.0;
    if integer_x {
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(y_label)
            .x_labels((x1 - x0) as usize + 1)
            .x_label_formatter(&|x| if x.fract().abs() < 1e-9 { format!("{x:.0}") } else { String::new() })
            .draw()?;
    } else {
        chart.configure_mesh().x_desc(x_label).y_desc(y_label).draw()?;
    }
    for (i, (label, points, dashed)) in series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let style = color.stroke_width(if *dashed { 1 } else { 2 });
        chart
            .draw_series(LineSeries::new(points.iter().copied(), style))?
            .label(label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        chart.draw_series(points.iter().map(|&(x, y)| Circle::new((x, y), 4, color.filled())))?;
        chart.draw_series(points.iter().map(|&(x, y)| Text::new(fmt_num(y), (x, y), ("sans-serif", 12).into_font())))?;
    }
    chart.configure_series_labels().position(SeriesLabelPosition::UpperLeft).background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    root.present()?;
    Ok(())
}

fn plot_group(spec: &Spec, cases: &[Bench], path: &Path) -> PlotResult {
    let refs: Vec<&Bench> = cases.iter().collect();
    match spec.plot {
        Plot::BarsNs => {
            let items: Vec<(String, f64, bool)> = cases
                .iter()
                .map(|b| (b.case(), b.median.point, (spec.reference)(b).is_none() || b.function.starts_with("global_lock")))
                .collect();
            hbars(path, &format!("{}: time per operation (median, ns)", spec.name), "ns per operation", &items)
        }
        Plot::BarsThroughput => {
            let items: Vec<(String, f64, bool)> = cases
                .iter()
                .filter_map(|b| Some((b.case(), b.per_sec()? / 1e6, b.function.starts_with("global_lock"))))
                .collect();
            hbars(path, &format!("{}: throughput (M {}/s)", spec.name, spec.unit), &format!("M {}/s", spec.unit), &items)
        }
        Plot::Scaling => {
            let mut by_fn: BTreeMap<(usize, String), Vec<(f64, f64)>> = BTreeMap::new();
            for b in &refs {
                let (Some(t), Some(r)) = (b.value.as_deref().and_then(|v| v.parse::<f64>().ok()), b.per_sec()) else { continue };
                let pos = spec.order.iter().position(|f| *f == b.function).unwrap_or(spec.order.len());
                by_fn.entry((pos, b.function.clone())).or_default().push((t, r / 1e6));
            }
            let series: Vec<_> = by_fn.into_iter().map(|((_, f), pts)| (f.clone(), pts, f.starts_with("global_lock"))).collect();
            lines(path, "scaling: aggregate throughput (median)", "threads", "M ops/s (all threads)", &series)
        }
        Plot::Offline => {
            let mut by_fn: BTreeMap<(usize, String), Vec<(f64, f64)>> = BTreeMap::new();
            for b in &refs {
                let Some(x) = b.value.as_deref().and_then(|v| v.parse::<f64>().ok()) else { continue };
                let pos = spec.order.iter().position(|f| *f == b.function).unwrap_or(spec.order.len());
                by_fn.entry((pos, b.function.clone())).or_default().push((x, b.median.point / 1e6));
            }
            let series: Vec<_> = by_fn.into_iter().map(|((_, f), pts)| (f.clone(), pts, f.starts_with("memcpy"))).collect();
            lines(path, "offline of one 128 MiB block (median)", "% of the block in use", "ms per block", &series)
        }
    }
}

fn plot_ir(ir: &[IrBench], path: &Path) -> PlotResult {
    let items: Vec<(String, f64, bool)> =
        ir.iter().map(|b| (b.function.clone(), b.per_op(), b.function == "bare_atomic" || b.function.starts_with("global_lock"))).collect();
    hbars(path, "instructions per operation (Callgrind)", "Ir per operation", &items)
}
