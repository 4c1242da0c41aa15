//! Memory blocks (`drivers/base/memory.c`): the unit of online/offline and
//! hot(un)plug. One block is one 128 MiB section here, as on small x86_64.
//!
//! Invariants:
//! * state follows Offline → (GoingOffline) ↔ Online, Removed when absent;
//! * `nr_hwpoison` counts the block's PG_hwpoison pages (H5); a block with
//!   poison cannot be onlined (H6, 5033091de814);
//! * with memmap_on_memory, `nr_vmemmap_pages` of the block's first pages
//!   hold its memmap (the altmap): Reserved, refcount 1, Unmovable, never in
//!   buddy (M2); `altmap_alloc` returns to 0 exactly once on removal (M4).
//!
//! Lock order: fields are written under device_hotplug_lock
//! (`device_hotplug_lock`, [`crate::locking`] #2); counters are atomics.

use crate::sync::plain::{AtomicI64, AtomicU32, AtomicU8, Ordering};
use std::sync::atomic::AtomicBool;

/// `enum memory_block_state` (plus "no block").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum BlockState {
    /// No memory here (never added, or removed).
    Removed = 0,
    /// `MEM_OFFLINE`: memmap present, pages not in the zone.
    Offline = 1,
    /// `MEM_GOING_OFFLINE`: an offline is in progress.
    GoingOffline = 2,
    /// `MEM_ONLINE`.
    Online = 3,
}

impl BlockState {
    fn from_u8(v: u8) -> BlockState {
        match v {
            1 => BlockState::Offline,
            2 => BlockState::GoingOffline,
            3 => BlockState::Online,
            _ => BlockState::Removed,
        }
    }
}

/// `struct memory_block`.
#[derive(Debug, Default)]
pub struct MemoryBlock {
    state: AtomicU8,
    /// `nr_hwpoison`.
    pub(crate) nr_hwpoison: AtomicI64,
    /// altmap `free`: vmemmap pages at the block start (0: memmap elsewhere).
    pub(crate) nr_vmemmap_pages: AtomicU32,
    /// altmap `alloc`: vmemmap pages handed out and not yet given back.
    pub(crate) altmap_alloc: AtomicU32,
    /// Offline poisoned the memmap; online must initialize it again.
    pub(crate) memmap_poisoned: AtomicBool,
}

impl MemoryBlock {
    /// A copy (a reset's image, [`crate::reset`]).
    pub(crate) fn copy(&self) -> MemoryBlock {
        MemoryBlock {
            state: AtomicU8::new(self.state.load(Ordering::Relaxed)),
            nr_hwpoison: AtomicI64::new(self.nr_hwpoison()),
            nr_vmemmap_pages: AtomicU32::new(self.nr_vmemmap_pages()),
            altmap_alloc: AtomicU32::new(self.altmap_alloc()),
            memmap_poisoned: AtomicBool::new(self.memmap_poisoned.load(Ordering::Relaxed)),
        }
    }

    /// Current state.
    pub fn state(&self) -> BlockState {
        BlockState::from_u8(self.state.load(Ordering::Acquire))
    }
    pub(crate) fn set_state(&self, s: BlockState) {
        self.state.store(s as u8, Ordering::Release);
    }
    /// Poisoned pages in the block.
    pub fn nr_hwpoison(&self) -> i64 {
        self.nr_hwpoison.load(Ordering::Relaxed)
    }
    /// Vmemmap pages at the block start.
    pub fn nr_vmemmap_pages(&self) -> u32 {
        self.nr_vmemmap_pages.load(Ordering::Relaxed)
    }
    /// Altmap pages currently allocated.
    pub fn altmap_alloc(&self) -> u32 {
        self.altmap_alloc.load(Ordering::Relaxed)
    }
}
