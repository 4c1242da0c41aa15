//! Per-CPU page lists (`struct per_cpu_pages`) and the lock that guards
//! them.
//!
//! # The pcp lock
//! The kernel guards a pcp with `pcp->lock`, taken by its own CPU on every
//! alloc/free and by remote CPUs for `drain_all_pages` and
//! `zone_pcp_disable`. A locked RMW costs as much as the refcount drop
//! itself, so pagelab uses a *biased* (asymmetric) lock with the same
//! exclusion guarantee:
//!
//! * the owner (the [`crate::Cpu`] context that claimed the slot) enters
//!   with a plain store `busy = true`, a compiler fence, and a load of
//!   `remote_wants`; it leaves with a `Release` store `busy = false`. No
//!   locked instruction on the fast path.
//! * a remote accessor serializes with other remotes on `remote`, sets
//!   `remote_wants`, runs the heavy barrier (`membarrier(2)`: a full fence
//!   on every CPU running one of our threads), then waits for `busy` to
//!   read false.
//!
//! Why that excludes (Dekker with asymmetric fences): let P be the point
//! where the heavy barrier fenced the owner's CPU. If the owner's
//! `busy = true` store came before P, the remote sees it after the barrier
//! and waits. If it came after P, the owner's following load of
//! `remote_wants` comes after P too, and the remote's store of it preceded
//! the barrier, so the owner sees `true`, backs off (`busy = false`) and
//! waits. Ordering of the data itself: the owner's `Release` exit pairs
//! with the remote's `Acquire` load of `busy`; the remote's `Release` clear
//! of `remote_wants` pairs with the owner's `Acquire` load of it.
//! Under shuttle every access is sequentially consistent and the barriers
//! are no-ops, so the same protocol is explored by the scheduler.
//!
//! # Invariants
//! * P1: `count` = Σ 2^order over the lists.
//! * P2: listed pages have refcount 0, no page type, no PG_hwpoison, and
//!   `index` = the migratetype of the list they are on (< MIGRATE_PCPTYPES).
//! * P3: `free_pcppages_bulk` frees at most `count` pages and terminates.
//! * P5: with `high == 0` (zone_pcp_disable), a free flushes at once, so no
//!   page stays on a list at a quiescent point.
//!
//! Lock order: pcp lock → zone->lock (refill and spill take zone->lock
//! inside the pcp critical section). A remote accessor never waits for
//! `busy` while holding zone->lock.

use super::list::ListHead;
use super::zone::{PcpSettings, Zone};
use crate::memmap::Memmap;
use crate::page::Page;
use crate::pageblock::{MigrateType, MIGRATE_PCPTYPES};
use crate::sync::atomic::{AtomicBool, Ordering};
use crate::sync::plain::{self, AtomicU32};
use crate::sync::{asymmetric_heavy_barrier, asymmetric_light_barrier, spin_wait, Mutex, MutexGuard};
use crate::{Pfn, PAGE_ALLOC_COSTLY_ORDER};

/// pcp lists for orders 0..=COSTLY per pcp migratetype, plus one for
/// pageblock order (THP).
pub const NR_LOWORDER_PCP_LISTS: usize = MIGRATE_PCPTYPES * (PAGE_ALLOC_COSTLY_ORDER as usize + 1);
/// Total pcp lists (`NR_PCP_LISTS`): 13.
pub const NR_PCP_LISTS: usize = NR_LOWORDER_PCP_LISTS + 1;
/// Cap of the free batch scaling (`CONFIG_PCP_BATCH_SCALE_MAX`).
pub const PCP_BATCH_SCALE_MAX: u32 = 5;

/// `pcp_allowed_order` (with the geometry's pageblock order; for a
/// constant order up to the costly one the test folds away).
#[inline(always)]
pub fn pcp_allowed_order(order: u32, pageblock_order: u32) -> bool {
    order <= PAGE_ALLOC_COSTLY_ORDER || order == pageblock_order
}

/// `order_to_pindex`.
#[inline(always)]
pub fn order_to_pindex(mt: usize, order: u32) -> usize {
    if order > PAGE_ALLOC_COSTLY_ORDER {
        NR_LOWORDER_PCP_LISTS
    } else {
        MIGRATE_PCPTYPES * order as usize + mt
    }
}

/// `pindex_to_order` (the THP list's order is the pageblock order).
#[inline(always)]
pub fn pindex_to_order(pindex: usize, pageblock_order: u32) -> u32 {
    if pindex == NR_LOWORDER_PCP_LISTS {
        pageblock_order
    } else {
        (pindex / MIGRATE_PCPTYPES) as u32
    }
}

/// The migratetype of a low-order pcp list (THP list: Movable).
#[inline]
pub fn pindex_to_mt(pindex: usize) -> usize {
    if pindex == NR_LOWORDER_PCP_LISTS {
        MigrateType::Movable as usize
    } else {
        pindex % MIGRATE_PCPTYPES
    }
}

/// `struct per_cpu_pages`. Cache-line aligned so CPUs do not share lines.
#[repr(C, align(128))]
#[derive(Debug)]
pub struct PerCpuPages {
    busy: AtomicBool,
    remote_wants: AtomicBool,
    /// Pages on the lists. Written only inside the pcp lock; read racily as
    /// a hint by drain_all_pages (as the kernel does).
    count: AtomicU32,
    /// `pcp->high`: 0 means disabled (every free flushes).
    high: AtomicU32,
    /// `pcp->batch`.
    batch: AtomicU32,
    /// `pcp->free_factor`: free batch scaling, halved by every allocation.
    free_factor: AtomicU32,
    pub(crate) lists: [ListHead; NR_PCP_LISTS],
    /// Serializes remote accessors.
    remote: Mutex<()>,
    /// A [`crate::Cpu`] context owns this slot.
    pub(crate) claimed: AtomicBool,
}

impl PerCpuPages {
    pub(crate) fn new(high: u32, batch: u32) -> Self {
        PerCpuPages {
            busy: AtomicBool::new(false),
            remote_wants: AtomicBool::new(false),
            count: AtomicU32::new(0),
            high: AtomicU32::new(high),
            batch: AtomicU32::new(batch),
            free_factor: AtomicU32::new(0),
            lists: std::array::from_fn(|_| ListHead::default()),
            remote: Mutex::new(()),
            claimed: AtomicBool::new(false),
        }
    }

    /// A copy of a quiescent pcp (no lock held, no owner inside): the same
    /// count, high, batch, free factor and lists, a new remote mutex, and
    /// the slot unclaimed (a reset's image, [`crate::reset`]).
    pub(crate) fn copy(&self) -> Self {
        PerCpuPages {
            busy: AtomicBool::new(false),
            remote_wants: AtomicBool::new(false),
            count: AtomicU32::new(self.count.load(plain::Ordering::Relaxed)),
            high: AtomicU32::new(self.high.load(plain::Ordering::Relaxed)),
            batch: AtomicU32::new(self.batch.load(plain::Ordering::Relaxed)),
            free_factor: AtomicU32::new(self.free_factor.load(plain::Ordering::Relaxed)),
            lists: std::array::from_fn(|i| self.lists[i].copy()),
            remote: Mutex::new(()),
            claimed: AtomicBool::new(false),
        }
    }

    /// `pcp->high` (0: disabled).
    #[inline]
    pub fn high(&self) -> u32 {
        self.high.load(plain::Ordering::Relaxed)
    }

    /// Overwrite the count without touching the lists (checker tests).
    #[cfg(all(test, not(feature = "shuttle")))]
    pub(crate) fn corrupt_count(&self, v: u32) {
        self.count.store(v, plain::Ordering::Relaxed);
    }

    /// Overwrite high without draining (checker tests).
    #[cfg(all(test, not(feature = "shuttle")))]
    pub(crate) fn corrupt_high(&self, v: u32) {
        self.high.store(v, plain::Ordering::Relaxed);
    }

    /// Racy read of the page count (drain_all_pages' "has pages?" test).
    #[inline]
    pub fn count_hint(&self) -> u32 {
        self.count.load(plain::Ordering::Relaxed)
    }

    /// Enter the owner side of the pcp lock.
    ///
    /// Only the context that claimed this slot may call it, and never
    /// nested (a [`crate::Cpu`] is `!Sync` and every operation enters once).
    #[inline(always)]
    pub(crate) fn owner_lock(&self) -> PcpOwnerGuard<'_> {
        loop {
            self.busy.store(true, Ordering::Relaxed);
            asymmetric_light_barrier();
            if !self.remote_wants.load(Ordering::Acquire) {
                return PcpOwnerGuard { pcp: self };
            }
            self.owner_back_off();
        }
    }

    #[cold]
    #[inline(never)]
    fn owner_back_off(&self) {
        self.busy.store(false, Ordering::Release);
        let mut spins = 0;
        while self.remote_wants.load(Ordering::Acquire) {
            spin_wait(&mut spins);
        }
    }

    /// Take the remote side of the pcp lock (drain from another CPU,
    /// pcp disable, the checker).
    pub(crate) fn remote_lock(&self) -> PcpRemoteGuard<'_> {
        let g = self.remote.lock();
        self.remote_wants.store(true, Ordering::Relaxed);
        asymmetric_heavy_barrier();
        let mut spins = 0;
        while self.busy.load(Ordering::Acquire) {
            spin_wait(&mut spins);
        }
        PcpRemoteGuard { pcp: self, _g: g }
    }

    /// Take the remote side of every pcp lock in `pcps` (the checker, which
    /// needs them all at once), in ascending CPU order, with one heavy
    /// barrier for all: each pcp's Dekker pair is the same as in
    /// [`PerCpuPages::remote_lock`] (its `remote_wants` store precedes the
    /// barrier, its `busy` load follows it), so one barrier serves every
    /// pair. Waiting for one owner while holding another pcp is safe: an
    /// owner never waits for a remote of another CPU inside its section.
    pub(crate) fn remote_lock_all(pcps: &[PerCpuPages]) -> Vec<PcpRemoteGuard<'_>> {
        let held: Vec<_> = pcps
            .iter()
            .map(|pcp| {
                let g = pcp.remote.lock();
                pcp.remote_wants.store(true, Ordering::Relaxed);
                (pcp, g)
            })
            .collect();
        asymmetric_heavy_barrier();
        held.into_iter()
            .map(|(pcp, g)| {
                let mut spins = 0;
                while pcp.busy.load(Ordering::Acquire) {
                    spin_wait(&mut spins);
                }
                PcpRemoteGuard { pcp, _g: g }
            })
            .collect()
    }
}

/// Proof of holding a pcp lock (either side): the list operations need it.
pub(crate) trait PcpLocked {
    fn pcp(&self) -> &PerCpuPages;
}

/// Owner side of the pcp lock.
pub(crate) struct PcpOwnerGuard<'a> {
    pcp: &'a PerCpuPages,
}
impl Drop for PcpOwnerGuard<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        self.pcp.busy.store(false, Ordering::Release);
    }
}
impl PcpLocked for PcpOwnerGuard<'_> {
    #[inline(always)]
    fn pcp(&self) -> &PerCpuPages {
        self.pcp
    }
}

/// Remote side of the pcp lock.
pub(crate) struct PcpRemoteGuard<'a> {
    pcp: &'a PerCpuPages,
    _g: MutexGuard<'a, ()>,
}
impl Drop for PcpRemoteGuard<'_> {
    fn drop(&mut self) {
        self.pcp.remote_wants.store(false, Ordering::Release);
    }
}
impl PcpLocked for PcpRemoteGuard<'_> {
    fn pcp(&self) -> &PerCpuPages {
        self.pcp
    }
}

impl Zone {
    /// `rmqueue_pcplist`: allocate a block of `order` from the owner's pcp,
    /// refilling it from buddy with `rmqueue_bulk` when the list is empty.
    #[inline(always)]
    pub(crate) fn rmqueue_pcplist<'m>(&self, mm: &'m Memmap, g: &impl PcpLocked, order: u32, mt: MigrateType) -> Option<(Pfn, &'m Page)> {
        let pcp = g.pcp();
        pcp.free_factor.store(pcp.free_factor.load(plain::Ordering::Relaxed) >> 1, plain::Ordering::Relaxed);
        let list = &pcp.lists[order_to_pindex(mt as usize, order)];
        if list.is_empty() {
            self.pcp_refill(mm, pcp, list, order, mt)?;
        }
        let (pfn, page) = list.pop_front(mm)?;
        let c = pcp.count.load(plain::Ordering::Relaxed);
        pcp.count.store(c - (1 << order), plain::Ordering::Relaxed);
        Some((pfn as Pfn, page))
    }

    /// The refill half of `__rmqueue_pcplist`.
    #[cold]
    fn pcp_refill(&self, mm: &Memmap, pcp: &PerCpuPages, list: &ListHead, order: u32, mt: MigrateType) -> Option<()> {
        let mut batch = pcp.batch.load(plain::Ordering::Relaxed);
        if batch > 1 {
            batch = (batch >> order).max(2);
        }
        let got = self.rmqueue_bulk(mm, order, batch, list, mt);
        // C2's window: pages are on the list, the count not yet updated.
        crate::sync::preempt_point("rmqueue_pcplist:refilled");
        let c = pcp.count.load(plain::Ordering::Relaxed);
        pcp.count.store(c + (got << order), plain::Ordering::Relaxed);
        (got > 0).then_some(())
    }

    /// `free_unref_page_commit`: put a prepared block on the pcp list of
    /// `mt` and spill a batch to buddy once `count >= high`.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn free_unref_page_commit<F: super::FreePath>(
        &self,
        mm: &Memmap,
        g: &impl PcpLocked,
        pfn: Pfn,
        page: &Page,
        order: u32,
        mt: usize,
    ) {
        let pcp = g.pcp();
        let pindex = order_to_pindex(mt, order);
        pcp.lists[pindex].push_front(mm, pfn as u32, page);
        let count = pcp.count.load(plain::Ordering::Relaxed) + (1 << order);
        pcp.count.store(count, plain::Ordering::Relaxed);
        let high = pcp.high.load(plain::Ordering::Relaxed);
        if count >= high {
            self.pcp_spill::<F>(mm, pcp, high, pindex);
        }
    }

    /// The spill half of `free_unref_page_commit` (`nr_pcp_free` + bulk free).
    #[cold]
    fn pcp_spill<F: super::FreePath>(&self, mm: &Memmap, pcp: &PerCpuPages, high: u32, pindex: usize) {
        let batch = pcp.batch.load(plain::Ordering::Relaxed);
        let n = if high < batch {
            // Disabled pcp (high 0, batch 1): flush at once.
            pcp.count.load(plain::Ordering::Relaxed)
        } else {
            let ff = pcp.free_factor.load(plain::Ordering::Relaxed);
            let max_nr_free = high - batch;
            let scaled = batch << ff;
            if scaled < max_nr_free && ff < PCP_BATCH_SCALE_MAX {
                pcp.free_factor.store(ff + 1, plain::Ordering::Relaxed);
            }
            scaled.clamp(batch, max_nr_free.max(batch))
        };
        self.free_pcppages_bulk::<F>(mm, pcp, n, pindex);
    }

    /// `free_pcppages_bulk`: return up to `count` pages from the pcp lists
    /// to buddy, round-robin over the lists starting after `pindex`, taking
    /// the coldest (tail) entries. Never frees more than `pcp.count` (P3).
    ///
    /// Each page goes to the list of its pageblock's *current* migratetype,
    /// re-read under zone->lock (P4). The kernel only re-reads when some
    /// block is isolated; doing it always costs one byte load per spilled
    /// page and keeps B3 exact.
    pub(crate) fn free_pcppages_bulk<F: super::FreePath>(&self, mm: &Memmap, pcp: &PerCpuPages, count: u32, pindex: usize) {
        let mut count = count.min(pcp.count.load(plain::Ordering::Relaxed));
        if count == 0 {
            return;
        }
        let mut fa = self.lock.lock();
        let mut pindex = pindex;
        while count > 0 {
            // Round-robin to the next non-empty list; a count with every list
            // empty would loop forever in the buggy kernel (P3), so stop.
            let mut tries = 0;
            loop {
                pindex = (pindex + 1) % NR_PCP_LISTS;
                tries += 1;
                if !pcp.lists[pindex].is_empty() || tries > NR_PCP_LISTS {
                    break;
                }
            }
            let list = &pcp.lists[pindex];
            if list.is_empty() {
                break;
            }
            let order = pindex_to_order(pindex, mm.geometry().pageblock_order);
            let nr = 1u32 << order;
            while count > 0 {
                let Some((pfn, page)) = list.pop_back(mm) else { break };
                count = count.saturating_sub(nr);
                let c = pcp.count.load(plain::Ordering::Relaxed);
                pcp.count.store(c.saturating_sub(nr), plain::Ordering::Relaxed);
                let mt = if F::RECHECK_MT {
                    super::buddy::block_mt(mm, pfn as Pfn)
                } else {
                    // C4: the migratetype cached when the page was freed.
                    MigrateType::from_u8(page.pcp_migratetype() as u8)
                };
                self.free_one_page_merging(mm, &mut fa, pfn as Pfn, order, mt, false, F::MERGE_ACROSS_ISOLATE);
            }
        }
    }

    /// `drain_pages_zone` (the fixed form, 66eca1021a42): drain in chunks
    /// of `batch << PCP_BATCH_SCALE_MAX`, re-reading `count` under the lock.
    pub(crate) fn drain_pages_zone<F: super::FreePath>(&self, mm: &Memmap, g: &impl PcpLocked) {
        let pcp = g.pcp();
        loop {
            let count = pcp.count.load(plain::Ordering::Relaxed);
            if count == 0 {
                break;
            }
            let chunk = (pcp.batch.load(plain::Ordering::Relaxed).max(1) << PCP_BATCH_SCALE_MAX).min(count);
            self.free_pcppages_bulk::<F>(mm, pcp, chunk, 0);
        }
    }

    /// `__drain_all_pages`: drain every CPU's pcp of this zone from the
    /// calling thread. Without `force`, CPUs whose count reads 0 are
    /// skipped (a racy read, as in the kernel). `racy_count` is C2 (v6.0
    /// to v6.10): the emptiness test is done outside the pcp lock even when
    /// forced, so a refill in flight is missed.
    pub(crate) fn __drain_all_pages<F: super::FreePath>(&self, mm: &Memmap, force: bool, racy_count: bool) {
        let _d = self.pcpu_drain_mutex.lock();
        for pcp in self.pcp.iter() {
            if (!force || racy_count) && pcp.count_hint() == 0 {
                continue;
            }
            let g = pcp.remote_lock();
            self.drain_pages_zone::<F>(mm, &g);
        }
    }

    /// `__zone_set_pageset_high_and_batch`: set every pcp's high and batch.
    /// Like the kernel's WRITE_ONCEs, these stores take no pcp lock: an
    /// owner inside its critical section may still act on the old values
    /// (which is why zone_pcp_disable follows with a forced drain). The
    /// owner's next critical section sees them: its `Acquire` load of
    /// `remote_wants` reads the drain's `Release` clear, which comes after.
    pub(crate) fn set_pageset_high_and_batch(&self, high: u32, batch: u32) {
        for pcp in self.pcp.iter() {
            pcp.high.store(high, plain::Ordering::Relaxed);
            pcp.batch.store(batch, plain::Ordering::Relaxed);
        }
    }

    /// pcp high and batch of one CPU (for tests and `info`).
    pub fn pcp_high_batch(&self, cpu: usize) -> Option<(u32, u32)> {
        let pcp = self.pcp.get(cpu)?;
        Some((pcp.high.load(plain::Ordering::Relaxed), pcp.batch.load(plain::Ordering::Relaxed)))
    }

    /// `zone_pcp_update`: change the configured high/batch (under
    /// `pcp_batch_high_lock`).
    pub fn zone_pcp_update(&self, high: u32, batch: u32) {
        let mut s = self.pcp_batch_high_lock.lock();
        *s = PcpSettings { high, batch: batch.max(1) };
        self.set_pageset_high_and_batch(high, batch.max(1));
    }
}
