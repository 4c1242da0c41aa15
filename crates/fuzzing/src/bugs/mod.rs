//! The bug registry: the five seed bugs and historical ones, each with the
//! kernel commit that fixed it, the invariant it breaks, its mechanism in
//! one sentence, and a reproducer written in the op language: a scenario
//! (`corpus/scenarios/<stem>.ops`, the bug's design on, expecting the
//! registered invariant) and its fixed twin (`<stem>.fixed.ops`: the same
//! ops and schedule on the landed design, expecting `ok`).
//!
//! A bug is *reproduced* when its scenario reports the registered
//! invariant, and *fixed* when the twin reports nothing at all. A race's
//! scenario is concurrent (named preemptions in its `schedule:`), so it
//! runs only in the shuttle build; [`check_bug`] says so in the default one.
//!
//! Invariants: every entry's `variant` names a [`mm::Switch`] or a
//! [`mm::page_alloc::FreePath`] type; `source` is a seed file name,
//! "history", or "fuzz" (a hole our fuzzer found in the kernel's landed
//! rule); each scenario's design is the entry's variant (a test checks).
//! Lock order: none of its own.

use crate::harness;
use crate::scenario::{self, Scenario};
use mm::violation::Violation;

mod registry;

/// A bug's reproducer: the scenario with the bug on and its fixed twin.
#[derive(Clone, Copy)]
pub struct Repro {
    /// The file stem under `corpus/scenarios/`.
    pub stem: &'static str,
    /// The text of `<stem>.ops`.
    pub buggy: &'static str,
    /// The text of `<stem>.fixed.ops`.
    pub fixed: &'static str,
}

impl Repro {
    /// The scenario with the bug on.
    pub fn buggy(&self) -> Result<Scenario, String> {
        scenario::parse(&format!("{}.ops", self.stem), self.buggy).map_err(|e| e.to_string())
    }

    /// The fixed twin.
    pub fn fixed(&self) -> Result<Scenario, String> {
        scenario::parse(&format!("{}.fixed.ops", self.stem), self.fixed).map_err(|e| e.to_string())
    }
}

/// One registered bug.
#[derive(Clone, Copy)]
pub struct Bug {
    /// Short id: B1..B5 for the seeds, C1.. for history and fuzz findings.
    pub id: &'static str,
    /// What goes wrong, in one line.
    pub title: &'static str,
    /// The kernel commit that fixed it (12-char hash), "none" or "unknown".
    pub fix_commit: &'static str,
    /// The catalogue id of the invariant it breaks.
    pub invariant: &'static str,
    /// The mechanism in one sentence.
    pub mechanism: &'static str,
    /// The seed file for the five seed bugs, "history" for the kernel's
    /// fixed bugs, "fuzz" for a hole pagelab's fuzzer found in the kernel's
    /// current rule (fixed in the landed design only).
    pub source: &'static str,
    /// The switch or FreePath type that turns it on.
    pub variant: &'static str,
    /// The reproducer and its fixed twin.
    pub scenario: Repro,
}

impl Bug {
    /// Is the reproducer a concurrent scenario (it needs the shuttle build)?
    pub fn is_race(&self) -> bool {
        self.scenario.buggy().is_ok_and(|sc| sc.is_concurrent())
    }

    /// The invariants whose violation, under this bug's design, counts as
    /// detecting it: the registered one first, then the ones the same
    /// mechanism breaks on the way there (its reproducer reports them too,
    /// see `pagelab bugs --check`). A fuzz harness that checks after every
    /// op stops at the first of them, so it may never reach the registered
    /// one: B3's flag-first soft offline leaves a PG_hwpoison folio on the
    /// hugetlb freelist (HR3, the model's H3) one op before the reserved
    /// fault finds no folio (HR1).
    pub fn detected_by(&'static self) -> &'static [&'static str] {
        match self.id {
            "B2c" => &["I1", "B3", "P2"],
            // Flag first: the flagged folio stays on the freelist (HR3,
            // the model's H3) or, when nothing reserves it, is dissolved
            // into buddy with its PG_hwpoison head (H1).
            "B3" => &["HR1", "HR3", "H1"],
            "C4" | "C4m" => &["B3", "B4"],
            // The page freed to a pcp list after the one drain sits there,
            // inside the isolated block (P5), until an allocation takes it
            // out of the block (A1).
            "C1" => &["A1", "P5"],
            "C6" => &["HD1", "HR2"],
            "C7" => &["R3", "HR3"],
            "C12" => &["A1", "B4"],
            _ => std::slice::from_ref(&self.invariant),
        }
    }
}

impl std::fmt::Debug for Bug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bug").field("id", &self.id).field("variant", &self.variant).finish()
    }
}

/// The outcome of running a bug's reproducer both ways.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// The bug's id.
    pub id: &'static str,
    /// The invariant it must break.
    pub invariant: &'static str,
    /// What the scenario reported (or why it could not run).
    pub buggy: Result<Vec<Violation>, String>,
    /// What the fixed twin reported.
    pub fixed: Result<Vec<Violation>, String>,
}

impl Verdict {
    /// The buggy run reported the registered invariant.
    pub fn reproduced(&self) -> bool {
        matches!(&self.buggy, Ok(v) if v.iter().any(|x| x.id == self.invariant))
    }
    /// The landed run reported nothing.
    pub fn fixed_clean(&self) -> bool {
        matches!(&self.fixed, Ok(v) if v.is_empty())
    }
    /// Both.
    pub fn pass(&self) -> bool {
        self.reproduced() && self.fixed_clean()
    }
}

/// Run one scenario of a reproducer: its violations, or why it did not run.
fn replay(sc: Result<Scenario, String>, checking: harness::Checking) -> Result<Vec<Violation>, String> {
    let out = harness::run_checking(&sc?, checking);
    if let Some(why) = out.skipped.or(out.error) {
        return Err(why);
    }
    Ok(out.violations)
}

/// Run `bug`'s scenario and its fixed twin. A race's scenarios need the
/// shuttle build; in the default build their verdict says so.
pub fn check_bug(bug: &Bug) -> Verdict {
    check_bug_with(bug, harness::Checking::default())
}

/// [`check_bug`] with the checks of `checking` (the tests that every
/// reproducer is caught with a full walk after every op, and by the
/// incremental checker with no full walk but the final one).
pub fn check_bug_with(bug: &Bug, checking: harness::Checking) -> Verdict {
    Verdict { id: bug.id, invariant: bug.invariant, buggy: replay(bug.scenario.buggy(), checking), fixed: replay(bug.scenario.fixed(), checking) }
}

/// Look a bug up by id.
pub fn find(id: &str) -> Option<&'static Bug> {
    registry().iter().find(|b| b.id.eq_ignore_ascii_case(id))
}

/// Every registered bug.
pub fn registry() -> &'static [Bug] {
    registry::REGISTRY
}
