//! virtio-mem in Sub-Block Mode (`drivers/virtio/virtio_mem.c`:
//! `virtio_mem_sbm_plug_and_add_mb`, `virtio_mem_sbm_unplug_sb_online`,
//! `virtio_mem_memory_notifier_cb`): a device owns a range of hot-added
//! memory blocks and plugs/unplugs them in subblocks of one pageblock (512
//! pages, 64 per block).
//!
//! * An **unplugged subblock of an online block** is *fake-offline*: each
//!   page is PageOffline, the driver holds one reference on it, and it is
//!   not counted in managed pages. Pages that were never handed to buddy
//!   (kept back by the online_page callback) also carry PG_dirty, so that
//!   plugging them back onlines them (`generic_online_page`) instead of
//!   putting them (`free_contig_range`).
//! * [`VirtioMem::unplug`] = `alloc_contig_range` + `set_fake_offline` +
//!   managed −= 512; [`VirtioMem::plug`] = clear + free + managed += 512.
//!   On an offline block both only change the device's plugged bitmap.
//! * **MEM_GOING_OFFLINE** of a device block: managed += the fake-offline
//!   pages (offline_pages subtracts the whole range) and the driver drops
//!   its reference on each (`page_ref_dec_and_test`; a page that does not
//!   reach 0 because a pfn walker holds a speculative reference is the
//!   kernel's WARN "fake-offline page referenced", recorded as V2).
//!   **MEM_CANCEL_OFFLINE** undoes both (`page_ref_inc` — on a page that
//!   went to the free path meanwhile this is the residual window, B1 step
//!   4'). **MEM_OFFLINE**: the memmap goes away; the plugged bitmap stays.
//! * `hotplug_mutex` is taken at MEM_GOING_OFFLINE (and MEM_GOING_ONLINE)
//!   and released at MEM_OFFLINE / MEM_CANCEL_OFFLINE (MEM_ONLINE /
//!   MEM_CANCEL_ONLINE), so plug/unplug, which take it too, never change a
//!   subblock in the middle of an online or offline (V5).
//! * [`Switch::PageOfflineRefcountZero`]: the RFC v3 design. The driver
//!   holds *no* reference on its fake-offline pages (unplug drops it right
//!   after alloc_contig_range, the online callback leaves them at 0), so
//!   GOING_OFFLINE/CANCEL do nothing to refcounts. A walker that took its
//!   speculative reference while the driver still held one then owns the
//!   last reference: its put sends a PageOffline page to the free path
//!   (V4), unless the free path has the RFC's hook
//!   ([`crate::RfcOfflineHook`]), which keeps it out.
//!
//! Invariants (checked by [`VirtioMem`]'s `check`):
//! * V1: in an online block, every page of an unplugged subblock is
//!   PageOffline, off every list, with refcount ≥ 1 (the driver's
//!   reference; more while a walker holds a speculative one), and no page
//!   of a plugged subblock is PageOffline;
//! * V2: the reference drop at GOING_OFFLINE reaches 0 (runtime WARN);
//! * V4 / A1: no page of an unplugged subblock is free or handed out;
//! * V5: `hotplug_mutex` is not left held once an online/offline is over.
//!
//! Not modeled: Big-Block Mode, device requests that fail (the device
//! always acknowledges), the config-change retry, `page_offline_rwsem`
//! (no kcore reader is modeled), memmap_on_memory for device blocks (SBM
//! refuses them at MEM_GOING_ONLINE here), ZONE_MOVABLE's retry loop (the
//! model has one zone, so an unplug gives up at the first -EBUSY, as
//! virtio_mem_fake_offline does for ZONE_NORMAL).
//!
//! Lock order: the worker (one plug or unplug request at a time, as the
//! kernel's single work item; outermost, see `mm::locking`) →
//! `hotplug_mutex` (a sleeping lock that may be held across
//! notifier calls) → `sbm` (the state lock, never held while waiting for
//! `hotplug_mutex`) → pcp lock → zone->lock.

use crate::design::Switch;
use crate::error::{Error, Result};
use crate::memmap::Memmap;
use crate::hotplug::memory_block::BlockState;
use crate::hotplug::notifier::{MemAction, MemoryNotifier, MemoryNotify, NotifyCtx};
use crate::contig::{alloc_contig_range, free_contig_range};
use crate::page_alloc::FreePath;
use crate::page_ref::{page_count, page_ref_dec, page_ref_dec_and_test, page_ref_inc, set_page_count};
use crate::sync::Mutex;
use crate::system::Cpu;
use crate::geometry::Geometry;
use crate::Pfn;

/// Who holds `hotplug_mutex`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HotplugHolder {
    /// The plug/unplug worker.
    Worker,
    /// An online of block `n`, from MEM_GOING_ONLINE to MEM_ONLINE/CANCEL.
    Online(u64),
    /// An offline of block `n`, from MEM_GOING_OFFLINE to MEM_OFFLINE/CANCEL.
    Offline(u64),
}

/// `vm->hotplug_mutex`: a sleeping lock whose holder may release it from a
/// later call (the notifier pairs), so it is a holder word and not a guard.
#[derive(Debug)]
struct HotplugMutex {
    holder: Mutex<Option<HotplugHolder>>,
}

impl HotplugMutex {
    fn lock(&self, h: HotplugHolder) {
        let mut spins = 0;
        loop {
            {
                let mut g = self.holder.lock();
                if g.is_none() {
                    *g = Some(h);
                    return;
                }
            }
            crate::sync::spin_wait(&mut spins);
        }
    }

    /// Release if held by `h`; false (and nothing changes) otherwise.
    fn unlock(&self, h: HotplugHolder) -> bool {
        let mut g = self.holder.lock();
        if *g == Some(h) {
            *g = None;
            true
        } else {
            false
        }
    }

    fn holder(&self) -> Option<HotplugHolder> {
        *self.holder.lock()
    }
}

/// The device state (`vm->sbm`), under the state lock.
#[derive(Debug)]
struct Sbm {
    /// Per device block: bit i set = subblock i plugged.
    plugged: Vec<u64>,
    /// The block whose fake-offline pages had their references dropped at
    /// MEM_GOING_OFFLINE (`vm->hotplug_active` for an offline).
    going_offline: Option<u64>,
}

/// A virtio-mem device in Sub-Block Mode over blocks
/// `first_block..first_block + nr_blocks`.
#[derive(Debug)]
pub struct VirtioMem {
    name: String,
    first_block: u64,
    nr_blocks: u64,
    /// Pages per subblock: one pageblock (`vm->sbm.sb_size`).
    sb_pages: u64,
    /// Subblocks per memory block (64 on x86-64, 16 in the small
    /// geometry), one bit each in a `u64`.
    sbs_per_mb: u64,
    /// Pages per memory block.
    block_pages: u64,
    /// The device's one config-change worker (`virtio_mem_run_wq` runs
    /// from a work item, never twice at once): plug and unplug requests
    /// are serialized by it, whole — including the `add_memory` a plug of
    /// a device block not yet added makes with `hotplug_mutex` released.
    /// (The split unplug, `unplug_begin` / `unplug_finish`, keeps
    /// `hotplug_mutex` between them, which excludes the other requests on
    /// added blocks.)
    worker: Mutex<()>,
    hotplug: HotplugMutex,
    sbm: Mutex<Sbm>,
    /// An unplug left half done by [`VirtioMem::unplug_begin`]: the
    /// subblock and whether its pages were allocated (block online).
    pending: Mutex<Option<(Sb, bool)>>,
}

/// A subblock located: device block, index in the block, first pfn.
#[derive(Debug, Clone, Copy)]
struct Sb {
    block: u64,
    idx: u64,
    start: Pfn,
}

impl VirtioMem {
    /// A device over `nr_blocks` memory blocks of geometry `geo` from
    /// `first_block`, with nothing plugged yet (`plugged_size` 0).
    pub fn new(geo: &Geometry, first_block: u64, nr_blocks: u64) -> VirtioMem {
        let sbs_per_mb = geo.pageblocks_per_section();
        assert!(sbs_per_mb <= 64, "a block's subblocks are the bits of one u64");
        VirtioMem {
            name: format!("virtio_mem[{first_block}..{}]", first_block + nr_blocks),
            first_block,
            nr_blocks,
            sb_pages: geo.pageblock_nr_pages(),
            sbs_per_mb,
            block_pages: geo.pages_per_section(),
            worker: Mutex::new(()),
            hotplug: HotplugMutex { holder: Mutex::new(None) },
            sbm: Mutex::new(Sbm { plugged: vec![0; nr_blocks as usize], going_offline: None }),
            pending: Mutex::new(None),
        }
    }

    /// The device's subblocks: `0..nr_subblocks()`.
    pub fn nr_subblocks(&self) -> u64 {
        self.nr_blocks * self.sbs_per_mb
    }

    /// First pfn of subblock `sb`.
    pub fn sb_start(&self, sb: u64) -> Result<Pfn> {
        Ok(self.locate(sb)?.start)
    }

    /// Is subblock `sb` plugged?
    pub fn is_plugged(&self, sb: u64) -> Result<bool> {
        let s = self.locate(sb)?;
        Ok(self.sbm.lock().plugged[(s.block - self.first_block) as usize] >> s.idx & 1 != 0)
    }

    /// Plugged subblocks in all (`plugged_size` / subblock size).
    pub fn plugged_subblocks(&self) -> u64 {
        self.sbm.lock().plugged.iter().map(|w| w.count_ones() as u64).sum()
    }

    /// Who holds `hotplug_mutex` right now.
    pub fn hotplug_holder(&self) -> Option<HotplugHolder> {
        self.hotplug.holder()
    }

    fn owns_block(&self, nr: u64) -> bool {
        nr >= self.first_block && nr < self.first_block + self.nr_blocks
    }

    fn locate(&self, sb: u64) -> Result<Sb> {
        if sb >= self.nr_subblocks() {
            return Err(Error::BadRequest(format!("{}: no subblock {sb} (the device has {})", self.name, self.nr_subblocks())));
        }
        let block = self.first_block + sb / self.sbs_per_mb;
        let idx = sb % self.sbs_per_mb;
        Ok(Sb { block, idx, start: block * self.block_pages + idx * self.sb_pages })
    }

    /// `virtio_mem_sbm_plug_sb` (+ `virtio_mem_fake_online` on an online
    /// block): give subblock `sb` to the guest.
    ///
    /// On a device block that is not added yet this is
    /// `virtio_mem_sbm_plug_and_add_mb`: the subblock is plugged first, then
    /// the driver adds the block (`add_memory_driver_managed`, with
    /// `hotplug_mutex` released as the driver does around it) and it is
    /// onlined (auto-online); the online callback hands the plugged
    /// subblock to buddy and keeps the rest fake-offline.
    pub fn plug<F: FreePath>(&self, cpu: &Cpu<'_, F>, sb: u64) -> Result<()> {
        let s = self.locate(sb)?;
        let _worker = self.worker.lock();
        let sys = cpu.system();
        if sys.block_state(s.block)? == BlockState::Removed {
            self.hotplug.lock(HotplugHolder::Worker);
            self.sbm.lock().plugged[(s.block - self.first_block) as usize] |= 1 << s.idx;
            self.hotplug.unlock(HotplugHolder::Worker);
            let r = sys.add_memory(s.block, false).and_then(|()| sys.online_memory_block(s.block));
            if r.is_err() && sys.block_state(s.block)? == BlockState::Removed {
                // Nothing was added: the device takes the subblock back.
                self.hotplug.lock(HotplugHolder::Worker);
                self.sbm.lock().plugged[(s.block - self.first_block) as usize] &= !(1 << s.idx);
                self.hotplug.unlock(HotplugHolder::Worker);
            }
            return r;
        }
        self.hotplug.lock(HotplugHolder::Worker);
        let r = self.plug_locked(cpu, s);
        self.hotplug.unlock(HotplugHolder::Worker);
        r
    }

    fn plug_locked<F: FreePath>(&self, cpu: &Cpu<'_, F>, s: Sb) -> Result<()> {
        let sys = cpu.system();
        let mut sbm = self.sbm.lock();
        let word = &mut sbm.plugged[(s.block - self.first_block) as usize];
        if *word >> s.idx & 1 != 0 {
            return Err(Error::BadRequest(format!("{}: subblock at {:#x} is already plugged", self.name, s.start)));
        }
        match sys.block_state(s.block)? {
            BlockState::Removed => {
                return Err(Error::SectionState { section: s.block, what: "virtio-mem plug: block not added" })
            }
            BlockState::Offline => {}
            BlockState::Online | BlockState::GoingOffline => {
                // The state lock stays held so the checker never sees a
                // plugged bit over PageOffline pages or the reverse.
                fake_online(cpu, s.start, self.sb_pages)?;
            }
        }
        *word |= 1 << s.idx;
        Ok(())
    }

    /// `virtio_mem_sbm_unplug_sb_online` (or the offline-block request):
    /// take subblock `sb` from the guest. The two halves of
    /// [`VirtioMem::unplug_prepare`] / [`PreparedUnplug::commit`] with the
    /// B1 window between them.
    pub fn unplug<F: FreePath>(&self, cpu: &Cpu<'_, F>, sb: u64) -> Result<()> {
        let _worker = self.worker.lock();
        let p = self.unplug_prepare(cpu, sb)?;
        crate::sync::preempt_point("virtio_mem:unplug_allocated");
        p.commit()
    }

    /// [`VirtioMem::unplug_prepare`] with the rest of the unplug left
    /// pending in the device, `hotplug_mutex` held, until
    /// [`VirtioMem::unplug_finish`]: a sequential caller (the fuzz harness)
    /// can then act inside the B1 window. Returns the subblock's first pfn.
    /// Any other call that takes `hotplug_mutex` (plug, unplug, and the
    /// memory notifier of online/offline) waits for the finish.
    pub fn unplug_begin<F: FreePath>(&self, cpu: &Cpu<'_, F>, sb: u64) -> Result<Pfn> {
        let mut p = self.unplug_prepare(cpu, sb)?;
        // The device keeps the unplug from here: the guard must neither
        // give the pages back nor release the mutex when it is dropped.
        p.done = true;
        *self.pending.lock() = Some((p.s, p.online));
        Ok(p.s.start)
    }

    /// The pages of the unplug [`VirtioMem::unplug_begin`] left pending.
    pub fn unplug_pending(&self) -> Option<(Pfn, u64)> {
        self.pending.lock().map(|(s, _)| (s.start, self.sb_pages))
    }

    /// Second half of the pending unplug (as [`PreparedUnplug::commit`]).
    pub fn unplug_finish<F: FreePath>(&self, cpu: &Cpu<'_, F>) -> Result<()> {
        let Some((s, online)) = self.pending.lock().take() else {
            return Err(Error::BadRequest(format!("{}: no unplug pending", self.name)));
        };
        PreparedUnplug { vm: self, cpu, s, online, done: false }.commit()
    }

    /// First half of an unplug: take `hotplug_mutex` and, on an online
    /// block, `alloc_contig_range` the subblock (the driver now holds one
    /// reference on each page). The mutex stays held until
    /// [`PreparedUnplug::commit`] or until the value is dropped (which
    /// gives the pages back and releases it).
    pub fn unplug_prepare<'a, 's, F: FreePath>(&'a self, cpu: &'a Cpu<'s, F>, sb: u64) -> Result<PreparedUnplug<'a, 's, F>> {
        let s = self.locate(sb)?;
        self.hotplug.lock(HotplugHolder::Worker);
        let r = (|| {
            if !self.is_plugged(sb)? {
                return Err(Error::BadRequest(format!("{}: subblock at {:#x} is not plugged", self.name, s.start)));
            }
            match cpu.system().block_state(s.block)? {
                BlockState::Removed => Err(Error::SectionState { section: s.block, what: "virtio-mem unplug: block not added" }),
                BlockState::Offline => Ok(false),
                BlockState::Online | BlockState::GoingOffline => {
                    // virtio_mem_fake_offline: ZONE_NORMAL gives up at the first -EBUSY.
                    alloc_contig_range(cpu, s.start, s.start + self.sb_pages)?;
                    Ok(true)
                }
            }
        })();
        match r {
            Ok(online) => Ok(PreparedUnplug { vm: self, cpu, s, online, done: false }),
            Err(e) => {
                self.hotplug.unlock(HotplugHolder::Worker);
                Err(e)
            }
        }
    }

    /// `virtio_mem_online_page_cb` for a chunk of a device block: plugged
    /// subblocks go to buddy (`generic_online_page`), unplugged ones stay
    /// fake-offline with PG_dirty ("never onlined").
    fn online_chunk(&self, ctx: &dyn NotifyCtx, pfn: Pfn, order: u32) {
        let block = pfn / self.block_pages;
        if self.hotplug.holder() != Some(HotplugHolder::Online(block)) {
            ctx.record_violation("V5", Some(pfn), format!("{}: online_page callback without hotplug_mutex held by the online", self.name));
        }
        let rfc = ctx.design().has(Switch::PageOfflineRefcountZero);
        let sbm = self.sbm.lock();
        let word = sbm.plugged[(block - self.first_block) as usize];
        let end = pfn + (1u64 << order);
        let mut p = pfn;
        while p < end {
            let idx = (p % self.block_pages) / self.sb_pages;
            let piece_end = end.min(block * self.block_pages + (idx + 1) * self.sb_pages);
            let n = piece_end - p;
            if word >> idx & 1 != 0 {
                // generic_online_page: __free_pages_core.
                let r = ctx.free_to_buddy(p, n.trailing_zeros());
                if let Err(e) = r {
                    ctx.record_violation("V1", Some(p), format!("{}: onlining a plugged subblock failed: {e}", self.name));
                } else {
                    ctx.adjust_managed_page_count(n as i64);
                }
            } else {
                // Keep the memmap-init reference (the model's memmap starts
                // at refcount 0, so it is set here); none under the RFC.
                let _ = set_fake_offline(ctx.memmap(), p, n, false, if rfc { 0 } else { 1 });
            }
            p = piece_end;
        }
    }

    /// MEM_GOING_OFFLINE of device block `nr`.
    fn going_offline(&self, ctx: &dyn NotifyCtx, nr: u64) {
        self.hotplug.lock(HotplugHolder::Offline(nr));
        let rfc = ctx.design().has(Switch::PageOfflineRefcountZero);
        let mm = ctx.memmap();
        let mut sbm = self.sbm.lock();
        sbm.going_offline = Some(nr);
        let word = sbm.plugged[(nr - self.first_block) as usize];
        for idx in (0..self.sbs_per_mb).filter(|i| word >> i & 1 == 0) {
            let start = nr * self.block_pages + idx * self.sb_pages;
            // virtio_mem_fake_offline_going_offline: managed back first, so
            // that offline_pages can subtract the whole range.
            ctx.adjust_managed_page_count(self.sb_pages as i64);
            if rfc {
                continue;
            }
            for pfn in start..start + self.sb_pages {
                let Ok(p) = mm.pfn_to_page(pfn) else { continue };
                if !page_ref_dec_and_test(p) {
                    ctx.record_violation("V2", Some(pfn), format!("fake-offline page referenced at MEM_GOING_OFFLINE: {}", p.dump(pfn)));
                }
            }
        }
        drop(sbm);
        // B1's residual window: the references are gone, the range is
        // isolated, and a walker may still drop the one it holds.
        crate::sync::preempt_point("virtio_mem:going_offline_refs_dropped");
    }

    /// MEM_CANCEL_OFFLINE of device block `nr`.
    fn cancel_offline(&self, ctx: &dyn NotifyCtx, nr: u64) {
        if self.hotplug.holder() != Some(HotplugHolder::Offline(nr)) {
            // Another notifier refused GOING_OFFLINE before we were told.
            return;
        }
        let rfc = ctx.design().has(Switch::PageOfflineRefcountZero);
        let mm = ctx.memmap();
        let mut sbm = self.sbm.lock();
        if sbm.going_offline == Some(nr) {
            let word = sbm.plugged[(nr - self.first_block) as usize];
            for idx in (0..self.sbs_per_mb).filter(|i| word >> i & 1 == 0) {
                let start = nr * self.block_pages + idx * self.sb_pages;
                ctx.adjust_managed_page_count(-(self.sb_pages as i64));
                if rfc {
                    continue;
                }
                // virtio_mem_fake_offline_cancel_offline: re-take the
                // reference, blindly, as the kernel does.
                for pfn in start..start + self.sb_pages {
                    if let Ok(p) = mm.pfn_to_page(pfn) {
                        page_ref_inc(p);
                    }
                }
            }
        }
        sbm.going_offline = None;
        drop(sbm);
        self.hotplug.unlock(HotplugHolder::Offline(nr));
    }

    /// The checks of one online device block (V1, V4, A1).
    fn check_online_block(&self, ctx: &dyn NotifyCtx, nr: u64, word: u64, report: &mut dyn FnMut(&'static str, Option<Pfn>, String)) {
        let mm = ctx.memmap();
        let rfc = ctx.design().has(Switch::PageOfflineRefcountZero);
        for idx in 0..self.sbs_per_mb {
            let plugged = word >> idx & 1 != 0;
            let start = nr * self.block_pages + idx * self.sb_pages;
            let mut first: Option<(&'static str, Pfn, String)> = None;
            let mut bad = 0u64;
            for pfn in start..start + self.sb_pages {
                let Ok(p) = mm.pfn_to_online_page(pfn) else { continue };
                let rc = page_count(p);
                let what = if plugged {
                    p.PageOffline().then(|| ("V1", format!("page of a plugged subblock is PageOffline: {}", p.dump(pfn))))
                } else if p.PageBuddy() {
                    Some(("V4", format!("page of an unplugged subblock is free in buddy (allocatable): {}", p.dump(pfn))))
                } else if !p.PageOffline() && rc > 0 {
                    Some(("A1", format!("page of an unplugged subblock is in use by the guest: {}", p.dump(pfn))))
                } else if !p.PageOffline() {
                    Some(("V4", format!("page of an unplugged subblock lost PageOffline and is free: {}", p.dump(pfn))))
                } else if !rfc && rc < 1 {
                    Some(("V1", format!("fake-offline page without the driver's reference: {}", p.dump(pfn))))
                } else {
                    None
                };
                if let Some((id, msg)) = what {
                    bad += 1;
                    first.get_or_insert((id, pfn, msg));
                }
            }
            if let Some((id, pfn, msg)) = first {
                let sb = (nr - self.first_block) * self.sbs_per_mb + idx;
                report(id, Some(pfn), format!("{} subblock {sb} ({bad} pages affected): {msg}", self.name));
            }
        }
    }
}

/// An unplug between its two halves (see [`VirtioMem::unplug_prepare`]).
#[must_use = "an unplug that is not committed gives its pages back when dropped"]
pub struct PreparedUnplug<'a, 's, F: FreePath> {
    vm: &'a VirtioMem,
    cpu: &'a Cpu<'s, F>,
    s: Sb,
    /// The block was online: the pages were allocated.
    online: bool,
    done: bool,
}

impl<F: FreePath> PreparedUnplug<'_, '_, F> {
    /// First pfn of the subblock being unplugged.
    pub fn start_pfn(&self) -> Pfn {
        self.s.start
    }

    /// Second half: the device acknowledged; mark the pages fake-offline
    /// (`virtio_mem_set_fake_offline`) and take them out of managed pages.
    /// With [`Switch::PageOfflineRefcountZero`] the driver's reference is
    /// dropped here (RFC v3).
    pub fn commit(mut self) -> Result<()> {
        self.done = true;
        let vm = self.vm;
        let sys = self.cpu.system();
        let r = (|| {
            let mut sbm = vm.sbm.lock();
            if self.online {
                let rfc = sys.design().has(Switch::PageOfflineRefcountZero);
                set_fake_offline(sys.memmap(), self.s.start, self.vm.sb_pages, true, if rfc { -1 } else { 1 })?;
                NotifyCtx::adjust_managed_page_count(sys, -(self.vm.sb_pages as i64));
            }
            sbm.plugged[(self.s.block - vm.first_block) as usize] &= !(1 << self.s.idx);
            Ok(())
        })();
        vm.hotplug.unlock(HotplugHolder::Worker);
        r
    }
}

impl<F: FreePath> Drop for PreparedUnplug<'_, '_, F> {
    /// An unplug abandoned after its first half: the pages go back
    /// (`virtio_mem_fake_online` of pages that were never marked).
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if self.online {
            let _ = free_contig_range(self.cpu, self.s.start, self.vm.sb_pages);
        }
        self.vm.hotplug.unlock(HotplugHolder::Worker);
    }
}

/// `virtio_mem_set_fake_offline`: PageOffline on each page, PG_dirty when
/// the pages never went to buddy. `refs`: 1 = the page holds exactly the
/// driver's reference (set for never-onlined pages, kept for allocated
/// ones), 0 = set to none (RFC, never onlined), -1 = drop the driver's
/// reference (RFC, allocated pages: `page_ref_dec` after the type is set).
fn set_fake_offline(mm: &Memmap, start: Pfn, nr: u64, onlined: bool, refs: i32) -> Result<()> {
    for pfn in start..start + nr {
        let p = mm.pfn_to_page(pfn)?;
        if !onlined {
            p.SetPageDirty();
            set_page_count(p, refs.max(0));
        }
        p.__SetPageOffline();
        if onlined && refs < 0 {
            page_ref_dec(p);
        }
    }
    Ok(())
}

/// `virtio_mem_fake_online` of one subblock of an online block: clear
/// PageOffline and hand the pages to the allocator, managed += nr.
fn fake_online<F: FreePath>(cpu: &Cpu<'_, F>, start: Pfn, nr: u64) -> Result<()> {
    let sys = cpu.system();
    let mm = sys.memmap();
    let rfc = sys.design().has(Switch::PageOfflineRefcountZero);
    let never_onlined = mm.pfn_to_page(start)?.PageDirty();
    for pfn in start..start + nr {
        let p = mm.pfn_to_page(pfn)?;
        p.__ClearPageOffline();
        if never_onlined {
            p.ClearPageDirty();
            // __free_pages_core: the memmap-init reference goes away.
            set_page_count(p, 0);
        } else if rfc {
            // The RFC's driver holds no reference: take one to put.
            page_ref_inc(p);
        }
    }
    if never_onlined {
        // generic_online_page.
        NotifyCtx::free_to_buddy(sys, start, nr.trailing_zeros().min(mm.geometry().pageblock_order))?;
    } else {
        free_contig_range(cpu, start, nr)?;
    }
    NotifyCtx::adjust_managed_page_count(sys, nr as i64);
    Ok(())
}

impl MemoryNotifier for VirtioMem {
    fn name(&self) -> &str {
        &self.name
    }

    fn notify(&self, ctx: &dyn NotifyCtx, action: MemAction, arg: &MemoryNotify) -> std::result::Result<(), String> {
        let nr = arg.start_pfn / self.block_pages;
        if !self.owns_block(nr) {
            return Ok(());
        }
        match action {
            MemAction::GoingOnline => {
                if !arg.start_pfn.is_multiple_of(self.block_pages) {
                    return Err("Sub-Block Mode blocks cannot host their memmap (memmap_on_memory)".into());
                }
                self.hotplug.lock(HotplugHolder::Online(nr));
            }
            MemAction::Online | MemAction::CancelOnline => {
                self.hotplug.unlock(HotplugHolder::Online(nr));
            }
            MemAction::GoingOffline => self.going_offline(ctx, nr),
            MemAction::CancelOffline => self.cancel_offline(ctx, nr),
            MemAction::Offline => {
                // The memmap is about to be poisoned; the plugged bitmap
                // (the device's view) stays for the next online.
                self.sbm.lock().going_offline = None;
                self.hotplug.unlock(HotplugHolder::Offline(nr));
            }
        }
        Ok(())
    }

    fn online_page(&self, ctx: &dyn NotifyCtx, pfn: Pfn, order: u32) -> bool {
        if !self.owns_block(pfn / self.block_pages) {
            return false;
        }
        self.online_chunk(ctx, pfn, order);
        true
    }

    fn check_pages(&self, ctx: &dyn NotifyCtx, report: &mut dyn FnMut(&'static str, Option<Pfn>, String)) {
        // No online/offline can be in flight: the checker holds
        // mem_hotplug_lock, which both hold throughout.
        if let Some(h @ (HotplugHolder::Online(b) | HotplugHolder::Offline(b))) = self.hotplug.holder() {
            report("V5", Some(b * self.block_pages), format!("{}: hotplug_mutex still held by {h:?} after it ended", self.name));
        }
        let sbm = self.sbm.lock();
        if let Some(b) = sbm.going_offline {
            report("V5", Some(b * self.block_pages), format!("{}: offline window of block {b} never closed (no MEM_OFFLINE/CANCEL)", self.name));
        }
        for (i, &word) in sbm.plugged.iter().enumerate() {
            let nr = self.first_block + i as u64;
            if matches!(ctx.block_state(nr), Some(BlockState::Online | BlockState::GoingOffline)) {
                self.check_online_block(ctx, nr, word, report);
            }
        }
    }

    fn for_each_offline_page(&self, ctx: &dyn NotifyCtx, f: &mut dyn FnMut(Pfn)) {
        let sbm = self.sbm.lock();
        for (i, &word) in sbm.plugged.iter().enumerate() {
            let nr = self.first_block + i as u64;
            if !matches!(ctx.block_state(nr), Some(BlockState::Online | BlockState::GoingOffline)) {
                continue;
            }
            for idx in (0..self.sbs_per_mb).filter(|i| word >> i & 1 == 0) {
                let start = nr * self.block_pages + idx * self.sb_pages;
                (start..start + self.sb_pages).for_each(&mut *f);
            }
        }
    }
}
