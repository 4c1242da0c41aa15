//! Scenario files (`*.ops`): the stable, versioned, human-readable form of
//! a fuzz input — the machine, the design, a sequential setup, per-thread
//! op lists, the schedule, and the expected verdict.
//!
//! ```text
//! # C1: a free whose migratetype was read before isolation lands on a pcp list
//! pagelab-scenario v1
//! config mem=128M max_sections=2 cpus=2 frame_store=on memmap_on_memory=off pcp_high=6 pcp_batch=2 offline_passes=4 vpages=64
//! design offline_drain_once
//! free_path landed
//! setup:
//!   add_memory block=1
//!   online
//! thread T0:
//!   offline block=1
//! thread T1:
//!   fault
//!   unmap
//!   alloc
//! schedule:
//!   preempt T0 at op:offline #1 -> T1
//!   preempt T1 at free_unref_page:mt_read #1 -> T0
//!   at step 17 switch to T1
//! expect: violation A1
//! ```
//!
//! * Lines: `#` starts a comment when it begins a line or follows a space
//!   and is followed by a space or the line end (so `#1` in a preemption
//!   is not one). Comment lines before the version line are kept as the
//!   scenario's notes and printed back.
//! * `config` keys (any order, all optional): `mem` (boot memory, a
//!   multiple of 128M), `max_sections`, `cpus`, `frame_store`,
//!   `memmap_on_memory` (the module parameter: an `add_memory
//!   memmap_on_memory=on` only gets an altmap when it is on), `pcp_high`,
//!   `pcp_batch`, `offline_passes`, `vpages`, `drivers` (`none` or a comma
//!   list of `virtio_mem` — a device over the hot-pluggable blocks —,
//!   `cmm`, `hv_balloon`: registered on the notifier chain at boot).
//! * `design` is `fixed` or a comma list of [`mm::Switch`] names;
//!   `free_path` a name from [`mm::design::FREE_PATHS`].
//! * `setup:` runs sequentially on the main thread (CPU operands honoured),
//!   checked by the model and the checker after every op. `thread Tn:`
//!   lists (T0, T1, ... in order) run concurrently under shuttle; thread
//!   Tn acts for CPU n, T0 is the main task that ran the setup.
//! * `schedule:` sparse preemptions over the default policy (run the
//!   current thread until it blocks or finishes, then the lowest runnable):
//!   `preempt Ta at LABEL #n -> Tb` (when Ta reaches its n-th pass through
//!   the named preemption point LABEL, run Tb; taken in order) and
//!   `at step N switch to Tb` (at the N-th scheduling decision that has a
//!   choice, run Tb). Each thread passes `op:<name>` before each of its ops.
//! * `expect: ok` or `expect: violation ID` (an invariant id, or one of
//!   the harness's: `MODEL` the reference model disagrees, `OPERR` an
//!   operation on a held handle failed, `PANIC` the core panicked).
//!
//! A parse error names the file, line and column and what was expected;
//! no input makes the parser panic.
//!
//! Invariants: `print(parse(print(s))) == print(s)` and `parse(print(s)) ==
//! s` for every valid scenario. Lock order: none (plain data).

use mm::design::{Switch, FREE_PATHS};
use crate::ops::Op;
use mm::{PAGES_PER_SECTION, SECTION_SIZE};
use std::fmt;

/// The current format version.
pub const VERSION: u32 = 1;

/// The machine of a scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScConfig {
    /// Boot sections (`mem` / 128M).
    pub boot_sections: u64,
    pub max_sections: usize,
    pub cpus: usize,
    pub frame_store: bool,
    /// The `memory_hotplug.memmap_on_memory` module parameter.
    pub memmap_on_memory: bool,
    pub pcp_high: u32,
    pub pcp_batch: u32,
    pub offline_passes: u32,
    pub vpages: usize,
    /// Balloon / memory-device drivers registered at boot (`drivers=`):
    /// virtio-mem over the hot-pluggable blocks, CMM, Hyper-V balloon.
    pub virtio_mem: bool,
    pub cmm: bool,
    pub hv_balloon: bool,
}

impl Default for ScConfig {
    fn default() -> Self {
        ScConfig {
            boot_sections: 1,
            max_sections: 2,
            cpus: 2,
            frame_store: true,
            memmap_on_memory: true,
            pcp_high: 6,
            pcp_batch: 2,
            offline_passes: 4,
            vpages: 64,
            virtio_mem: false,
            cmm: false,
            hv_balloon: false,
        }
    }
}

impl ScConfig {
    /// Largest accepted values (a scenario is a test case, not a workload).
    pub const MAX_SECTIONS: usize = 8;
    pub const MAX_CPUS: usize = 8;
    pub const MAX_VPAGES: usize = 4096;

    /// Any driver configured?
    pub fn has_drivers(&self) -> bool {
        self.virtio_mem || self.cmm || self.hv_balloon
    }

    fn drivers_text(&self) -> String {
        let mut v = Vec::new();
        if self.virtio_mem {
            v.push("virtio_mem");
        }
        if self.cmm {
            v.push("cmm");
        }
        if self.hv_balloon {
            v.push("hv_balloon");
        }
        v.join(",")
    }

    /// The core's configuration for `design`.
    pub fn to_config(&self, design: mm::Design) -> mm::Config {
        mm::Config {
            mem_bytes: self.boot_sections * SECTION_SIZE,
            max_sections: self.max_sections,
            nr_cpus: self.cpus,
            pcp_high: self.pcp_high,
            pcp_batch: self.pcp_batch,
            frame_store: self.frame_store,
            design,
            nr_vpages: self.vpages,
            offline_max_passes: self.offline_passes,
        }
    }

    fn validate(&self) -> Result<(), String> {
        if self.boot_sections == 0 || self.boot_sections as usize > self.max_sections {
            return Err(format!("mem of 1..=max_sections sections (max_sections is {})", self.max_sections));
        }
        if self.max_sections > Self::MAX_SECTIONS {
            return Err(format!("max_sections at most {}", Self::MAX_SECTIONS));
        }
        if self.cpus == 0 || self.cpus > Self::MAX_CPUS {
            return Err(format!("cpus in 1..={}", Self::MAX_CPUS));
        }
        if self.vpages == 0 || self.vpages > Self::MAX_VPAGES {
            return Err(format!("vpages in 1..={}", Self::MAX_VPAGES));
        }
        if self.pcp_batch == 0 {
            return Err("pcp_batch of at least 1".into());
        }
        if self.offline_passes == 0 || self.offline_passes > 64 {
            return Err("offline_passes in 1..=64".into());
        }
        Ok(())
    }
}

/// A named preemption: when thread `task` reaches its `nth` pass through
/// `label`, run thread `then`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedPreempt {
    pub task: usize,
    pub label: String,
    pub nth: u32,
    pub then: usize,
}

/// A step preemption: at choice point `step` (0-based count of scheduling
/// decisions with more than one runnable thread), run thread `then`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepPreempt {
    pub step: u32,
    pub then: usize,
}

/// The schedule of a concurrent scenario.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Schedule {
    pub named: Vec<NamedPreempt>,
    /// Sorted by step.
    pub steps: Vec<StepPreempt>,
}

impl Schedule {
    pub fn is_empty(&self) -> bool {
        self.named.is_empty() && self.steps.is_empty()
    }
}

/// The expected verdict.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Verdict {
    #[default]
    Ok,
    /// A violation with this id is reported.
    Violation(String),
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Ok => f.write_str("ok"),
            Verdict::Violation(id) => write!(f, "violation {id}"),
        }
    }
}

/// One scenario.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scenario {
    /// Comment lines before the version line (without the `# `).
    pub notes: Vec<String>,
    pub config: ScConfig,
    pub design: Vec<Switch>,
    pub free_path: String,
    pub setup: Vec<Op>,
    pub threads: Vec<Vec<Op>>,
    pub schedule: Schedule,
    pub expect: Verdict,
}

impl Scenario {
    /// A sequential scenario on the default machine, landed design.
    pub fn sequential(setup: Vec<Op>) -> Scenario {
        Scenario { free_path: "landed".into(), setup, ..Scenario::default() }
    }

    /// Does it need the shuttle build (it has threads)?
    pub fn is_concurrent(&self) -> bool {
        !self.threads.is_empty()
    }

    /// The design switches as a [`mm::Design`].
    pub fn design(&self) -> mm::Design {
        mm::Design::with(&self.design)
    }

    /// Is this the landed design (no switch, landed free path)?
    pub fn is_fixed(&self) -> bool {
        self.design.is_empty() && self.free_path == "landed"
    }

    /// The text form.
    pub fn print(&self) -> String {
        self.to_string()
    }

    /// Check cross-field rules (threads vs cpus, schedule thread ids).
    pub fn validate(&self) -> Result<(), String> {
        self.config.validate()?;
        if !FREE_PATHS.iter().any(|(n, _)| *n == self.free_path) {
            return Err(format!("free_path one of {}", FREE_PATHS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")));
        }
        if self.threads.len() > self.config.cpus {
            return Err(format!("at most one thread per cpu ({} threads, {} cpus)", self.threads.len(), self.config.cpus));
        }
        if self.threads.len() == 1 {
            return Err("no thread sections, or at least two".into());
        }
        let n = self.threads.len();
        for p in &self.schedule.named {
            if p.task >= n || p.then >= n {
                return Err(format!("thread ids below {n} in the schedule"));
            }
        }
        for p in &self.schedule.steps {
            if p.then >= n {
                return Err(format!("thread ids below {n} in the schedule"));
            }
        }
        if !self.schedule.is_empty() && n == 0 {
            return Err("thread sections before a schedule".into());
        }
        if self.schedule.steps.windows(2).any(|w| w[0].step > w[1].step) {
            return Err("step preemptions in increasing step order".into());
        }
        Ok(())
    }
}

fn fmt_mem(sections: u64) -> String {
    let mib = sections * (SECTION_SIZE >> 20);
    if mib % 1024 == 0 {
        format!("{}G", mib / 1024)
    } else {
        format!("{mib}M")
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for n in &self.notes {
            if n.is_empty() {
                writeln!(f, "#")?;
            } else {
                writeln!(f, "# {n}")?;
            }
        }
        writeln!(f, "pagelab-scenario v{VERSION}")?;
        let c = &self.config;
        let onoff = |b: bool| if b { "on" } else { "off" };
        writeln!(
            f,
            "config mem={} max_sections={} cpus={} frame_store={} memmap_on_memory={} pcp_high={} pcp_batch={} offline_passes={} vpages={}{}",
            fmt_mem(c.boot_sections),
            c.max_sections,
            c.cpus,
            onoff(c.frame_store),
            onoff(c.memmap_on_memory),
            c.pcp_high,
            c.pcp_batch,
            c.offline_passes,
            c.vpages,
            if c.has_drivers() { format!(" drivers={}", c.drivers_text()) } else { String::new() }
        )?;
        if self.design.is_empty() {
            writeln!(f, "design fixed")?;
        } else {
            let v: Vec<&str> = self.design.iter().map(|s| s.name()).collect();
            writeln!(f, "design {}", v.join(","))?;
        }
        writeln!(f, "free_path {}", self.free_path)?;
        writeln!(f, "setup:")?;
        for op in &self.setup {
            writeln!(f, "  {op}")?;
        }
        for (i, t) in self.threads.iter().enumerate() {
            writeln!(f, "thread T{i}:")?;
            for op in t {
                writeln!(f, "  {op}")?;
            }
        }
        if !self.schedule.is_empty() {
            writeln!(f, "schedule:")?;
            for p in &self.schedule.named {
                writeln!(f, "  preempt T{} at {} #{} -> T{}", p.task, p.label, p.nth, p.then)?;
            }
            for p in &self.schedule.steps {
                writeln!(f, "  at step {} switch to T{}", p.step, p.then)?;
            }
        }
        writeln!(f, "expect: {}", self.expect)
    }
}

/// A parse error: where and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub file: String,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub col: usize,
    /// "expected ..." (what the parser wanted there).
    pub expected: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: expected {}", self.file, self.line, self.col, self.expected)
    }
}

impl std::error::Error for ParseError {}

/// Strip a trailing comment (see the module doc for what starts one).
fn strip_comment(line: &str) -> &str {
    let b = line.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c == b'#' && (i == 0 || b[i - 1].is_ascii_whitespace()) && b.get(i + 1).is_none_or(|n| n.is_ascii_whitespace()) {
            return &line[..i];
        }
    }
    line
}

#[derive(PartialEq, Eq, Clone, Copy)]
enum Section {
    Head,
    Setup,
    Thread(usize),
    Schedule,
    Done,
}

struct Parser<'a> {
    file: &'a str,
    line_no: usize,
    line: &'a str,
}

impl Parser<'_> {
    /// An error at byte offset `at` of the current line.
    fn err(&self, at: usize, expected: impl Into<String>) -> ParseError {
        let at = at.min(self.line.len());
        let col = self.line.get(..at).map_or(at, |s| s.chars().count()) + 1;
        ParseError { file: self.file.to_string(), line: self.line_no, col, expected: expected.into() }
    }

    fn offset(&self, part: &str) -> usize {
        let base = self.line.as_ptr() as usize;
        let p = part.as_ptr() as usize;
        if p >= base && p <= base + self.line.len() {
            p - base
        } else {
            0
        }
    }
}

fn parse_thread(tok: &str) -> Option<usize> {
    let n = tok.strip_prefix('T')?;
    if n.is_empty() || n.len() > 3 || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    n.parse().ok()
}

fn parse_mem(v: &str) -> Option<u64> {
    let (num, mul) = match v.as_bytes().last()? {
        b'K' | b'k' => (&v[..v.len() - 1], 1u64 << 10),
        b'M' | b'm' => (&v[..v.len() - 1], 1 << 20),
        b'G' | b'g' => (&v[..v.len() - 1], 1 << 30),
        _ => (v, 1),
    };
    let bytes = num.parse::<u64>().ok()?.checked_mul(mul)?;
    (bytes > 0 && bytes % SECTION_SIZE == 0).then_some(bytes / SECTION_SIZE)
}

/// Parse scenario text; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Scenario, ParseError> {
    let mut sc = Scenario { free_path: "landed".into(), ..Scenario::default() };
    let mut p = Parser { file, line_no: 0, line: "" };
    let mut section = Section::Head;
    let mut seen_version = false;
    let mut seen = (false, false, false); // config, design, free_path
    for (i, raw) in text.split('\n').enumerate() {
        p.line_no = i + 1;
        p.line = raw.strip_suffix('\r').unwrap_or(raw);
        let content = strip_comment(p.line);
        let t = content.trim();
        if t.is_empty() {
            if !seen_version {
                if let Some(c) = p.line.trim_start().strip_prefix('#') {
                    sc.notes.push(c.strip_prefix(' ').unwrap_or(c).trim_end().to_string());
                }
            }
            continue;
        }
        let at = p.offset(t);
        if !seen_version {
            let mut it = t.split_ascii_whitespace();
            if it.next() != Some("pagelab-scenario") {
                return Err(p.err(at, "the version line `pagelab-scenario v1`"));
            }
            let v = it.next().unwrap_or("");
            if v != format!("v{VERSION}") {
                return Err(p.err(p.offset(v).max(at), format!("format version v{VERSION} (the only one this build reads), found `{v}`")));
            }
            if let Some(extra) = it.next() {
                return Err(p.err(p.offset(extra), "the end of the version line"));
            }
            seen_version = true;
            continue;
        }
        if section == Section::Done {
            return Err(p.err(at, "nothing after the `expect:` line"));
        }
        let first = t.split_ascii_whitespace().next().unwrap_or("");
        match first {
            "config" if section == Section::Head => {
                if seen.0 {
                    return Err(p.err(at, "one `config` line"));
                }
                seen.0 = true;
                for tok in t.split_ascii_whitespace().skip(1) {
                    let tat = p.offset(tok);
                    let Some((k, v)) = tok.split_once('=') else { return Err(p.err(tat, "`key=value` in the config line")) };
                    let vat = tat + k.len() + 1;
                    let c = &mut sc.config;
                    let num = |v: &str| -> Option<u64> {
                        if let Some(h) = v.strip_prefix("0x") {
                            u64::from_str_radix(h, 16).ok()
                        } else {
                            v.parse().ok()
                        }
                    };
                    let flag = |v: &str| match v {
                        "on" => Some(true),
                        "off" => Some(false),
                        _ => None,
                    };
                    let small = |v: &str, max: u64| num(v).filter(|&n| n <= max);
                    match k {
                        "mem" => c.boot_sections = parse_mem(v).filter(|&s| s <= ScConfig::MAX_SECTIONS as u64).ok_or_else(|| p.err(vat, format!("a memory size that is a multiple of 128M, at most {}", fmt_mem(ScConfig::MAX_SECTIONS as u64))))?,
                        "max_sections" => c.max_sections = small(v, ScConfig::MAX_SECTIONS as u64).ok_or_else(|| p.err(vat, format!("a number of sections at most {}", ScConfig::MAX_SECTIONS)))? as usize,
                        "cpus" => c.cpus = small(v, ScConfig::MAX_CPUS as u64).ok_or_else(|| p.err(vat, format!("a cpu count at most {}", ScConfig::MAX_CPUS)))? as usize,
                        "frame_store" => c.frame_store = flag(v).ok_or_else(|| p.err(vat, "on or off"))?,
                        "memmap_on_memory" => c.memmap_on_memory = flag(v).ok_or_else(|| p.err(vat, "on or off"))?,
                        "pcp_high" => c.pcp_high = small(v, 1 << 20).ok_or_else(|| p.err(vat, "a pcp high mark"))? as u32,
                        "pcp_batch" => c.pcp_batch = small(v, 1 << 20).ok_or_else(|| p.err(vat, "a pcp batch"))? as u32,
                        "offline_passes" => c.offline_passes = small(v, 64).ok_or_else(|| p.err(vat, "a pass count at most 64"))? as u32,
                        "vpages" => c.vpages = small(v, ScConfig::MAX_VPAGES as u64).ok_or_else(|| p.err(vat, format!("a vpage count at most {}", ScConfig::MAX_VPAGES)))? as usize,
                        "drivers" => {
                            c.virtio_mem = false;
                            c.cmm = false;
                            c.hv_balloon = false;
                            if v != "none" {
                                let mut off = vat;
                                for d in v.split(',') {
                                    match d {
                                        "virtio_mem" => c.virtio_mem = true,
                                        "cmm" => c.cmm = true,
                                        "hv_balloon" => c.hv_balloon = true,
                                        _ => return Err(p.err(off, format!("`none` or drivers among virtio_mem, cmm, hv_balloon, found `{d}`"))),
                                    }
                                    off += d.len() + 1;
                                }
                            }
                        }
                        _ => return Err(p.err(tat, "a config key (mem, max_sections, cpus, frame_store, memmap_on_memory, pcp_high, pcp_batch, offline_passes, vpages, drivers)")),
                    }
                }
                if let Err(e) = sc.config.validate() {
                    return Err(p.err(at, e));
                }
            }
            "design" if section == Section::Head => {
                if seen.1 {
                    return Err(p.err(at, "one `design` line"));
                }
                seen.1 = true;
                let mut toks = t.split_ascii_whitespace().skip(1);
                let Some(v) = toks.next() else { return Err(p.err(at + t.len(), "`fixed` or a comma list of switch names")) };
                if let Some(extra) = toks.next() {
                    return Err(p.err(p.offset(extra), "the end of the design line (switches are comma separated, no spaces)"));
                }
                if v != "fixed" {
                    let mut off = p.offset(v);
                    for name in v.split(',') {
                        match Switch::from_name(name) {
                            Some(s) if !sc.design.contains(&s) => sc.design.push(s),
                            Some(_) => return Err(p.err(off, format!("each switch once, `{name}` repeats"))),
                            None => {
                                let all: Vec<&str> = Switch::ALL.iter().map(|s| s.name()).collect();
                                return Err(p.err(off, format!("`fixed` or a switch name (one of {}), found `{name}`", all.join(", "))));
                            }
                        }
                        off += name.len() + 1;
                    }
                    sc.design.sort();
                }
            }
            "free_path" if section == Section::Head => {
                if seen.2 {
                    return Err(p.err(at, "one `free_path` line"));
                }
                seen.2 = true;
                let mut toks = t.split_ascii_whitespace().skip(1);
                let names: Vec<&str> = FREE_PATHS.iter().map(|(n, _)| *n).collect();
                match toks.next() {
                    Some(v) if names.contains(&v) => sc.free_path = v.to_string(),
                    Some(v) => return Err(p.err(p.offset(v), format!("a free path (one of {}), found `{v}`", names.join(", ")))),
                    None => return Err(p.err(at + t.len(), format!("a free path (one of {})", names.join(", ")))),
                }
                if let Some(extra) = toks.next() {
                    return Err(p.err(p.offset(extra), "the end of the free_path line"));
                }
            }
            "setup:" if section == Section::Head => {
                if t != "setup:" {
                    return Err(p.err(at + 6, "the end of the line after `setup:`"));
                }
                section = Section::Setup;
            }
            "thread" if matches!(section, Section::Head | Section::Setup | Section::Thread(_)) => {
                let want = sc.threads.len();
                let rest = t["thread".len()..].trim_start();
                let id = rest.strip_suffix(':').and_then(parse_thread);
                if id != Some(want) {
                    return Err(p.err(p.offset(rest), format!("`T{want}:` (threads are numbered in order from T0)")));
                }
                if want >= ScConfig::MAX_CPUS {
                    return Err(p.err(p.offset(rest), format!("at most {} threads", ScConfig::MAX_CPUS)));
                }
                sc.threads.push(Vec::new());
                section = Section::Thread(want);
            }
            "schedule:" if matches!(section, Section::Head | Section::Setup | Section::Thread(_)) => {
                if t != "schedule:" {
                    return Err(p.err(at + 9, "the end of the line after `schedule:`"));
                }
                section = Section::Schedule;
            }
            "expect:" => {
                let v = t["expect:".len()..].trim();
                let vat = p.offset(v).max(at + 7);
                let mut toks = v.split_ascii_whitespace();
                sc.expect = match (toks.next(), toks.next(), toks.next()) {
                    (Some("ok"), None, _) => Verdict::Ok,
                    (Some("violation"), Some(id), None)
                        if id.len() <= 16 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
                    {
                        Verdict::Violation(id.to_string())
                    }
                    _ => return Err(p.err(vat, "`ok` or `violation ID` after `expect:`")),
                };
                section = Section::Done;
            }
            _ => match section {
                Section::Setup | Section::Thread(_) => {
                    let op = Op::parse(t).map_err(|(off, msg)| p.err(at + off, msg))?;
                    if sc.setup.len() + sc.threads.iter().map(Vec::len).sum::<usize>() >= 100_000 {
                        return Err(p.err(at, "at most 100000 operations"));
                    }
                    match section {
                        Section::Setup => sc.setup.push(op),
                        Section::Thread(i) => sc.threads[i].push(op),
                        _ => unreachable!("matched above"),
                    }
                }
                Section::Schedule => {
                    let e = parse_preempt(t).map_err(|(off, msg)| p.err(at + off, msg))?;
                    match e {
                        Ok(n) => sc.schedule.named.push(n),
                        Err(s) => {
                            if sc.schedule.steps.last().is_some_and(|l| l.step > s.step) {
                                return Err(p.err(at, "step preemptions in increasing step order"));
                            }
                            sc.schedule.steps.push(s)
                        }
                    }
                }
                Section::Head => {
                    return Err(p.err(at, "`config`, `design`, `free_path`, `setup:`, `thread T0:`, `schedule:` or `expect:`"))
                }
                Section::Done => unreachable!("handled above"),
            },
        }
    }
    if !seen_version {
        return Err(ParseError { file: file.into(), line: 1, col: 1, expected: "the version line `pagelab-scenario v1`".into() });
    }
    if section != Section::Done {
        p.line_no += 0;
        return Err(ParseError {
            file: file.into(),
            line: p.line_no,
            col: p.line.chars().count() + 1,
            expected: "an `expect: ok` or `expect: violation ID` line at the end".into(),
        });
    }
    sc.validate().map_err(|e| ParseError { file: file.into(), line: 1, col: 1, expected: e })?;
    Ok(sc)
}

/// `preempt Ta at LABEL #n -> Tb` (Ok) or `at step N switch to Tb` (Err).
/// Errors are (offset in `t`, expected).
#[allow(clippy::type_complexity)]
fn parse_preempt(t: &str) -> Result<Result<NamedPreempt, StepPreempt>, (usize, String)> {
    let toks: Vec<(usize, &str)> = t.split_ascii_whitespace().map(|s| (s.as_ptr() as usize - t.as_ptr() as usize, s)).collect();
    let get = |i: usize| toks.get(i).copied().unwrap_or((t.len(), ""));
    let thread = |i: usize| -> Result<usize, (usize, String)> {
        let (o, s) = get(i);
        parse_thread(s).ok_or((o, format!("a thread `Tn`, found `{s}`")))
    };
    let word = |i: usize, w: &str| -> Result<(), (usize, String)> {
        let (o, s) = get(i);
        if s == w {
            Ok(())
        } else {
            Err((o, format!("`{w}`, found `{s}`")))
        }
    };
    let end = |i: usize| -> Result<(), (usize, String)> {
        match toks.get(i) {
            None => Ok(()),
            Some(&(o, s)) => Err((o, format!("the end of the line, found `{s}`"))),
        }
    };
    match get(0).1 {
        "preempt" => {
            let task = thread(1)?;
            word(2, "at")?;
            let (lo, label) = get(3);
            if label.is_empty() || label.starts_with('#') || label.len() > 64 {
                return Err((lo, "a preemption point label".into()));
            }
            let (no, n) = get(4);
            let nth = n.strip_prefix('#').and_then(|d| d.parse::<u32>().ok()).filter(|&n| n >= 1);
            let Some(nth) = nth else { return Err((no, format!("`#n`, the pass count (1 or more), found `{n}`"))) };
            word(5, "->")?;
            let then = thread(6)?;
            end(7)?;
            Ok(Ok(NamedPreempt { task, label: label.to_string(), nth, then }))
        }
        "at" => {
            word(1, "step")?;
            let (so, s) = get(2);
            let step = s.parse::<u32>().map_err(|_| (so, format!("a step number, found `{s}`")))?;
            word(3, "switch")?;
            word(4, "to")?;
            let then = thread(5)?;
            end(6)?;
            Ok(Err(StepPreempt { step, then }))
        }
        other => Err((get(0).0, format!("`preempt Ta at LABEL #n -> Tb` or `at step N switch to Tb`, found `{other}`"))),
    }
}

/// Read and parse a scenario file.
pub fn load(path: &std::path::Path) -> Result<Scenario, String> {
    let text = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let text = String::from_utf8(text).map_err(|e| format!("{}: not UTF-8 text ({e})", path.display()))?;
    parse(&path.display().to_string(), &text).map_err(|e| e.to_string())
}

/// Pages of the memory a scenario boots (for messages).
pub fn boot_pages(sc: &Scenario) -> u64 {
    sc.config.boot_sections * PAGES_PER_SECTION
}

/// Generators of valid scenarios from `arbitrary` bytes (for the
/// round-trip property test and the `scenario` fuzz target's seeds).
pub mod gen {
    use super::*;
    use arbitrary::{Arbitrary, Result, Unstructured};

    const LABELS: &[&str] = &["op:alloc", "free_unref_page:mt_read", "rmqueue_pcplist:refilled", "x", "a:b:c_9"];

    /// Any valid scenario.
    pub fn scenario(u: &mut Unstructured<'_>) -> Result<Scenario> {
        let max_sections = u.int_in_range(1..=ScConfig::MAX_SECTIONS)?;
        let config = ScConfig {
            boot_sections: u.int_in_range(1..=max_sections as u64)?,
            max_sections,
            cpus: u.int_in_range(1..=ScConfig::MAX_CPUS)?,
            frame_store: u.arbitrary()?,
            memmap_on_memory: u.arbitrary()?,
            pcp_high: u.int_in_range(0..=300)?,
            pcp_batch: u.int_in_range(1..=64)?,
            offline_passes: u.int_in_range(1..=64)?,
            vpages: u.int_in_range(1..=ScConfig::MAX_VPAGES)?,
            virtio_mem: u.arbitrary()?,
            cmm: u.arbitrary()?,
            hv_balloon: u.arbitrary()?,
        };
        let mut design: Vec<Switch> = Vec::new();
        for &s in Switch::ALL {
            if u.ratio(1, 8)? {
                design.push(s);
            }
        }
        let free_path = u.choose(FREE_PATHS)?.0.to_string();
        let setup: Vec<Op> = (0..u.int_in_range(0..=6)?).map(|_| Op::arbitrary(u)).collect::<Result<_>>()?;
        let nthreads = if u.arbitrary()? { 0 } else { u.int_in_range(2..=config.cpus.max(2))? };
        let mut config = config;
        config.cpus = config.cpus.max(nthreads);
        let threads: Vec<Vec<Op>> =
            (0..nthreads).map(|_| (0..u.int_in_range(0..=4)?).map(|_| Op::arbitrary(u)).collect::<Result<Vec<_>>>()).collect::<Result<_>>()?;
        let mut schedule = Schedule::default();
        if nthreads > 0 {
            for _ in 0..u.int_in_range(0..=3)? {
                schedule.named.push(NamedPreempt {
                    task: u.int_in_range(0..=nthreads - 1)?,
                    label: u.choose(LABELS)?.to_string(),
                    nth: u.int_in_range(1..=9)?,
                    then: u.int_in_range(0..=nthreads - 1)?,
                });
            }
            let mut step = 0u32;
            for _ in 0..u.int_in_range(0..=3)? {
                step += u.int_in_range(0..=50)?;
                schedule.steps.push(StepPreempt { step, then: u.int_in_range(0..=nthreads - 1)? });
            }
        }
        let expect = if u.arbitrary()? { Verdict::Ok } else { Verdict::Violation(u.choose(&["A1", "B3", "MODEL", "O1"])?.to_string()) };
        let notes = if u.ratio(1, 3)? { vec!["a note".into(), String::new(), "# more".into()] } else { Vec::new() };
        Ok(Scenario { notes, config, design, free_path, setup, threads, schedule, expect })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// splitmix64, for deterministic random bytes.
    fn bytes(seed: u64, n: usize) -> Vec<u8> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
                let mut z = s;
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                (z ^ (z >> 31)) as u8
            })
            .collect()
    }

    #[test]
    fn print_parse_roundtrip_over_arbitrary_scenarios() {
        let mut n = 0;
        for seed in 0..600 {
            let data = bytes(seed, 1024);
            let mut u = arbitrary::Unstructured::new(&data);
            let Ok(sc) = gen::scenario(&mut u) else { continue };
            sc.validate().unwrap_or_else(|e| panic!("seed {seed}: generated an invalid scenario ({e}):\n{sc}"));
            let text = sc.print();
            let back = parse("gen.ops", &text).unwrap_or_else(|e| panic!("seed {seed}: {e}\n{text}"));
            assert_eq!(back, sc, "seed {seed}:\n{text}");
            assert_eq!(back.print(), text);
            n += 1;
        }
        assert!(n > 500, "only {n} scenarios generated");
    }

    #[test]
    fn malformed_input_never_panics_and_errors_point_somewhere() {
        let good = "pagelab-scenario v1\nconfig mem=128M cpus=2\nsetup:\n  alloc order=1\nthread T0:\n  drain_all\nthread T1:\n  fault vpn=3\nschedule:\n  preempt T0 at op:drain_all #1 -> T1\n  at step 3 switch to T0\nexpect: violation A1\n";
        parse("good.ops", good).unwrap();
        for seed in 0..3000u64 {
            let mut data = good.as_bytes().to_vec();
            let r = bytes(seed, 8);
            for k in 0..(r[0] % 4 + 1) as usize {
                let pos = (r[1 + k] as usize * 7 + seed as usize) % data.len();
                match r[5] % 3 {
                    0 => data[pos] = r[6 + (k % 2)],
                    1 => {
                        data.remove(pos);
                    }
                    _ => data.insert(pos, r[7]),
                }
            }
            let text = String::from_utf8_lossy(&data);
            if let Err(e) = parse("m.ops", &text) {
                assert!(e.line >= 1 && e.col >= 1 && !e.expected.is_empty());
                let lines: Vec<&str> = text.split('\n').collect();
                assert!(e.line <= lines.len().max(1), "{e}");
            }
        }
        for junk in ["", "\n\n", "#", "pagelab-scenario", "pagelab-scenario v2\n", "pagelab-scenario v1\nexpect: maybe\n", "\u{feff}x"] {
            assert!(parse("j.ops", junk).is_err());
        }
    }

    #[test]
    fn error_positions() {
        let e = parse("f.ops", "pagelab-scenario v1\nsetup:\n  alloc order=12\nexpect: ok\n").unwrap_err();
        assert_eq!((e.line, e.col), (3, 15), "{e}");
        assert!(e.to_string().starts_with("f.ops:3:15: expected for `order`"), "{e}");
        let e = parse("f.ops", "pagelab-scenario v1\nthread T1:\nexpect: ok\n").unwrap_err();
        assert_eq!((e.line, e.col), (2, 8), "{e}");
        let e = parse("f.ops", "pagelab-scenario v1\nsetup:\n").unwrap_err();
        assert!(e.expected.contains("expect"), "{e}");
        let e = parse("f.ops", "pagelab-scenario v1\ndesign fixed,nope\nexpect: ok\n").unwrap_err();
        assert_eq!((e.line, e.col), (2, 8), "{e}");
    }
}
