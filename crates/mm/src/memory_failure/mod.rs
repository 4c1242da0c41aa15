//! Memory failure (`mm/memory-failure.c`): hard offline
//! ([`System::memory_failure`]), soft offline ([`System::soft_offline_page`]),
//! unpoison ([`System::unpoison_memory`]), over the buddy helpers of
//! [`crate::page_alloc::hwpoison`].
//!
//! The two offlines differ on purpose (Horiguchi, B3):
//! * hard offline (an uncorrected error: the data is gone) sets PG_hwpoison
//!   *first*, then contains the page: a free page is taken off buddy, an
//!   in-use user page is unmapped (its pte becomes [`Pte::HwPoison`], so the
//!   next access SIGBUSes) and kept with one reference, a THP is split
//!   first (if it cannot be, it is marked PageHasHWPoisoned and left);
//! * soft offline (a corrected error: the data is fine) first migrates the
//!   data away or takes the free page off buddy, and sets the flag only on
//!   a contained page; on any race it fails with -EBUSY and leaves the page
//!   usable. It is written as a step machine ([`SoftOffline`]) whose step
//!   boundaries are its race windows, so a test can interleave other
//!   operations between them; [`System::soft_offline_page`] runs it to the
//!   end with a named preemption point (`soft_offline:step`) between steps.
//!
//! Design switches (each reproduces the historical mechanism):
//! * `HwpoisonIgnorePcpFree` (C17): no pcp disable/drain around the
//!   reference grab, so a poisoned free page stays on its pcp list (H1);
//! * `MemmapReadsOffline` (C10): `pfn_to_page` instead of
//!   `pfn_to_online_page`; reading the memmap of offline memory is M3;
//! * `SoftOfflinePoisonInBuddy` (B2 a/b): the migrated source is freed
//!   normally and flagged only if found in buddy, where it stays (H1); a
//!   free page is flagged in place;
//! * `SoftOfflineIsolateDance` (B2 c): a raw ISOLATE flip of the pageblock
//!   around the migration, without accounting (I1, B3 while it lasts);
//! * `SoftOfflineFlagFirst` (B3): TestSetPageHWPoison on a free hugetlb
//!   folio before dissolving it (H3 when the folio was allocated in the
//!   window; HR1 in effect when the dissolve is refused);
//! * the hugetlb ones (`HwpoisonSpecRefHugetlb`, `DissolveNoFreedCheck`,
//!   `DissolveIgnoresResv`) live in [`crate::hugetlb`].
//!
//! Invariants:
//! * H1: no PG_hwpoison page on a pcp or buddy list (checked with the lists);
//! * H2: a page taken off buddy (private = MAGIC_HWPOISON) is at refcount 1
//!   with PG_hwpoison, unmapped and untyped at rest; refcount 0 or no flag
//!   only while an operation holds `mf_mutex` (it is never on a list: H1,
//!   B2, P2). A page flagged in place may stay mapped when hard offline
//!   could not contain it (an unsplittable THP, a page isolated by
//!   someone else): flag-first accepts that; a page memory failure keeps
//!   (PG_hwpoison_held: unmapped in use, taken off, soft-offlined) has
//!   PG_hwpoison, a reference and no mapping;
//! * H3: soft offline never sets PG_hwpoison on a page in use (mapped, or
//!   referenced beyond what soft offline itself holds; on a migrated
//!   source only a mapping counts, as any later reference is a walker's
//!   speculative one): recorded at run time;
//! * H5: `num_poisoned_pages` and the blocks' `nr_hwpoison` count exactly
//!   the PG_hwpoison pages (a hugetlb folio counts once, on its head, until
//!   it is dissolved and the flag moves to its raw page).
//!
//! A PG_hwpoison page outside the lists is in one of these states: taken
//! off buddy (MAGIC_HWPOISON, refcount 1); leaked with memory_failure's or
//! soft offline's one reference; still held by its owner (a kernel page
//! memory_failure could not handle), or leaked at refcount 0 by the free
//! path once that owner let go; the head of a poisoned hugetlb folio.
//!
//! Lock order ([`crate::locking`]): `mf_mutex` → `mem_hotplug_lock`
//! (`memmap.hotplug`, held by memory_failure and unpoison throughout and by
//! each soft offline step, as `get_online_mems`); then `pcp_batch_high_lock`
//! (the pcp disable of `get_hwpoison_page`) and `ptl` (the unmap), one after
//! the other, never nested; `hugetlb_lock` is a leaf. Nothing here is called
//! with zone->lock or a pcp lock held, and memory offline never takes
//! `mf_mutex`.

mod hugetlb;
pub mod state;

use state::MfState;

use crate::design::Switch;
use crate::error::{Error, Result};
use crate::folio::{folio_set_has_hwpoisoned, folio_test_thp};
use hugetlb::HandlePoison;
use crate::memmap::SectionState;
use crate::pgtable::{owner_vpn, Pte};
use crate::migrate::MigrateReason;
use crate::page::Page;
use crate::page_alloc::FreePath;
use crate::page_isolation::raw_set_pageblock_migratetype;
use crate::page_ref::{get_page_unless_zero, page_count, page_ref_inc, set_page_count};
use crate::pageblock::{get_pageblock_migratetype, MigrateType};
use crate::sync::MutexGuard;
use crate::system::{Cpu, System};
use crate::Pfn;


/// What memory_failure did (`action_result`'s MF_*, plus -EHWPOISON).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MfResult {
    /// MF_RECOVERED: the page is contained (taken off buddy, or unmapped
    /// and held with one reference).
    Recovered,
    /// MF_DELAYED: flagged; it is contained when its last user lets go.
    Delayed,
    /// MF_IGNORED: flagged, but a page the model cannot handle (a kernel
    /// page, a page on a pcp list with the C17 switch, a THP that cannot be
    /// split, a folio being built).
    Ignored,
    /// MF_FAILED: flagged, but containment failed (a free page allocated
    /// under our feet twice, a hugetlb folio that may not be dissolved).
    Failed,
    /// -EHWPOISON: the page was already poisoned.
    AlreadyPoisoned,
}

/// What `get_hwpoison_page` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HwpGet {
    /// A reference was taken on the page's folio (head); the caller owns it.
    Got,
    /// Refcount 0: a free page (or, with the C17 switch, any page at 0).
    Free,
    /// -EBUSY: it kept racing with allocation.
    Busy,
    /// -EIO: not a page memory failure can handle (not LRU, not free).
    Unhandlable,
}

impl<F: FreePath> System<F> {


    /// The pfn lookup of memory_failure and soft offline:
    /// `pfn_to_online_page` (-ENXIO / -EIO for offline memory), or with
    /// `Switch::MemmapReadsOffline` `pfn_valid` + `pfn_to_page`, where
    /// reading an offline section's memmap is recorded as M3 (C10).
    fn mf_pfn_to_page(&self, pfn: Pfn, who: &'static str) -> Result<&Page> {
        if !self.cfg.design.has(Switch::MemmapReadsOffline) {
            return self.memmap.pfn_to_online_page(pfn);
        }
        let p = self.memmap.pfn_to_page(pfn)?;
        if self.memmap.section_state(pfn)? != SectionState::Online {
            let what = if p.PagePoisoned() { "a poisoned memmap (page_init_poison)" } else { "an uninitialized memmap" };
            self.record_violation(
                "M3",
                Some(pfn),
                format!("{who} read the descriptor of offline pfn {pfn:#x}: {what} (pfn_valid instead of pfn_to_online_page, C10)"),
            );
            return Err(Error::PfnOffline { pfn });
        }
        Ok(p)
    }

    /// `__get_hwpoison_page`: Some(true) a reference on the folio was
    /// taken, Some(false) the page is at refcount 0, None busy/unhandlable.
    fn __get_hwpoison_page(&self, pfn: Pfn) -> Option<bool> {
        if let Some(h) = self.get_hwpoison_hugetlb_folio(pfn) {
            return h;
        }
        let p = self.memmap.pfn_to_page(pfn).ok()?;
        let head = p.compound_head_pfn().unwrap_or(pfn);
        let hp = if head == pfn { p } else { self.memmap.pfn_to_page(head).ok()? };
        // HWPoisonHandlable: only LRU folios and free buddy pages.
        if !hp.PageLRU() && !self.zone.is_free_buddy_page(&self.memmap, pfn) {
            return None;
        }
        Some(get_page_unless_zero(hp))
    }

    /// `get_hwpoison_page`: the reference grab that starts memory_failure
    /// and soft offline, exposed as a step so a test can run it alone.
    /// Landed (v5.13+): under `zone_pcp_disable`, so a free page cannot hide
    /// on a pcp list, retrying (with a drain) up to three times
    /// (`get_any_page`). `Switch::HwpoisonIgnorePcpFree` (C17): a bare
    /// `get_page_unless_zero`, no pcp disable, no drain, no retry.
    /// A [`HwpGet::Got`] reference is on the folio's head; the caller puts it.
    pub fn get_hwpoison_page(&self, cpu: &Cpu<'_, F>, pfn: Pfn, soft: bool) -> Result<HwpGet> {
        let p = self.memmap.pfn_to_page(pfn)?;
        if self.cfg.design.has(Switch::HwpoisonIgnorePcpFree) {
            return Ok(match self.get_hwpoison_hugetlb_folio(pfn) {
                Some(Some(true)) => HwpGet::Got,
                Some(Some(false)) => HwpGet::Free,
                Some(None) => HwpGet::Busy,
                None => {
                    let head = p.compound_head_pfn().unwrap_or(pfn);
                    if get_page_unless_zero(self.memmap.pfn_to_page(head)?) {
                        HwpGet::Got
                    } else {
                        HwpGet::Free
                    }
                }
            });
        }
        let _ = soft; // __PageMovable pages (handlable by soft offline only) are not modeled.
        let _pcp = self.zone_pcp_disable();
        let mut pass = 0;
        loop {
            match self.__get_hwpoison_page(pfn) {
                Some(false) => {
                    if page_count(p) != 0 {
                        // Raced with an allocation.
                        if pass < 3 {
                            pass += 1;
                            continue;
                        }
                        return Ok(HwpGet::Busy);
                    }
                    if self.hugetlb_folio(pfn).is_none() && !self.zone.is_free_buddy_page(&self.memmap, pfn) {
                        // Raced with a free (the page is on its way to buddy).
                        if pass < 3 {
                            pass += 1;
                            self.drain_all_pages();
                            continue;
                        }
                        return Ok(HwpGet::Unhandlable);
                    }
                    return Ok(HwpGet::Free);
                }
                None => {
                    if pass < 3 {
                        pass += 1;
                        self.drain_all_pages();
                        continue;
                    }
                    return Ok(HwpGet::Unhandlable);
                }
                Some(true) => {
                    let head = p.compound_head_pfn().unwrap_or(pfn);
                    let hp = self.memmap.pfn_to_page(head)?;
                    if hp.PageHugetlb() || hp.PageLRU() {
                        return Ok(HwpGet::Got);
                    }
                    // Became unhandlable after the get: let go and retry.
                    cpu.put_page(head)?;
                    if pass < 3 {
                        pass += 1;
                        self.drain_all_pages();
                        continue;
                    }
                    return Ok(HwpGet::Unhandlable);
                }
            }
        }
    }

    /// `memory_failure(pfn, MF_SW_SIMULATED)`: hard offline of a page with
    /// an uncorrected (here: software-injected) memory error.
    pub fn memory_failure(&self, cpu: &Cpu<'_, F>, pfn: Pfn) -> Result<MfResult> {
        self.do_memory_failure(cpu, pfn, false)
    }

    /// `memory_failure(pfn, 0)` from a machine check: like
    /// [`System::memory_failure`], and unpoison is refused from now on.
    pub fn memory_failure_mce(&self, cpu: &Cpu<'_, F>, pfn: Pfn) -> Result<MfResult> {
        self.do_memory_failure(cpu, pfn, true)
    }

    fn do_memory_failure(&self, cpu: &Cpu<'_, F>, pfn: Pfn, hw: bool) -> Result<MfResult> {
        let mut mf = self.mf_mutex.lock();
        if hw {
            mf.hw_memory_failure = true;
        }
        // get_online_mems(): no section goes offline under us.
        let _online = self.memmap.hotplug.lock();
        // "memory outside kernel control" (-ENXIO) for offline memory.
        let p = self.mf_pfn_to_page(pfn, "memory_failure")?;
        let mut retry = true;
        loop {
            if let Some(r) = self.try_memory_failure_hugetlb(cpu, pfn) {
                return Ok(r);
            }
            // Hard offline: the flag first (counted with it, so H5 holds
            // at every instant and online refuses the block meanwhile).
            if p.TestSetPageHWPoison() {
                return Ok(MfResult::AlreadyPoisoned);
            }
            self.num_poisoned_pages_inc(pfn);
            match self.get_hwpoison_page(cpu, pfn, false)? {
                HwpGet::Free => {
                    if self.zone.is_free_buddy_page(&self.memmap, pfn) {
                        if self.zone.take_page_off_buddy(&self.memmap, pfn) {
                            page_ref_inc(p);
                            p.SetPageHWPoisonHeld();
                            return Ok(MfResult::Recovered);
                        }
                        // Lost the race with an allocation: try again once.
                        if retry {
                            p.ClearPageHWPoison();
                            self.num_poisoned_pages_sub(pfn, 1);
                            retry = false;
                            continue;
                        }
                        return Ok(MfResult::Failed);
                    }
                    // MF_MSG_KERNEL_HIGH_ORDER: refcount 0 but not in buddy
                    // (a pcp page with the C17 switch, a compound tail).
                    return Ok(MfResult::Ignored);
                }
                HwpGet::Busy | HwpGet::Unhandlable => {
                    // MF_MSG_GET_HWPOISON: the flag stays, the owner keeps it.
                    return Ok(MfResult::Ignored);
                }
                HwpGet::Got => return Ok(self.hwpoison_in_use_page(cpu, pfn, p)),
            }
        }
    }

    /// The in-use arm of memory_failure, holding a reference on the folio:
    /// a THP is split first (`try_to_split_thp_page`; if it cannot be, it is
    /// marked PageHasHWPoisoned and left: MF_MSG_UNSPLIT_THP); then
    /// `hwpoison_user_mappings` (the pte becomes [`Pte::HwPoison`] and the
    /// mapping's reference is dropped) and `delete_from_lru_cache`; our
    /// reference stays (refcount 1, PG_hwpoison: leaked for good).
    fn hwpoison_in_use_page(&self, cpu: &Cpu<'_, F>, pfn: Pfn, p: &Page) -> MfResult {
        if let Some((head, _)) = self.hugetlb_folio(pfn) {
            // Became hugetlb after the hugetlb arm looked: the flag stays.
            let _ = self.hugetlb_folio_put(head);
            return MfResult::Ignored;
        }
        let head = p.compound_head_pfn().unwrap_or(pfn);
        if head != pfn || p.PageHead() {
            let Ok(hp) = self.memmap.pfn_to_page(head) else { return MfResult::Ignored };
            if !folio_test_thp(hp) {
                let _ = cpu.put_page(head);
                return MfResult::Ignored;
            }
            // Set after our reference is held, so it cannot race a split.
            folio_set_has_hwpoisoned(hp);
            if cpu.split_folio(pfn).is_err() {
                let _ = cpu.put_page(head);
                return MfResult::Ignored;
            }
            // Our reference now sits on `pfn`, an order-0 page.
        }
        if !p.PageLRU() {
            let _ = cpu.put_page(pfn);
            return MfResult::Ignored;
        }
        let unmapped = {
            let mut pt = self.aspace.ptl.lock();
            let vpn = owner_vpn(p.owner()).filter(|&v| pt.get(v) == Some(&Pte::Present(pfn)));
            if let Some(v) = vpn {
                pt[v] = Pte::HwPoison;
                p.page_mapcount_reset();
            }
            vpn.is_some()
        };
        if unmapped {
            // The mapping's reference; ours keeps the page.
            let _ = cpu.put_page(pfn);
        }
        p.ClearPageLRU();
        p.set_owner(0);
        p.SetPageHWPoisonHeld();
        MfResult::Recovered
    }

    /// Soft offline's flag: `TestSetPageHWPoison` on a page that soft
    /// offline believes contained, holding `own` references itself. A page
    /// that is mapped, or (with `own` given) referenced by anyone else, is
    /// in use: H3, recorded. `own` None: a migrated source, whose refcount
    /// migration froze with it unmapped and isolated; a reference taken
    /// since can only be a pfn walker's speculative one, which is no use
    /// (the walker lets go at once), so only a mapping counts.
    /// True if the flag was newly set.
    fn soft_set_hwpoison(&self, pfn: Pfn, p: &Page, own: Option<i32>) -> bool {
        let rc = page_count(p);
        if p.page_mapped() || own.is_some_and(|own| rc > own) {
            self.record_violation(
                "H3",
                Some(pfn),
                format!("soft offline sets PG_hwpoison on a page in use (refcount {rc}, mapcount {})", p.page_mapcount()),
            );
        }
        !p.TestSetPageHWPoison()
    }

    /// `page_handle_poison` (soft offline): contain first (free page or
    /// hugetlb: dissolve + take off buddy), then set the flag; `release`
    /// drops the isolation reference of a migrated source with the flag
    /// already set (the Landed free path leaks it), and the steady-state
    /// reference is taken. False: not contained, page left usable.
    fn page_handle_poison(&self, cpu: &Cpu<'_, F>, pfn: Pfn, hugepage_or_freepage: bool, release: bool) -> bool {
        let Ok(p) = self.memmap.pfn_to_page(pfn) else { return false };
        if hugepage_or_freepage {
            match self.__page_handle_poison(pfn) {
                HandlePoison::Failed => return false,
                HandlePoison::Settled => return true,
                HandlePoison::TakenOff => {}
            }
        }
        if self.soft_set_hwpoison(pfn, p, (!release).then_some(0)) {
            self.num_poisoned_pages_inc(pfn);
        }
        if release {
            let _ = cpu.put_page(pfn);
        }
        page_ref_inc(p);
        p.SetPageHWPoisonHeld();
        true
    }

    /// Start a soft offline of `pfn` (`soft_offline_page`): the pfn must be
    /// online (else -EIO), and `mf_mutex` is held until the returned
    /// operation is dropped. Run it with [`SoftOffline::step`].
    pub fn soft_offline_begin(&self, pfn: Pfn) -> Result<SoftOffline<'_, F>> {
        self.mf_pfn_to_page(pfn, "soft_offline_page")?;
        let mf = self.mf_mutex.lock();
        Ok(SoftOffline { sys: self, _mf: mf, pfn, stage: Stage::Start, try_again: true, result: None })
    }

    /// `soft_offline_page`: migrate the data off a page with a corrected
    /// error (or take the free page off buddy) and poison it. Ok(()) also
    /// when it was already poisoned; [`Error::Busy`] when it raced and was
    /// left usable.
    pub fn soft_offline_page(&self, cpu: &Cpu<'_, F>, pfn: Pfn) -> Result<()> {
        let mut op = self.soft_offline_begin(pfn)?;
        loop {
            if let Some(r) = op.step(cpu) {
                return r;
            }
            crate::sync::preempt_point("soft_offline:step");
        }
    }

    /// `unpoison_memory` (software-injected poison only): a taken-off page
    /// goes back to buddy (`put_page_back_buddy`), a page leaked with one
    /// reference is unflagged and put, a page leaked at refcount 0 by the
    /// free path is unflagged and freed; counters go down. Refused after a
    /// hardware memory failure, and for pages in use.
    pub fn unpoison_memory(&self, cpu: &Cpu<'_, F>, pfn: Pfn) -> Result<()> {
        let mf = self.mf_mutex.lock();
        let _online = self.memmap.hotplug.lock();
        let p = self.memmap.pfn_to_online_page(pfn)?;
        if mf.hw_memory_failure {
            return Err(Error::BadRequest(format!(
                "unpoison of pfn {pfn:#x}: a hardware memory failure happened; only software-injected poison can be unpoisoned (-EOPNOTSUPP)"
            )));
        }
        if self.unpoison_hugetlb(pfn).is_some() {
            return Ok(());
        }
        if !p.PageHWPoison() {
            return Ok(());
        }
        let rc = page_count(p);
        if p.page_mapped() || rc > 1 {
            return Err(Error::Busy { pfn, reason: format!("unpoison: page in use (refcount {rc})") });
        }
        // get_hwpoison_page(MF_UNPOISON) runs with pcp disabled: a poisoned
        // page that a bug left on a pcp list is in buddy after the drain.
        let _pcp = self.zone_pcp_disable();
        // memory_failure's hold ends here whichever way the page goes.
        p.ClearPageHWPoisonHeld();
        if p.PageHWPoisonTakenOff() {
            if rc != 1 || !self.zone.put_page_back_buddy(&self.memmap, pfn) {
                return Err(Error::Busy { pfn, reason: "unpoison: taken-off page not in its steady state".into() });
            }
        } else if self.zone.is_free_buddy_page(&self.memmap, pfn) {
            // A bug left the flag on a free page: just clear it.
            p.ClearPageHWPoison();
        } else if p.PageTail() || p.page_type().is_some() || p.PageReserved() {
            // Part of a compound page, a typed (balloon) or reserved page:
            // its owner still holds it.
            p.ClearPageHWPoison();
        } else {
            p.ClearPageHWPoison();
            if rc == 0 {
                // Leaked at refcount 0 by the free path: free it for real.
                set_page_count(p, 1);
            }
            cpu.put_page(pfn)?;
        }
        self.num_poisoned_pages_sub(pfn, 1);
        Ok(())
    }

}

/// Where a soft offline stands (see [`SoftOffline::step`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Next: the already-poisoned test and `get_hwpoison_page`.
    Start,
    /// The page was free: contain it (take off buddy / dissolve).
    Free,
    /// We hold a reference on an in-use page: isolate and migrate it.
    InUse,
    /// The data moved; the isolated source waits for `page_handle_poison`.
    /// `old_mt`: the pageblock type to restore (the isolate dance).
    Migrated { huge: bool, old_mt: Option<MigrateType> },
    Done,
}

/// A soft offline in progress, holding `mf_mutex`. Each
/// [`SoftOffline::step`] runs up to the next race window:
/// 1. `get_hwpoison_page` (free page, in-use page, or -EBUSY);
/// 2. free page: contain and flag it, done (or start over once);
///    in-use page: isolate it and migrate its data (with the isolate dance
///    switch, inside a raw ISOLATE flip of its pageblock);
/// 3. flag the migrated source and release it (`page_handle_poison`), and
///    undo the dance.
///
/// Each step holds `mem_hotplug_lock`; between steps only `mf_mutex` is
/// held, so other threads — and this one, e.g. [`System::check`] or a
/// hugetlb fault — may run anything except memory_failure, soft offline and
/// unpoison (which would wait for `mf_mutex`: on this thread, forever).
/// An operation dropped before it finished leaves its page isolated:
/// run it to the end.
pub struct SoftOffline<'s, F: FreePath> {
    sys: &'s System<F>,
    _mf: MutexGuard<'s, MfState>,
    pfn: Pfn,
    stage: Stage,
    try_again: bool,
    result: Option<Result<()>>,
}

impl<F: FreePath> SoftOffline<'_, F> {
    /// The pfn being soft-offlined.
    pub fn pfn(&self) -> Pfn {
        self.pfn
    }

    /// Has it finished?
    pub fn is_done(&self) -> bool {
        self.stage == Stage::Done
    }

    fn finish(&mut self, r: Result<()>) -> Option<Result<()>> {
        self.stage = Stage::Done;
        self.result = Some(r.clone());
        Some(r)
    }

    fn busy(&mut self, reason: &str) -> Option<Result<()>> {
        let pfn = self.pfn;
        self.finish(Err(Error::Busy { pfn, reason: format!("soft offline: {reason}") }))
    }

    /// Run the next step; `Some(result)` once the soft offline is over
    /// (and again on every later call).
    pub fn step(&mut self, cpu: &Cpu<'_, F>) -> Option<Result<()>> {
        let sys = self.sys;
        let pfn = self.pfn;
        if self.stage == Stage::Done {
            return self.result.clone();
        }
        // get_online_mems() for the step: no section goes offline during
        // it. Between steps the page is either referenced by us (offline
        // cannot take it) or was free (and is looked at afresh).
        let _online = sys.memmap.hotplug.lock();
        let p = match sys.memmap.pfn_to_online_page(pfn) {
            Ok(p) => p,
            Err(e) => return self.finish(Err(e)),
        };
        match self.stage {
            Stage::Done => self.result.clone(),
            Stage::Start => {
                let folio_flagged = sys.hugetlb_folio(pfn).is_some_and(|(_, hp)| hp.PageHWPoison());
                if p.PageHWPoison() || folio_flagged {
                    return self.finish(Ok(()));
                }
                match sys.get_hwpoison_page(cpu, pfn, true) {
                    Ok(HwpGet::Got) => self.stage = Stage::InUse,
                    Ok(HwpGet::Free) => self.stage = Stage::Free,
                    Ok(HwpGet::Busy) => return self.busy("raced with allocation"),
                    Ok(HwpGet::Unhandlable) => return self.busy("unhandlable page (-EIO)"),
                    Err(e) => return self.finish(Err(e)),
                }
                None
            }
            Stage::Free => self.step_free(cpu),
            Stage::InUse => self.step_in_use(cpu, p),
            Stage::Migrated { huge, old_mt } => {
                let r = if huge {
                    if sys.page_handle_poison(cpu, pfn, true, false) {
                        Ok(())
                    } else {
                        Err(Error::Busy { pfn, reason: "soft offline: the migrated hugetlb source could not be contained".into() })
                    }
                } else if sys.cfg.design.has(Switch::SoftOfflinePoisonInBuddy) {
                    // Pre-5.10: free the source normally, then flag it if it
                    // is found in buddy — where it stays.
                    let _ = cpu.put_page(pfn);
                    if sys.zone.set_hwpoison_free_buddy_page(&sys.memmap, pfn) {
                        sys.num_poisoned_pages_inc(pfn);
                    }
                    Ok(())
                } else {
                    sys.page_handle_poison(cpu, pfn, false, true);
                    Ok(())
                };
                if let Some(mt) = old_mt {
                    raw_set_pageblock_migratetype(&sys.memmap, pfn, mt);
                }
                self.finish(r)
            }
        }
    }

    fn step_free(&mut self, cpu: &Cpu<'_, F>) -> Option<Result<()>> {
        let sys = self.sys;
        let pfn = self.pfn;
        let huge = sys.hugetlb_folio(pfn);
        if let (Some((head, hp)), true) = (huge, sys.cfg.design.has(Switch::SoftOfflineFlagFirst)) {
            // 2018 soft_offline_free_page: flag the folio first, then try to
            // dissolve it (a void call: a refusal goes unnoticed).
            if sys.soft_set_hwpoison(head, hp, Some(0)) {
                sys.num_poisoned_pages_inc(head);
                let _ = sys.dissolve_inner(pfn, false);
            }
            return self.finish(Ok(()));
        }
        if sys.cfg.design.has(Switch::SoftOfflinePoisonInBuddy) {
            // Pre-5.10: dissolve a free hugetlb folio, then flag the page
            // if it is (still) in buddy, leaving it there.
            if huge.is_some() && sys.dissolve_free_hugetlb_folio(pfn).is_err() {
                return self.busy("free huge page could not be dissolved");
            }
            if sys.zone.set_hwpoison_free_buddy_page(&sys.memmap, pfn) {
                sys.num_poisoned_pages_inc(pfn);
                return self.finish(Ok(()));
            }
            return self.busy("free page left buddy");
        }
        if sys.page_handle_poison(cpu, pfn, true, false) {
            return self.finish(Ok(()));
        }
        if self.try_again {
            // Allocated under our feet: start over (it may be in use now).
            self.try_again = false;
            self.stage = Stage::Start;
            return None;
        }
        self.busy("free page could not be taken off buddy")
    }

    fn step_in_use(&mut self, cpu: &Cpu<'_, F>, p: &Page) -> Option<Result<()>> {
        let sys = self.sys;
        let pfn = self.pfn;
        let huge = sys.hugetlb_folio(pfn);
        let head = huge.map(|(h, _)| h).or(p.compound_head_pfn()).unwrap_or(pfn);
        let put = |cpu: &Cpu<'_, F>, what: Pfn| {
            if huge.is_some() {
                let _ = sys.hugetlb_folio_put(what);
            } else {
                let _ = cpu.put_page(what);
            }
        };
        let flagged = p.PageHWPoison() || huge.is_some_and(|(_, hp)| hp.PageHWPoison());
        if flagged {
            put(cpu, head);
            return self.finish(Ok(()));
        }
        if huge.is_none() && (head != pfn || p.PageHead()) {
            // try_to_split_thp_page: our reference moves to `pfn`.
            let thp = sys.memmap.pfn_to_page(head).is_ok_and(folio_test_thp);
            if !thp || cpu.split_folio(pfn).is_err() {
                put(cpu, head);
                return self.busy("failed to split THP");
            }
        }
        let head = if huge.is_some() { head } else { pfn };
        // mf_isolate_folio: the isolation takes its own reference.
        let isolated = if huge.is_some() { sys.isolate_hugetlb(head) } else { cpu.isolate_lru_page(pfn) };
        put(cpu, head);
        if !isolated {
            return self.busy("failed to isolate");
        }
        let old_mt = if huge.is_none() && sys.cfg.design.has(Switch::SoftOfflineIsolateDance) {
            // Pre-5.10: a raw flip, no nr_isolate_pageblock, no list moves.
            let mt = get_pageblock_migratetype(&sys.memmap, pfn).unwrap_or(MigrateType::Movable);
            raw_set_pageblock_migratetype(&sys.memmap, pfn, MigrateType::Isolate);
            Some(mt)
        } else {
            None
        };
        let migrated = if huge.is_some() {
            sys.migrate_hugetlb_folio(cpu, head).is_ok()
        } else {
            cpu.migrate_page(pfn, MigrateReason::MemoryFailure).is_ok()
        };
        if !migrated {
            if huge.is_some() {
                sys.putback_hugetlb(head);
            } else {
                let _ = cpu.putback_lru_page(pfn);
            }
            if let Some(mt) = old_mt {
                raw_set_pageblock_migratetype(&sys.memmap, pfn, mt);
            }
            return self.busy("migration failed");
        }
        self.stage = Stage::Migrated { huge: huge.is_some(), old_mt };
        None
    }
}
