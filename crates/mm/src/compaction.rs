//! The compaction migration scanner (`mm/compaction.c`
//! `isolate_migratepages_block`) and an `alloc_contig_range`-style
//! migrate-out of a pfn range ([`Cpu::compact_range`]).
//!
//! # The landed per-pfn protocol (v6.1, 829ae0f81ce0: `isolate_migratepages_block` in
//! `mm/compaction.c`)
//! 1. racy filters without a reference: skip a PageBuddy block by its
//!    (racily read) order; skip a page that is not PG_lru;
//! 2. `get_page_unless_zero` **first**: from here on the page cannot be
//!    freed or change identity (a head cannot become a tail);
//! 3. the "extra references" test under that reference: an anonymous page
//!    outside the swap cache (`page_mapping() == NULL`) with
//!    `page_count - 1 > folio_mapcount` is pinned → put and skip;
//! 4. `TestClearPageLRU`; losing it means someone else isolated the page →
//!    put and skip; winning it isolates the page with our reference (the
//!    LRU list deletion of the kernel is the flag clear in the model).
//!
//! Compound pages are considered (the scanner runs in `alloc_contig` mode,
//! the mode of the B5 reproducer: virtio-mem unplug). Plain compaction's
//! "skip compound pages" is not modeled. An isolated THP head makes the
//! scan skip the rest of the folio.
//!
//! # Switches (each reproduces the historical order or check)
//! * [`Switch::IsolateUsesHeadMapcount`] (B5, seed 004): step 3 compares
//!   with `page_mapcount(head)` (head PTE mapcount + entire mapcount)
//!   instead of `folio_mapcount`. A PTE-mapped THP (refcount 512,
//!   head mapcount 1) then looks pinned forever ([`IsolateFail::LooksPinned`]);
//!   [`Cpu::compact_range`] gives up, and the failure is recorded as **O4**
//!   (liveness: an unpinned movable page must be migratable) for every
//!   remaining folio that the last round refused only because of that
//!   comparison (the same racy reads give `refcount - ours ==
//!   folio_mapcount`) and that still holds nothing but its mappings. The
//!   oracle compares the scanner's decision with the exact criterion at the
//!   moment it was made, so a transient reference never fakes an O4 under
//!   an adversarial schedule.
//! * [`Switch::IsolateCheckBeforeRef`] (B5 secondary, the v6.0 order):
//!   step 3 runs in phase 1, before the reference (`page_count >
//!   mapcount`, no `-1`), with a preemption point (`isolate:checked`)
//!   between the test and `get_page_unless_zero`, and is not repeated
//!   after it. The model's stale-read detector snapshots the descriptor's
//!   identity (owner tag, compound head/order, PG_head) at the unreferenced
//!   test and compares it once the reference is held: if the page was freed
//!   and reused meanwhile, the isolation decision was made on another
//!   page's state — recorded as **R1** (state used by code that held no
//!   reference; A.1 "the caller must re-check identity afterwards"). The
//!   consequence the test shows: a page pinned by its new owner is
//!   isolated although the landed order would have skipped it as pinned.
//! * [`Switch::ClearLruBeforeRef`] (C19): step 4's `TestClearPageLRU` runs
//!   before step 2 (preemption point `isolate:lru_cleared` between them).
//!   When the reference then fails because the count is 0, the scanner
//!   cannot tell "being freed" from "frozen" and leaves PG_lru clear. The
//!   model's LRU list is the PG_lru flag itself, so the "freed page still
//!   linked on the LRU" half of C19 has no separate state to corrupt; what
//!   the model exercises is the other half: a THP frozen by
//!   `split_huge_page` (its count is 0 while it is alive and on the LRU)
//!   loses PG_lru to the scanner; the split's `lru_add_page_tail` warns
//!   (VM_WARN_ON(!PageLRU(head)), recorded as **A2**), and afterwards a
//!   mapped page is off the LRU with nobody holding an isolation
//!   reference — A2 in the checker ([`crate::folio`]): it can never be
//!   isolated again, and its release would skip the LRU deletion.
//!
//! Phases are exposed as step functions ([`Cpu::isolate_scan_check`],
//! [`Cpu::isolate_scan_take`]) so tests write races as explicit step orders.
//!
//! # compact_range
//! `start_isolate_page_range` (MIGRATE_MOVABLE, no offline flags), a drain,
//! up to [`COMPACT_MAX_PASSES`] rounds of scan + migrate, then
//! `test_pages_isolated`, and the range goes back to MIGRATE_MOVABLE
//! (the model does not hand the range out like `isolate_freepages_range`;
//! it leaves it free in buddy). THPs are split before migration
//! (split-before-migrate, with the tails isolated on the same list and
//! migrated in the same round); migration targets come from outside the
//! isolated range. Folios in the swap cache are isolated but not migrated
//! by the model (its migration has no swap-cache reference transfer), so
//! they are not counted against O4.
//!
//! Invariants: an isolated page carries one scanner reference and PG_lru
//! clear; the scanner never clears PG_lru on a page it holds no reference
//! on (landed); every decision about a page is taken under a reference
//! (landed).
//! Lock order: the scanner takes no lock (racy reads, atomics only);
//! migration takes `ptl` → pcp lock → zone->lock; isolation takes
//! zone->lock per pageblock.

use crate::design::Switch;
use crate::error::{Error, Result};
use crate::folio::{folio_first_hwpoison, folio_mapcount, folio_nr_pages, folio_pincount, folio_test_thp, page_mapcount};
use crate::pgtable::owner_vpn;
use crate::migrate::MigrateReason;
use crate::page::Page;
use crate::page_alloc::FreePath;
use crate::page_isolation::{IsolFlags, IsolateError};
use crate::page_ref::page_count;
use crate::pageblock::MigrateType;
use crate::sync::plain;
use crate::system::Cpu;
use crate::Pfn;

/// Rounds of isolate + migrate before [`Cpu::compact_range`] gives up
/// (`__alloc_contig_migrate_range`'s 5 tries).
pub const COMPACT_MAX_PASSES: u32 = 5;

/// The identity fields of a descriptor, read without a reference by the
/// v6.0 order (the stale-read detector's snapshot).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DescSnapshot {
    /// The owner tag (who the page belongs to).
    pub owner: u64,
    /// The compound-head word (a tail's head pfn).
    pub compound_head: u64,
    /// The compound order and flags word.
    pub compound_info: u32,
    /// PG_head.
    pub head: bool,
}

impl DescSnapshot {
    fn of(p: &Page) -> DescSnapshot {
        DescSnapshot {
            owner: p.owner(),
            compound_head: p.compound_head.load(plain::Ordering::Relaxed),
            compound_info: p.compound_info.load(plain::Ordering::Relaxed),
            head: p.PageHead(),
        }
    }
}

/// What phase 1 (no reference held) decided for one pfn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanCheck {
    /// Not a candidate: go on `n` pfns further.
    Skip(u64, IsolateFail),
    /// A candidate for phase 2; the v6.0 order also carries the snapshot
    /// its unreferenced pinned test was computed on.
    Candidate(Option<DescSnapshot>),
}

/// Why a pfn was not isolated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsolateFail {
    /// Free (PageBuddy), offline or not present.
    Free,
    /// Not on the LRU.
    NotLru,
    /// `get_page_unless_zero` failed: free, frozen or a tail.
    NoRef,
    /// More references than mappings: pinned.
    Pinned,
    /// Only the head-mapcount comparison ([`Switch::IsolateUsesHeadMapcount`])
    /// calls it pinned: `refcount` (less ours) equals `folio_mapcount`.
    LooksPinned,
    /// `TestClearPageLRU` lost: someone else isolated it.
    LruRace,
    /// C19 variant: the flag was cleared, then the reference failed; the
    /// flag stays clear.
    LruClearedNoRef,
}

/// What phase 2 did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanTake {
    /// Isolated with one scanner reference; skip `n` pfns (a whole folio).
    Isolated(u64),
    /// Not isolated, and why.
    Failed(IsolateFail),
}

/// The outcome of [`Cpu::compact_range`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactResult {
    /// The range ended free (every page in buddy on the ISOLATE lists
    /// before the undo).
    pub success: bool,
    /// Rounds run.
    pub passes: u32,
    /// Pages isolated (a THP counts its head, then its split tails).
    pub isolated: u64,
    /// Pages migrated.
    pub migrated: u64,
    /// In-use folio heads left in the range when it gave up.
    pub remaining: Vec<Pfn>,
}

impl<F: FreePath> Cpu<'_, F> {
    /// Phase 1 of the per-pfn scan: the racy filters (and, with
    /// [`Switch::IsolateCheckBeforeRef`], the pinned test) without a
    /// reference.
    pub fn isolate_scan_check(&self, pfn: Pfn) -> ScanCheck {
        let sys = self.system();
        let mm = sys.memmap();
        let Ok(p) = mm.pfn_to_online_page(pfn) else { return ScanCheck::Skip(1, IsolateFail::Free) };
        if p.PageBuddy() {
            // Racy buddy_order(): clamp, as the kernel's sanity check does.
            let order = p.buddy_order();
            let n = if order <= mm.geometry().max_order { 1u64 << order } else { 1 };
            return ScanCheck::Skip(n, IsolateFail::Free);
        }
        if !p.PageLRU() {
            return ScanCheck::Skip(1, IsolateFail::NotLru);
        }
        if sys.cfg.design.has(Switch::IsolateCheckBeforeRef) {
            // v6.0: "admittedly racy" test, no reference held, no -1.
            let snap = DescSnapshot::of(p);
            if let Some(why) = self.pinned_test(pfn, p, 0) {
                return ScanCheck::Skip(1, why);
            }
            return ScanCheck::Candidate(Some(snap));
        }
        ScanCheck::Candidate(None)
    }

    /// Phase 2: take the reference and isolate (order per the design).
    pub fn isolate_scan_take(&self, pfn: Pfn, check: ScanCheck) -> ScanTake {
        let sys = self.system();
        let mm = sys.memmap();
        let snap = match check {
            ScanCheck::Skip(_, why) => return ScanTake::Failed(why),
            ScanCheck::Candidate(s) => s,
        };
        let Ok(p) = mm.pfn_to_online_page(pfn) else { return ScanTake::Failed(IsolateFail::Free) };
        let clear_first = sys.cfg.design.has(Switch::ClearLruBeforeRef);
        if clear_first {
            // C19: TestClearPageLRU before holding a reference.
            if !p.TestClearPageLRU() {
                return ScanTake::Failed(IsolateFail::LruRace);
            }
            crate::sync::preempt_point("isolate:lru_cleared");
        }
        if !matches!(self.get_page_unless_zero(pfn), Ok(true)) {
            // The count is 0: being freed, or frozen. The C19 variant cannot
            // put the flag back (the free path relies on it), so it stays clear.
            return ScanTake::Failed(if clear_first { IsolateFail::LruClearedNoRef } else { IsolateFail::NoRef });
        }
        if let Some(old) = snap {
            // The v6.0 order decided on an unreferenced descriptor: did the
            // page change identity before the reference was taken?
            let now = DescSnapshot::of(p);
            if now != old {
                sys.record_violation(
                    "R1",
                    Some(pfn),
                    format!(
                        "compaction decided on a descriptor it held no reference on, and the page changed identity \
                         before get_page_unless_zero (was {old:x?}, now {now:x?}): the pinned test was never \
                         evaluated on the page now being isolated"
                    ),
                );
            }
        } else if let Some(why) = self.pinned_test(pfn, p, 1) {
            if clear_first {
                p.SetPageLRU();
            }
            let _ = self.put_page(pfn);
            return ScanTake::Failed(why);
        }
        if !clear_first && !p.TestClearPageLRU() {
            let _ = self.put_page(pfn);
            return ScanTake::Failed(IsolateFail::LruRace);
        }
        // Isolated: skip the rest of a folio whose head we hold.
        let n = if p.PageHead() { folio_nr_pages(p) } else { 1 };
        ScanTake::Isolated(n)
    }

    /// The "extra references" test: an anonymous page outside the swap
    /// cache with more references (less the caller's `ours`) than
    /// mappings. The mapcount is `folio_mapcount`, or `page_mapcount(page)`
    /// with [`Switch::IsolateUsesHeadMapcount`]; a page only the latter
    /// calls pinned is reported as [`IsolateFail::LooksPinned`].
    fn pinned_test(&self, pfn: Pfn, p: &Page, ours: i32) -> Option<IsolateFail> {
        let sys = self.system();
        let mm = sys.memmap();
        if p.PageSwapCache() {
            // page_mapping() != NULL: the test does not apply.
            return None;
        }
        let refs = page_count(p) - ours;
        let total = folio_mapcount(mm, pfn);
        if sys.cfg.design.has(Switch::IsolateUsesHeadMapcount) && refs > page_mapcount(mm, pfn) {
            return Some(if refs > total { IsolateFail::Pinned } else { IsolateFail::LooksPinned });
        }
        (refs > total).then_some(IsolateFail::Pinned)
    }

    /// `isolate_migratepages_block` over `[start, end)`: the pfns isolated
    /// (each with one scanner reference and PG_lru clear).
    pub fn isolate_migratepages_block(&self, start: Pfn, end: Pfn) -> Vec<Pfn> {
        self.isolate_block(start, end, &mut Vec::new())
    }

    /// The scan loop; `looks_pinned` collects the pfns refused as
    /// [`IsolateFail::LooksPinned`].
    fn isolate_block(&self, start: Pfn, end: Pfn, looks_pinned: &mut Vec<Pfn>) -> Vec<Pfn> {
        let mut out = Vec::new();
        let mut pfn = start;
        while pfn < end {
            let check = self.isolate_scan_check(pfn);
            if let ScanCheck::Skip(n, why) = check {
                if why == IsolateFail::LooksPinned {
                    looks_pinned.push(pfn);
                }
                pfn += n.max(1);
                continue;
            }
            crate::sync::preempt_point("isolate:checked");
            match self.isolate_scan_take(pfn, check) {
                ScanTake::Isolated(n) => {
                    out.push(pfn);
                    pfn += n.max(1);
                }
                ScanTake::Failed(why) => {
                    if why == IsolateFail::LooksPinned {
                        looks_pinned.push(pfn);
                    }
                    pfn += 1;
                }
            }
        }
        out
    }

    /// Migrate everything movable out of the pageblock-aligned range
    /// `[start, end)` of online memory (see the module doc).
    /// [`Error::Busy`] when the range cannot even be isolated (an
    /// unmovable page, or another isolator).
    pub fn compact_range(&self, start: Pfn, end: Pfn) -> Result<CompactResult> {
        let sys = self.system();
        let mm = sys.memmap();
        if start >= end || !start.is_multiple_of(mm.geometry().pageblock_nr_pages()) || !end.is_multiple_of(mm.geometry().pageblock_nr_pages()) {
            return Err(Error::BadRequest(format!("compact_range {start:#x}..{end:#x}: not a pageblock-aligned range")));
        }
        let mut pfn = start;
        while pfn < end {
            mm.pfn_to_online_page(pfn)?;
            pfn += mm.geometry().pageblock_nr_pages();
        }
        let flags = IsolFlags::default();
        sys.zone.start_isolate_page_range(mm, start, end, flags).map_err(|e| match e {
            IsolateError::Busy { pfn } => Error::Busy { pfn, reason: "pageblock already isolated".into() },
            IsolateError::Unmovable { pfn } => Error::Busy { pfn, reason: "unmovable page in the range".into() },
        })?;
        sys.drain_all_pages();
        let mut res = CompactResult::default();
        let mut misjudged = Vec::new();
        while res.passes < COMPACT_MAX_PASSES {
            res.passes += 1;
            misjudged.clear();
            for src in self.isolate_block(start, end, &mut misjudged) {
                res.isolated += 1;
                self.migrate_isolated(src, &mut res);
            }
            if sys.zone.test_pages_isolated(mm, start, end, flags).is_ok() {
                res.success = true;
                break;
            }
        }
        if !res.success {
            res.remaining = self.in_use_heads(start, end);
            for &h in res.remaining.iter().filter(|h| misjudged.contains(h)) {
                if let Some(why) = self.should_have_moved(h) {
                    sys.record_violation(
                        "O4",
                        Some(h),
                        format!(
                            "compaction gave up on {start:#x}..{end:#x} after {} rounds, but the folio at {h:#x} is \
                             not pinned ({why}): the scanner never isolated it",
                            res.passes
                        ),
                    );
                }
            }
        }
        sys.zone.undo_isolate_page_range(mm, start, end, MigrateType::Movable);
        Ok(res)
    }

    /// Migrate one isolated page (a THP is split first, its tails isolated
    /// on the same list and migrated in the same round); failures are put
    /// back on the LRU.
    fn migrate_isolated(&self, src: Pfn, res: &mut CompactResult) {
        let mm = self.system().memmap();
        let mut list = vec![src];
        if mm.pfn_to_page(src).is_ok_and(folio_test_thp) {
            let mut tails = Vec::new();
            if self.split_folio_to_list(src, Some(&mut tails)).is_err() {
                let _ = self.putback_lru_page(src);
                return;
            }
            res.isolated += tails.len() as u64;
            list.extend(tails);
        }
        for p in list {
            match self.migrate_page(p, MigrateReason::Compaction) {
                Ok(_) => res.migrated += 1,
                Err(_) => {
                    let _ = self.putback_lru_page(p);
                }
            }
        }
    }

    /// Heads of the in-use folios in `[start, end)`.
    fn in_use_heads(&self, start: Pfn, end: Pfn) -> Vec<Pfn> {
        let mm = self.system().memmap();
        let mut v = Vec::new();
        let mut pfn = start;
        while pfn < end {
            let Ok(p) = mm.pfn_to_online_page(pfn) else { break };
            if p.PageBuddy() {
                pfn += 1 << p.buddy_order().min(mm.geometry().max_order);
                continue;
            }
            if !p.PageTail() && page_count(p) > 0 {
                v.push(pfn);
                if p.PageHead() {
                    pfn += folio_nr_pages(p);
                    continue;
                }
            }
            pfn += 1;
        }
        v
    }

    /// The O4 oracle's second half (the first: the last round refused the
    /// folio as [`IsolateFail::LooksPinned`]): Some(reason) when nothing but the folio's own
    /// mappings references it — an anonymous LRU folio, not pinned, not in
    /// the swap cache, not poisoned, `refcount == folio_mapcount` — so a
    /// scanner that follows the protocol isolates and migrates it.
    fn should_have_moved(&self, head: Pfn) -> Option<String> {
        let mm = self.system().memmap();
        let p = mm.pfn_to_online_page(head).ok()?;
        if !p.PageLRU() || p.page_type().is_some() || owner_vpn(p.owner()).is_none() {
            return None;
        }
        if folio_pincount(p) != 0 || p.PageSwapCache() || folio_first_hwpoison(mm, head).is_some() {
            return None;
        }
        let rc = page_count(p);
        let mc = folio_mapcount(mm, head);
        (rc == mc && mc > 0).then(|| format!("refcount {rc} = folio_mapcount {mc}, page_mapcount(head) {}", page_mapcount(mm, head)))
    }
}
