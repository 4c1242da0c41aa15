//! pagelab's model of the Linux page allocator and its memory-offlining
//! paths: the kernel's `mm/` code re-implemented with kernel names, so that
//! its orderings can be fuzzed and its costs measured in user space.
//!
//! The landed design follows Linux 6.12 (the LTS kernel of pagelab's
//! real-kernel checks); where it deliberately differs, [`design`] says so.
//!
//! # Glossary
//!
//! * **landed design**: the kernel's current code as this crate models it
//!   (the default; `Design::fixed()` and the `Landed` free path). "Fixed"
//!   is not a second name for it: a bug's *fixed twin* is a scenario run on
//!   the landed design.
//! * **switch**: an off-hot-path [`Switch`] of a [`Design`] that
//!   reintroduces one historical bug's mechanism (the ordering or the
//!   missing check its fixing commit changed), chosen at run time.
//! * **free path**: a [`page_alloc::FreePath`] type — the hot-path choice of
//!   what `free_pages_prepare` tests (the landed test, the RFC's PageOffline
//!   hook, the side bitmap, no hwpoison test, ...), chosen at compile time
//!   so that a benchmark measures the code, not a switch.
//! * **variant**: a design with one switch on or one free path in place of
//!   the landed one; a registered bug names its variant.
//!
//! # Layers
//!
//! Bottom up; a module uses only modules of its own or lower layers (a
//! listing of `use crate::…` per module is a DAG, and so is the graph of
//! method calls between modules):
//!
//! 1. base: [`error`], [`sync`], [`violation`], [`design`], [`page`],
//!    [`page_ref`], [`memmap`], [`pageblock`], [`pgtable`];
//! 2. the page allocator: [`page_alloc`] (zone, buddy, pcp, free path, the
//!    buddy side of memory failure);
//! 3. the state of the subsystems above it, like the kernel's headers:
//!    `hotplug::memory_block`, `hotplug::notifier`, `hugetlb::state`,
//!    `memory_failure::state`;
//! 4. the machine: [`system`] (the struct of all state, CPU slots, the
//!    pcp fast path: `alloc_pages`, `put_page`, drains);
//! 5. isolation, user memory and migration: [`page_isolation`], [`folio`],
//!    [`memory`], [`migrate`];
//! 6. the subsystems: [`compaction`], [`contig`], [`walkers`],
//!    [`hugetlb`], [`memory_failure`] (which uses hugetlb), [`hotplug`]
//!    (which uses hugetlb);
//! 7. the PageOffline drivers: [`drivers`];
//! 8. the top: [`boot`] (`System::new` wires the layers together),
//!    [`reset`] (back to the booted state in place) and [`check`], the
//!    invariant checker, which observes everything.
//!
//! # Modules and their kernel counterparts
//!
//! | module | kernel |
//! |---|---|
//! | [`page`] | `include/linux/mm_types.h`, `include/linux/page-flags.h`: the 64-byte descriptor |
//! | [`page_ref`] | `include/linux/page_ref.h`: lock-free reference counts |
//! | [`memmap`] | `mm/sparse.c`: sections, `pfn_to_page`, `pfn_to_online_page` |
//! | [`pageblock`] | `mm/page_alloc.c`: pageblock flags and migratetypes |
//! | [`pgtable`] | `struct mm_struct` and its page-table entries |
//! | [`page_alloc`] | `mm/page_alloc.c`: pcp lists in front of the buddy allocator |
//! | [`page_isolation`] | `mm/page_isolation.c` |
//! | [`hotplug`] | `mm/memory_hotplug.c`, `drivers/base/memory.c`, the memory notifier chain |
//! | [`memory`], [`migrate`] | `mm/memory.c` (faults, unmaps) and `mm/migrate.c` |
//! | [`folio`] | `mm/huge_memory.c`, `mm/rmap.c`, `mm/gup.c`, `mm/swap_state.c`: THP mappings, mapcounts, pins, swap cache, split |
//! | [`compaction`] | `mm/compaction.c`: the migration scanner (`isolate_migratepages_block`) |
//! | [`contig`] | `alloc_contig_range` / `free_contig_range` (`mm/page_alloc.c`) |
//! | [`hugetlb`] | `mm/hugetlb.c` |
//! | [`memory_failure`] | `mm/memory-failure.c`: hard and soft offline, unpoison |
//! | [`walkers`] | `fs/proc/page.c` (kpageflags), `/proc/kcore` and makedumpfile reads, sysfs `valid_zones` |
//! | [`drivers`] | `drivers/virtio/virtio_mem.c`, `arch/powerpc/platforms/pseries/cmm.c`, `drivers/hv/hv_balloon.c`: PageOffline holders |
//! | [`design`] | the landed design, its switches and free paths |
//! | [`system`], [`boot`] | one machine: one node, one zone, CPU slots |
//! | [`reset`] | (none: a fuzz target's persistent mode) back to the state right after boot |
//! | [`check`] | the invariant checker and its catalogue of invariant ids |
//! | [`touched`] | (none) the pages and page-table entries an op touched, for incremental checks |
//! | [`sync`] | the concurrency shim (std or shuttle) |
//! | [`locking`] | the lock order, in one table |
//!
//! The fuzzing half (op language, scenarios, harness, schedulers, bug
//! registry) is the `pagelab-fuzzing` crate; nothing here depends on it.

#![warn(missing_docs)]

pub mod boot;
pub mod check;
pub mod compaction;
pub mod contig;
pub mod design;
pub mod drivers;
pub mod error;
pub mod folio;
pub mod geometry;
pub mod hotplug;
pub mod hugetlb;
pub mod locking;
pub mod memmap;
pub mod memory;
pub mod memory_failure;
pub mod migrate;
pub mod page;
pub mod page_alloc;
pub mod page_isolation;
pub mod page_ref;
pub mod pageblock;
pub mod pgtable;
pub mod reset;
pub mod sync;
pub mod touched;

/// Whether this build notes touched pfns ([`touched`], the cargo feature
/// `track-touched`): on in the fuzz targets, off where hot paths are timed.
pub const TRACK_TOUCHED: bool = cfg!(feature = "track-touched");
pub mod system;
pub mod violation;
pub mod walkers;

pub use design::{Design, Switch};
pub use error::{Error, Result};
pub use geometry::Geometry;
pub use page::Page;
pub use page_alloc::{FreeMtNoRecheck, FreePath, Landed, MergeAcrossIsolate, NoHwpoisonCheck, RfcOfflineHook, SideBitmapHook};
pub use pageblock::MigrateType;
pub use system::{Config, Cpu, System};

/// A page frame number.
pub type Pfn = u64;

/// Bytes in a base page.
pub const PAGE_SIZE: usize = 4096;
/// log2(PAGE_SIZE).
pub const PAGE_SHIFT: u32 = 12;
/// Orders above this are "costly" and never cached on pcp lists (except pageblock order).
pub const PAGE_ALLOC_COSTLY_ORDER: u32 = 3;
/// Default pcp batch for a zone of >= 1 GiB (`zone_batchsize`).
pub const PCP_DEFAULT_BATCH: u32 = 63;
/// Default pcp high mark, 4 × batch (`zone_highsize` floor).
pub const PCP_DEFAULT_HIGH: u32 = 252;
/// `page_private` of a page taken off buddy by hwpoison ("HWPS").
pub const MAGIC_HWPOISON: u64 = 0x4857_5053;
