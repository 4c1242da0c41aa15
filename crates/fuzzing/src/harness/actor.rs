//! One thread's view of the machine: the CPUs it acts for, what it holds
//! (allocations, speculative references, LRU-isolated pages, isolations,
//! contiguous ranges, pins, swap-cache entries, a pending soft offline or
//! virtio-mem unplug), and what every thread's targets resolve against
//! ([`Shared`]). The resolution helpers here are what `exec`'s arms use.
//!
//! Resolution rules: indices are taken modulo the population they index;
//! `block` names the blocks in the state an op needs, or, when there is
//! none, `block % max_sections` directly so the error path runs; a CPU
//! operand is taken modulo the CPUs (a thread of a concurrent scenario
//! always acts for its own CPU). Targets: `alloc:` any thread's live
//! allocations, `mapped:` the present mappings, `pfn:` the online pfns (any
//! pfn the memmap describes, for the hwpoison ops), `huge:` the hugetlb
//! folios of online memory in pfn order, `poisoned:` the pages the harness
//! poisoned and saw contained, `freed:` the last pages it freed,
//! `unplugging:` the subblock of a pending virtio-mem unplug.
//!
//! Invariants: a handle is held only while the core holds what it names
//! (an allocation's references, a pin, ...). Lock order: the std mutexes of
//! [`Shared`] are leaves, taken for a push or a copy; the actor holds no
//! core lock between ops except `mf_mutex` inside a pending soft offline
//! and virtio-mem's `hotplug_mutex` inside a pending unplug.

use super::drivers::DriverSet;
use super::lock;
use crate::ops::{Count, Op, Target};
use mm::hotplug::memory_block::BlockState;
use mm::page_alloc::FreePath;
use mm::system::{Cpu, System};
use mm::Pfn;
use std::sync::{Arc, Mutex as StdMutex};

/// What every thread's targets resolve against: the live allocations
/// (`alloc:`), the pages the harness poisoned (`poisoned:`), the most
/// recently freed pages (`freed:`, the last [`FREED_KEPT`]).
#[derive(Debug, Default)]
pub struct Shared {
    pub(super) allocs: StdMutex<Vec<(Pfn, u32)>>,
    pub(super) poisoned: StdMutex<Vec<Pfn>>,
    pub(super) freed: StdMutex<Vec<Pfn>>,
}

/// How many recently freed pfns `freed:` targets choose from.
pub const FREED_KEPT: usize = 16;

impl Shared {
    /// Note a page the harness just freed (newest last).
    pub(super) fn note_freed(&self, pfn: Pfn) {
        let mut f = lock(&self.freed);
        f.retain(|&p| p != pfn);
        if f.len() >= FREED_KEPT {
            f.remove(0);
        }
        f.push(pfn);
    }
}

#[derive(Debug, Clone)]
pub(super) struct Alloc {
    pub(super) pfn: Pfn,
    pub(super) order: u32,
    pub(super) refs: u32,
}

/// What one thread holds.
#[derive(Debug, Default)]
pub(super) struct Handles {
    pub(super) allocs: Vec<Alloc>,
    pub(super) specs: Vec<Pfn>,
    pub(super) lru: Vec<Pfn>,
    pub(super) isolations: Vec<(Pfn, Pfn)>,
    pub(super) contig: Vec<(Pfn, u64)>,
    pub(super) pins: Vec<Pfn>,
    pub(super) swap: Vec<Pfn>,
}

/// One thread's view: the CPUs it acts for and what it holds.
pub struct Actor<'s, F: FreePath> {
    pub(super) sys: &'s System<F>,
    pub(super) cpus: Vec<Option<Cpu<'s, F>>>,
    /// A thread of a concurrent scenario acts for this CPU only.
    pub(super) own_cpu: Option<usize>,
    pub(super) h: Handles,
    pub(super) shared: Arc<Shared>,
    pub(super) memmap_on_memory: bool,
    pub(super) drivers: Arc<DriverSet>,
    /// A soft offline begun by `soft_offline_begin` (holding `mf_mutex`)
    /// and the CPU it runs on.
    pub(super) soft: Option<(usize, mm::memory_failure::SoftOffline<'s, F>)>,
    /// A virtio-mem unplug begun by `vmem_unplug_begin` (pending in the
    /// device, `hotplug_mutex` held) and the CPU it runs on.
    pub(super) vmem_pending: Option<usize>,
}

impl<F: FreePath> Drop for Actor<'_, F> {
    /// A soft offline left half done would leave its page isolated and
    /// `mf_mutex` held: run it to its end (not while unwinding from a
    /// panic of the core, which is reported as such).
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.finish_soft_offline();
            self.finish_vmem_unplug();
        }
    }
}

/// Subblock operand of a virtio-mem op: the `sel`-th subblock in the
/// state the op needs (plugged for an unplug, unplugged for a plug), or,
/// when there is none, `sel` modulo the subblocks, so the error path runs.
pub(super) fn vmem_subblock(v: &mm::drivers::virtio_mem::VirtioMem, plugged: bool, sel: u16) -> u64 {
    let n = v.nr_subblocks().max(1);
    let want: Vec<u64> = (0..n).filter(|&sb| v.is_plugged(sb).unwrap_or(false) == plugged).collect();
    if want.is_empty() {
        sel as u64 % n
    } else {
        want[sel as usize % want.len()]
    }
}

pub(super) fn pick<T: Copy>(v: &[T], i: u8) -> Option<T> {
    (!v.is_empty()).then(|| v[i as usize % v.len()])
}

impl<'s, F: FreePath> Actor<'s, F> {
    /// An actor holding every CPU slot (the setup, a sequential run).
    pub fn all_cpus(sys: &'s System<F>, shared: Arc<Shared>, memmap_on_memory: bool, drivers: Arc<DriverSet>) -> mm::Result<Self> {
        let cpus = (0..sys.config().nr_cpus).map(|i| sys.cpu(i).map(Some)).collect::<mm::Result<Vec<_>>>()?;
        Ok(Actor { sys, cpus, own_cpu: None, h: Handles::default(), shared, memmap_on_memory, drivers, soft: None, vmem_pending: None })
    }

    /// An actor for one CPU (a thread of a concurrent scenario).
    #[cfg(feature = "shuttle")]
    pub fn one_cpu(sys: &'s System<F>, cpu: usize, shared: Arc<Shared>, memmap_on_memory: bool, drivers: Arc<DriverSet>) -> mm::Result<Self> {
        let mut cpus: Vec<Option<Cpu<'s, F>>> = (0..sys.config().nr_cpus).map(|_| None).collect();
        cpus[cpu] = Some(sys.cpu(cpu)?);
        Ok(Actor { sys, cpus, own_cpu: Some(cpu), h: Handles::default(), shared, memmap_on_memory, drivers, soft: None, vmem_pending: None })
    }

    /// Give up every CPU slot but `keep` and act for it only.
    #[cfg(feature = "shuttle")]
    pub fn keep_only(&mut self, keep: usize) {
        // The setup's pending operations end with the setup: they ran on
        // CPUs this actor is about to give to the threads.
        self.finish_soft_offline();
        self.finish_vmem_unplug();
        for (i, c) in self.cpus.iter_mut().enumerate() {
            if i != keep {
                *c = None;
            }
        }
        self.own_cpu = Some(keep);
    }

    pub(super) fn cpu_id(&self, op: &Op) -> usize {
        self.own_cpu.unwrap_or(op.cpu() as usize % self.cpus.len().max(1))
    }

    pub(super) fn cpu(&self, id: usize) -> &Cpu<'s, F> {
        self.cpus[id].as_ref().expect("an actor only names the CPUs it holds")
    }

    pub(super) fn blocks_in(&self, want: BlockState) -> Vec<u64> {
        (0..self.sys.config().max_sections as u64).filter(|&nr| self.sys.block_state(nr) == Ok(want)).collect()
    }

    pub(super) fn block_for(&self, want: BlockState, sel: u8) -> u64 {
        pick(&self.blocks_in(want), sel).unwrap_or(sel as u64 % self.sys.config().max_sections as u64)
    }

    /// Pageblocks `pb..pb+n` of an online block, clamped to the block.
    pub(super) fn pb_range(&self, block: u8, pb: u8, n: Count) -> Option<(Pfn, Pfn)> {
        let nr = pick(&self.blocks_in(BlockState::Online), block)?;
        let base = nr * self.sys.geometry().pages_per_section();
        let per = self.sys.geometry().pages_per_section() / self.sys.geometry().pageblock_nr_pages();
        let start = base + (pb as u64 % per) * self.sys.geometry().pageblock_nr_pages();
        let end = (start + n.0 as u64 * self.sys.geometry().pageblock_nr_pages()).min(base + self.sys.geometry().pages_per_section());
        Some((start, end))
    }

    /// The `k`-th online, non-vmemmap pfn (modulo their number).
    pub(super) fn online_pfn(&self, k: u32) -> Option<Pfn> {
        let ranges: Vec<(Pfn, u64)> = self
            .blocks_in(BlockState::Online)
            .into_iter()
            .map(|nr| {
                let vm = self.sys.memory_block(nr).map_or(0, |b| b.nr_vmemmap_pages() as u64);
                (nr * self.sys.geometry().pages_per_section() + vm, self.sys.geometry().pages_per_section() - vm)
            })
            .collect();
        let total: u64 = ranges.iter().map(|r| r.1).sum();
        if total == 0 {
            return None;
        }
        let mut k = k as u64 % total;
        for (s, n) in ranges {
            if k < n {
                return Some(s + k);
            }
            k -= n;
        }
        None
    }

    /// Is `pfn` a PageOffline page (a driver's)? A walker that got a
    /// reference on one drops it at once: it keeps references only on
    /// pages that were not PageOffline when it looked (the kernel's pfn
    /// walkers test the page type after `get_page_unless_zero`), so a held
    /// reference on a PageOffline page comes from a race, never from the
    /// harness holding one for many ops.
    pub(super) fn offline_page(&self, pfn: Pfn) -> bool {
        self.sys.pfn_to_page(pfn).is_ok_and(|p| p.PageOffline())
    }

    /// Is `pfn` flagged PG_hwpoison? Walkers drop such pages at once too.
    pub(super) fn poisoned_page(&self, pfn: Pfn) -> bool {
        self.sys.pfn_to_page(pfn).is_ok_and(|p| p.PageHWPoison())
    }

    /// Is `pfn` a user page: mapped at the vpn its owner tag names? (GUP
    /// and reclaim reach pages through the page table; an owner tag alone
    /// can be stale — a freed THP's tails keep theirs.)
    pub(super) fn user_page(&self, pfn: Pfn) -> bool {
        let vpn = self.sys.pfn_to_page(pfn).ok().and_then(|p| mm::pgtable::owner_vpn(p.owner()));
        vpn.is_some_and(|v| self.sys.maps(v, pfn))
    }

    /// A page for a speculative reference, a pin, ...
    pub(super) fn target(&self, t: Target) -> Option<Pfn> {
        match t {
            Target::Alloc { a, off } => {
                let all = lock(&self.shared.allocs).clone();
                pick(&all, a).map(|(p, o)| p + off as u64 % (1u64 << o))
            }
            Target::Mapped { m } => pick(&self.sys.user_mappings(), m).map(|(_, p)| p),
            Target::Pfn { pfn } => self.online_pfn(pfn),
            Target::Huge { h, off } => pick(&self.hugetlb_heads(), h).map(|head| head + off as u64 % self.sys.geometry().hpage_pmd_nr()),
            Target::Poisoned { p } => pick(&lock(&self.shared.poisoned), p),
            Target::Unplugging { off } => {
                let (start, n) = self.drivers.virtio_mem.as_ref()?.unplug_pending()?;
                Some(start + off as u64 % n)
            }
            Target::Freed { f } => {
                let freed = lock(&self.shared.freed);
                // freed:0 is the newest.
                (!freed.is_empty()).then(|| freed[freed.len() - 1 - f as usize % freed.len()])
            }
        }
    }

    /// Any pfn the memmap can describe (walkers read offline memory too).
    pub(super) fn any_pfn(&self, k: u32) -> Pfn {
        k as u64 % (self.sys.config().max_sections as u64 * self.sys.geometry().pages_per_section())
    }

    /// The first vpn of the `slot`-th PMD-aligned range.
    pub(super) fn pmd_slot(&self, slot: u8) -> Option<usize> {
        let n = self.sys.config().nr_vpages / self.sys.geometry().hpage_pmd_nr() as usize;
        (n > 0).then(|| (slot as usize % n) * self.sys.geometry().hpage_pmd_nr() as usize)
    }

    pub(super) fn drop_alloc_ref(&mut self, pfn: Pfn) {
        if let Some(i) = self.h.allocs.iter().position(|a| a.pfn == pfn) {
            self.h.allocs[i].refs -= 1;
            if self.h.allocs[i].refs == 0 {
                self.h.allocs.remove(i);
                let mut all = lock(&self.shared.allocs);
                if let Some(j) = all.iter().position(|&(p, _)| p == pfn) {
                    all.remove(j);
                }
                drop(all);
                self.shared.note_freed(pfn);
            }
        }
    }

    /// End of a sequential run: finish a pending soft offline and
    /// virtio-mem unplug, then drop every speculative reference held (as
    /// a walker's put, which reports a PageOffline page reaching the free
    /// path, V4).
    pub(super) fn quiesce(&mut self) {
        self.finish_soft_offline();
        self.finish_vmem_unplug();
        for pfn in std::mem::take(&mut self.h.specs) {
            let cpu = self.own_cpu.unwrap_or(0);
            let _ = mm::drivers::walker_put(self.cpu(cpu), pfn);
        }
    }

    /// Before this thread offlines block `nr`: a speculative reference it
    /// holds on a page of the block that is PageOffline or PG_hwpoison by
    /// now is let go (a walker's put). The kernel's premise for pfn walkers
    /// (seed 000's thread: "speculative references are immediately
    /// dropped"; `virtio_mem_fake_offline_going_offline`): they check what they got and drop such a page at
    /// once (`get_unless_zero` does so when the page already is one); a
    /// reference taken before the page became one (in virtio-mem's unplug
    /// window, before memory_failure) cannot still be held when an offline
    /// steps over the page (MEM_GOING_OFFLINE's reference drop, the skipped
    /// poisoned pages) — in one thread an op boundary is not a time bound.
    /// Likewise a page of the virtio-mem device's range while another
    /// thread's unplug holds the device's `hotplug_mutex` (found by `conc`):
    /// it may turn fake-offline while this offline waits for that mutex at
    /// MEM_GOING_OFFLINE, and the walker would have let go long before.
    /// Every other page a speculative reference keeps blocks the offline
    /// (it cannot be migrated), so nothing else needs letting go. The
    /// window itself (a walker preempted across the offline of another
    /// thread, the residual race that thread discusses) is `conc`'s to
    /// explore.
    pub(super) fn let_go_of_offline_pages(&mut self, cpu: usize, nr: u64) {
        let sys = self.sys;
        let unplugging = self.drivers.virtio_mem.as_ref().filter(|v| v.hotplug_holder() == Some(mm::drivers::virtio_mem::HotplugHolder::Worker)).and_then(|v| {
            let last = v.nr_subblocks().checked_sub(1)?;
            Some(v.sb_start(0).ok()?..v.sb_start(last).ok()? + sys.geometry().pageblock_nr_pages())
        });
        let offline_in_block = |pfn: Pfn| {
            pfn / sys.geometry().pages_per_section() == nr
                && (sys.pfn_to_page(pfn).is_ok_and(|p| p.PageOffline() || p.PageHWPoison()) || unplugging.as_ref().is_some_and(|r| r.contains(&pfn)))
        };
        let (go, keep): (Vec<Pfn>, Vec<Pfn>) = std::mem::take(&mut self.h.specs).into_iter().partition(|&pfn| offline_in_block(pfn));
        self.h.specs = keep;
        for pfn in go {
            let _ = mm::drivers::walker_put(self.cpu(cpu), pfn);
        }
    }

    /// Finish the virtio-mem unplug this thread left pending, if any.
    pub(super) fn finish_vmem_unplug(&mut self) -> Option<mm::Result<()>> {
        let cpu = self.vmem_pending.take()?;
        let v = self.drivers.virtio_mem.clone()?;
        Some(v.unplug_finish(self.cpu(cpu)))
    }

    /// The heads of the hugetlb folios of online memory, in pfn order
    /// (a folio is pageblock-sized and aligned: one look per pageblock).
    pub(super) fn hugetlb_heads(&self) -> Vec<Pfn> {
        let mut v = Vec::new();
        for nr in self.blocks_in(BlockState::Online) {
            let base = nr * self.sys.geometry().pages_per_section();
            for pfn in (base..base + self.sys.geometry().pages_per_section()).step_by(self.sys.geometry().pageblock_nr_pages() as usize) {
                if self.sys.pfn_to_page(pfn).is_ok_and(|p| p.PageHugetlb() && !p.PageTail()) {
                    v.push(pfn);
                }
            }
        }
        v
    }

    /// The page a hwpoison op names: a `pfn:` target is any pfn the memmap
    /// can describe (online, offline or absent: the pfn of a machine check
    /// or of the injection interface), the others resolve as usual.
    pub(super) fn hw_target(&self, t: Target) -> Option<Pfn> {
        match t {
            Target::Pfn { pfn } => Some(self.any_pfn(pfn)),
            t => self.target(t),
        }
    }

    pub(super) fn note_poisoned(&self, pfn: Pfn) {
        let mut p = lock(&self.shared.poisoned);
        if !p.contains(&pfn) {
            p.push(pfn);
        }
    }

    /// Run this thread's soft offline in progress, if any, to its end.
    pub(super) fn finish_soft_offline(&mut self) -> Option<mm::Result<()>> {
        let (c, mut so) = self.soft.take()?;
        let r = loop {
            if let Some(r) = so.step(self.cpu(c)) {
                break r;
            }
        };
        if r.is_ok() {
            self.note_poisoned(so.pfn());
        }
        Some(r)
    }
}
