//! The zone: buddy free areas, counters, and the per-CPU pagesets.
//!
//! Invariants (checked by [`crate::check`]):
//! * B4: `nr_free_pages` = Σ pages on non-isolate buddy lists;
//!   `nr_free[order]` = number of blocks on all lists of that order.
//! * `present_pages` = `managed_pages` = pages of online sections (no
//!   reserved memory is modeled yet).
//!
//! Lock order: `pcp_batch_high_lock` → `pcpu_drain_mutex` → pcp lock →
//! `lock` (zone->lock). The counters are written under `lock` and read
//! without it (vmstat style).

use super::list::ListHead;
use super::pcp::PerCpuPages;
use crate::pageblock::MIGRATE_TYPES;
use crate::sync::plain::{self, AtomicI64, Ordering};
use crate::sync::Mutex;
use crate::geometry::NR_PAGE_ORDERS;

/// `struct free_area` for every order, guarded by zone->lock.
#[derive(Debug)]
pub(crate) struct FreeArea {
    /// `free_area[order].free_list[mt]`.
    pub(crate) lists: [[ListHead; MIGRATE_TYPES]; NR_PAGE_ORDERS],
    /// `free_area[order].nr_free`: blocks of this order on any list.
    pub(crate) nr_free: [u64; NR_PAGE_ORDERS],
    /// `zone->nr_isolate_pageblock`.
    pub(crate) nr_isolate_pageblock: u64,
}

impl Default for FreeArea {
    fn default() -> Self {
        FreeArea {
            lists: std::array::from_fn(|_| std::array::from_fn(|_| ListHead::default())),
            nr_free: [0; NR_PAGE_ORDERS],
            nr_isolate_pageblock: 0,
        }
    }
}

impl FreeArea {
    /// A copy (a reset's image).
    pub(crate) fn copy(&self) -> FreeArea {
        FreeArea {
            lists: std::array::from_fn(|o| std::array::from_fn(|m| self.lists[o][m].copy())),
            nr_free: self.nr_free,
            nr_isolate_pageblock: self.nr_isolate_pageblock,
        }
    }
}

/// A zone's state as plain values, without its locks: what a reset
/// ([`crate::reset`]) builds the zone again from.
pub(crate) struct ZoneImage {
    free: FreeArea,
    pcp: Box<[PerCpuPages]>,
    nr_free_pages: i64,
    managed_pages: i64,
    present_pages: i64,
    settings: PcpSettings,
    hwpoison_order0_only: bool,
}

/// pcp high/batch as configured (`zone->pageset_high`, `pageset_batch`);
/// guarded by `pcp_batch_high_lock`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PcpSettings {
    pub(crate) high: u32,
    pub(crate) batch: u32,
}

/// `struct zone` (one zone per system: ZONE_NORMAL).
#[derive(Debug)]
pub struct Zone {
    /// zone->lock and what it guards.
    pub(crate) lock: Mutex<FreeArea>,
    /// `zone->per_cpu_pageset`, one per CPU slot.
    pub(crate) pcp: Box<[PerCpuPages]>,
    /// vmstat NR_FREE_PAGES.
    pub(crate) nr_free_pages: AtomicI64,
    pub(crate) managed_pages: AtomicI64,
    pub(crate) present_pages: AtomicI64,
    /// `pcp_batch_high_lock`: serializes pcp high/batch updates and
    /// zone_pcp_disable ... zone_pcp_enable.
    pub(crate) pcp_batch_high_lock: Mutex<PcpSettings>,
    /// Pageblock isolations so far (model-only, not the kernel's): an
    /// allocation that sees it unchanged from its start to its end took
    /// its page from a block that was already isolated when it began
    /// (the run-time A1 in `System::alloc_on`). Bumped under zone->lock.
    pub(crate) isolate_gen: plain::AtomicU64,
    /// `pcpu_drain_mutex`: serializes drain_all_pages.
    pub(crate) pcpu_drain_mutex: Mutex<()>,
    /// C15's design: a high-order free goes to buddy whole even when a
    /// subpage carries PG_hwpoison (read only on the cold high-order path).
    pub(crate) hwpoison_order0_only: bool,
}

/// A snapshot of the zone counters (lockless reads, vmstat style).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneStats {
    /// `NR_FREE_PAGES`: buddy pages outside isolated pageblocks.
    pub nr_free_pages: i64,
    /// `zone->managed_pages`: pages the page allocator owns.
    pub managed_pages: i64,
    /// `zone->present_pages`: pages of online sections.
    pub present_pages: i64,
    /// Blocks per order on the buddy lists.
    pub nr_free: [u64; NR_PAGE_ORDERS],
    /// Pages cached on each CPU's pcp lists.
    pub pcp_count: Vec<u32>,
    /// `zone->nr_isolate_pageblock`.
    pub nr_isolate_pageblock: u64,
}

impl ZoneStats {
    /// Pages in buddy (all lists, isolate included) computed from nr_free.
    pub fn buddy_pages(&self) -> u64 {
        self.nr_free.iter().enumerate().map(|(o, n)| n << o).sum()
    }
    /// Pages on all pcp lists.
    pub fn pcp_pages(&self) -> u64 {
        self.pcp_count.iter().map(|&c| c as u64).sum()
    }
}

impl Zone {
    pub(crate) fn new(nr_cpus: usize, high: u32, batch: u32, hwpoison_order0_only: bool) -> Zone {
        Zone {
            lock: Mutex::new(FreeArea::default()),
            pcp: (0..nr_cpus).map(|_| PerCpuPages::new(high, batch)).collect(),
            nr_free_pages: AtomicI64::new(0),
            managed_pages: AtomicI64::new(0),
            present_pages: AtomicI64::new(0),
            pcp_batch_high_lock: Mutex::new(PcpSettings { high, batch }),
            isolate_gen: plain::AtomicU64::new(0),
            pcpu_drain_mutex: Mutex::new(()),
            hwpoison_order0_only,
        }
    }

    /// The zone's state (quiescent: no CPU inside an alloc or free).
    pub(crate) fn image(&self) -> ZoneImage {
        ZoneImage {
            free: self.lock.lock().copy(),
            pcp: self.pcp.iter().map(PerCpuPages::copy).collect(),
            nr_free_pages: self.nr_free_pages.load(Ordering::Relaxed),
            managed_pages: self.managed_pages.load(Ordering::Relaxed),
            present_pages: self.present_pages.load(Ordering::Relaxed),
            settings: *self.pcp_batch_high_lock.lock(),
            hwpoison_order0_only: self.hwpoison_order0_only,
        }
    }

    /// A zone in the state of `img`, with new (unlocked) locks; takes no
    /// lock, so it also runs outside a shuttle execution.
    pub(crate) fn from_image(img: &ZoneImage) -> Zone {
        Zone {
            lock: Mutex::new(img.free.copy()),
            pcp: img.pcp.iter().map(PerCpuPages::copy).collect(),
            nr_free_pages: AtomicI64::new(img.nr_free_pages),
            managed_pages: AtomicI64::new(img.managed_pages),
            present_pages: AtomicI64::new(img.present_pages),
            pcp_batch_high_lock: Mutex::new(img.settings),
            isolate_gen: plain::AtomicU64::new(0),
            pcpu_drain_mutex: Mutex::new(()),
            hwpoison_order0_only: img.hwpoison_order0_only,
        }
    }

    /// Number of CPU slots.
    pub fn nr_cpus(&self) -> usize {
        self.pcp.len()
    }

    /// Counters snapshot. Takes zone->lock briefly for nr_free.
    pub fn stats(&self) -> ZoneStats {
        let (nr_free, iso) = {
            let fa = self.lock.lock();
            (fa.nr_free, fa.nr_isolate_pageblock)
        };
        ZoneStats {
            nr_free_pages: self.nr_free_pages.load(Ordering::Relaxed),
            managed_pages: self.managed_pages.load(Ordering::Relaxed),
            present_pages: self.present_pages.load(Ordering::Relaxed),
            nr_free,
            pcp_count: self.pcp.iter().map(|p| p.count_hint()).collect(),
            nr_isolate_pageblock: iso,
        }
    }

    /// `__mod_zone_freepage_state` for non-isolate pages (under zone->lock).
    #[inline]
    pub(crate) fn mod_free_pages(&self, delta: i64) {
        // Single writer under zone->lock: a load + store is enough and
        // avoids a locked RMW.
        let v = self.nr_free_pages.load(Ordering::Relaxed);
        self.nr_free_pages.store(v + delta, Ordering::Relaxed);
    }
}
