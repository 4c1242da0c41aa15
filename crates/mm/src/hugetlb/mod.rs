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
//! Invariants (`hugetlb_acct_memory`, `dequeue_hugetlb_folio_node_exact`,
//! `enqueue_hugetlb_folio` in `mm/hugetlb.c`; checked by [`System::check`]):
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
use crate::page::{pg, Page};
use crate::page_alloc::FreePath;
use crate::page_ref::{page_count, page_ref_freeze, page_ref_unfreeze, put_page_testzero};
use crate::pageblock::MigrateType;
use crate::system::{Cpu, System};
use crate::Pfn;
use state::{clear_hpg, enqueue_hugetlb_folio, set_hpg, test_hpg, HugePte, HugetlbCounters};

mod dissolve;
mod migrate;
pub mod state;

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
            let pfn = cpu.alloc_pages(self.geometry().hpage_pmd_order(), MigrateType::Movable)?;
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
            return Err(Error::NoMemory { order: self.geometry().hpage_pmd_order() });
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













}


