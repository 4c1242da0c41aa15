//! pfn walkers that read the memmap of arbitrary pfns from outside the
//! allocator: a crash-dump / `/proc/kcore` reader ([`System::dump_tool_read`],
//! makedumpfile-style), `/proc/kpageflags` ([`System::kpageflags`],
//! `fs/proc/page.c`) and the sysfs `valid_zones` attribute of a memory
//! block ([`System::valid_zones`], `drivers/base/memory.c`).
//!
//! Landed design (96c804a6ae8c "mm/memory_hotplug: don't access uninitialized
//! memmaps in shrink_zone_span()" and its follow-ups for `fs/proc/page.c`
//! `kpageflags_read` and `drivers/base/memory.c` `valid_zones_show`): a walker obtains a
//! descriptor only through `pfn_to_online_page`; memory that is not online
//! yields no descriptor — a hole in the dump, `KPF_NOPAGE`, and for an
//! offline block a `valid_zones` answer computed from the zone layout
//! without touching struct pages (f1dd2cd13c4b, aad5f69bc161-era fixes).
//! With [`Switch::MemmapReadsOffline`] the walkers use `pfn_valid` +
//! `pfn_to_page`, as before those fixes, and read the memmap of sections
//! that are present but not online — uninitialized, or poisoned by offline
//! (`page_init_poison`, the C21 detector). Every such read is recorded as
//! **M3** (one record per walker call, at the first offending pfn).
//!
//! The dump tool also obeys V1: the contents of a PageOffline page
//! (logically offline, its backing possibly returned to the hypervisor)
//! must not be read. kcore and makedumpfile ≥ 1.6.5 exclude PageOffline
//! (and hwpoisoned) pages; an older tool ([`DumpOpts::exclude_page_offline`]
//! false) reads them and the read is recorded as **V1**.
//!
//! Not modeled: `page_offline_rwsem` (the model has no lock that makes a
//! driver's `__SetPageOffline` wait for a reader between its PageOffline
//! test and its read); the zone that offline memory would join is always
//! "Normal" (the model has one zone, plus the Movable choice sysfs offers).
//!
//! Invariants: landed walkers never read a descriptor of a section that is
//! not online (M3) and never read a PageOffline frame (V1); they never take
//! a page reference (reads are racy, as in the kernel).
//! Lock order: `memmap.hotplug` (`get_online_mems`, so an offline cannot
//! poison the memmap between the online test and the read) → `ptl` →
//! `hugetlb_lock` (both held while a frame is copied: every writer of a
//! frame in the crate holds one of them).
//! Hence a walker must not be called with `memmap.hotplug` already held
//! (from a memory notifier, for instance).

use crate::design::Switch;
use crate::error::{Error, Result};
use crate::folio::{folio_test_thp, page_mapcount};
use crate::memmap::SectionState;
use crate::pgtable::owner_vpn;
use crate::hotplug::memory_block::BlockState;
use crate::page::{pg, Page};
use crate::page_alloc::FreePath;
use crate::page_ref::page_count;
use crate::system::System;
use crate::{Pfn, PAGE_SIZE};
use std::cell::Cell;

/// `/proc/kpageflags` bits (include/uapi/linux/kernel-page-flags.h and the
/// kernel-internal ones of include/linux/kernel-page-flags.h): each constant
/// is the kernel's bit of the same name.
#[allow(missing_docs)]
pub mod kpf {
    pub const KPF_LOCKED: u32 = 0;
    pub const KPF_REFERENCED: u32 = 2;
    pub const KPF_UPTODATE: u32 = 3;
    pub const KPF_DIRTY: u32 = 4;
    pub const KPF_LRU: u32 = 5;
    pub const KPF_ACTIVE: u32 = 6;
    pub const KPF_BUDDY: u32 = 10;
    pub const KPF_MMAP: u32 = 11;
    pub const KPF_ANON: u32 = 12;
    pub const KPF_SWAPCACHE: u32 = 13;
    pub const KPF_SWAPBACKED: u32 = 14;
    pub const KPF_COMPOUND_HEAD: u32 = 15;
    pub const KPF_COMPOUND_TAIL: u32 = 16;
    pub const KPF_HUGE: u32 = 17;
    pub const KPF_HWPOISON: u32 = 19;
    pub const KPF_NOPAGE: u32 = 20;
    pub const KPF_THP: u32 = 22;
    pub const KPF_OFFLINE: u32 = 23;
    pub const KPF_PGTABLE: u32 = 26;
    pub const KPF_RESERVED: u32 = 32;
    pub const KPF_MLOCKED: u32 = 33;
    pub const KPF_PRIVATE: u32 = 35;
}

/// What the dump tool got for one pfn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DumpRead {
    /// Not online memory (no memmap, or offline): a hole in the dump.
    Hole,
    /// Excluded by the tool: PageOffline or hwpoisoned.
    Excluded,
    /// The frame was read: its 4 KiB (None without a frame store).
    Data(Option<Vec<u8>>),
}

/// Dump tool options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DumpOpts {
    /// Skip PageOffline pages (kcore; makedumpfile since PG_offline is in
    /// VMCOREINFO). False models an older tool.
    pub exclude_page_offline: bool,
}

impl Default for DumpOpts {
    fn default() -> Self {
        DumpOpts { exclude_page_offline: true }
    }
}

/// One walker call: hands out descriptors per the design and records M3
/// once for the call.
struct Walker<'a, F: FreePath> {
    sys: &'a System<F>,
    who: &'static str,
    reported: Cell<bool>,
}

impl<'a, F: FreePath> Walker<'a, F> {
    fn new(sys: &'a System<F>, who: &'static str) -> Self {
        Walker { sys, who, reported: Cell::new(false) }
    }

    /// The descriptor the walker reads for `pfn`, or None (no read).
    fn page(&self, pfn: Pfn) -> Result<Option<&'a Page>> {
        let mm = self.sys.memmap();
        if self.sys.cfg.design.has(Switch::MemmapReadsOffline) {
            if !mm.pfn_valid(pfn) {
                mm.section_state(pfn)?;
                return Ok(None);
            }
            let p = mm.pfn_to_page(pfn)?;
            if mm.section_state(pfn)? != SectionState::Online && !self.reported.replace(true) {
                let what = if p.PagePoisoned() { "poisoned" } else { "uninitialized" };
                self.sys.record_violation(
                    "M3",
                    Some(pfn),
                    format!("{} read the {what} memmap of an offline section (pfn_valid instead of pfn_to_online_page)", self.who),
                );
            }
            return Ok(Some(p));
        }
        match mm.pfn_to_online_page(pfn) {
            Ok(p) => Ok(Some(p)),
            Err(Error::PfnOffline { .. } | Error::PfnNotPresent { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl<F: FreePath> System<F> {
    /// Read `pfn` as a dump tool does, with the default (current) options.
    pub fn dump_tool_read(&self, pfn: Pfn) -> Result<DumpRead> {
        self.dump_tool_read_opts(pfn, DumpOpts::default())
    }

    /// Read `pfn` as a dump tool with options `opts` does.
    pub fn dump_tool_read_opts(&self, pfn: Pfn, opts: DumpOpts) -> Result<DumpRead> {
        let mm = self.memmap();
        let _online = mm.hotplug.lock();
        let w = Walker::new(self, "dump tool");
        let Some(p) = w.page(pfn)? else { return Ok(DumpRead::Hole) };
        let offline = p.PageOffline();
        if (offline && opts.exclude_page_offline) || p.PageHWPoison() {
            return Ok(DumpRead::Excluded);
        }
        if offline {
            self.record_violation(
                "V1",
                Some(pfn),
                "dump tool read the contents of a PageOffline page (logically offline memory must not be read)".into(),
            );
        }
        if !mm.has_frame_store() {
            return Ok(DumpRead::Data(None));
        }
        // Frames are written under `ptl` (faults, THP faults, base-page
        // migration) or under `hugetlb_lock` (hugetlb migration's copy):
        // hold both (ptl → hugetlb_lock, the order of crate::locking).
        let _pt = self.aspace.ptl.lock();
        let _hl = self.hugetlb.lock();
        // SAFETY: `hotplug` is held, so the section's frame mapping stays in
        // place (it lives as long as the Memmap anyway), and `ptl` and
        // `hugetlb_lock` are held: every writer of a frame in the crate
        // writes under one of them, so nothing writes this frame while the
        // pointer is used below.
        let src = match unsafe { mm.frame_ptr(pfn) } {
            Ok(src) => src,
            Err(Error::PfnNotPresent { .. }) => return Ok(DumpRead::Data(None)),
            Err(e) => return Err(e),
        };
        let mut buf = vec![0u8; PAGE_SIZE];
        // SAFETY: `src` is the start of this pfn's 4 KiB frame, not written
        // concurrently (see above); `buf` is our own PAGE_SIZE buffer and
        // cannot overlap the frame store.
        unsafe { std::ptr::copy_nonoverlapping(src, buf.as_mut_ptr(), PAGE_SIZE) };
        Ok(DumpRead::Data(Some(buf)))
    }

    /// `/proc/kpageflags` for `pfn` (`stable_page_flags`); Err beyond the
    /// memmap (the kernel refuses reads past max_pfn).
    pub fn kpageflags(&self, pfn: Pfn) -> Result<u64> {
        use kpf::*;
        let mm = self.memmap();
        mm.section_state(pfn)?;
        let _online = mm.hotplug.lock();
        let w = Walker::new(self, "/proc/kpageflags");
        let Some(p) = w.page(pfn)? else { return Ok(1 << KPF_NOPAGE) };
        let bit = |b: u32| 1u64 << b;
        // The folio's flags for folio-wide state; the page's own for the rest.
        let head = p.compound_head_pfn().and_then(|h| mm.pfn_to_page(h).ok()).unwrap_or(p);
        let k = head.flags();
        let mut u = 0u64;
        if p.PageBuddy() {
            u |= bit(KPF_BUDDY);
        }
        if p.PageOffline() {
            u |= bit(KPF_OFFLINE);
        }
        if p.page_type() == Some(crate::page::PageType::Table) {
            u |= bit(KPF_PGTABLE);
        }
        if p.PageHead() {
            u |= bit(KPF_COMPOUND_HEAD);
        }
        if p.PageTail() {
            u |= bit(KPF_COMPOUND_TAIL);
        }
        if head.PageHugetlb() {
            u |= bit(KPF_HUGE);
        } else if folio_test_thp(head) {
            u |= bit(KPF_THP);
        }
        if page_count(head) > 0 && owner_vpn(head.owner()).is_some() {
            u |= bit(KPF_ANON) | bit(KPF_SWAPBACKED);
        }
        if page_mapcount(mm, pfn) > 0 {
            u |= bit(KPF_MMAP);
        }
        for (flag, kb) in [
            (pg::PG_locked, KPF_LOCKED),
            (pg::PG_referenced, KPF_REFERENCED),
            (pg::PG_uptodate, KPF_UPTODATE),
            (pg::PG_dirty, KPF_DIRTY),
            (pg::PG_lru, KPF_LRU),
            (pg::PG_active, KPF_ACTIVE),
            (pg::PG_swapcache, KPF_SWAPCACHE),
            (pg::PG_reserved, KPF_RESERVED),
            (pg::PG_mlocked, KPF_MLOCKED),
            (pg::PG_private, KPF_PRIVATE),
        ] {
            if k & flag != 0 {
                u |= bit(kb);
            }
        }
        if p.PageHWPoison() {
            u |= bit(KPF_HWPOISON);
        }
        Ok(u)
    }

    /// sysfs `memoryN/valid_zones`: the zone of an online block; for an
    /// offline block the zones it could be onlined to.
    pub fn valid_zones(&self, block: u64) -> Result<String> {
        let mm = self.memmap();
        let _online = mm.hotplug.lock();
        let state = self.memory_block(block)?.state();
        if state == BlockState::Removed {
            return Err(Error::SectionState { section: block, what: "valid_zones: no such memory block device" });
        }
        if self.cfg.design.has(Switch::MemmapReadsOffline) {
            // Pre-f1dd2cd13c4b: test_pages_in_a_zone over the block's struct
            // pages, whatever the block's state; one read per MAX_ORDER chunk.
            let w = Walker::new(self, "valid_zones");
            let base = block * mm.geometry().pages_per_section();
            let mut pfn = base;
            let mut sane = true;
            while pfn < base + mm.geometry().pages_per_section() {
                if let Some(p) = w.page(pfn)? {
                    sane &= !p.PagePoisoned();
                }
                pfn += 1 << mm.geometry().max_order;
            }
            return Ok(match (sane, state) {
                (false, _) => "none".into(),
                (true, BlockState::Online) => "Normal".into(),
                (true, _) => "Normal Movable".into(),
            });
        }
        // Landed: an online block answers its zone; an offline one is
        // zone-less and answered from the zone layout alone.
        Ok(match state {
            BlockState::Online => "Normal".into(),
            _ => "Normal Movable".into(),
        })
    }
}
