//! pagelab: a performance-oriented model of the Linux page allocator and its
//! memory-offlining paths.
//!
//! The crate mirrors the kernel's `mm/` layout so that a kernel engineer finds
//! things where they expect them:
//!
//! | module | kernel counterpart |
//! |---|---|
//! | [`page`] | `include/linux/mm_types.h`, `page-flags.h`: the 64-byte descriptor |
//! | [`page_ref`] | `include/linux/page_ref.h`: lock-free reference counts |
//! | [`memmap`] | `mm/sparse.c`: sections, `pfn_to_page`, `pfn_to_online_page` |
//! | [`pageblock`] | `mm/page_alloc.c` pageblock flags and migratetypes |
//! | [`page_alloc`] | `mm/page_alloc.c`: pcp lists in front of the buddy allocator |
//! | [`page_isolation`] | `mm/page_isolation.c` |
//! | [`memory_block`], [`memory_hotplug`], [`notifier`] | `drivers/base/memory.c`, `mm/memory_hotplug.c`, the memory notifier chain |
//! | [`memory`], [`migrate`] | user mappings (page table, rmap) and `mm/migrate.c` |
//! | [`hugetlb`] | `mm/hugetlb.c` |
//! | [`memory_failure`] | `mm/memory-failure.c`: hard and soft offline, unpoison |
//! | [`folio`] | `mm/huge_memory.c`, `mm/rmap.c`: THP (PMD/PTE mapping, mapcounts, pins, swap cache, split) |
//! | [`compaction`] | `mm/compaction.c`: the migration scanner (`isolate_migratepages_block`) |
//! | [`walkers`] | `fs/proc/page.c` kpageflags, `/proc/kcore` / makedumpfile reads, sysfs `valid_zones` |
//! | [`drivers`] | `drivers/virtio/virtio_mem.c`, powerpc `cmm.c`, `drivers/hv/hv_balloon.c`: PageOffline holders |
//! | [`design`] | design variants and historical-bug switches |
//! | [`system`] | one simulated machine: memmap + zone + CPU slots |
//! | [`check`] | the invariant checker (catalogue ids of research/kernel.md A.23) |
//! | [`ops`], [`scenario`], [`model`], [`harness`] | the fuzz op language, `*.ops` scenario files, the reference model, the fuzz targets' harness |
//! | [`sync`] | the concurrency shim (std or shuttle) |
//!
//! Global lock order (kernel names, outermost first): `device_hotplug_lock`
//! → `mem_hotplug_lock` → `ptl` → `pcp_batch_high_lock` →
//! `pcpu_drain_mutex` → `pcp->lock` → `zone->lock`.

#![warn(missing_docs)]

pub mod boot;
pub mod check;
pub mod compaction;
pub mod contig;
pub mod design;
pub mod drivers;
pub mod error;
pub mod folio;
pub mod hotplug;
pub mod hugetlb;
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
pub mod sync;
pub mod system;
pub mod violation;
pub mod walkers;

pub use design::{Design, Switch};
pub use error::{Error, Result};
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
/// log2 of the pages in a memory section (128 MiB of 4 KiB pages).
pub const PFN_SECTION_SHIFT: u32 = 15;
/// Pages per memory section: 32768.
pub const PAGES_PER_SECTION: u64 = 1 << PFN_SECTION_SHIFT;
/// Bytes per memory section: 128 MiB.
pub const SECTION_SIZE: u64 = PAGES_PER_SECTION * PAGE_SIZE as u64;
/// Largest buddy order (`MAX_PAGE_ORDER`, inclusive): blocks of 4 MiB.
pub const MAX_PAGE_ORDER: u32 = 10;
/// Number of buddy orders, 0..=MAX_PAGE_ORDER.
pub const NR_PAGE_ORDERS: usize = MAX_PAGE_ORDER as usize + 1;
/// log2 of the pages in a pageblock (= HPAGE_PMD_ORDER on x86_64).
pub const PAGEBLOCK_ORDER: u32 = 9;
/// Pages per pageblock: 512 (2 MiB).
pub const PAGEBLOCK_NR_PAGES: u64 = 1 << PAGEBLOCK_ORDER;
/// Orders above this are "costly" and never cached on pcp lists (except pageblock order).
pub const PAGE_ALLOC_COSTLY_ORDER: u32 = 3;
/// Default pcp batch for a zone of >= 1 GiB (`zone_batchsize`).
pub const PCP_DEFAULT_BATCH: u32 = 63;
/// Default pcp high mark, 4 × batch (`zone_highsize` floor).
pub const PCP_DEFAULT_HIGH: u32 = 252;
/// `page_private` of a page taken off buddy by hwpoison ("HWPS").
pub const MAGIC_HWPOISON: u64 = 0x4857_5053;
