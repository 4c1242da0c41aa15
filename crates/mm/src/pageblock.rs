//! Pageblocks (`pageblock_nr_pages` of the geometry: 512 pages, 2 MiB, on
//! x86-64) and their migratetypes.
//!
//! The migratetype of each pageblock is a byte per pageblock granule of the
//! memmap (the kernel's `usemap` bits, [`crate::memmap`]). It is read without locks on the free path
//! (`get_pfnblock_migratetype`, a racy read the kernel also does) and written
//! only under zone->lock.
//!
//! Invariants: a pageblock's migratetype is one of [`MigrateType`]; only
//! isolation (issue: page_isolation) sets and clears `Isolate`.
//! Lock order: writers hold zone->lock.

use crate::error::Result;
use crate::memmap::Memmap;
use crate::sync::plain::Ordering;
use crate::Pfn;

/// `enum migratetype`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum MigrateType {
    /// `MIGRATE_UNMOVABLE`.
    Unmovable = 0,
    /// `MIGRATE_MOVABLE`.
    Movable = 1,
    /// `MIGRATE_RECLAIMABLE`.
    Reclaimable = 2,
    /// `MIGRATE_HIGHATOMIC`.
    HighAtomic = 3,
    /// `MIGRATE_CMA`.
    Cma = 4,
    /// `MIGRATE_ISOLATE`: no allocation from this pageblock.
    Isolate = 5,
}

/// Migratetypes that have pcp lists (`MIGRATE_PCPTYPES`).
pub const MIGRATE_PCPTYPES: usize = 3;
/// Number of migratetypes (`MIGRATE_TYPES`).
pub const MIGRATE_TYPES: usize = 6;

impl MigrateType {
    /// All migratetypes in index order.
    pub const ALL: [MigrateType; MIGRATE_TYPES] = [
        MigrateType::Unmovable,
        MigrateType::Movable,
        MigrateType::Reclaimable,
        MigrateType::HighAtomic,
        MigrateType::Cma,
        MigrateType::Isolate,
    ];

    /// From the stored byte; unknown values read as Unmovable.
    #[inline(always)]
    pub fn from_u8(v: u8) -> MigrateType {
        // A table lookup, not a match: the free path calls this on every
        // page and a match compiles to an indirect jump.
        match MigrateType::ALL.get(v as usize) {
            Some(&m) => m,
            None => MigrateType::Unmovable,
        }
    }

    /// `is_migrate_isolate`.
    #[inline(always)]
    pub fn is_isolate(self) -> bool {
        self == MigrateType::Isolate
    }

    /// Kernel-style short name.
    pub fn name(self) -> &'static str {
        match self {
            MigrateType::Unmovable => "Unmovable",
            MigrateType::Movable => "Movable",
            MigrateType::Reclaimable => "Reclaimable",
            MigrateType::HighAtomic => "HighAtomic",
            MigrateType::Cma => "CMA",
            MigrateType::Isolate => "Isolate",
        }
    }
}

/// `get_pfnblock_migratetype`: racy read of the block's migratetype (one
/// byte at a fixed granule: no geometry on the free path).
#[inline(always)]
pub fn get_pageblock_migratetype(memmap: &Memmap, pfn: Pfn) -> Result<MigrateType> {
    Ok(MigrateType::from_u8(memmap.pageblock_byte(pfn)?.load(Ordering::Relaxed)))
}

/// `set_pageblock_migratetype`: caller holds zone->lock (or owns the
/// section during online).
#[inline]
pub fn set_pageblock_migratetype(memmap: &Memmap, pfn: Pfn, mt: MigrateType) -> Result<()> {
    for b in memmap.pageblock_bytes(pfn)? {
        b.store(mt as u8, Ordering::Relaxed);
    }
    Ok(())
}
