//! What a run did and found: the op trace ([`TraceLine`]), the violations,
//! the dumps of the pages they name, scheduling statistics ([`Outcome`]).
//!
//! Invariants: a run is a deterministic function of its scenario, so
//! [`Outcome::fingerprint`] is equal for two runs of one scenario. Lock
//! order: none (plain data).

use crate::ops::{Applied, Op};
use crate::scenario::Verdict;
use mm::page_alloc::FreePath;
use mm::system::System;
use mm::violation::Violation;
use mm::Pfn;
use std::fmt;

/// One executed op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceLine {
    /// None: the setup; Some(n): thread Tn.
    pub thread: Option<usize>,
    /// Index in its list.
    pub index: usize,
    pub op: Op,
    pub applied: Applied,
    /// The model's prediction, when it made one.
    pub expect: Option<String>,
}

impl fmt::Display for TraceLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = match self.thread {
            None => "setup".to_string(),
            Some(t) => format!("T{t}"),
        };
        write!(f, "{who:>5} #{:<3} {:<40} {}", self.index, self.op.to_text(), self.applied)
    }
}

/// A run's work, for a campaign's throughput counters ([`crate::stats`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct Work {
    /// Ops applied (setup and threads).
    pub ops: u32,
    /// Checks of the machine (after sequential ops and at the end).
    pub checks: u32,
    /// Nanoseconds spent in them.
    pub check_ns: u64,
}

/// What a run did and found.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub trace: Vec<TraceLine>,
    /// At the first failing sequential step, or at the end of a concurrent run.
    pub violations: Vec<Violation>,
    /// Where the violations were found ("setup #3", "end").
    pub at: Option<String>,
    /// The setup op whose check failed (None: the end of a concurrent run).
    pub fail_step: Option<usize>,
    /// `Page::dump` of the pages the violations name.
    pub dumps: Vec<String>,
    /// Why the scenario did not run in this build.
    pub skipped: Option<String>,
    /// Why the machine could not be built.
    pub error: Option<String>,
    /// Scheduling statistics (concurrent runs): choice points, decisions.
    pub choice_points: u32,
    pub decisions: u64,
    /// What the run did: ops applied (setup and threads), checks made and
    /// the time they took (a campaign's throughput counters, never part of
    /// a verdict or a fingerprint).
    pub work: Work,
    /// The preemptions taken, in words (concurrent runs).
    pub preemptions: Vec<String>,
    /// What the scheduler saw and did (shuttle build; never part of a
    /// verdict or a fingerprint).
    #[cfg(feature = "shuttle")]
    pub sched: crate::sched::RunStats,
}

impl Outcome {
    #[cfg_attr(feature = "shuttle", allow(dead_code))]
    pub(super) fn skipped(why: impl Into<String>) -> Outcome {
        Outcome { skipped: Some(why.into()), ..Outcome::default() }
    }

    /// The verdict: ok, or the first violation's id.
    pub fn verdict(&self) -> Verdict {
        match self.violations.first() {
            None => Verdict::Ok,
            Some(v) => Verdict::Violation(v.id.to_string()),
        }
    }

    /// Does this outcome satisfy `expect`? (A violation is expected if any
    /// reported violation has its id.)
    pub fn satisfies(&self, expect: &Verdict) -> bool {
        if self.skipped.is_some() || self.error.is_some() {
            return false;
        }
        match expect {
            Verdict::Ok => self.violations.is_empty(),
            Verdict::Violation(id) => self.violations.iter().any(|v| v.id == id),
        }
    }

    /// A hash of everything observable (trace, violations, dumps).
    pub fn fingerprint(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |s: &str| {
            for b in s.bytes() {
                h ^= b as u64;
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
            h ^= 0xff;
        };
        for t in &self.trace {
            eat(&t.to_string());
        }
        for v in &self.violations {
            eat(&v.to_string());
        }
        for d in &self.dumps {
            eat(d);
        }
        for p in &self.preemptions {
            eat(p);
        }
        eat(&format!("{:?}{:?}{:?}{}", self.at, self.skipped, self.error, self.choice_points));
        h
    }

    /// The ids of the violations, deduplicated, in order.
    pub fn ids(&self) -> Vec<&'static str> {
        let mut v: Vec<&'static str> = Vec::new();
        for x in &self.violations {
            if !v.contains(&x.id) {
                v.push(x.id);
            }
        }
        v
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(s) = &self.skipped {
            return writeln!(f, "skipped: {s}");
        }
        if let Some(e) = &self.error {
            return writeln!(f, "error: {e}");
        }
        for t in &self.trace {
            writeln!(f, "{t}")?;
            if let Some(e) = &t.expect {
                writeln!(f, "{:>12}model expected {e}", "")?;
            }
        }
        for p in &self.preemptions {
            writeln!(f, "preempted: {p}")?;
        }
        if self.violations.is_empty() {
            writeln!(f, "no violation")?;
        } else {
            writeln!(f, "{} violation(s) at {}:", self.violations.len(), self.at.as_deref().unwrap_or("?"))?;
            for v in self.violations.iter().take(20) {
                writeln!(f, "  {v}")?;
            }
            if self.violations.len() > 20 {
                writeln!(f, "  ... and {} more", self.violations.len() - 20)?;
            }
            for d in &self.dumps {
                writeln!(f, "  page: {d}")?;
            }
        }
        Ok(())
    }
}

/// `Page::dump` of the pages `vs` names (at most 8).
pub(super) fn dumps<F: FreePath>(sys: &System<F>, vs: &[Violation]) -> Vec<String> {
    let mut pfns: Vec<Pfn> = Vec::new();
    for v in vs {
        if let Some(p) = v.pfn {
            if !pfns.contains(&p) {
                pfns.push(p);
            }
        }
    }
    pfns.iter()
        .take(8)
        .map(|&p| match sys.pfn_to_page(p) {
            Ok(pg) => pg.dump(p),
            Err(e) => format!("pfn {p:#x}: {e}"),
        })
        .collect()
}
