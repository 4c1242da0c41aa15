//! What every op does: one arm per op, which resolves the op's operands
//! against the current state (the rules are in [`super::actor`]), hands the
//! resolved form to the caller's hook (the reference model predicts from
//! it) and then calls the model's code.
//!
//! The arms are grouped by the kernel area they drive, one file each:
//! `refs` (allocation, references, pcp drains), `user` (faults, LRU,
//! migration, THP, pins, swap cache), `hotplug` (isolation, online/offline,
//! add/remove, contiguous ranges), `walkers` (compaction, pfn walkers),
//! `drivers` (virtio-mem, CMM, Hyper-V balloon), `hwpoison` (memory
//! failure, soft offline, unpoison, hugetlb). Each group's function answers
//! `None` for an op that is not its own, so adding an op touches its table
//! entry and one arm, nothing else.
//!
//! An op with nothing to act on is skipped without calling the model's
//! code (no resolved form). A failure of an op on a handle the harness
//! holds (freeing its own allocation, dropping its own pin) is a harness
//! violation (`OPERR`): the second element of an arm's answer.
//!
//! Invariants: an arm calls [`Step::resolved`] exactly once, before it
//! changes any state, unless it skips. Lock order: as [`super::actor`].

use super::actor::Actor;
use crate::ops::{Op, OpError, OpResult, Resolved};
use mm::page_alloc::FreePath;

mod drivers;
mod hotplug;
mod hwpoison;
mod refs;
mod user;
mod walkers;

/// An arm's answer: the result, and whether a failure is a harness
/// violation.
type Answer = Option<(OpResult, bool)>;

/// The hook between resolving an op and running it.
pub struct Step<'a> {
    before: &'a mut dyn FnMut(&Resolved),
    resolved: Option<Resolved>,
}

impl Step<'_> {
    /// The op's operands resolved to `r`: tell the caller, remember it.
    fn resolved(&mut self, r: Resolved) {
        (self.before)(&r);
        self.resolved = Some(r);
    }
}

/// What one op did.
#[derive(Debug)]
pub struct Done {
    /// What its operands resolved to (None: skipped).
    pub resolved: Option<Resolved>,
    /// What it returned.
    pub result: OpResult,
    /// A failure that is a harness violation (`OPERR`).
    pub operr: bool,
}

fn skip(why: &'static str) -> Answer {
    Some((OpResult::Skip(why), false))
}

fn err(e: mm::Error) -> OpResult {
    OpResult::Err(OpError::Mm(e))
}

impl<F: FreePath> Actor<'_, F> {
    /// Apply `op`: resolve it, call `before` with the resolved form, run it.
    pub fn apply(&mut self, op: &Op, before: &mut dyn FnMut(&Resolved)) -> Done {
        let cpu = self.cpu_id(op);
        let mut st = Step { before, resolved: None };
        let (result, operr) = self
            .refs(op, cpu, &mut st)
            .or_else(|| self.user(op, cpu, &mut st))
            .or_else(|| self.hotplug(op, cpu, &mut st))
            .or_else(|| self.walkers(op, cpu, &mut st))
            .or_else(|| self.drivers(op, cpu, &mut st))
            .or_else(|| self.hwpoison(op, cpu, &mut st))
            .unwrap_or_else(|| panic!("op `{}` has no exec arm", op.name()));
        Done { resolved: st.resolved, result, operr }
    }
}
