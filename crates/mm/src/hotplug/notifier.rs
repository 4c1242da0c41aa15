//! The memory notifier chain (`memory_notify`): drivers register and are
//! told of online/offline transitions of memory blocks.
//!
//! Invariants (`memory_notify` and its callers in `mm/memory_hotplug.c`;
//! O3): an offline that delivered
//! MEM_GOING_OFFLINE delivers exactly one of MEM_OFFLINE or
//! MEM_CANCEL_OFFLINE afterwards, to every notifier that was told
//! GOING_OFFLINE, in registration order. A notifier that refuses
//! GOING_OFFLINE/GOING_ONLINE makes the operation fail; it is then sent
//! the CANCEL event like every other notifier.
//! Lock order: the chain is called with device_hotplug_lock and
//! mem_hotplug_lock held, outside every allocator lock.

use crate::Pfn;
use std::fmt;

/// `MEM_*` actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemAction {
    /// `MEM_GOING_ONLINE`: before the pages go to buddy.
    GoingOnline,
    /// `MEM_ONLINE`: the block is online.
    Online,
    /// `MEM_CANCEL_ONLINE`: a GOING_ONLINE was refused.
    CancelOnline,
    /// `MEM_GOING_OFFLINE`: after isolation, before migration.
    GoingOffline,
    /// `MEM_OFFLINE`: the block is offline.
    Offline,
    /// `MEM_CANCEL_OFFLINE`: the offline failed after GOING_OFFLINE.
    CancelOffline,
}

impl fmt::Display for MemAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MemAction::GoingOnline => "MEM_GOING_ONLINE",
            MemAction::Online => "MEM_ONLINE",
            MemAction::CancelOnline => "MEM_CANCEL_ONLINE",
            MemAction::GoingOffline => "MEM_GOING_OFFLINE",
            MemAction::Offline => "MEM_OFFLINE",
            MemAction::CancelOffline => "MEM_CANCEL_OFFLINE",
        })
    }
}

/// `struct memory_notify`: the pfn range of the transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryNotify {
    /// First pfn of the range.
    pub start_pfn: Pfn,
    /// Pages in the range.
    pub nr_pages: u64,
}

impl MemoryNotify {
    /// Does the range contain `pfn`?
    pub fn contains(&self, pfn: Pfn) -> bool {
        pfn >= self.start_pfn && pfn < self.start_pfn + self.nr_pages
    }
}

/// What a notifier may do to the system while it is called: the small,
/// object-safe slice of the mm API a driver needs.
pub trait NotifyCtx {
    /// The memmap.
    fn memmap(&self) -> &crate::memmap::Memmap;
    /// Free a block straight to buddy (drivers releasing pages).
    fn free_to_buddy(&self, pfn: Pfn, order: u32) -> crate::Result<()>;
    /// `adjust_managed_page_count`.
    fn adjust_managed_page_count(&self, delta: i64);
    /// The design in force.
    fn design(&self) -> &crate::design::Design;
    /// Record a violation seen by a driver (its WARN/BUG sites: virtio-mem's
    /// "fake-offline page referenced", CMM's lost loans); reported by
    /// `System::check`.
    fn record_violation(&self, id: &'static str, pfn: Option<Pfn>, msg: String);
    /// Allocate one page of `mt` straight from buddy (refcount 1): a
    /// balloon's migration target. Never returns a page of an ISOLATE block.
    fn alloc_page(&self, mt: crate::pageblock::MigrateType) -> crate::Result<Pfn>;
    /// State of memory block `nr` (None: no such block).
    fn block_state(&self, nr: u64) -> Option<crate::hotplug::memory_block::BlockState>;
}

/// A registered driver.
pub trait MemoryNotifier: Send + Sync {
    /// Name in traces.
    fn name(&self) -> &str;
    /// Handle `action` for `arg`; an `Err` refuses a GOING_* transition.
    fn notify(&self, ctx: &dyn NotifyCtx, action: MemAction, arg: &MemoryNotify) -> Result<(), String>;
    /// `online_page_callback`: a driver may keep a chunk being onlined for
    /// itself (virtio-mem keeps unplugged parts fake-offline). True: taken.
    fn online_page(&self, _ctx: &dyn NotifyCtx, _pfn: Pfn, _order: u32) -> bool {
        false
    }
    /// The driver's own invariants (balloon conservation, V1–V5, CMM1),
    /// reported through `report(id, pfn, msg)`. Called by `System::check`
    /// with mem_hotplug_lock held and no allocator lock held.
    fn check_pages(&self, _ctx: &dyn NotifyCtx, _report: &mut dyn FnMut(&'static str, Option<Pfn>, String)) {}
    /// Every PageOffline page this driver holds, for the checker's "no
    /// PageOffline page without an owner" rule.
    fn for_each_offline_page(&self, _ctx: &dyn NotifyCtx, _f: &mut dyn FnMut(Pfn)) {}
}

/// A notifier shows as its name (the chain in a machine's state dump).
impl std::fmt::Debug for dyn MemoryNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
