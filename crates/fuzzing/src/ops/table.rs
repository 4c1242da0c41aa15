//! The op table: every operation of the op language, one entry each (see
//! `ops/define.rs` for what an entry generates). The model-followed ops
//! come first; after the first `extended` op of a run the reference model
//! retires and only the checker judges. New ops go at the end (the byte
//! form is the variant order).
//!
//! Operands are written as the fuzzer and scenarios give them and resolve
//! against the current state (`crate::harness::exec` has the rules): `a`
//! indexes the acting thread's live allocations, `m` the present mappings,
//! `s`/`i` the thread's held references, isolations, pins, ...; `block` the
//! blocks in the state the op needs; a CPU operand is taken modulo the CPUs.
//!
//! Invariants: as `ops/define.rs` says. Lock order: none (plain data).

use super::{Count, Mt, Order, Target};
use mm::{MigrateType, Pfn};

super::define::define_ops! {
    /// `alloc_pages(order, mt)` on CPU `cpu`; the block becomes a live
    /// allocation holding one reference.
    Alloc "alloc" model { cpu: u8, order: Order, mt: Mt } => { cpu: usize, order: u32, mt: MigrateType },
    /// `__free_pages` of live allocation `a`: drops one of its references.
    Free "free" model { cpu: u8, a: u8 } => { cpu: usize, pfn: Pfn, order: u32 },
    /// `get_page` on live allocation `a`: one more reference.
    Get "get" model { cpu: u8, a: u8 } => { cpu: usize, pfn: Pfn },
    /// `put_page` on live allocation `a`: one reference fewer.
    Put "put" model { cpu: u8, a: u8 } => { cpu: usize, pfn: Pfn },
    /// `get_page_unless_zero` on a target (speculative, like a pfn walker);
    /// a reference taken is held until `put_spec`.
    GetUnlessZero "get_unless_zero" model { cpu: u8, target: Target } => { cpu: usize, pfn: Pfn },
    /// `put_page` of held speculative reference `s`.
    PutSpec "put_spec" model { cpu: u8, s: u8 } => { cpu: usize, pfn: Pfn },
    /// A page fault on vpn `vpn` (modulo the address space): maps a fresh
    /// movable LRU page.
    Fault "fault" model { cpu: u8, vpn: u8 } => { cpu: usize, vpn: usize },
    /// Unmap the `m`-th present mapping (`zap_pte_range`).
    Unmap "unmap" model { cpu: u8, m: u8 } => { cpu: usize, vpn: usize, pfn: Pfn },
    /// `isolate_lru_page` on the `m`-th mapped page (under a speculative
    /// reference, as `do_migrate_range` does); held until `migrate` or
    /// `putback`.
    IsolateLru "isolate_lru" model { cpu: u8, m: u8 } => { cpu: usize, vpn: usize, pfn: Pfn },
    /// `migrate_page` of held LRU-isolated page `i` (MR_COMPACTION).
    Migrate "migrate" model { cpu: u8, i: u8 } => { cpu: usize, pfn: Pfn },
    /// `putback_lru_page` of held LRU-isolated page `i`.
    Putback "putback" model { cpu: u8, i: u8 } => { cpu: usize, pfn: Pfn },
    /// `drain_local_pages` on CPU `cpu`.
    DrainLocal "drain_local" model { cpu: u8 } => { cpu: usize },
    /// `drain_all_pages`.
    DrainAll "drain_all" model {} => {},
    /// `start_isolate_page_range` over pageblocks `pb..pb+n` of an online
    /// block, then `drain_all_pages` (as every caller does); held until
    /// `undo_isolate`.
    IsolateRange "isolate_range" model { block: u8, pb: u8, n: Count } => { start: Pfn, end: Pfn },
    /// `undo_isolate_page_range` of held isolation `i`.
    UndoIsolate "undo_isolate" model { i: u8 } => { start: Pfn, end: Pfn },
    /// `test_pages_isolated` over held isolation `i`.
    TestIsolated "test_isolated" model { i: u8 } => { start: Pfn, end: Pfn },
    /// Online an offline block.
    Online "online" model { block: u8 } => { block: u64 },
    /// Offline an online block (migrating with CPU `cpu`).
    Offline "offline" model { cpu: u8, block: u8 } => { cpu: usize, block: u64 },
    /// `add_memory` of an absent block, optionally with memmap_on_memory.
    AddMemory "add_memory" model { block: u8, memmap_on_memory: bool } => { block: u64, memmap_on_memory: bool },
    /// `add_memory` whose block-device step fails (fault injection, C12).
    AddMemoryFailing "add_memory_failing" model { block: u8, memmap_on_memory: bool } => { block: u64, memmap_on_memory: bool },
    /// `remove_memory` of an offline block.
    RemoveMemory "remove_memory" model { block: u8 } => { block: u64 },
    /// `alloc_contig_range` over pageblocks `pb..pb+n` of an online block;
    /// held until `free_contig`.
    AllocContig "alloc_contig" model { cpu: u8, block: u8, pb: u8, n: Count } => { cpu: usize, start: Pfn, end: Pfn },
    /// `free_contig_range` of held contiguous range `i`.
    FreeContig "free_contig" model { cpu: u8, i: u8 } => { cpu: usize, start: Pfn, end: Pfn },
    // ---- Extended ops (THP, compaction, walkers, balloon drivers): the
    // reference model does not follow them; after the first one only the
    // checker judges the run.
    /// `do_huge_pmd_anonymous_page`: a THP at the `slot`-th PMD-aligned
    /// range of the address space.
    ThpFault "thp_fault" extended { cpu: u8, slot: u8 } => { cpu: usize, vpn: usize },
    /// `split_huge_pmd` of the PMD at slot `slot`.
    ThpSplitPmd "thp_split_pmd" extended { cpu: u8, slot: u8 } => { cpu: usize, vpn: usize },
    /// `zap_huge_pmd` of the PMD at slot `slot`.
    ThpZap "thp_zap" extended { cpu: u8, slot: u8 } => { cpu: usize, vpn: usize },
    /// FOLL_PIN a page (held until `unpin`).
    Pin "pin" extended { cpu: u8, target: Target } => { cpu: usize, pfn: Pfn },
    /// Unpin held pin `i`.
    Unpin "unpin" extended { cpu: u8, i: u8 } => { cpu: usize, pfn: Pfn },
    /// `add_to_swap_cache` of a page's folio (held until `swapcache_del`).
    SwapcacheAdd "swapcache_add" extended { cpu: u8, target: Target } => { cpu: usize, pfn: Pfn },
    /// `delete_from_swap_cache` of held entry `i`.
    SwapcacheDel "swapcache_del" extended { cpu: u8, i: u8 } => { cpu: usize, pfn: Pfn },
    /// `split_huge_page` of the folio of a page.
    SplitFolio "split_folio" extended { cpu: u8, target: Target } => { cpu: usize, pfn: Pfn },
    /// `compact_zone` over pageblocks `pb..pb+n` of an online block.
    Compact "compact" extended { cpu: u8, block: u8, pb: u8, n: Count } => { cpu: usize, start: Pfn, end: Pfn },
    /// A pfn walker's speculative reference (`drivers::walker_get`), held
    /// with the `get_unless_zero` ones (`put_spec` / `walk_put` drop it).
    WalkGet "walk_get" extended { cpu: u8, target: Target } => { cpu: usize, pfn: Pfn },
    /// `drivers::walker_put` of held speculative reference `s` (records V4
    /// when it frees a PageOffline page).
    WalkPut "walk_put" extended { cpu: u8, s: u8 } => { cpu: usize, pfn: Pfn },
    /// `/proc/kpageflags` of any pfn the memmap can describe (`pfn` modulo
    /// them: online, offline or absent).
    Kpageflags "kpageflags" extended { pfn: u32 } => { pfn: Pfn },
    /// A dump tool's (`/proc/kcore`, makedumpfile) read of any pfn.
    DumpRead "dump_read" extended { pfn: u32 } => { pfn: Pfn },
    /// sysfs `valid_zones` of any block.
    ValidZones "valid_zones" extended { block: u8 } => { block: u64 },
    /// virtio-mem: plug subblock `sb` of the device (config `drivers=virtio_mem`).
    VmemPlug "vmem_plug" extended { cpu: u8, sb: u16 } => { cpu: usize, sb: u64 },
    /// virtio-mem: unplug subblock `sb`.
    VmemUnplug "vmem_unplug" extended { cpu: u8, sb: u16 } => { cpu: usize, sb: u64 },
    /// CMM balloon: inflate by `n` pages (config `drivers=cmm`).
    CmmInflate "cmm_inflate" extended { cpu: u8, n: u8 } => { cpu: usize, n: usize },
    /// CMM balloon: deflate by `n` pages.
    CmmDeflate "cmm_deflate" extended { cpu: u8, n: u8 } => { cpu: usize, n: usize },
    /// Hyper-V balloon: inflate by `n` pages (config `drivers=hv_balloon`).
    HvInflate "hv_inflate" extended { cpu: u8, n: u8 } => { cpu: usize, n: usize },
    /// Hyper-V balloon: deflate by `n` pages.
    HvDeflate "hv_deflate" extended { cpu: u8, n: u8 } => { cpu: usize, n: usize },
    // ---- hwpoison and hugetlb (extended ops too).
    /// `memory_failure(pfn, MF_SW_SIMULATED)`: hard offline of a page.
    MemoryFailure "memory_failure" extended { cpu: u8, target: Target } => { cpu: usize, pfn: Pfn },
    /// `soft_offline_page` run to its end (a `soft_offline:step`
    /// preemption point between its steps).
    SoftOffline "soft_offline" extended { cpu: u8, target: Target } => { cpu: usize, pfn: Pfn },
    /// `unpoison_memory` of a page (software-injected poison only).
    Unpoison "unpoison" extended { cpu: u8, target: Target } => { cpu: usize, pfn: Pfn },
    /// `hugetlb_alloc_pool`: grow the hugetlb pool by up to `n` folios
    /// (`hugetlb_prep:before_testzero` between preparing and enqueueing).
    HugetlbPool "hugetlb_pool" extended { cpu: u8, n: Count } => { cpu: usize, n: usize },
    /// `hugetlb_reserve_pages` of `n` huge pages.
    HugetlbReserve "hugetlb_reserve" extended { n: Count } => { n: u64 },
    /// `hugetlb_unreserve_pages` of `n` huge pages.
    HugetlbUnreserve "hugetlb_unreserve" extended { n: Count } => { n: u64 },
    /// A fault in the hugetlbfs mapping (maps a folio of the pool).
    HugetlbFault "hugetlb_fault" extended {} => {},
    /// munmap of the `i`-th mapped hugetlb folio (`free_huge_folio` on the
    /// last reference, `free_huge_folio:refcount_zero` in its window).
    HugetlbFree "hugetlb_free" extended { i: u8 } => { pfn: Pfn },
    /// `dissolve_free_hugetlb_folio` of a page's folio.
    Dissolve "dissolve" extended { target: Target } => { pfn: Pfn },
    /// The first step of a soft offline (`soft_offline_begin` + one
    /// step): it holds `mf_mutex` until `soft_offline_step` finishes it
    /// (an op of the same thread that needs `mf_mutex` finishes it first;
    /// the end of the thread does too).
    SoftOfflineBegin "soft_offline_begin" extended { cpu: u8, target: Target } => { cpu: usize, pfn: Pfn },
    /// The next step of this thread's soft offline in progress (on the
    /// CPU it began on).
    SoftOfflineStep "soft_offline_step" extended {} => { cpu: usize, pfn: Pfn },
    /// `compact_zone` over the pageblock holding a target page (a mapped
    /// page, an allocation, ...): what the compaction scanner meets when
    /// it walks a range with something in it. `compact` names pageblocks
    /// by number, which a fuzzer seldom points at an occupied one.
    CompactAt "compact_at" extended { cpu: u8, target: Target } => { cpu: usize, start: Pfn, end: Pfn },
    /// virtio-mem: the first half of unplugging subblock `sb`
    /// (`alloc_contig_range`: the driver now holds every page), left
    /// pending in the device with its `hotplug_mutex` held: the window in
    /// which seed 000's walkers take their references (B1). The next op
    /// that could need that mutex finishes it first.
    VmemUnplugBegin "vmem_unplug_begin" extended { cpu: u8, sb: u16 } => { cpu: usize, sb: u64 },
    /// virtio-mem: the second half of the pending unplug (PageOffline set;
    /// under the RFC the driver's reference is dropped).
    VmemUnplugFinish "vmem_unplug_finish" extended {} => { cpu: usize },
    /// `isolate_migratepages_block` over the pageblock holding a target
    /// page: the migration scanner of compaction and alloc_contig_range on
    /// its own, without isolating the pageblock (so a page freed in its
    /// window is reused at once, B5r). The pages it isolates are held like
    /// `isolate_lru`'s, for `migrate` or `putback`.
    ScanIsolate "scan_isolate" extended { cpu: u8, target: Target } => { cpu: usize, start: Pfn, end: Pfn },
    /// `do_set_pmd`: map held swap-cache entry `i`'s folio back by one PMD
    /// at the address its pages belong to — the fault of a PMD-sized cache
    /// folio (`filemap_map_pages` / `finish_fault`; the model's swap cache
    /// stands in for the page cache). A folio with a poisoned subpage falls
    /// back to PTEs (C16).
    SetPmd "set_pmd" extended { cpu: u8, i: u8 } => { cpu: usize, vpn: usize, pfn: Pfn },
}

// The op byte indexes `Op::NAMES`.
const _: () = assert!(Op::NAMES.len() <= 256);
