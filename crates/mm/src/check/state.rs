//! What an incremental check keeps between checks of one run
//! ([`CheckState`]): the state of the last full walk brought forward by
//! the incremental ones — each page's [`Tally`], the per-block sums, the
//! section states, a copy of the page table and the mapping counts derived
//! from it — plus counts of the checks made.
//!
//! Invariants: after a check with the state, the shadows equal what a full
//! walk would compute now (for the pages and entries the touched sets
//! cover: every page and entry written since, [`crate::touched`]). Lock
//! order: plain data, owned by the caller.

use super::folio::MapCounts;
use super::pages::Tally;
use crate::pgtable::Pte;
use crate::Pfn;

/// The incremental checker's state for one run of one machine; a new one
/// (or one whose machine was reset) starts with a full walk.
#[derive(Default, Clone)]
pub struct CheckState {
    /// A full walk filled the shadows.
    pub(super) primed: bool,
    /// Section states at the last check (a change means a full walk).
    pub(super) sections: Vec<u8>,
    pub(super) tally: Vec<Tally>,
    /// PG_hwpoison and PageOffline pages per section.
    pub(super) flagged: Vec<i64>,
    pub(super) offline: Vec<i64>,
    /// The page table at the last check, and the mappings it counts.
    pub(super) ptes: Vec<Pte>,
    pub(super) maps: MapCounts,
    /// Scratch: the touched pfns and vpns, the pages visited.
    pub(super) touched: Vec<u64>,
    pub(super) vpns: Vec<usize>,
    pub(super) visit: Vec<Pfn>,
    /// Full walks made with this state.
    pub full_checks: u64,
    /// Incremental checks made.
    pub incremental_checks: u64,
    /// Pages the incremental checks visited.
    pub pages_visited: u64,
}

impl CheckState {
    /// A state that makes the next check a full walk.
    pub fn new() -> Self {
        CheckState::default()
    }

    /// Forget the shadows: the next check walks everything.
    pub fn invalidate(&mut self) {
        self.primed = false;
    }

    /// Section `nr` of `pps` pages counts from zero again (it changed
    /// state: an incremental check visits all its pages).
    pub(super) fn forget_section(&mut self, nr: usize, pps: u64) {
        let base = nr * pps as usize;
        if let Some(t) = self.tally.get_mut(base..base + pps as usize) {
            t.fill(Tally::default());
        }
        self.flagged[nr] = 0;
        self.offline[nr] = 0;
    }

    pub(super) fn reset_tallies(&mut self, max_pfn: usize, sections: usize) {
        self.tally.clear();
        self.tally.resize(max_pfn, Tally::default());
        self.flagged.clear();
        self.flagged.resize(sections, 0);
        self.offline.clear();
        self.offline.resize(sections, 0);
    }
}
