//! Lock ordering in the model: the one table (as the "Lock ordering in mm"
//! comment at the top of the kernel's `mm/rmap.c` is for the kernel). Every
//! module's doc says which of these it takes; none may take them in another
//! order. Outermost first:
//!
//! | # | lock | kernel | where | taken by |
//! |---|---|---|---|---|
//! | 0 | virtio-mem worker | the device's config-change work item (`virtio_mem_run_wq`, `drivers/virtio/virtio_mem.c`): never runs twice at once | the virtio-mem device | plug and unplug requests, whole (a plug's `add_memory` takes 2 and 3 under it) |
//! | 1 | `mf_mutex` | `mf_mutex` (`mm/memory-failure.c`) | [`System`] | memory_failure, soft offline, unpoison |
//! | 2 | `device_hotplug_lock` | `lock_device_hotplug` (`drivers/base/core.c`) | [`System`] | block online / offline / add / remove |
//! | 3 | `mem_hotplug_lock` | `mem_hotplug_lock` (`mm/memory_hotplug.c`), a per-CPU rwsem | `Memmap::hotplug` | write side: section add / online / offline / remove; read side (`get_online_mems`): pfn walkers, memory failure, the checker |
//! | 4 | `pcp_batch_high_lock` | `pcp_batch_high_lock` (`mm/page_alloc.c`) | [`Zone`] | `zone_pcp_disable` … `zone_pcp_enable` (offline, memory failure), pcp high / batch updates |
//! | 5 | `hotplug_mutex` | `vm->hotplug_mutex` (`drivers/virtio/virtio_mem.c`) | the virtio-mem device | its memory notifier, plug and unplug |
//! | 6 | a driver's state lock | `vm->...`, `cmm`'s and `hv_balloon`'s lists | each driver | the driver's own bookkeeping |
//! | 7 | `ptl` | the page-table lock | [`crate::pgtable::AddressSpace`] | faults, unmaps, THP mappings, migration, memory failure's unmap |
//! | 8 | `pcpu_drain_mutex` | `pcpu_drain_mutex` (`mm/page_alloc.c`) | [`Zone`] | `drain_all_pages` |
//! | 9 | pcp lock | `pcp->lock` | [`crate::page_alloc::pcp`] | the owner CPU (lock-free fast path), remote drains in ascending CPU order |
//! | 10 | `zone->lock` | `zone->lock` | [`Zone`] | buddy lists and counters, pageblock migratetypes, isolation |
//! | 11 | `hugetlb_lock` | `hugetlb_lock` (`mm/hugetlb.c`) | [`System`] | the hstate: a leaf, taken under any of the above (the checker under `zone->lock`), takes none |
//!
//! Leaves beside them (take nothing, held for a copy or a push): the
//! memory-notifier list, the run-time violation recorder, the memmap's
//! backing-store bookkeeping.
//!
//! Facts the table rests on, each where the code is:
//! * offline holds 2, 3 and 4 across the memory notifier chain, which takes
//!   5 (virtio-mem) and 6; it migrates (7) with 4 held;
//! * virtio-mem's unplug holds 5 across `alloc_contig_range` (7 → 8 → 9 →
//!   10) but never calls into hotplug (2, 3) with it held;
//! * memory failure holds 1 and, in the model, 3 throughout (the kernel's
//!   `get_online_mems` only around `get_hwpoison_page` for soft offline);
//!   it takes 4 and 7 one after the other, never nested; offline never
//!   takes 1;
//! * the checker holds 3, then every pcp lock and `zone->lock` and
//!   `hugetlb_lock`, drops them, then takes 7.
//!
//! [`System`]: crate::system::System
//! [`Zone`]: crate::page_alloc::Zone
//!
//! Invariants: the order above. Lock order: this is it.
