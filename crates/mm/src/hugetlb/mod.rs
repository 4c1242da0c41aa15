//! hugetlb (`mm/hugetlb.c`): a pool of 2 MiB (order-9) folios, one hstate
//! on one node, with reservations, faults, frees, dissolve, migration for
//! memory offlining, and the hugetlb arms of memory_failure.
//!
//! A folio of the pool is a compound order-9 block taken from buddy whose
//! head carries the Hugetlb page type (`__folio_set_hugetlb`). It is
//! allocated *frozen* (refcount 0, owned by the allocator) and prepared
//! and enqueued at refcount 0, so a speculative `get_page_unless_zero`
//! from a pfn walker cannot take a reference while it is being set up
//! (the landed answer to C7). A fault hands a free folio out at refcount 1
//! (the mapping's reference) with HPG_migratable; the last put frees it
//! back to the pool (`free_huge_folio`), where HPG_freed marks it as
//! being on the freelist.
//!
//! The single hugetlbfs mapping of the model is `HugetlbState::mapped`:
//! its entries are the folios faulted in, and migration rewrites them,
//! like the page table of [`crate::memory`] does for base pages.
//!
//! Race windows, each split into two public halves so that a test can run
//! the interleaving step by step (and each marked with a named preemption
//! point for the shuttle scheduler):
//! * C6 (7ffddd499ba6): [`System::free_huge_folio_begin`] drops the last
//!   reference; [`System::free_huge_folio_finish`] enqueues
//!   (`free_huge_folio:refcount_zero`). A dissolve in between sees refcount
//!   0 on a folio that is not yet on the freelist; the landed dissolve waits
//!   for HPG_freed, `Switch::DissolveNoFreedCheck` dissolves it, and the
//!   finish then enqueues a folio that is in buddy (HD1, A2).
//! * C7 (25182f05ffed): [`System::hugetlb_alloc_folio_begin`] allocates and
//!   prepares; [`System::hugetlb_alloc_folio_finish`] enqueues
//!   (`hugetlb_prep:before_testzero`). With `Switch::HwpoisonSpecRefHugetlb`
//!   the folio is prepared at refcount 1 and the finish's
//!   `put_page_testzero` expects 1 → 0, so a speculative reference taken in
//!   between (memory_failure's, held across `memory_failure:hugetlb_ref_held`)
//!   makes it fail: "R3", recorded at run time (the kernel's VM_BUG_ON_PAGE).
//!
//! A poisoned folio is never put back in buddy whole: when it is dissolved
//! its flag moves to the raw page that memory_failure hit, and every
//! PG_hwpoison page of the folio stays out of buddy in the hwpoison steady
//! state (MAGIC_HWPOISON, refcount 1) while the healthy parts are freed —
//! the end state the kernel reaches with dissolve + `take_page_off_buddy`,
//! without the window in which the raw page sits in buddy.
//!
//! Invariants (research/kernel.md A.16, checked by [`System::check`]):
//! * HR1: `free >= resv`; a fault in a reserved mapping always finds a
//!   usable folio (recorded at run time when it does not, unless only folios
//!   that a hard memory error poisoned are left, which the kernel accepts);
//! * HR2: `nr == free + in use`; the freelist holds `free` folios; every
//!   mapped folio is in use;
//! * HR3: a freelist folio has refcount 0, HPG_freed, not HPG_migratable,
//!   and no PG_hwpoison on its head (except a hard-poisoned one whose
//!   dissolve was refused, which dequeue skips, as the kernel does);
//! * HD1: only folios on the freelist are dissolved; a folio is never on
//!   the freelist twice, nor on the freelist and in buddy at once.
//!
//! Lock order: `hugetlb_lock` (`System::hugetlb`) is a leaf: no other
//! lock is taken while it is held (buddy allocation and freeing happen
//! outside it), so it may be taken under any lock, including by the checker
//! under zone->lock.

use crate::design::Switch;
use crate::error::{Error, Result};
use crate::memory_failure::{HwpGet, MfResult};
use crate::migrate::MigrateError;
use crate::page::{pg, Page};
use crate::page_alloc::buddy::block_mt;
use crate::page_alloc::FreePath;
use crate::page_ref::{get_page_unless_zero, page_count, page_ref_freeze, page_ref_unfreeze, put_page_testzero, set_page_count};
use crate::pageblock::MigrateType;
use crate::sync::atomic::Ordering;
use crate::system::{Cpu, System};
use crate::{Pfn, MAGIC_HWPOISON, MAX_PAGE_ORDER, PAGEBLOCK_ORDER};
use std::collections::{BTreeMap, BTreeSet};

/// Order of a huge page (2 MiB on x86_64 = pageblock order).
pub const HUGETLB_ORDER: u32 = PAGEBLOCK_ORDER;
/// Base pages per huge page.
pub const HUGETLB_NR_PAGES: u64 = 1 << HUGETLB_ORDER;
/// How many times dissolve re-checks a folio whose free is in flight
/// before it gives up with -EBUSY (the kernel retries with cond_resched).
const DISSOLVE_RETRIES: u32 = 8;

/// An entry of the model's one hugetlbfs mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HugePte {
    Present(Pfn),
    /// memory_failure unmapped the poisoned folio: an access SIGBUSes,
    /// munmap ([`System::hugetlb_free`]) just removes the entry.
    HwPoison(Pfn),
}

/// The hstate and its lists, guarded by `hugetlb_lock`.
#[derive(Debug, Default)]
pub(crate) struct HugetlbState {
    /// `nr_huge_pages`.
    nr: i64,
    /// `free_huge_pages`.
    free: i64,
    /// `resv_huge_pages`.
    resv: i64,
    /// `surplus_huge_pages` (migration targets allocated beyond the pool).
    surplus: i64,
    /// `hugepage_freelists[0]`: LIFO, the most recently freed folio last.
    freelist: Vec<Pfn>,
    /// `hugepage_activelist`: folios handed out (faulted or isolated).
    active: BTreeSet<Pfn>,
    /// The hugetlbfs mapping (page cache of the one file).
    mapped: Vec<HugePte>,
    /// `raw_hwp_list`: folio head -> the raw page memory_failure hit.
    raw_hwp: BTreeMap<Pfn, Pfn>,
}

/// A snapshot of the hstate counters (`/sys/kernel/mm/hugepages/...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HugetlbCounters {
    pub nr: i64,
    pub free: i64,
    pub resv: i64,
    pub surplus: i64,
}

#[inline]
fn test_hpg(p: &Page, bit: u64) -> bool {
    p.flags() & bit != 0
}
#[inline]
fn set_hpg(p: &Page, bit: u64) {
    p.flags.fetch_or(bit, Ordering::Relaxed);
}
#[inline]
fn clear_hpg(p: &Page, bit: u64) {
    p.flags.fetch_and(!bit, Ordering::Relaxed);
}

/// A hugetlb folio head that sits on the freelist (HPG_freed): the checker's
/// "hugetlb-free" state of A2.
pub(crate) fn folio_is_free_hugetlb(p: &Page) -> bool {
    p.PageHugetlb() && test_hpg(p, pg::HPG_freed)
}

/// How `__page_handle_poison` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HandlePoison {
    /// Not contained (dissolve refused, or the page left buddy).
    Failed,
    /// take_page_off_buddy took it: refcount 0, MAGIC_HWPOISON; the caller
    /// sets the flag and takes the steady-state reference.
    TakenOff,
    /// Dissolving a poisoned folio already contained its raw page
    /// (flagged, MAGIC_HWPOISON, refcount 1): nothing left to do.
    Settled,
}

/// `enqueue_hugetlb_folio`: onto the freelist, counted free, HPG_freed.
fn enqueue_hugetlb_folio(st: &mut HugetlbState, head: Pfn, p: &Page) {
    st.freelist.push(head);
    st.free += 1;
    set_hpg(p, pg::HPG_freed);
}

/// Is `pfn` inside a free buddy block (the checker holds zone->lock)?
fn covered_by_buddy(mm: &crate::memmap::Memmap, pfn: Pfn) -> bool {
    (0..=MAX_PAGE_ORDER).any(|order| {
        let h = pfn & !((1u64 << order) - 1);
        mm.pfn_to_page(h).is_ok_and(|p| p.PageBuddy() && p.buddy_order() >= order)
    })
}

impl<F: FreePath> System<F> {
    /// The hugetlb folio `pfn` belongs to: (head pfn, head descriptor).
    pub(crate) fn hugetlb_folio(&self, pfn: Pfn) -> Option<(Pfn, &Page)> {
        let p = self.memmap.pfn_to_online_page(pfn).ok()?;
        let head = p.compound_head_pfn().unwrap_or(pfn);
        let hp = if head == pfn { p } else { self.memmap.pfn_to_page(head).ok()? };
        hp.PageHugetlb().then_some((head, hp))
    }

    /// The hstate counters.
    pub fn hugetlb_counters(&self) -> HugetlbCounters {
        let st = self.hugetlb.lock();
        HugetlbCounters { nr: st.nr, free: st.free, resv: st.resv, surplus: st.surplus }
    }

    /// The folios currently mapped by the hugetlbfs mapping (a migration
    /// moves an entry to the new folio's pfn).
    pub fn hugetlb_mapped(&self) -> Vec<Pfn> {
        let st = self.hugetlb.lock();
        st.mapped.iter().filter_map(|m| if let HugePte::Present(f) = m { Some(*f) } else { None }).collect()
    }

    /// The folios on the freelist, the one a fault would take first first.
    pub fn hugetlb_freelist(&self) -> Vec<Pfn> {
        self.hugetlb.lock().freelist.iter().rev().copied().collect()
    }

    /// Grow the pool by up to `n` folios from buddy (`set_max_huge_pages`);
    /// returns how many were added (fewer when buddy runs out).
    pub fn hugetlb_alloc_pool(&self, cpu: &Cpu<'_, F>, n: usize) -> Result<usize> {
        let mut done = 0;
        for _ in 0..n {
            let pfn = match self.hugetlb_alloc_folio_begin(cpu) {
                Ok(pfn) => pfn,
                Err(Error::NoMemory { .. }) if done > 0 => break,
                Err(e) => return Err(e),
            };
            crate::sync::preempt_point("hugetlb_prep:before_testzero");
            self.hugetlb_alloc_folio_finish(pfn)?;
            done += 1;
        }
        Ok(done)
    }

    /// First half of adding a folio to the pool: `alloc_buddy_hugetlb_folio`
    /// and `init_new_hugetlb_folio`. The landed folio is frozen at refcount 0
    /// (`folio_ref_freeze(folio, 1)`) before it becomes hugetlb, so no
    /// speculative reference can be taken while it is prepared. With
    /// `Switch::HwpoisonSpecRefHugetlb` (C7) it stays at refcount 1 until
    /// [`System::hugetlb_alloc_folio_finish`]. Returns the head pfn.
    pub fn hugetlb_alloc_folio_begin(&self, cpu: &Cpu<'_, F>) -> Result<Pfn> {
        let spec_ref_bug = self.cfg.design.has(Switch::HwpoisonSpecRefHugetlb);
        let mut tries = 0;
        let pfn = loop {
            let pfn = cpu.alloc_pages(HUGETLB_ORDER, MigrateType::Movable)?;
            let p = self.memmap.pfn_to_page(pfn)?;
            if spec_ref_bug || page_ref_freeze(p, 1) {
                break pfn;
            }
            // "unexpected inflated folio ref count": a speculative holder
            // frees the block when it lets go; try another one.
            cpu.put_page(pfn)?;
            tries += 1;
            if tries >= 2 {
                return Err(Error::Busy { pfn, reason: "freshly allocated huge page has an inflated refcount".into() });
            }
        };
        self.memmap.pfn_to_page(pfn)?.__SetPageHugetlb();
        Ok(pfn)
    }

    /// Second half of adding a folio to the pool: the C7 switch's
    /// `put_page_testzero` (a failure is recorded as "R3": the kernel's
    /// VM_BUG_ON_PAGE; the folio is enqueued anyway, referenced), then
    /// account and enqueue. A folio that memory_failure flagged while it was
    /// prepared is not enqueued but dissolved, its poisoned page contained.
    pub fn hugetlb_alloc_folio_finish(&self, pfn: Pfn) -> Result<()> {
        let p = self.memmap.pfn_to_page(pfn)?;
        if !p.PageHugetlb() || p.PageTail() {
            return Err(Error::BadRequest(format!("pfn {pfn:#x} is not a hugetlb folio being prepared")));
        }
        if self.cfg.design.has(Switch::HwpoisonSpecRefHugetlb) && !put_page_testzero(p, pfn)? {
            self.record_violation(
                "R3",
                Some(pfn),
                format!(
                    "prep of a new hugetlb folio: put_page_testzero left refcount {} (a speculative reference was taken while it was prepared; VM_BUG_ON_PAGE, C7)",
                    page_count(p)
                ),
            );
        }
        let mut st = self.hugetlb.lock();
        if p.PageHWPoison() && page_count(p) == 0 {
            // Flagged while prepared (memory_failure's MF_NO_RETRY arm): it
            // never reaches the pool.
            p.__ClearPageHugetlb();
            drop(st);
            self.update_and_free_hugetlb_folio(pfn, pfn, true);
            return Ok(());
        }
        st.nr += 1;
        enqueue_hugetlb_folio(&mut st, pfn, p);
        Ok(())
    }

    /// Reserve `n` huge pages for the mapping (`hugetlb_reserve_pages`):
    /// NoMemory when fewer than `n` are available (no overcommit).
    pub fn hugetlb_reserve(&self, n: u64) -> Result<()> {
        let mut st = self.hugetlb.lock();
        if st.free - st.resv < n as i64 {
            return Err(Error::NoMemory { order: HUGETLB_ORDER });
        }
        st.resv += n as i64;
        Ok(())
    }

    /// Give back `n` unused reservations (`hugetlb_unreserve_pages`).
    pub fn hugetlb_unreserve(&self, n: u64) -> Result<()> {
        let mut st = self.hugetlb.lock();
        if n as i64 > st.resv {
            return Err(Error::BadRequest(format!("unreserve {n}: only {} huge pages are reserved", st.resv)));
        }
        st.resv -= n as i64;
        Ok(())
    }

    /// A fault in the hugetlbfs mapping (`hugetlb_no_page` →
    /// `alloc_hugetlb_folio`): consumes a reservation if one is held, takes
    /// the most recently freed folio that is not PG_hwpoison
    /// (`dequeue_hugetlb_folio_node_exact`) and maps it; returns its head.
    /// No usable folio is SIGBUS; with a reservation held that breaks HR1
    /// and is recorded (unless every free folio is one that a hard memory
    /// error poisoned, which the kernel accepts).
    pub fn hugetlb_fault(&self) -> Result<Pfn> {
        let mut st = self.hugetlb.lock();
        let reserved = st.resv > 0;
        if !reserved && st.free - st.resv <= 0 {
            return Err(Error::HugetlbSigbus { reserved: false });
        }
        let pos = st.freelist.iter().rposition(|&f| self.memmap.pfn_to_page(f).is_ok_and(|p| !p.PageHWPoison()));
        let Some(i) = pos else {
            if reserved {
                let hard_only = !st.freelist.is_empty() && st.freelist.iter().all(|f| st.raw_hwp.contains_key(f));
                if !hard_only {
                    let (free, resv) = (st.free, st.resv);
                    drop(st);
                    self.record_violation(
                        "HR1",
                        None,
                        format!("a fault in a reserved hugetlb mapping found no usable huge page (free {free}, resv {resv}): SIGBUS"),
                    );
                }
            }
            return Err(Error::HugetlbSigbus { reserved });
        };
        let head = st.freelist.remove(i);
        st.free -= 1;
        if reserved {
            st.resv -= 1;
        }
        let p = self.memmap.pfn_to_page(head)?;
        clear_hpg(p, pg::HPG_freed);
        if let Err(e) = page_ref_unfreeze(p, head, 1) {
            // A folio enqueued with a reference (C7's aftermath): put it back.
            set_hpg(p, pg::HPG_freed);
            st.freelist.push(head);
            st.free += 1;
            if reserved {
                st.resv += 1;
            }
            return Err(e);
        }
        set_hpg(p, pg::HPG_migratable);
        st.active.insert(head);
        st.mapped.push(HugePte::Present(head));
        Ok(head)
    }

    /// munmap of the folio at `pfn`: drop the mapping's reference; the last
    /// reference frees the folio back to the pool.
    pub fn hugetlb_free(&self, pfn: Pfn) -> Result<()> {
        if self.free_huge_folio_begin(pfn)? {
            crate::sync::preempt_point("free_huge_folio:refcount_zero");
            self.free_huge_folio_finish(pfn)?;
        }
        Ok(())
    }

    /// First half of [`System::hugetlb_free`]: unmap `pfn` and drop the
    /// mapping's reference. `Ok(true)`: that was the last reference, the
    /// folio is at refcount 0 but NOT yet on the freelist, and
    /// [`System::free_huge_folio_finish`] must follow (C6's window lies
    /// between the two).
    pub fn free_huge_folio_begin(&self, pfn: Pfn) -> Result<bool> {
        {
            let mut st = self.hugetlb.lock();
            let i = st
                .mapped
                .iter()
                .position(|m| matches!(m, HugePte::Present(f) | HugePte::HwPoison(f) if *f == pfn))
                .ok_or_else(|| Error::BadRequest(format!("pfn {pfn:#x} is not a mapped hugetlb folio")))?;
            if let HugePte::HwPoison(_) = st.mapped.remove(i) {
                // memory_failure already unmapped it and dropped the reference.
                return Ok(false);
            }
        }
        let p = self.memmap.pfn_to_page(pfn)?;
        put_page_testzero(p, pfn)
    }

    /// `folio_put` of a hugetlb folio: the last reference frees it.
    pub(crate) fn hugetlb_folio_put(&self, head: Pfn) -> Result<()> {
        let p = self.memmap.pfn_to_page(head)?;
        if put_page_testzero(p, head)? {
            crate::sync::preempt_point("free_huge_folio:refcount_zero");
            self.free_huge_folio_finish(head)?;
        }
        Ok(())
    }

    /// Second half of [`System::hugetlb_free`] (`free_huge_folio`) on a
    /// folio at refcount 0: a poisoned folio is dissolved with its poisoned
    /// pages contained, a surplus one goes back to buddy, any other is
    /// enqueued (HPG_freed set under `hugetlb_lock`).
    pub fn free_huge_folio_finish(&self, pfn: Pfn) -> Result<()> {
        let p = self.memmap.pfn_to_page(pfn)?;
        let mut st = self.hugetlb.lock();
        clear_hpg(p, pg::HPG_migratable);
        st.active.remove(&pfn);
        if test_hpg(p, pg::HPG_freed) || st.freelist.contains(&pfn) {
            drop(st);
            self.record_violation("HD1", Some(pfn), "free_huge_folio of a folio that is already on the hugetlb freelist".into());
            return Ok(());
        }
        if p.PageHWPoison() || st.surplus > 0 {
            // remove_hugetlb_folio + update_and_free_hugetlb_folio.
            st.nr -= 1;
            if !p.PageHWPoison() {
                st.surplus -= 1;
            }
            p.__ClearPageHugetlb();
            drop(st);
            self.update_and_free_hugetlb_folio(pfn, pfn, true);
            return Ok(());
        }
        enqueue_hugetlb_folio(&mut st, pfn, p);
        Ok(())
    }

    /// `dissolve_free_hugetlb_folio`: give a free pool folio back to buddy.
    /// Ok for a pfn that is not (or no longer) hugetlb. [`Error::Busy`] when
    /// the folio is in use, when dissolving would leave fewer free folios
    /// than reservations (C8; `Switch::DissolveIgnoresResv` skips the test),
    /// or when its free is still in flight (not HPG_freed after a few
    /// retries; C6; `Switch::DissolveNoFreedCheck` dissolves it anyway).
    pub fn dissolve_free_hugetlb_folio(&self, pfn: Pfn) -> Result<()> {
        self.dissolve_inner(pfn, true)
    }

    /// The dissolve of `dissolve_free_hugetlb_folio`; `contain`: keep
    /// poisoned pages out of buddy (landed), or free the whole folio with
    /// the flag moved to the raw page (2018's `dissolve_free_huge_page`).
    pub(crate) fn dissolve_inner(&self, pfn: Pfn, contain: bool) -> Result<()> {
        let ignore_resv = self.cfg.design.has(Switch::DissolveIgnoresResv);
        let no_freed_check = self.cfg.design.has(Switch::DissolveNoFreedCheck);
        let mut tries = 0;
        loop {
            let Some((head, hp)) = self.hugetlb_folio(pfn) else { return Ok(()) };
            let mut st = self.hugetlb.lock();
            if !hp.PageHugetlb() {
                return Ok(());
            }
            if page_count(hp) != 0 {
                return Err(Error::Busy { pfn: head, reason: "hugetlb folio in use".into() });
            }
            if st.free - st.resv <= 0 && !ignore_resv {
                return Err(Error::Busy { pfn: head, reason: "dissolving would leave fewer free huge pages than reservations".into() });
            }
            if !test_hpg(hp, pg::HPG_freed) && !no_freed_check {
                drop(st);
                tries += 1;
                if tries > DISSOLVE_RETRIES {
                    return Err(Error::Busy { pfn: head, reason: "hugetlb folio free in flight (not yet on the freelist)".into() });
                }
                crate::sync::thread::yield_now();
                continue;
            }
            // remove_hugetlb_folio: the pre-7ffddd499ba6 kernel took the
            // folio off "its list" and counted it free unconditionally.
            if let Some(i) = st.freelist.iter().position(|&f| f == head) {
                st.freelist.remove(i);
            }
            st.active.remove(&head);
            st.free -= 1;
            st.nr -= 1;
            clear_hpg(hp, pg::HPG_freed);
            hp.__ClearPageHugetlb();
            drop(st);
            self.update_and_free_hugetlb_folio(head, pfn, contain);
            return Ok(());
        }
    }

    /// `update_and_free_hugetlb_folio` of a folio already removed from the
    /// pool (type cleared, refcount 0): destroy the compound page and free
    /// it to buddy. A poisoned folio's flag moves to its raw error page
    /// (`raw_hwp` record, else `raw_hint`). With `contain` every PG_hwpoison
    /// page stays out of buddy (see [`System::free_healthy_parts`]).
    pub(crate) fn update_and_free_hugetlb_folio(&self, head: Pfn, raw_hint: Pfn, contain: bool) {
        let mm = &self.memmap;
        let Ok(hp) = mm.pfn_to_page(head) else { return };
        let recorded = self.hugetlb.lock().raw_hwp.remove(&head);
        let poisoned = hp.PageHWPoison();
        hp.flags.fetch_and(!(pg::PAGE_FLAGS_CHECK_AT_PREP | pg::PG_head | pg::PG_hwpoison), Ordering::Relaxed);
        hp.page_mapcount_reset();
        hp.compound_info.store(0, crate::sync::plain::Ordering::Relaxed);
        hp.set_owner(0);
        for t in head + 1..head + HUGETLB_NR_PAGES {
            if let Ok(tp) = mm.pfn_to_page(t) {
                tp.compound_head.store(0, crate::sync::plain::Ordering::Relaxed);
            }
        }
        if poisoned {
            let raw = recorded.unwrap_or(raw_hint).clamp(head, head + HUGETLB_NR_PAGES - 1);
            if mm.pfn_to_page(raw).is_ok_and(|rp| rp.TestSetPageHWPoison()) {
                // The raw page carried its own flag already: one poisoned
                // page had been counted twice.
                self.num_poisoned_pages_sub(raw, 1);
            }
        }
        if !contain {
            // 2018: the whole folio into buddy, a poisoned page inside.
            self.zone.free_one_page::<F>(mm, head, HUGETLB_ORDER);
            return;
        }
        self.free_healthy_parts(head, HUGETLB_ORDER);
    }

    /// Free the block `start`/`order` (compound state already destroyed,
    /// refcount 0) to buddy except its PG_hwpoison pages, which are left in
    /// the hwpoison steady state (MAGIC_HWPOISON, refcount 1): the largest
    /// healthy aligned parts go to buddy (the landed "only free the healthy
    /// pages of a folio with poisoned subpages").
    pub(crate) fn free_healthy_parts(&self, start: Pfn, order: u32) {
        let mm = &self.memmap;
        let poisoned = |p: Pfn| mm.pfn_to_page(p).is_ok_and(|d| d.PageHWPoison());
        if !(start..start + (1u64 << order)).any(poisoned) {
            self.zone.free_one_page::<F>(mm, start, order);
            return;
        }
        if order == 0 {
            if let Ok(p) = mm.pfn_to_page(start) {
                p.set_page_private(MAGIC_HWPOISON);
                set_page_count(p, 1);
            }
            return;
        }
        self.free_healthy_parts(start, order - 1);
        self.free_healthy_parts(start + (1u64 << (order - 1)), order - 1);
    }

    /// `__page_handle_poison`: dissolve the free folio `pfn` is in (nothing
    /// for a non-hugetlb page), drain the pcp lists and take the page off
    /// buddy.
    pub(crate) fn __page_handle_poison(&self, pfn: Pfn) -> HandlePoison {
        if self.dissolve_free_hugetlb_folio(pfn).is_err() {
            return HandlePoison::Failed;
        }
        if let Ok(p) = self.memmap.pfn_to_page(pfn) {
            if p.PageHWPoisonTakenOff() && p.PageHWPoison() && page_count(p) == 1 {
                return HandlePoison::Settled;
            }
        }
        self.drain_all_pages();
        if self.take_page_off_buddy(pfn) {
            HandlePoison::TakenOff
        } else {
            HandlePoison::Failed
        }
    }

    /// `isolate_hugetlb`: take an in-use, migratable folio for migration
    /// (clears HPG_migratable, takes the isolation reference).
    pub(crate) fn isolate_hugetlb(&self, head: Pfn) -> bool {
        let Ok(hp) = self.memmap.pfn_to_page(head) else { return false };
        let _st = self.hugetlb.lock();
        if !hp.PageHugetlb() || !test_hpg(hp, pg::HPG_migratable) || !get_page_unless_zero(hp) {
            return false;
        }
        clear_hpg(hp, pg::HPG_migratable);
        true
    }

    /// `folio_putback_hugetlb`: undo [`System::isolate_hugetlb`].
    pub(crate) fn putback_hugetlb(&self, head: Pfn) {
        if let Ok(hp) = self.memmap.pfn_to_page(head) {
            {
                let _st = self.hugetlb.lock();
                if hp.PageHugetlb() && page_count(hp) > 1 && !hp.PageHWPoison() {
                    set_hpg(hp, pg::HPG_migratable);
                }
            }
            let _ = self.hugetlb_folio_put(head);
        }
    }

    /// Migrate an isolated hugetlb folio (`unmap_and_move_huge_page`): the
    /// target is a free pool folio outside isolated pageblocks
    /// (`alloc_hugetlb_folio_nodemask`), else a fresh surplus folio from
    /// buddy. The source is frozen at its expected count (mapping +
    /// isolation); any other reference fails the move (Again). On success
    /// the mapping points at the target and the source is freed like a last
    /// put would (a surplus in the pool sends it back to buddy).
    pub(crate) fn migrate_hugetlb_folio(&self, cpu: &Cpu<'_, F>, src: Pfn) -> std::result::Result<Pfn, MigrateError> {
        let mm = &self.memmap;
        let sp = mm.pfn_to_page(src).map_err(|_| MigrateError::NotMovable)?;
        let dequeued = {
            let mut st = self.hugetlb.lock();
            let pos = if st.free - st.resv > 0 {
                st.freelist.iter().rposition(|&f| {
                    f != src && mm.pfn_to_page(f).is_ok_and(|p| !p.PageHWPoison()) && block_mt(mm, f) != MigrateType::Isolate
                })
            } else {
                None
            };
            pos.map(|i| {
                let f = st.freelist.remove(i);
                st.free -= 1;
                if let Ok(p) = mm.pfn_to_page(f) {
                    clear_hpg(p, pg::HPG_freed);
                }
                f
            })
        };
        let dst = match dequeued {
            Some(f) => f,
            None => {
                let f = self.hugetlb_alloc_folio_begin(cpu).map_err(|_| MigrateError::NoMemory)?;
                let fp = mm.pfn_to_page(f).map_err(|_| MigrateError::NoMemory)?;
                if page_count(fp) == 1 {
                    // Prepared unfrozen (the C7 switch): the target is ours alone.
                    let _ = page_ref_freeze(fp, 1);
                }
                let mut st = self.hugetlb.lock();
                st.nr += 1;
                st.surplus += 1;
                f
            }
        };
        let dp = mm.pfn_to_page(dst).map_err(|_| MigrateError::NoMemory)?;
        let mut st = self.hugetlb.lock();
        let i = st.mapped.iter().position(|m| *m == HugePte::Present(src));
        let frozen = i.is_some() && page_ref_freeze(sp, 2);
        let Some(i) = i.filter(|_| frozen) else {
            drop(st);
            // The target goes back (to the pool, or to buddy if surplus).
            let _ = self.free_huge_folio_finish(dst);
            return Err(if i.is_some() { MigrateError::Again } else { MigrateError::NotMovable });
        };
        if mm.has_frame_store() {
            for k in 0..HUGETLB_NR_PAGES {
                // SAFETY: the source is frozen at 0 (no reference can be
                // taken) and no longer reachable through the mapping, whose
                // entries change only under hugetlb_lock, held here; the
                // target is at refcount 0 on no list, owned by this call.
                // Hugetlb frames are accessed only here. Distinct folios.
                if unsafe { mm.frame_copy(src + k, dst + k) }.is_err() {
                    break;
                }
            }
        }
        st.mapped[i] = HugePte::Present(dst);
        // The mapping's reference on the target.
        let _ = page_ref_unfreeze(dp, dst, 1);
        set_hpg(dp, pg::HPG_migratable);
        st.active.insert(dst);
        drop(st);
        // The source lost both references (frozen): free it.
        let _ = self.free_huge_folio_finish(src);
        Ok(dst)
    }

    /// `get_hwpoison_hugetlb_folio` for `__get_hwpoison_page`: None if `pfn`
    /// is not hugetlb; else Some(Some(true)) a reference was taken on the
    /// head, Some(Some(false)) a free folio, Some(None) busy (being
    /// prepared, freed or isolated). Landed: under hugetlb_lock, a reference
    /// only on a migratable (in-use) folio. `Switch::HwpoisonSpecRefHugetlb`:
    /// a bare `get_page_unless_zero` on the head (C7).
    pub(crate) fn get_hwpoison_hugetlb_folio(&self, pfn: Pfn) -> Option<Option<bool>> {
        let (_, hp) = self.hugetlb_folio(pfn)?;
        if self.cfg.design.has(Switch::HwpoisonSpecRefHugetlb) {
            return Some(Some(get_page_unless_zero(hp)));
        }
        let _st = self.hugetlb.lock();
        if !hp.PageHugetlb() {
            return None;
        }
        if test_hpg(hp, pg::HPG_freed) {
            return Some(Some(false));
        }
        if test_hpg(hp, pg::HPG_migratable) && get_page_unless_zero(hp) {
            return Some(Some(true));
        }
        Some(None)
    }

    /// memory_failure's hugetlb arm (`try_memory_failure_hugetlb`): None if
    /// `pfn` is not in a hugetlb folio (the normal path runs).
    pub(crate) fn try_memory_failure_hugetlb(&self, cpu: &Cpu<'_, F>, pfn: Pfn) -> Option<MfResult> {
        let (head, hp) = self.hugetlb_folio(pfn)?;
        if self.cfg.design.has(Switch::HwpoisonSpecRefHugetlb) {
            // 5.12 memory_failure_hugetlb: flag the head, then a speculative
            // reference on it whatever state the folio is in.
            if hp.TestSetPageHWPoison() {
                return Some(MfResult::AlreadyPoisoned);
            }
            self.hugetlb.lock().raw_hwp.insert(head, pfn);
            self.num_poisoned_pages_inc(head);
            return Some(match self.get_hwpoison_page(cpu, pfn, false) {
                Ok(HwpGet::Got) => {
                    // The window of C7: a reference on a folio that may
                    // still be being prepared.
                    crate::sync::preempt_point("memory_failure:hugetlb_ref_held");
                    // me_huge_page: the folio is in use; let it go.
                    let _ = self.hugetlb_folio_put(head);
                    MfResult::Delayed
                }
                Ok(HwpGet::Free) if folio_is_free_hugetlb(hp) => self.mf_free_hugetlb(pfn),
                _ => MfResult::Ignored,
            });
        }
        // Landed: get_huge_page_for_hwpoison under hugetlb_lock, retried once
        // (then with MF_NO_RETRY) on -EBUSY.
        let mut no_retry = false;
        loop {
            let mut st = self.hugetlb.lock();
            if !hp.PageHugetlb() {
                // Dissolved meanwhile: the normal path handles the page.
                return None;
            }
            let state = if test_hpg(hp, pg::HPG_freed) {
                Some(false)
            } else if test_hpg(hp, pg::HPG_migratable) && get_page_unless_zero(hp) {
                Some(true)
            } else {
                None
            };
            if state.is_none() && !no_retry {
                drop(st);
                no_retry = true;
                continue;
            }
            // folio_set_hugetlb_hwpoison.
            if hp.TestSetPageHWPoison() {
                drop(st);
                if state == Some(true) {
                    let _ = self.hugetlb_folio_put(head);
                }
                return Some(MfResult::AlreadyPoisoned);
            }
            st.raw_hwp.insert(head, pfn);
            if state == Some(true) {
                clear_hpg(hp, pg::HPG_migratable);
            }
            drop(st);
            self.num_poisoned_pages_inc(head);
            return Some(match state {
                // Being prepared or freed: flagged; contained when it is.
                None => MfResult::Ignored,
                Some(false) => self.mf_free_hugetlb(pfn),
                Some(true) => {
                    // hwpoison_user_mappings: unmap (an access now SIGBUSes),
                    // dropping the mapping's reference; me_huge_page: drop
                    // ours, which frees and dissolves the folio.
                    let unmapped = {
                        let mut st = self.hugetlb.lock();
                        match st.mapped.iter().position(|m| *m == HugePte::Present(head)) {
                            Some(i) => {
                                st.mapped[i] = HugePte::HwPoison(head);
                                true
                            }
                            None => false,
                        }
                    };
                    if unmapped {
                        let _ = self.hugetlb_folio_put(head);
                    }
                    let _ = self.hugetlb_folio_put(head);
                    if self.memmap.pfn_to_page(pfn).is_ok_and(|p| p.PageHWPoisonTakenOff()) {
                        MfResult::Recovered
                    } else {
                        MfResult::Delayed
                    }
                }
            });
        }
    }

    /// Hard offline of a free hugetlb folio already flagged: dissolve it and
    /// contain the raw page.
    fn mf_free_hugetlb(&self, pfn: Pfn) -> MfResult {
        match self.__page_handle_poison(pfn) {
            HandlePoison::Settled => MfResult::Recovered,
            HandlePoison::TakenOff => {
                // The folio was dissolved under us before it carried the
                // flag: poison the raw page that came out of buddy.
                if let Ok(p) = self.memmap.pfn_to_page(pfn) {
                    if !p.TestSetPageHWPoison() {
                        self.num_poisoned_pages_inc(pfn);
                    }
                    p.refcount.fetch_add(1, Ordering::Relaxed);
                }
                MfResult::Recovered
            }
            HandlePoison::Failed => MfResult::Failed,
        }
    }

    /// unpoison of a poisoned hugetlb folio: None if `pfn` is not hugetlb;
    /// else whether a flag was cleared (the folio's, and a raw page's own).
    pub(crate) fn unpoison_hugetlb(&self, pfn: Pfn) -> Option<bool> {
        let (head, hp) = self.hugetlb_folio(pfn)?;
        let raw = self.memmap.pfn_to_page(pfn).ok()?;
        let mut st = self.hugetlb.lock();
        let cleared_head = hp.TestClearPageHWPoison();
        if cleared_head {
            st.raw_hwp.remove(&head);
        }
        // A raw page flagged before it became part of this folio.
        let cleared_raw = pfn != head && raw.TestClearPageHWPoison();
        drop(st);
        let n = cleared_head as i64 + cleared_raw as i64;
        if n > 0 {
            self.num_poisoned_pages_sub(head, n);
        }
        Some(n > 0)
    }

    /// The checker's hugetlb pass (HR1, HR2, HR3, HD1), run by
    /// [`System::check`] under zone->lock with `hugetlb_lock` held (`st`).
    pub(crate) fn check_hugetlb(&self, st: &HugetlbState, report: &mut impl FnMut(&'static str, Option<Pfn>, String)) {
        let mm = &self.memmap;
        if st.free < st.resv {
            report("HR1", None, format!("free huge pages {} < reserved {}: a reserved fault will SIGBUS", st.free, st.resv));
        }
        if st.nr < 0 || st.free < 0 || st.resv < 0 || st.surplus < 0 {
            report("HR2", None, format!("negative hstate counter: nr {} free {} resv {} surplus {}", st.nr, st.free, st.resv, st.surplus));
        }
        if st.freelist.len() as i64 != st.free {
            report("HR2", None, format!("free_huge_pages is {} but the freelist holds {} folios", st.free, st.freelist.len()));
        }
        let in_use = st.active.len() as i64;
        if st.nr != st.free + in_use {
            report("HR2", None, format!("nr_huge_pages {} != free {} + in use {}", st.nr, st.free, in_use));
        }
        let mut seen = BTreeSet::new();
        for &f in &st.freelist {
            if !seen.insert(f) {
                report("HD1", Some(f), "folio is on the hugetlb freelist twice".into());
                continue;
            }
            let Ok(p) = mm.pfn_to_online_page(f) else {
                report("HR3", Some(f), "hugetlb freelist entry is not an online pfn".into());
                continue;
            };
            if covered_by_buddy(mm, f) {
                report("HD1", Some(f), "folio on the hugetlb freelist is also free in buddy: dissolved while its free was in flight".into());
                report("A2", Some(f), "page owned twice: hugetlb freelist and buddy".into());
                continue;
            }
            if !p.PageHugetlb() || p.compound_order() != HUGETLB_ORDER {
                report("HR3", Some(f), format!("hugetlb freelist entry is not a hugetlb folio: {}", p.dump(f)));
            }
            let rc = page_count(p);
            if rc != 0 {
                report("HR3", Some(f), format!("free hugetlb folio has refcount {rc}"));
            }
            if !test_hpg(p, pg::HPG_freed) || test_hpg(p, pg::HPG_migratable) {
                report("HR3", Some(f), format!("free hugetlb folio without hugetlb_freed or with hugetlb_migratable: {}", p.dump(f)));
            }
            if p.PageHWPoison() && !st.raw_hwp.contains_key(&f) {
                report("HR3", Some(f), "PG_hwpoison folio on the hugetlb freelist (flagged before containment)".into());
            }
        }
        for &f in &st.active {
            match mm.pfn_to_online_page(f) {
                Ok(p) if p.PageHugetlb() && page_count(p) >= 1 => {}
                Ok(p) => report("HR2", Some(f), format!("in-use hugetlb folio is not a referenced hugetlb folio: {}", p.dump(f))),
                Err(_) => report("HR2", Some(f), "in-use hugetlb folio is not online".into()),
            }
        }
        for m in &st.mapped {
            if let HugePte::Present(f) = *m {
                if !st.active.contains(&f) {
                    report("HR2", Some(f), "mapped hugetlb folio is not in use".into());
                }
            }
        }
    }
}

impl<F: FreePath> System<F> {
    /// `dissolve_free_hugetlb_folios` over an offline range: Err(pfn) when a
    /// hugetlb folio there cannot be dissolved (in use, reserved, or its
    /// free in flight), which fails the offline.
    pub(crate) fn dissolve_free_hugetlb_folios(&self, start: Pfn, end: Pfn) -> Result<(), Pfn> {
        let mut pfn = start & !(HUGETLB_NR_PAGES - 1);
        while pfn < end {
            if self.dissolve_free_hugetlb_folio(pfn).is_err() {
                return Err(pfn);
            }
            pfn += HUGETLB_NR_PAGES;
        }
        Ok(())
    }

    /// scan_movable_pages' hugetlb arm for `pfn`: None if not hugetlb;
    /// Some(Ok(true)) an in-use migratable folio; Some(Err(n)) skip n pages.
    pub(crate) fn scan_hugetlb(&self, pfn: Pfn) -> Option<Result<bool, u64>> {
        let (head, hp) = self.hugetlb_folio(pfn)?;
        if test_hpg(hp, pg::HPG_migratable) && page_count(hp) > 0 {
            return Some(Ok(true));
        }
        Some(Err(head + HUGETLB_NR_PAGES - pfn))
    }
}

impl<F: FreePath> System<F> {
    /// do_migrate_range's hugetlb arm: true if `pfn` was hugetlb and handled
    /// (an in-use folio is isolated and migrated at its head; tails and free
    /// folios are skipped).
    pub(crate) fn migrate_hugetlb_for_offline(&self, cpu: &Cpu<'_, F>, pfn: Pfn) -> bool {
        let Some((head, _)) = self.hugetlb_folio(pfn) else { return false };
        if head == pfn && self.isolate_hugetlb(head) && self.migrate_hugetlb_folio(cpu, head).is_err() {
            self.putback_hugetlb(head);
        }
        true
    }
}
