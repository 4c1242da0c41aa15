//! The scenario parser: errors name the file, line and column.

use super::{NamedPreempt, PointPreempt, ScConfig, Scenario, StepPreempt, Verdict, VERSION};
use crate::ops::Op;
use super::print::fmt_mem;
use mm::design::{Switch, FREE_PATHS};
use mm::Geometry;
use std::fmt;

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

fn parse_mem(geo: &Geometry, v: &str) -> Option<u64> {
    let (num, mul) = match v.as_bytes().last()? {
        b'K' | b'k' => (&v[..v.len() - 1], 1u64 << 10),
        b'M' | b'm' => (&v[..v.len() - 1], 1 << 20),
        b'G' | b'g' => (&v[..v.len() - 1], 1 << 30),
        _ => (v, 1),
    };
    let bytes = num.parse::<u64>().ok()?.checked_mul(mul)?;
    let section = geo.section_size();
    (bytes > 0 && bytes.is_multiple_of(section)).then_some(bytes / section)
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
                // The geometry first: `mem` is a number of its sections.
                for tok in t.split_ascii_whitespace().skip(1) {
                    if let Some(v) = tok.strip_prefix("geometry=") {
                        let names: Vec<&str> = Geometry::ALL.iter().map(|g| g.name).collect();
                        let vat = p.offset(tok) + "geometry=".len();
                        sc.config.geometry = Geometry::by_name(v).ok_or_else(|| p.err(vat, format!("a geometry (one of {}), found `{v}`", names.join(", "))))?;
                    }
                }
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
                        "geometry" => {}
                        "mem" => {
                            let g = c.geometry;
                            let want = || format!("a memory size that is a multiple of {} (the {} section), at most {}", fmt_mem(&g, 1), g.name, fmt_mem(&g, ScConfig::MAX_SECTIONS as u64));
                            c.boot_sections = parse_mem(&g, v).filter(|&s| s <= ScConfig::MAX_SECTIONS as u64).ok_or_else(|| p.err(vat, want()))?
                        }
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
                        _ => return Err(p.err(tat, "a config key (geometry, mem, max_sections, cpus, frame_store, memmap_on_memory, pcp_high, pcp_batch, offline_passes, vpages, drivers)")),
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
                        Preempt::Named(n) => sc.schedule.named.push(n),
                        Preempt::Step(s) => {
                            if sc.schedule.steps.last().is_some_and(|l| l.step > s.step) {
                                return Err(p.err(at, "step preemptions in increasing step order"));
                            }
                            sc.schedule.steps.push(s)
                        }
                        Preempt::Point(s) => {
                            if sc.schedule.points.last().is_some_and(|l| l.point > s.point) {
                                return Err(p.err(at, "point preemptions in increasing point order"));
                            }
                            sc.schedule.points.push(s)
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

/// One schedule line.
enum Preempt {
    Named(NamedPreempt),
    Step(StepPreempt),
    Point(PointPreempt),
}

/// `preempt Ta at LABEL #n -> Tb`, `at step N switch to Tb` or `at point N
/// switch to Tb`. Errors are (offset in `t`, expected).
fn parse_preempt(t: &str) -> Result<Preempt, (usize, String)> {
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
            Ok(Preempt::Named(NamedPreempt { task, label: label.to_string(), nth, then }))
        }
        "at" => {
            let (ko, kind) = get(1);
            if kind != "step" && kind != "point" {
                return Err((ko, format!("`step` or `point`, found `{kind}`")));
            }
            let (so, s) = get(2);
            let n = s.parse::<u32>().map_err(|_| (so, format!("a {kind} number, found `{s}`")))?;
            word(3, "switch")?;
            word(4, "to")?;
            let then = thread(5)?;
            end(6)?;
            Ok(if kind == "step" { Preempt::Step(StepPreempt { step: n, then }) } else { Preempt::Point(PointPreempt { point: n, then }) })
        }
        other => Err((get(0).0, format!("`preempt Ta at LABEL #n -> Tb`, `at step N switch to Tb` or `at point N switch to Tb`, found `{other}`"))),
    }
}
