//! Memory hotplug (`mm/memory_hotplug.c`, `drivers/base/memory.c`):
//! add_memory / remove_memory with memmap_on_memory, and online_pages /
//! offline_pages of whole memory blocks, with the notifier chain.
//!
//! offline_pages follows the kernel's step order (`offline_pages` in
//! `mm/memory_hotplug.c`): zone_pcp_disable → start_isolate_page_range → MEM_GOING_OFFLINE
//! → { scan_movable_pages / do_migrate_range until nothing movable is left;
//! dissolve free hugetlb; test_pages_isolated } repeated → 
//! __offline_isolated_pages → zone_pcp_enable → counters → MEM_OFFLINE →
//! poison the memmap. Any failure after isolation undoes it (blocks back to
//! Movable, the kernel's quirk), sends MEM_CANCEL_OFFLINE and re-enables
//! pcp (O3). The retry loop is bounded by `Config::offline_max_passes`: the
//! model of the signal that lets a user abort a stuck offline (O4).
//!
//! Invariants: O1 is checked at `__offline_isolated_pages` — every pfn of
//! the range must be a free block on an ISOLATE list, a PG_hwpoison page or
//! a PageOffline page at refcount 0; anything else is recorded as a
//! violation (the kernel BUG_ONs). O2 there too: a PG_hwpoison page left in
//! the range is contained ([`crate::page::Page::hwpoison_contained`]: memory failure holds it,
//! or nobody does), never one its owner still holds (C22). M2/M4: vmemmap pages are Reserved,
//! refcount 1, never onlined, and released to the altmap exactly once.
//! Lock order ([`crate::locking`]): device_hotplug_lock → memmap.hotplug
//! (mem_hotplug_lock) → pcp_batch_high_lock (offline's pcp disable, held
//! across the notifier chain and the migration) → ptl → pcpu_drain_mutex →
//! pcp lock → zone->lock.

pub mod memory_block;
pub mod notifier;

use crate::design::Switch;
use crate::error::{Error, Result};
use crate::memmap::SectionState;
use crate::hotplug::memory_block::BlockState;
use crate::migrate::{MigrateError, MigrateReason};
use crate::hotplug::notifier::{MemAction, MemoryNotify, NotifyCtx};
use crate::page_alloc::FreePath;
use crate::page_isolation::{IsolFlags, IsolateError};
use crate::page_ref::{get_page_unless_zero, page_count, set_page_count};
use crate::pageblock::{set_pageblock_migratetype, MigrateType};
use crate::sync::plain::Ordering;
use crate::system::{Cpu, System};
use crate::Pfn;


/// How an offline attempt ended without success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfflineFailure {
    /// start_isolate_page_range refused (unmovable page or busy block).
    Isolate(IsolateError),
    /// A notifier refused MEM_GOING_OFFLINE.
    Notifier(String),
    /// scan_movable_pages found a page that can never move.
    Unmovable {
        /// The page.
        pfn: Pfn,
    },
    /// Free hugetlb pages could not be dissolved.
    Dissolve {
        /// The folio that was not.
        pfn: Pfn,
    },
    /// The retry loop ran `passes` times without isolating the range.
    Timeout {
        /// Passes run.
        passes: u32,
        /// The first page still in the way.
        pfn: Pfn,
    },
}

impl std::fmt::Display for OfflineFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OfflineFailure::Isolate(IsolateError::Busy { pfn }) => write!(f, "failure to isolate range: pageblock {pfn:#x} busy"),
            OfflineFailure::Isolate(IsolateError::Unmovable { pfn }) => {
                write!(f, "failure to isolate range: unmovable page {pfn:#x}")
            }
            OfflineFailure::Notifier(s) => write!(f, "notifier failure: {s}"),
            OfflineFailure::Unmovable { pfn } => write!(f, "unmovable page {pfn:#x}"),
            OfflineFailure::Dissolve { pfn } => write!(f, "failure to dissolve huge pages at {pfn:#x}"),
            OfflineFailure::Timeout { passes, pfn } => {
                write!(f, "gave up after {passes} passes (signal backoff); pfn {pfn:#x} not isolated")
            }
        }
    }
}

impl<F: FreePath> NotifyCtx for System<F> {
    fn memmap(&self) -> &crate::memmap::Memmap {
        &self.memmap
    }
    fn free_to_buddy(&self, pfn: Pfn, order: u32) -> Result<()> {
        let p = self.memmap.pfn_to_page(pfn)?;
        if p.PageBuddy() || page_count(p) != 0 {
            return Err(Error::BadPage { pfn, reason: "free_to_buddy of a page that is not exclusively owned" });
        }
        // A driver's pages may carry PG_hwpoison (memory_failure can only
        // flag a PageOffline page): like every high-order free here, only
        // the healthy parts go to buddy, the poisoned pages stay out (H1;
        // the kernel's generic_online_page has C15's hole).
        self.zone.free_healthy_parts::<F>(&self.memmap, pfn, order);
        Ok(())
    }
    fn adjust_managed_page_count(&self, delta: i64) {
        self.zone.managed_pages.fetch_add(delta, Ordering::Relaxed);
    }
    fn design(&self) -> &crate::design::Design {
        &self.cfg.design
    }
    fn record_violation(&self, id: &'static str, pfn: Option<Pfn>, msg: String) {
        System::record_violation(self, id, pfn, msg);
    }
    fn alloc_page(&self, mt: MigrateType) -> Result<Pfn> {
        if mt as usize >= crate::pageblock::MIGRATE_PCPTYPES {
            return Err(Error::BadRequest(format!("cannot allocate from migratetype {}", mt.name())));
        }
        let pfn = self.zone.rmqueue_buddy(&self.memmap, 0, mt).ok_or(Error::NoMemory { order: 0 })?;
        let page = self.memmap.pfn_to_page(pfn)?;
        self.zone.prep_new_page(&self.memmap, pfn, page, 0)?;
        Ok(pfn)
    }
    fn block_state(&self, nr: u64) -> Option<BlockState> {
        self.blocks.get(nr as usize).map(|b| b.state())
    }
}

impl<F: FreePath> System<F> {
    fn block(&self, nr: u64) -> Result<&crate::hotplug::memory_block::MemoryBlock> {
        self.blocks
            .get(nr as usize)
            .ok_or(Error::SectionState { section: nr, what: "no such memory block" })
    }

    /// Send `action` to every registered notifier in order; the first
    /// refusal stops the chain and is returned.
    pub(crate) fn memory_notify(&self, action: MemAction, arg: &MemoryNotify) -> std::result::Result<(), String> {
        let chain: Vec<_> = self.notifiers.lock().clone();
        for n in chain {
            if let Err(e) = n.notify(self, action, arg) {
                return Err(format!("{}: {e}", n.name()));
            }
        }
        Ok(())
    }

    /// Register a driver on the memory notifier chain.
    pub fn register_memory_notifier(&self, n: std::sync::Arc<dyn crate::hotplug::notifier::MemoryNotifier>) {
        self.notifiers.lock().push(n);
    }

    /// State of memory block `nr`.
    pub fn block_state(&self, nr: u64) -> Result<BlockState> {
        Ok(self.block(nr)?.state())
    }

    /// The block's descriptor (counters, altmap).
    pub fn memory_block(&self, nr: u64) -> Result<&crate::hotplug::memory_block::MemoryBlock> {
        self.block(nr)
    }

    /// `add_memory`: give block `nr` a memmap (offline). With
    /// `memmap_on_memory` the block's first pages host its memmap.
    pub fn add_memory(&self, nr: u64, memmap_on_memory: bool) -> Result<()> {
        let _d = self.device_hotplug_lock.lock();
        self.add_memory_locked(nr, memmap_on_memory)
    }

    /// `add_memory_resource` under `lock_device_hotplug` (held by the caller).
    fn add_memory_locked(&self, nr: u64, memmap_on_memory: bool) -> Result<()> {
        let b = self.block(nr)?;
        if b.state() != BlockState::Removed {
            return Err(Error::SectionState { section: nr, what: "add_memory: block already present" });
        }
        {
            let _h = self.memmap.hotplug.lock();
            self.memmap.add_section(nr)?;
        }
        let vm = if memmap_on_memory { self.geometry().nr_vmemmap_pages() as u32 } else { 0 };
        b.nr_vmemmap_pages.store(vm, Ordering::Relaxed);
        b.altmap_alloc.store(vm, Ordering::Relaxed);
        b.memmap_poisoned.store(false, Ordering::Relaxed);
        b.set_state(BlockState::Offline);
        Ok(())
    }

    /// `add_memory_resource` whose `create_memory_block_devices` step fails
    /// (fault injection): the error path must undo `arch_add_memory` with
    /// the block's altmap. With `Switch::AltmapErrorPathNull` (C12, fixed by
    /// f42ce5f087eb) it passes no altmap, so the vmemmap pages are taken
    /// for buddy pages and freed into the allocator before the memory goes.
    /// All of it under one hold of `device_hotplug_lock`, as `add_memory()`
    /// holds `lock_device_hotplug` across `add_memory_resource` and its
    /// error path: no online of the half-added block can come between.
    pub fn add_memory_failing(&self, nr: u64, memmap_on_memory: bool) -> Result<()> {
        let _d = self.device_hotplug_lock.lock();
        self.add_memory_locked(nr, memmap_on_memory)?;
        // Where the lock used to be dropped (an online could come here).
        crate::sync::preempt_point("add_memory_failing:added");
        let b = self.block(nr)?;
        let vm = b.nr_vmemmap_pages() as u64;
        let base = nr * self.geometry().pages_per_section();
        if self.cfg.design.has(Switch::AltmapErrorPathNull) {
            // depopulate_section_memmap without the altmap: free_pages().
            for pfn in base..base + vm {
                let p = self.memmap.pfn_to_page(pfn)?;
                set_page_count(p, 0);
                let mut fa = self.zone.lock.lock();
                let mt = crate::page_alloc::buddy::block_mt(&self.memmap, pfn);
                self.zone.__free_one_page(&self.memmap, &mut fa, pfn, 0, mt, false);
            }
        } else {
            b.altmap_alloc.store(0, Ordering::Relaxed);
        }
        b.nr_vmemmap_pages.store(0, Ordering::Relaxed);
        {
            let _h = self.memmap.hotplug.lock();
            self.memmap.remove_section(nr)?;
        }
        b.set_state(BlockState::Removed);
        Err(Error::BadRequest(format!("add_memory of block {nr}: creating the memory block device failed (injected)")))
    }

    /// `remove_memory`: the block must be offline; its memmap goes away and
    /// its vmemmap pages return to the altmap.
    pub fn remove_memory(&self, nr: u64) -> Result<()> {
        let _d = self.device_hotplug_lock.lock();
        let b = self.block(nr)?;
        match b.state() {
            BlockState::Offline => {}
            BlockState::Removed => return Err(Error::SectionState { section: nr, what: "remove_memory: not present" }),
            _ => return Err(Error::SectionState { section: nr, what: "remove_memory: block is online (-EBUSY)" }),
        }
        let vm = b.nr_vmemmap_pages.swap(0, Ordering::Relaxed);
        let alloc = b.altmap_alloc.load(Ordering::Relaxed);
        if alloc != vm {
            self.record_violation(
                "M4",
                Some(nr * self.geometry().pages_per_section()),
                format!("altmap of block {nr}: {alloc} vmemmap pages allocated, {vm} expected at removal"),
            );
        }
        b.altmap_alloc.store(0, Ordering::Relaxed);
        {
            let _h = self.memmap.hotplug.lock();
            self.memmap.remove_section(nr)?;
        }
        // H5: removing memory clears its poison (clear_hwpoisoned_pages).
        let n = b.nr_hwpoison.swap(0, Ordering::Relaxed);
        self.num_poisoned_pages.fetch_sub(n, Ordering::Relaxed);
        b.set_state(BlockState::Removed);
        Ok(())
    }

    /// Boot memory (`memblock_free_all`): no notifier, no isolation; every
    /// max-order block straight to the Movable lists. Touches one
    /// descriptor per 4 MiB, so a large machine boots in proportion to its
    /// size / 1024.
    pub(crate) fn online_boot_block(&self, nr: u64) -> Result<()> {
        let b = self.block(nr)?;
        let base = nr * self.geometry().pages_per_section();
        let end = base + self.geometry().pages_per_section();
        let mut pb = base;
        while pb < end {
            set_pageblock_migratetype(&self.memmap, pb, MigrateType::Movable)?;
            pb += self.geometry().pageblock_nr_pages();
        }
        self.memmap.set_section_state(base, SectionState::Online)?;
        {
            let mut fa = self.zone.lock.lock();
            let mut pfn = base;
            while pfn < end {
                self.zone.__free_one_page(&self.memmap, &mut fa, pfn, self.geometry().max_order, MigrateType::Movable, true);
                pfn += 1 << self.geometry().max_order;
            }
        }
        self.zone.managed_pages.fetch_add(self.geometry().pages_per_section() as i64, Ordering::Relaxed);
        self.zone.present_pages.fetch_add(self.geometry().pages_per_section() as i64, Ordering::Relaxed);
        b.set_state(BlockState::Online);
        Ok(())
    }

    /// `memory_block_online` + `online_pages` of block `nr`.
    pub fn online_memory_block(&self, nr: u64) -> Result<()> {
        let _d = self.device_hotplug_lock.lock();
        let b = self.block(nr)?;
        if b.state() != BlockState::Offline {
            return Err(Error::SectionState { section: nr, what: "online: block is not offline" });
        }
        if b.nr_hwpoison() > 0 && !self.cfg.design.has(Switch::OnlineForgetsHwpoison) {
            return Err(Error::HwPoisoned { block: nr, pages: b.nr_hwpoison() });
        }
        let _h = self.memmap.hotplug.lock();
        let base = nr * self.geometry().pages_per_section();
        let end = base + self.geometry().pages_per_section();
        let vm = b.nr_vmemmap_pages() as u64;
        let start = base + vm;
        // memmap_init_range: a memmap that offline poisoned is initialized
        // again (a fresh one reads as zeros already).
        if b.memmap_poisoned.swap(false, Ordering::Relaxed) {
            for pfn in base..end {
                self.memmap.pfn_to_page(pfn)?.reset();
            }
        }
        // mhp_init_memmap_on_memory: vmemmap pages are Reserved, refcount 1,
        // in Unmovable blocks, and never reach buddy.
        for pfn in base..start {
            let p = self.memmap.pfn_to_page(pfn)?;
            p.SetPageReserved();
            set_page_count(p, 1);
        }
        let mut pb = base;
        while pb < start {
            set_pageblock_migratetype(&self.memmap, pb, MigrateType::Unmovable)?;
            pb += self.geometry().pageblock_nr_pages();
        }
        // move_pfn_range_to_zone(..., MIGRATE_ISOLATE).
        let nr_blocks = (end - start) / self.geometry().pageblock_nr_pages();
        while pb < end {
            set_pageblock_migratetype(&self.memmap, pb, MigrateType::Isolate)?;
            pb += self.geometry().pageblock_nr_pages();
        }
        let arg = MemoryNotify { start_pfn: start, nr_pages: end - start };
        if let Err(e) = self.memory_notify(MemAction::GoingOnline, &arg) {
            let _ = self.memory_notify(MemAction::CancelOnline, &arg);
            return Err(Error::Notifier(e));
        }
        self.zone.lock.lock().nr_isolate_pageblock += nr_blocks;
        self.memmap.set_section_state(base, SectionState::Online)?;
        // online_pages_range: biggest aligned chunks to buddy (or to a
        // driver's online_page callback), on the ISOLATE lists for now.
        let chain: Vec<_> = self.notifiers.lock().clone();
        let mut onlined = 0i64;
        let mut pfn = start;
        while pfn < end {
            let order = (pfn.trailing_zeros()).min(self.geometry().max_order);
            let taken = chain.iter().any(|n| n.online_page(self, pfn, order));
            if !taken {
                let mut fa = self.zone.lock.lock();
                self.zone.__free_one_page(&self.memmap, &mut fa, pfn, order, MigrateType::Isolate, true);
                onlined += 1 << order;
            }
            pfn += 1 << order;
        }
        self.zone.managed_pages.fetch_add(onlined, Ordering::Relaxed);
        self.zone.present_pages.fetch_add(self.geometry().pages_per_section() as i64, Ordering::Relaxed);
        self.zone.undo_isolate_page_range(&self.memmap, start, end, MigrateType::Movable);
        b.set_state(BlockState::Online);
        let _ = self.memory_notify(MemAction::Online, &arg);
        Ok(())
    }

    /// `memory_block_offline` + `offline_pages` of block `nr`, migrating
    /// in-use pages with `cpu`.
    pub fn offline_memory_block(&self, cpu: &Cpu<'_, F>, nr: u64) -> Result<()> {
        let _d = self.device_hotplug_lock.lock();
        let b = self.block(nr)?;
        if b.state() != BlockState::Online {
            return Err(Error::SectionState { section: nr, what: "offline: block is not online" });
        }
        let _h = self.memmap.hotplug.lock();
        let base = nr * self.geometry().pages_per_section();
        let end = base + self.geometry().pages_per_section();
        let vm = b.nr_vmemmap_pages() as u64;
        let start = if self.cfg.design.has(Switch::VmemmapInOfflineRange) { base } else { base + vm };
        self.offline_pages(cpu, nr, start, end).map_err(|f| {
            self.judge_offline_failure(nr, base + vm, &f);
            Error::OfflineFailed { block: nr, reason: f.to_string() }
        })
    }

    /// O4 (liveness) for a refused offline: a page that blocks it must be
    /// one that could ever stop blocking. Two kinds never do, so an offline
    /// refused on them would be refused forever: a contained PG_hwpoison
    /// page (has_unmovable_pages, test_pages_isolated and
    /// __offline_isolated_pages let them through, C11; one its owner still
    /// holds blocks until the owner frees it, C22), and a page
    /// of the block's own vmemmap (it belongs to the block and goes with
    /// it; offline_pages must start after it; B4(iii)).
    fn judge_offline_failure(&self, nr: u64, vmemmap_end: Pfn, f: &OfflineFailure) {
        let pfn = match *f {
            OfflineFailure::Isolate(IsolateError::Unmovable { pfn }) | OfflineFailure::Unmovable { pfn } => pfn,
            _ => return,
        };
        if pfn < vmemmap_end {
            self.record_violation(
                "O4",
                Some(pfn),
                format!("offline of block {nr} refused on its own vmemmap page {pfn:#x}: it can never move, so this offline can never succeed"),
            );
        } else if self.memmap.pfn_to_page(pfn).is_ok_and(|p| p.hwpoison_contained()) {
            self.record_violation(
                "O4",
                Some(pfn),
                format!("offline of block {nr} refused on hwpoisoned page {pfn:#x}: poisoned pages are skipped by offline, never a reason to fail it"),
            );
        }
    }

    fn offline_pages(&self, cpu: &Cpu<'_, F>, nr: u64, start: Pfn, end: Pfn) -> std::result::Result<(), OfflineFailure> {
        let b = &self.blocks[nr as usize];
        // drivers/base/memory.c memory_block_change_state: the block is
        // MEM_GOING_OFFLINE for the whole of offline_pages, from before
        // the isolation (and back to online if it fails).
        b.set_state(BlockState::GoingOffline);
        let drain_once = self.cfg.design.has(Switch::OfflineDrainOnce);
        let pcp_off = (!drain_once).then(|| self.zone_pcp_disable());
        let flags = IsolFlags {
            memory_offline: true,
            hwpoison_unmovable: self.cfg.design.has(Switch::HwpoisonOfflineUnmovable),
            hwpoison_skip_held: self.cfg.design.has(Switch::OfflineSkipsHeldHwpoison),
        };
        if let Err(e) = self.zone.start_isolate_page_range(&self.memmap, start, end, flags) {
            b.set_state(BlockState::Online);
            return Err(OfflineFailure::Isolate(e));
        }
        if drain_once {
            // Pre-5.11: drain after isolation, pcp stays enabled (C1).
            self.drain_all_pages();
        }
        let arg = MemoryNotify { start_pfn: start, nr_pages: end - start };
        let fail = |f: OfflineFailure| {
            self.zone.undo_isolate_page_range(&self.memmap, start, end, MigrateType::Movable);
            let _ = self.memory_notify(MemAction::CancelOffline, &arg);
            b.set_state(BlockState::Online);
            Err(f)
        };
        if let Err(e) = self.memory_notify(MemAction::GoingOffline, &arg) {
            return fail(OfflineFailure::Notifier(e));
        }
        let max = self.cfg.offline_max_passes.max(1);
        let mut passes = 0;
        loop {
            crate::sync::yield_point();
            // Migrate until nothing movable is left (-ENOENT).
            loop {
                match self.scan_movable_pages(start, end) {
                    Ok(None) => break,
                    Ok(Some(pfn)) => self.do_migrate_range(cpu, pfn, end),
                    Err(pfn) => return fail(OfflineFailure::Unmovable { pfn }),
                }
                passes += 1;
                if passes >= max {
                    let pfn = self.scan_movable_pages(start, end).ok().flatten().unwrap_or(start);
                    return fail(OfflineFailure::Timeout { passes, pfn });
                }
            }
            if let Err(pfn) = self.dissolve_free_hugetlb_folios(start, end) {
                return fail(OfflineFailure::Dissolve { pfn });
            }
            match self.zone.test_pages_isolated(&self.memmap, start, end, flags) {
                Ok(()) => break,
                Err(pfn) => {
                    passes += 1;
                    if passes >= max {
                        return fail(OfflineFailure::Timeout { passes, pfn });
                    }
                    crate::sync::thread::yield_now();
                }
            }
        }
        self.__offline_isolated_pages(start, end);
        self.zone.lock.lock().nr_isolate_pageblock -= (end - start) / self.geometry().pageblock_nr_pages();
        drop(pcp_off);
        // Pages that were never managed (PageOffline held by a driver,
        // taken-off poison) were already subtracted by their owners.
        let managed = (end - start) as i64;
        self.zone.managed_pages.fetch_sub(managed, Ordering::Relaxed);
        self.zone.present_pages.fetch_sub(self.geometry().pages_per_section() as i64, Ordering::Relaxed);
        b.set_state(BlockState::Offline);
        let _ = self.memory_notify(MemAction::Offline, &arg);
        // remove_pfn_range_from_zone: poison the memmap (page_init_poison).
        let base = nr * self.geometry().pages_per_section();
        for pfn in base..base + self.geometry().pages_per_section() {
            if let Ok(p) = self.memmap.pfn_to_page(pfn) {
                p.poison();
            }
        }
        b.memmap_poisoned.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// `scan_movable_pages`: the first pfn with something to migrate
    /// (`Ok(Some)`), nothing left (`Ok(None)`), or a page that can never
    /// move (`Err`: a PageOffline page still referenced).
    fn scan_movable_pages(&self, start: Pfn, end: Pfn) -> std::result::Result<Option<Pfn>, Pfn> {
        let mut pfn = start;
        while pfn < end {
            let Ok(p) = self.memmap.pfn_to_page(pfn) else { return Ok(None) };
            if p.PageBuddy() {
                pfn += 1 << p.buddy_order().min(self.geometry().max_order);
                continue;
            }
            if p.PageLRU() {
                return Ok(Some(pfn));
            }
            if p.PageOffline() && page_count(p) > 0 {
                return Err(pfn);
            }
            if let Some(found) = self.scan_hugetlb(pfn) {
                match found {
                    Ok(movable) if movable => return Ok(Some(pfn)),
                    Ok(_) => {}
                    Err(skip) => {
                        pfn += skip;
                        continue;
                    }
                }
            }
            pfn += 1;
        }
        Ok(None)
    }

    /// `do_migrate_range`: isolate and migrate the LRU pages from `start`.
    fn do_migrate_range(&self, cpu: &Cpu<'_, F>, start: Pfn, end: Pfn) {
        let mut isolated = Vec::new();
        let mut pfn = start;
        while pfn < end && isolated.len() < 512 {
            let Ok(p) = self.memmap.pfn_to_page(pfn) else { break };
            if p.PageBuddy() {
                pfn += 1 << p.buddy_order().min(self.geometry().max_order);
                continue;
            }
            if p.PageHWPoison() {
                // Migrating a poisoned page makes no sense; skip it.
                pfn += 1;
                continue;
            }
            if self.migrate_hugetlb_for_offline(cpu, pfn) {
                pfn += 1;
                continue;
            }
            if p.PageLRU() && get_page_unless_zero(p) {
                if cpu.isolate_lru_page(pfn) {
                    isolated.push(pfn);
                }
                let _ = cpu.put_page(pfn);
            }
            pfn += 1;
        }
        for src in isolated {
            match cpu.migrate_page(src, MigrateReason::MemoryHotplug) {
                Ok(_) => {}
                Err(MigrateError::Again | MigrateError::NoMemory | MigrateError::NotMovable) => {
                    let _ = cpu.putback_lru_page(src);
                }
            }
        }
    }

    /// `__offline_isolated_pages`: take every free block of the range off
    /// the ISOLATE lists and take the section offline; O1 is checked here.
    fn __offline_isolated_pages(&self, start: Pfn, end: Pfn) {
        let mut fa = self.zone.lock.lock();
        let mut pfn = start;
        while pfn < end {
            let Ok(p) = self.memmap.pfn_to_page(pfn) else { break };
            if !p.PageBuddy() && p.PageHWPoison() {
                if !p.hwpoison_contained() {
                    // O2: the owner still holds this page and will use and
                    // free it after its memory is gone (C22's hole).
                    let rc = page_count(p);
                    drop(fa);
                    self.record_violation(
                        "O2",
                        Some(pfn),
                        format!("offlining a hwpoisoned page its owner still holds (refcount {rc}; memory_failure only flagged it)"),
                    );
                    fa = self.zone.lock.lock();
                }
                pfn += 1;
                continue;
            }
            if p.PageOffline() {
                if page_count(p) != 0 {
                    drop(fa);
                    self.record_violation("O1", Some(pfn), format!("offlining a PageOffline page with refcount {}", page_count(p)));
                    fa = self.zone.lock.lock();
                }
                pfn += 1;
                continue;
            }
            if !p.PageBuddy() || page_count(p) != 0 {
                let what = p.dump(pfn);
                drop(fa);
                self.record_violation("O1", Some(pfn), format!("offlining a page that is neither free, poisoned nor PageOffline: {what}"));
                fa = self.zone.lock.lock();
                pfn += 1;
                continue;
            }
            let order = p.buddy_order();
            self.zone.del_page_from_free_list(&self.memmap, &mut fa, pfn, order);
            pfn += 1 << order;
        }
        drop(fa);
        let _ = self.memmap.set_section_state(start, SectionState::Present);
    }
}
