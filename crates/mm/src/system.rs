//! One simulated machine: the memmap, its zone, and CPU slots.
//!
//! A thread acts for a CPU by claiming its slot ([`System::cpu`]); the
//! returned [`Cpu`] is the model of "running on that CPU with preemption
//! off": it is `Send` (a context may move between OS threads) but not
//! `Sync` (two threads never act for one CPU at once), which is what lets
//! the pcp fast path skip locked instructions.
//!
//! Invariants: at most one [`Cpu`] per slot; only Online sections have
//! pages in the zone; `present_pages`/`managed_pages` follow block online/offline.
//! Lock order: the table of [`crate::locking`]; the struct holds locks #1,
//! #2 and #11 of it.

use crate::design::Design;
use crate::error::{Error, Result};
use crate::geometry::Geometry;
use crate::memmap::Memmap;
use crate::pgtable::AddressSpace;
use crate::hotplug::memory_block::MemoryBlock;
use crate::hotplug::notifier::MemoryNotifier;
use crate::page::Page;
use crate::page_alloc::pcp::PerCpuPages;
use crate::page_alloc::zone::{PcpSettings, ZoneStats};
use crate::page_alloc::{FreePath, Landed, Zone};
use crate::page_ref;
use crate::pageblock::{MigrateType, MIGRATE_PCPTYPES};
use crate::sync::atomic::Ordering;
use crate::sync::{plain, Arc, Mutex, MutexGuard};
use crate::{Pfn, PCP_DEFAULT_BATCH, PCP_DEFAULT_HIGH};
use std::cell::Cell;
use std::marker::PhantomData;

/// Geometry and tunables of a simulated machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Boot memory in bytes (a multiple of the 128 MiB section size): those
    /// sections are added and onlined at boot.
    pub mem_bytes: u64,
    /// Sections the memmap can describe (boot plus hot-pluggable).
    pub max_sections: usize,
    /// CPU slots.
    pub nr_cpus: usize,
    /// pcp high mark (`pcp->high`).
    pub pcp_high: u32,
    /// pcp batch (`pcp->batch`).
    pub pcp_batch: u32,
    /// Keep 4 KiB of contents per page.
    pub frame_store: bool,
    /// Off-hot-path design switches (historical bugs); empty = landed.
    pub design: Design,
    /// Virtual pages of the user address space.
    pub nr_vpages: usize,
    /// Passes of offline_pages' migrate/test loop before it gives up (the
    /// model of the signal that aborts a stuck offline).
    pub offline_max_passes: u32,
    /// Section size, pageblock order, largest buddy order.
    pub geometry: Geometry,
}

impl Default for Config {
    /// The embedded default: 1 GiB of boot memory, room for 2 GiB, 4 CPUs,
    /// kernel pcp batch 63 / high 252.
    fn default() -> Self {
        Config {
            mem_bytes: 1 << 30,
            max_sections: 16,
            nr_cpus: 4,
            pcp_high: PCP_DEFAULT_HIGH,
            pcp_batch: PCP_DEFAULT_BATCH,
            frame_store: false,
            design: Design::fixed(),
            nr_vpages: 1 << 16,
            offline_max_passes: 64,
            geometry: Geometry::X86_64,
        }
    }
}

impl Config {
    /// Boot sections.
    pub fn boot_sections(&self) -> u64 {
        self.mem_bytes / self.geometry.section_size()
    }

    pub(crate) fn validate(&self) -> Result<()> {
        self.geometry.validate()?;
        let section = self.geometry.section_size();
        if self.mem_bytes == 0 || !self.mem_bytes.is_multiple_of(section) {
            return Err(Error::BadConfig(format!("mem_bytes {} is not a positive multiple of the section size {section}", self.mem_bytes)));
        }
        if self.boot_sections() > self.max_sections as u64 {
            return Err(Error::BadConfig(format!(
                "{} boot sections do not fit max_sections {}",
                self.boot_sections(),
                self.max_sections
            )));
        }
        // List links are u32 pfns with u32::MAX as NIL.
        if (self.max_sections as u64) * self.geometry.pages_per_section() >= u32::MAX as u64 {
            return Err(Error::BadConfig(format!("max_sections {} exceeds 32-bit pfns", self.max_sections)));
        }
        if self.nr_cpus == 0 || self.nr_cpus > 1024 {
            return Err(Error::BadConfig(format!("nr_cpus {} not in 1..=1024", self.nr_cpus)));
        }
        if self.pcp_batch == 0 {
            return Err(Error::BadConfig("pcp_batch must be at least 1".into()));
        }
        Ok(())
    }
}

/// A simulated machine with free-path design `F`.
pub struct System<F: FreePath = Landed> {
    pub(crate) memmap: Memmap,
    pub(crate) zone: Zone,
    pub(crate) cfg: Config,
    pub(crate) blocks: Box<[MemoryBlock]>,
    pub(crate) aspace: AddressSpace,
    pub(crate) notifiers: Mutex<Vec<Arc<dyn MemoryNotifier>>>,
    /// `device_hotplug_lock`: serializes block online/offline/add/remove.
    pub(crate) device_hotplug_lock: Mutex<()>,
    /// Violations detected at run time (BUG_ON/WARN sites).
    pub(crate) violations: crate::violation::Violations,
    /// `num_poisoned_pages`.
    pub(crate) num_poisoned_pages: crate::sync::plain::AtomicI64,
    /// `hugetlb_lock` and the hstate it guards (a leaf lock).
    pub(crate) hugetlb: Mutex<crate::hugetlb::state::HugetlbState>,
    /// `mf_mutex`: serializes memory_failure, soft offline and unpoison.
    pub(crate) mf_mutex: Mutex<crate::memory_failure::state::MfState>,
    /// The destructor of a hugetlb folio's last reference
    /// (`free_huge_folio`), set at boot ([`crate::boot`]). The put path
    /// calls it through this pointer, as the kernel's compound destructors
    /// did (`folio->_folio_dtor` and `compound_page_dtors[HUGETLB_PAGE_DTOR]`,
    /// until 6.6; 6.12's `__folio_put` tests `folio_test_hugetlb` and calls
    /// `free_huge_folio`): the page allocator does not depend on hugetlb.
    /// Only the cold branch of a refused free reads it.
    pub(crate) hugetlb_dtor: fn(&System<F>, Pfn) -> Result<()>,
    pub(crate) _f: PhantomData<F>,
}

/// The machine's whole state, every field by name (a new field does not
/// compile until it is shown here): what the reset test compares with a
/// fresh boot ([`crate::reset`]). Quiescent machines only; under shuttle
/// inside [`crate::sync::quiet_loads`].
impl<F: FreePath> std::fmt::Debug for System<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let System {
            memmap,
            zone,
            cfg,
            blocks,
            aspace,
            notifiers,
            device_hotplug_lock,
            violations,
            num_poisoned_pages,
            hugetlb,
            mf_mutex,
            hugetlb_dtor,
            _f,
        } = self;
        f.debug_struct("System")
            .field("cfg", cfg)
            .field("memmap", memmap)
            .field("zone", zone)
            .field("blocks", blocks)
            .field("aspace", aspace)
            .field("notifiers", notifiers)
            .field("device_hotplug_lock", device_hotplug_lock)
            .field("violations", violations)
            .field("num_poisoned_pages", num_poisoned_pages)
            .field("hugetlb", hugetlb)
            .field("mf_mutex", mf_mutex)
            .field("hugetlb_dtor", &(*hugetlb_dtor as usize))
            .field("free_path", &F::NAME)
            .finish()
    }
}

impl<F: FreePath> System<F> {

    /// The configuration it was built with.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The geometry (the memmap's).
    #[inline(always)]
    pub fn geometry(&self) -> &Geometry {
        self.memmap.geometry()
    }

    /// The memmap.
    pub fn memmap(&self) -> &Memmap {
        &self.memmap
    }

    /// The zone.
    pub fn zone(&self) -> &Zone {
        &self.zone
    }

    /// The off-hot-path design in force.
    pub fn design(&self) -> &Design {
        &self.cfg.design
    }

    /// `num_poisoned_pages`.
    pub fn num_poisoned_pages(&self) -> i64 {
        self.num_poisoned_pages.load(crate::sync::plain::Ordering::Relaxed)
    }

    /// Name of the free-path design.
    pub fn design_name(&self) -> &'static str {
        F::NAME
    }

    /// Report a violation where it happens (a BUG_ON/WARN site); the
    /// checker returns it with its own findings.
    pub(crate) fn record_violation(&self, id: &'static str, pfn: Option<Pfn>, msg: String) {
        self.violations.record(id, pfn, msg);
    }

    /// Is `pfn` in an isolated pageblock of a memory block that offline is
    /// taking down (MEM_GOING_OFFLINE)? There nothing may be allocated
    /// and no pcp list may hold a page (A1, P5).
    pub(crate) fn isolated_while_going_offline(&self, pfn: Pfn) -> bool {
        crate::pageblock::get_pageblock_migratetype(&self.memmap, pfn) == Ok(MigrateType::Isolate)
            && self.blocks.get((pfn / self.geometry().pages_per_section()) as usize).is_some_and(|b| b.state() == crate::hotplug::memory_block::BlockState::GoingOffline)
    }

    /// `num_poisoned_pages_inc`: the global and the memory block's count.
    pub(crate) fn num_poisoned_pages_inc(&self, pfn: Pfn) {
        self.num_poisoned_pages.fetch_add(1, plain::Ordering::Relaxed);
        if let Some(b) = self.blocks.get((pfn / self.geometry().pages_per_section()) as usize) {
            b.nr_hwpoison.fetch_add(1, plain::Ordering::Relaxed);
        }
    }
    /// `num_poisoned_pages_sub`.
    pub(crate) fn num_poisoned_pages_sub(&self, pfn: Pfn, n: i64) {
        self.num_poisoned_pages.fetch_sub(n, plain::Ordering::Relaxed);
        if let Some(b) = self.blocks.get((pfn / self.geometry().pages_per_section()) as usize) {
            b.nr_hwpoison.fetch_sub(n, plain::Ordering::Relaxed);
        }
    }

    /// Zone counters.
    pub fn stats(&self) -> ZoneStats {
        self.zone.stats()
    }

    /// `pfn_to_page`.
    pub fn pfn_to_page(&self, pfn: Pfn) -> Result<&Page> {
        self.memmap.pfn_to_page(pfn)
    }

    /// Claim CPU slot `id` for the calling context.
    pub fn cpu(&self, id: usize) -> Result<Cpu<'_, F>> {
        let pcp = self.zone.pcp.get(id).ok_or(Error::CpuOutOfRange { cpu: id, nr_cpus: self.cfg.nr_cpus })?;
        // Acquire pairs with the Release in Cpu::drop: the new owner sees
        // everything the previous owner did through the slot.
        pcp.claimed
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .map_err(|_| Error::CpuBusy { cpu: id })?;
        Ok(Cpu { sys: self, pcp, id, _not_sync: PhantomData })
    }

    /// `drain_all_pages`: return every CPU's pcp pages to buddy, from any
    /// thread.
    pub fn drain_all_pages(&self) {
        self.zone.__drain_all_pages::<F>(&self.memmap, false, self.cfg.design.has(crate::design::Switch::DrainRacyCount));
    }

    /// `zone_pcp_disable`: pcp high 0 / batch 1 on every CPU and a forced
    /// drain; pcp stays disabled until the guard is dropped
    /// (`zone_pcp_enable`), holding `pcp_batch_high_lock` as the kernel does.
    pub fn zone_pcp_disable(&self) -> PcpDisabled<'_, F> {
        let settings = self.zone.pcp_batch_high_lock.lock();
        self.zone.set_pageset_high_and_batch(0, 1);
        self.zone.__drain_all_pages::<F>(&self.memmap, true, self.cfg.design.has(crate::design::Switch::DrainRacyCount));
        PcpDisabled { sys: self, settings }
    }

    /// Alloc a block on behalf of `cpu` (also reachable as `Cpu::alloc_pages`).
    #[inline(always)]
    fn alloc_on(&self, pcp: &PerCpuPages, order: u32, mt: MigrateType) -> Result<Pfn> {
        if order > self.geometry().max_order {
            return Err(Error::BadOrder { pfn: 0, order });
        }
        if mt as usize >= MIGRATE_PCPTYPES {
            return Err(Error::BadRequest(format!("cannot allocate from migratetype {}", mt.name())));
        }
        #[cfg(feature = "shuttle")]
        let gen = self.zone.isolate_gen.load(crate::sync::plain::Ordering::Relaxed);
        let (pfn, page) = self.zone.rmqueue(&self.memmap, pcp, order, mt).ok_or(Error::NoMemory { order })?;
        // A1 at the moment it happens, in the model build only: one more
        // cache line per allocation is not paid by the benchmarked build,
        // where the checker's P5/B3 rules catch the same states at rest.
        // Only in a block going offline: offline_pages disables the pcp
        // lists (zone_pcp_disable) so that nothing is allocated from its
        // isolated range. Other isolators (alloc_contig_range) drain
        // without forcing, and an allocation racing with their isolation
        // may take a page of the range from a pcp list — the kernel's
        // accepted race, which test_pages_isolated then refuses. And only
        // when no pageblock was isolated while this allocation ran: one
        // that races with the isolation itself (the page taken, then its
        // block isolated around it) is the race offline resolves by
        // migrating the page, not a page handed out of an isolated block.
        #[cfg(feature = "shuttle")]
        if self.zone.isolate_gen.load(crate::sync::plain::Ordering::Relaxed) == gen && self.isolated_while_going_offline(pfn) {
            self.record_violation("A1", Some(pfn), "allocated from an isolated pageblock of a block going offline".into());
        }
        self.zone.prep_new_page(&self.memmap, pfn, page, order)?;
        Ok(pfn)
    }
}

/// While alive, every pcp of the zone is disabled (`zone_pcp_disable`).
pub struct PcpDisabled<'a, F: FreePath> {
    sys: &'a System<F>,
    settings: MutexGuard<'a, PcpSettings>,
}

impl<F: FreePath> Drop for PcpDisabled<'_, F> {
    /// `zone_pcp_enable`.
    fn drop(&mut self) {
        let s = *self.settings;
        self.sys.zone.set_pageset_high_and_batch(s.high, s.batch);
    }
}

/// A context acting for one CPU slot (see the module doc).
pub struct Cpu<'s, F: FreePath = Landed> {
    sys: &'s System<F>,
    pcp: &'s PerCpuPages,
    id: usize,
    _not_sync: PhantomData<Cell<()>>,
}

impl<F: FreePath> Drop for Cpu<'_, F> {
    fn drop(&mut self) {
        self.pcp.claimed.store(false, Ordering::Release);
    }
}

impl<'s, F: FreePath> Cpu<'s, F> {
    /// The slot number.
    pub fn id(&self) -> usize {
        self.id
    }

    /// The system this context runs on.
    pub fn system(&self) -> &'s System<F> {
        self.sys
    }

    /// `alloc_pages`: a block of `2^order` pages of migratetype `mt`
    /// (compound for order > 0) with refcount 1.
    #[inline(always)]
    pub fn alloc_pages(&self, order: u32, mt: MigrateType) -> Result<Pfn> {
        self.sys.alloc_on(self.pcp, order, mt)
    }

    /// `alloc_page`: one movable page.
    #[inline(always)]
    pub fn alloc_page(&self) -> Result<Pfn> {
        self.sys.alloc_on(self.pcp, 0, MigrateType::Movable)
    }

    /// `put_page`: drop a reference; the last one frees the page (a
    /// compound page as a whole) through this CPU's pcp.
    #[inline(always)]
    pub fn put_page(&self, pfn: Pfn) -> Result<()> {
        let mm = &self.sys.memmap;
        let mut page = mm.pfn_to_page(pfn)?;
        let mut head = pfn;
        if let Some(h) = page.compound_head_pfn() {
            head = h;
            page = mm.pfn_to_page(h)?;
        }
        if page_ref::put_page_testzero(page, head)? {
            // __folio_put → page_cache_release: off the LRU before freeing.
            if page.PageLRU() {
                page.ClearPageLRU();
            }
            let order = page.compound_order();
            if let Err(e) = self.sys.zone.free_the_page::<F>(mm, self.pcp, head, page, order) {
                if page.PageHugetlb() {
                    // __folio_put: a hugetlb folio's last reference goes to
                    // free_huge_folio (back to its pool), never to buddy —
                    // here when a speculative reference outlived the unmap.
                    // Tested once free_the_page has refused the typed page
                    // (untouched), so the common final put pays nothing.
                    return (self.sys.hugetlb_dtor)(self.sys, head);
                }
                // V4: no put may take a PageOffline page into the free path
                // (the driver keeps its reference); the free path refused it.
                if page.PageOffline() {
                    self.sys.record_violation("V4", Some(head), format!("put_page sent a PageOffline page to the free path ({e})"));
                }
                return Err(e);
            }
        }
        Ok(())
    }

    /// `__free_pages(page, order)`: drop the allocation reference of a
    /// block allocated with `alloc_pages(order)`.
    pub fn free_pages(&self, pfn: Pfn, order: u32) -> Result<()> {
        let page = self.sys.memmap.pfn_to_page(pfn)?;
        if order > self.system().geometry().max_order || pfn & ((1 << order) - 1) != 0 || page.compound_order() != order || page.PageTail() {
            return Err(Error::BadOrder { pfn, order });
        }
        self.put_page(pfn)
    }

    /// `get_page`: another reference on a page the caller holds one on.
    pub fn get_page(&self, pfn: Pfn) -> Result<()> {
        let (head, page) = self.head_page(pfn)?;
        page_ref::get_page(page, head)
    }

    /// `get_page_unless_zero` on any pfn (speculative): `Ok(true)` if a
    /// reference was taken on this very page. Like the kernel's, it acts on
    /// the page's own count, so it fails on tail pages (count 0) and on
    /// free or frozen pages; a caller that succeeded must `put_page` the
    /// same pfn, which cannot become a tail while the reference is held.
    pub fn get_page_unless_zero(&self, pfn: Pfn) -> Result<bool> {
        Ok(page_ref::get_page_unless_zero(self.sys.memmap.pfn_to_page(pfn)?))
    }

    fn head_page(&self, pfn: Pfn) -> Result<(Pfn, &'s Page)> {
        let mm = &self.sys.memmap;
        let page = mm.pfn_to_page(pfn)?;
        match page.compound_head_pfn() {
            Some(h) => Ok((h, mm.pfn_to_page(h)?)),
            None => Ok((pfn, page)),
        }
    }

    /// `drain_local_pages`: return this CPU's pcp pages to buddy.
    pub fn drain_local_pages(&self) {
        let g = self.pcp.owner_lock();
        self.sys.zone.drain_pages_zone::<F>(&self.sys.memmap, &g);
    }

    /// This CPU's pcp lock, from the owner's side (the checker, for a
    /// caller that holds every slot).
    pub(crate) fn pcp_owner_lock(&self) -> crate::page_alloc::pcp::PcpOwnerGuard<'s> {
        self.pcp.owner_lock()
    }

    /// Pages on this CPU's pcp lists.
    pub fn pcp_count(&self) -> u32 {
        self.pcp.count_hint()
    }
}
