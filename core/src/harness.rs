//! The fuzz harness: applies [`Op`]s to a real [`System`], checks it after
//! every sequential op (invariant checker + the reference [`Model`]), runs
//! concurrent scenarios under shuttle with the [`crate::sched_fuzz`]
//! scheduler, and turns fuzz bytes into [`Scenario`]s.
//!
//! Entry points:
//! * [`run`]: run a scenario (any design, any build) and return an
//!   [`Outcome`] — the op trace, the violations, the dumps of the pages
//!   involved. A concurrent scenario in the default build is *skipped*
//!   (it needs `--features shuttle`).
//! * [`fuzz_seq`], [`fuzz_conc`], [`fuzz_scenario`]: the bodies of the
//!   three libFuzzer targets (`fuzz/fuzz_targets/*.rs` are one-liners over
//!   them). They panic on a finding with the input printed as a scenario
//!   and its trace. The design under test comes from the campaign, never
//!   from the bytes: `PAGELAB_BUG=<bug id>` selects the registry entry's
//!   variant ([`campaign`]); unset (or `fixed`) is the landed design.
//! * [`seq_input`], [`conc_input`]: raw fuzz bytes as a scenario
//!   (`pagelab fmt`).
//!
//! Operand resolution (what makes most inputs meaningful): indices are
//! taken modulo the population they index — `a` the live allocations of
//! the acting thread (`get_unless_zero alloc:` targets every thread's), `m`
//! the present mappings (vpn order), `s`/`i` the thread's held speculative
//! references / LRU-isolated pages / isolations / contiguous ranges;
//! `block` indexes the blocks in the state the op needs (offline blocks for
//! `online`, online ones for `offline`, absent ones for `add_memory`, ...),
//! `sb` the virtio-mem subblocks likewise (unplugged ones for a plug,
//! plugged ones for an unplug)
//! and, when there is none, names block `block % max_sections` directly so
//! the error path runs; a CPU operand is taken modulo the CPUs (a thread
//! of a concurrent scenario always acts for its own CPU). Targets:
//! `alloc:` any thread's live allocations, `mapped:` the present mappings,
//! `pfn:` the online pfns, `huge:` the hugetlb folios, `poisoned:` the
//! pages the harness poisoned, `freed:` the last pages it freed. An op
//! with nothing to act on is skipped without calling the core. The
//! hwpoison and hugetlb ops live in `harness/hwpoison.rs` (their
//! resolution rules are in its doc).
//!
//! Harness violation ids (next to the checker's): `MODEL` the reference
//! model disagrees with the core, `OPERR` an operation on a handle the
//! harness holds failed, `PANIC` the core panicked.
//!
//! Invariants: a run is a deterministic function of its scenario (std
//! build: no threads; shuttle build: the schedule decides everything), so
//! [`Outcome::fingerprint`] is equal for two runs of one scenario. Lock
//! order: the harness holds no core lock across calls; its own std mutexes
//! (trace, published allocations) are leaves taken for a push or a copy.

use crate::check::Violation;
use crate::design::{Switch, FREE_PATHS};
use crate::memory_block::BlockState;
use crate::migrate::MigrateReason;
use crate::model::{Expect, Model, Resolved};
use crate::ops::{Applied, Count, Op, OpResult, Order, Target};
use crate::page_alloc::{FreePath, Landed};
use crate::page_isolation::IsolFlags;
use crate::pageblock::MigrateType;
use crate::scenario::{ScConfig, Scenario, StepPreempt, Verdict};
use crate::system::{Cpu, System};
use crate::{Pfn, PAGEBLOCK_NR_PAGES, PAGES_PER_SECTION};
use arbitrary::{Arbitrary, Unstructured};
use std::fmt;
use std::sync::{Arc, Mutex as StdMutex};

mod hwpoison;

/// Largest op counts a fuzz input is cut to.
pub const MAX_SEQ_OPS: usize = 64;
pub const MAX_SETUP_OPS: usize = 12;
pub const MAX_THREAD_OPS: usize = 6;
pub const MAX_PREEMPTIONS: usize = 6;
/// Scheduling steps after which a concurrent run fails as a livelock
/// (the checker's walk of two sections takes a few hundred thousand).
pub const MAX_STEPS: usize = 20_000_000;

fn lock<T>(m: &StdMutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One executed op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceLine {
    /// None: the setup; Some(n): thread Tn.
    pub thread: Option<usize>,
    /// Index in its list.
    pub index: usize,
    pub op: Op,
    pub applied: Applied,
    /// The model's prediction, when it made one.
    pub expect: Option<String>,
}

impl fmt::Display for TraceLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = match self.thread {
            None => "setup".to_string(),
            Some(t) => format!("T{t}"),
        };
        write!(f, "{who:>5} #{:<3} {:<40} {}", self.index, self.op.to_text(), self.applied)
    }
}

/// What a run did and found.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub trace: Vec<TraceLine>,
    /// At the first failing sequential step, or at the end of a concurrent run.
    pub violations: Vec<Violation>,
    /// Where the violations were found ("setup #3", "end").
    pub at: Option<String>,
    /// The setup op whose check failed (None: the end of a concurrent run).
    pub fail_step: Option<usize>,
    /// `Page::dump` of the pages the violations name.
    pub dumps: Vec<String>,
    /// Why the scenario did not run in this build.
    pub skipped: Option<String>,
    /// Why the machine could not be built.
    pub error: Option<String>,
    /// Scheduling statistics (concurrent runs): choice points, decisions.
    pub choice_points: u32,
    pub decisions: u64,
    /// The preemptions taken, in words (concurrent runs).
    pub preemptions: Vec<String>,
}

impl Outcome {
    #[cfg_attr(feature = "shuttle", allow(dead_code))]
    fn skipped(why: impl Into<String>) -> Outcome {
        Outcome { skipped: Some(why.into()), ..Outcome::default() }
    }

    /// The verdict: ok, or the first violation's id.
    pub fn verdict(&self) -> Verdict {
        match self.violations.first() {
            None => Verdict::Ok,
            Some(v) => Verdict::Violation(v.id.to_string()),
        }
    }

    /// Does this outcome satisfy `expect`? (A violation is expected if any
    /// reported violation has its id.)
    pub fn satisfies(&self, expect: &Verdict) -> bool {
        if self.skipped.is_some() || self.error.is_some() {
            return false;
        }
        match expect {
            Verdict::Ok => self.violations.is_empty(),
            Verdict::Violation(id) => self.violations.iter().any(|v| v.id == id),
        }
    }

    /// A hash of everything observable (trace, violations, dumps).
    pub fn fingerprint(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |s: &str| {
            for b in s.bytes() {
                h ^= b as u64;
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
            h ^= 0xff;
        };
        for t in &self.trace {
            eat(&t.to_string());
        }
        for v in &self.violations {
            eat(&v.to_string());
        }
        for d in &self.dumps {
            eat(d);
        }
        for p in &self.preemptions {
            eat(p);
        }
        eat(&format!("{:?}{:?}{:?}{}", self.at, self.skipped, self.error, self.choice_points));
        h
    }

    /// The ids of the violations, deduplicated, in order.
    pub fn ids(&self) -> Vec<&'static str> {
        let mut v: Vec<&'static str> = Vec::new();
        for x in &self.violations {
            if !v.contains(&x.id) {
                v.push(x.id);
            }
        }
        v
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(s) = &self.skipped {
            return writeln!(f, "skipped: {s}");
        }
        if let Some(e) = &self.error {
            return writeln!(f, "error: {e}");
        }
        for t in &self.trace {
            writeln!(f, "{t}")?;
            if let Some(e) = &t.expect {
                writeln!(f, "{:>12}model expected {e}", "")?;
            }
        }
        for p in &self.preemptions {
            writeln!(f, "preempted: {p}")?;
        }
        if self.violations.is_empty() {
            writeln!(f, "no violation")?;
        } else {
            writeln!(f, "{} violation(s) at {}:", self.violations.len(), self.at.as_deref().unwrap_or("?"))?;
            for v in self.violations.iter().take(20) {
                writeln!(f, "  {v}")?;
            }
            if self.violations.len() > 20 {
                writeln!(f, "  ... and {} more", self.violations.len() - 20)?;
            }
            for d in &self.dumps {
                writeln!(f, "  page: {d}")?;
            }
        }
        Ok(())
    }
}

/// The drivers a scenario registers at boot (`drivers=` in its config).
#[derive(Default)]
pub struct DriverSet {
    pub virtio_mem: Option<Arc<crate::drivers::virtio_mem::VirtioMem>>,
    pub cmm: Option<Arc<crate::drivers::cmm::Cmm>>,
    pub hv_balloon: Option<Arc<crate::drivers::hv_balloon::HvBalloon>>,
}

impl DriverSet {
    /// Create and register the configured drivers (virtio-mem over the
    /// blocks above the boot memory).
    pub fn boot<F: FreePath>(sys: &System<F>, c: &ScConfig) -> Arc<DriverSet> {
        let mut d = DriverSet::default();
        let hot = c.max_sections as u64 - c.boot_sections;
        if c.virtio_mem && hot > 0 {
            let v = Arc::new(crate::drivers::virtio_mem::VirtioMem::new(c.boot_sections, hot));
            sys.register_memory_notifier(v.clone());
            d.virtio_mem = Some(v);
        }
        if c.cmm {
            let v = Arc::new(crate::drivers::cmm::Cmm::new());
            sys.register_memory_notifier(v.clone());
            d.cmm = Some(v);
        }
        if c.hv_balloon {
            let v = Arc::new(crate::drivers::hv_balloon::HvBalloon::new());
            sys.register_memory_notifier(v.clone());
            d.hv_balloon = Some(v);
        }
        Arc::new(d)
    }
}

/// What every thread's targets resolve against: the live allocations
/// (`alloc:`), the pages the harness poisoned (`poisoned:`), the most
/// recently freed pages (`freed:`, the last [`FREED_KEPT`]).
#[derive(Debug, Default)]
pub struct Shared {
    allocs: StdMutex<Vec<(Pfn, u32)>>,
    poisoned: StdMutex<Vec<Pfn>>,
    freed: StdMutex<Vec<Pfn>>,
}

/// How many recently freed pfns `freed:` targets choose from.
pub const FREED_KEPT: usize = 16;

impl Shared {
    /// Note a page the harness just freed (newest last).
    fn note_freed(&self, pfn: Pfn) {
        let mut f = lock(&self.freed);
        f.retain(|&p| p != pfn);
        if f.len() >= FREED_KEPT {
            f.remove(0);
        }
        f.push(pfn);
    }
}

#[derive(Debug, Clone)]
struct Alloc {
    pfn: Pfn,
    order: u32,
    refs: u32,
}

/// What one thread holds.
#[derive(Debug, Default)]
struct Handles {
    allocs: Vec<Alloc>,
    specs: Vec<Pfn>,
    lru: Vec<Pfn>,
    isolations: Vec<(Pfn, Pfn)>,
    contig: Vec<(Pfn, u64)>,
    pins: Vec<Pfn>,
    swap: Vec<Pfn>,
}

/// One thread's view: the CPUs it acts for and what it holds.
pub struct Actor<'s, F: FreePath> {
    sys: &'s System<F>,
    cpus: Vec<Option<Cpu<'s, F>>>,
    /// A thread of a concurrent scenario acts for this CPU only.
    own_cpu: Option<usize>,
    h: Handles,
    shared: Arc<Shared>,
    memmap_on_memory: bool,
    drivers: Arc<DriverSet>,
    /// A soft offline begun by `soft_offline_begin` (holding `mf_mutex`)
    /// and the CPU it runs on.
    soft: Option<(usize, crate::memory_failure::SoftOffline<'s, F>)>,
    /// A virtio-mem unplug begun by `vmem_unplug_begin` (pending in the
    /// device, `hotplug_mutex` held) and the CPU it runs on.
    vmem_pending: Option<usize>,
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
fn vmem_subblock(v: &crate::drivers::virtio_mem::VirtioMem, plugged: bool, sel: u16) -> u64 {
    let n = v.nr_subblocks().max(1);
    let want: Vec<u64> = (0..n).filter(|&sb| v.is_plugged(sb).unwrap_or(false) == plugged).collect();
    if want.is_empty() {
        sel as u64 % n
    } else {
        want[sel as usize % want.len()]
    }
}

fn pick<T: Copy>(v: &[T], i: u8) -> Option<T> {
    (!v.is_empty()).then(|| v[i as usize % v.len()])
}

impl<'s, F: FreePath> Actor<'s, F> {
    /// An actor holding every CPU slot (the setup, a sequential run).
    pub fn all_cpus(sys: &'s System<F>, shared: Arc<Shared>, memmap_on_memory: bool, drivers: Arc<DriverSet>) -> crate::Result<Self> {
        let cpus = (0..sys.config().nr_cpus).map(|i| sys.cpu(i).map(Some)).collect::<crate::Result<Vec<_>>>()?;
        Ok(Actor { sys, cpus, own_cpu: None, h: Handles::default(), shared, memmap_on_memory, drivers, soft: None, vmem_pending: None })
    }

    /// An actor for one CPU (a thread of a concurrent scenario).
    pub fn one_cpu(sys: &'s System<F>, cpu: usize, shared: Arc<Shared>, memmap_on_memory: bool, drivers: Arc<DriverSet>) -> crate::Result<Self> {
        let mut cpus: Vec<Option<Cpu<'s, F>>> = (0..sys.config().nr_cpus).map(|_| None).collect();
        cpus[cpu] = Some(sys.cpu(cpu)?);
        Ok(Actor { sys, cpus, own_cpu: Some(cpu), h: Handles::default(), shared, memmap_on_memory, drivers, soft: None, vmem_pending: None })
    }

    /// Give up every CPU slot but `keep` and act for it only.
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

    fn cpu_id(&self, op: &Op) -> usize {
        self.own_cpu.unwrap_or(op.cpu() as usize % self.cpus.len().max(1))
    }

    fn cpu(&self, id: usize) -> &Cpu<'s, F> {
        self.cpus[id].as_ref().expect("an actor only names the CPUs it holds")
    }

    fn blocks_in(&self, want: BlockState) -> Vec<u64> {
        (0..self.sys.config().max_sections as u64).filter(|&nr| self.sys.block_state(nr) == Ok(want)).collect()
    }

    fn block_for(&self, want: BlockState, sel: u8) -> u64 {
        pick(&self.blocks_in(want), sel).unwrap_or(sel as u64 % self.sys.config().max_sections as u64)
    }

    /// Pageblocks `pb..pb+n` of an online block, clamped to the block.
    fn pb_range(&self, block: u8, pb: u8, n: Count) -> Option<(Pfn, Pfn)> {
        let nr = pick(&self.blocks_in(BlockState::Online), block)?;
        let base = nr * PAGES_PER_SECTION;
        let per = PAGES_PER_SECTION / PAGEBLOCK_NR_PAGES;
        let start = base + (pb as u64 % per) * PAGEBLOCK_NR_PAGES;
        let end = (start + n.0 as u64 * PAGEBLOCK_NR_PAGES).min(base + PAGES_PER_SECTION);
        Some((start, end))
    }

    /// The `k`-th online, non-vmemmap pfn (modulo their number).
    fn online_pfn(&self, k: u32) -> Option<Pfn> {
        let ranges: Vec<(Pfn, u64)> = self
            .blocks_in(BlockState::Online)
            .into_iter()
            .map(|nr| {
                let vm = self.sys.memory_block(nr).map_or(0, |b| b.nr_vmemmap_pages() as u64);
                (nr * PAGES_PER_SECTION + vm, PAGES_PER_SECTION - vm)
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

    /// Resolve `op`'s operands against the current state.
    pub fn resolve(&self, op: &Op) -> Resolved {
        let cpu = self.cpu_id(op);
        let alloc = |a: u8| pick(&self.h.allocs.iter().map(|x| (x.pfn, x.order)).collect::<Vec<_>>(), a);
        let maps = || self.sys.user_mappings();
        match *op {
            Op::Alloc { order: Order(o), mt, .. } => Resolved::Alloc { cpu, order: o as u32, mt: mt.migratetype() },
            Op::Free { a, .. } => match alloc(a) {
                Some((pfn, order)) => Resolved::Free { cpu, pfn, order },
                None => Resolved::Skip("no live allocation"),
            },
            Op::Get { a, .. } => alloc(a).map_or(Resolved::Skip("no live allocation"), |(pfn, _)| Resolved::Get { cpu, pfn }),
            Op::Put { a, .. } => alloc(a).map_or(Resolved::Skip("no live allocation"), |(pfn, _)| Resolved::Put { cpu, pfn }),
            Op::GetUnlessZero { target, .. } => self.target(target).map_or(Resolved::Skip("no target page"), |pfn| Resolved::GetUnlessZero { cpu, pfn }),
            Op::PutSpec { s, .. } => pick(&self.h.specs, s).map_or(Resolved::Skip("no speculative reference held"), |pfn| Resolved::PutSpec { cpu, pfn }),
            Op::Fault { vpn, .. } => Resolved::Fault { cpu, vpn: vpn as usize % self.sys.config().nr_vpages.max(1) },
            Op::Unmap { m, .. } => pick(&maps(), m).map_or(Resolved::Skip("nothing mapped"), |(vpn, pfn)| Resolved::Unmap { cpu, vpn, pfn }),
            Op::IsolateLru { m, .. } => {
                pick(&maps(), m).map_or(Resolved::Skip("nothing mapped"), |(vpn, pfn)| Resolved::IsolateLru { cpu, vpn, pfn })
            }
            Op::Migrate { i, .. } => pick(&self.h.lru, i).map_or(Resolved::Skip("no LRU-isolated page held"), |pfn| Resolved::Migrate { cpu, pfn }),
            Op::Putback { i, .. } => pick(&self.h.lru, i).map_or(Resolved::Skip("no LRU-isolated page held"), |pfn| Resolved::Putback { cpu, pfn }),
            Op::DrainLocal { .. } => Resolved::DrainLocal { cpu },
            Op::DrainAll {} => Resolved::DrainAll,
            Op::IsolateRange { block, pb, n } => {
                self.pb_range(block, pb, n).map_or(Resolved::Skip("no online block"), |(start, end)| Resolved::IsolateRange { start, end })
            }
            Op::UndoIsolate { i } => pick(&self.h.isolations, i).map_or(Resolved::Skip("no isolation held"), |(start, end)| Resolved::UndoIsolate { start, end }),
            Op::TestIsolated { i } => {
                pick(&self.h.isolations, i).map_or(Resolved::Skip("no isolation held"), |(start, end)| Resolved::TestIsolated { start, end })
            }
            Op::Online { block } => Resolved::Online { nr: self.block_for(BlockState::Offline, block) },
            Op::Offline { block, .. } => Resolved::Offline { cpu, nr: self.block_for(BlockState::Online, block) },
            Op::AddMemory { block, memmap_on_memory } => Resolved::AddMemory {
                nr: self.block_for(BlockState::Removed, block),
                memmap_on_memory: memmap_on_memory && self.memmap_on_memory,
            },
            Op::AddMemoryFailing { block, memmap_on_memory } => Resolved::AddMemoryFailing {
                nr: self.block_for(BlockState::Removed, block),
                memmap_on_memory: memmap_on_memory && self.memmap_on_memory,
            },
            Op::RemoveMemory { block } => Resolved::RemoveMemory { nr: self.block_for(BlockState::Offline, block) },
            Op::AllocContig { block, pb, n, .. } => {
                self.pb_range(block, pb, n).map_or(Resolved::Skip("no online block"), |(start, end)| Resolved::AllocContig { cpu, start, end })
            }
            Op::FreeContig { i, .. } => {
                pick(&self.h.contig, i).map_or(Resolved::Skip("no contiguous range held"), |(start, nr)| Resolved::FreeContig { cpu, start, nr })
            }
            Op::ThpFault { slot, .. } => self.pmd_slot(slot).map_or(Resolved::Skip("the address space is smaller than a PMD"), |vpn| Resolved::ThpFault { cpu, vpn }),
            Op::ThpSplitPmd { slot, .. } => {
                self.pmd_slot(slot).map_or(Resolved::Skip("the address space is smaller than a PMD"), |vpn| Resolved::ThpSplitPmd { cpu, vpn })
            }
            Op::ThpZap { slot, .. } => self.pmd_slot(slot).map_or(Resolved::Skip("the address space is smaller than a PMD"), |vpn| Resolved::ThpZap { cpu, vpn }),
            Op::Pin { target, .. } => self.target(target).map_or(Resolved::Skip("no target page"), |pfn| Resolved::Pin { cpu, pfn }),
            Op::Unpin { i, .. } => pick(&self.h.pins, i).map_or(Resolved::Skip("no pin held"), |pfn| Resolved::Unpin { cpu, pfn }),
            Op::SwapcacheAdd { target, .. } => self.target(target).map_or(Resolved::Skip("no target page"), |pfn| Resolved::SwapcacheAdd { cpu, pfn }),
            Op::SwapcacheDel { i, .. } => pick(&self.h.swap, i).map_or(Resolved::Skip("no swap-cache entry held"), |pfn| Resolved::SwapcacheDel { cpu, pfn }),
            Op::SplitFolio { target, .. } => self.target(target).map_or(Resolved::Skip("no target page"), |pfn| Resolved::SplitFolio { cpu, pfn }),
            Op::Compact { block, pb, n, .. } => {
                self.pb_range(block, pb, n).map_or(Resolved::Skip("no online block"), |(start, end)| Resolved::Compact { cpu, start, end })
            }
            Op::CompactAt { target, .. } => match self.target(target) {
                Some(pfn) if self.sys.memmap().pfn_to_online_page(pfn).is_ok() => {
                    let start = pfn & !(PAGEBLOCK_NR_PAGES - 1);
                    Resolved::Compact { cpu, start, end: start + PAGEBLOCK_NR_PAGES }
                }
                Some(_) => Resolved::Skip("the target page is not online"),
                None => Resolved::Skip("no target page"),
            },
            Op::WalkGet { target, .. } => self.target(target).map_or(Resolved::Skip("no target page"), |pfn| Resolved::WalkGet { cpu, pfn }),
            Op::WalkPut { s, .. } => pick(&self.h.specs, s).map_or(Resolved::Skip("no speculative reference held"), |pfn| Resolved::WalkPut { cpu, pfn }),
            Op::Kpageflags { pfn } => Resolved::Kpageflags { pfn: self.any_pfn(pfn) },
            Op::DumpRead { pfn } => Resolved::DumpRead { pfn: self.any_pfn(pfn) },
            Op::ValidZones { block } => Resolved::ValidZones { nr: block as u64 % self.sys.config().max_sections as u64 },
            Op::VmemPlug { sb, .. } => match &self.drivers.virtio_mem {
                Some(v) => Resolved::VmemPlug { cpu, sb: vmem_subblock(v, false, sb) },
                None => Resolved::Skip("no virtio-mem device (config drivers=virtio_mem)"),
            },
            Op::VmemUnplug { sb, .. } => match &self.drivers.virtio_mem {
                Some(v) => Resolved::VmemUnplug { cpu, sb: vmem_subblock(v, true, sb) },
                None => Resolved::Skip("no virtio-mem device (config drivers=virtio_mem)"),
            },
            Op::VmemUnplugBegin { sb, .. } => match &self.drivers.virtio_mem {
                Some(v) => Resolved::VmemUnplugBegin { cpu, sb: vmem_subblock(v, true, sb) },
                None => Resolved::Skip("no virtio-mem device (config drivers=virtio_mem)"),
            },
            Op::VmemUnplugFinish {} => match self.vmem_pending {
                Some(cpu) => Resolved::VmemUnplugFinish { cpu },
                None => Resolved::Skip("no virtio-mem unplug pending on this thread"),
            },
            Op::CmmInflate { n, .. } if self.drivers.cmm.is_some() => Resolved::CmmInflate { cpu, n: n as usize },
            Op::CmmDeflate { n, .. } if self.drivers.cmm.is_some() => Resolved::CmmDeflate { cpu, n: n as usize },
            Op::HvInflate { n, .. } if self.drivers.hv_balloon.is_some() => Resolved::HvInflate { cpu, n: n as usize },
            Op::HvDeflate { n, .. } if self.drivers.hv_balloon.is_some() => Resolved::HvDeflate { cpu, n: n as usize },
            Op::CmmInflate { .. } | Op::CmmDeflate { .. } => Resolved::Skip("no CMM balloon (config drivers=cmm)"),
            Op::HvInflate { .. } | Op::HvDeflate { .. } => Resolved::Skip("no Hyper-V balloon (config drivers=hv_balloon)"),
            Op::MemoryFailure { .. }
            | Op::SoftOffline { .. }
            | Op::Unpoison { .. }
            | Op::HugetlbPool { .. }
            | Op::HugetlbReserve { .. }
            | Op::HugetlbUnreserve { .. }
            | Op::HugetlbFault {}
            | Op::HugetlbFree { .. }
            | Op::Dissolve { .. }
            | Op::SoftOfflineBegin { .. }
            | Op::SoftOfflineStep { .. } => self.resolve_hw(op, cpu),
        }
    }

    /// Is `pfn` a PageOffline page (a driver's)? A walker that got a
    /// reference on one drops it at once: it keeps references only on
    /// pages that were not PageOffline when it looked (the kernel's pfn
    /// walkers test the page type after `get_page_unless_zero`), so a held
    /// reference on a PageOffline page comes from a race, never from the
    /// harness holding one for many ops.
    fn offline_page(&self, pfn: Pfn) -> bool {
        self.sys.pfn_to_page(pfn).is_ok_and(|p| p.PageOffline())
    }

    /// Is `pfn` flagged PG_hwpoison? Walkers drop such pages at once too.
    fn poisoned_page(&self, pfn: Pfn) -> bool {
        self.sys.pfn_to_page(pfn).is_ok_and(|p| p.PageHWPoison())
    }

    /// Is `pfn` a user page: mapped at the vpn its owner tag names? (GUP
    /// and reclaim reach pages through the page table; an owner tag alone
    /// can be stale — a freed THP's tails keep theirs.)
    fn user_page(&self, pfn: Pfn) -> bool {
        let vpn = self.sys.pfn_to_page(pfn).ok().and_then(|p| crate::memory::owner_vpn(p.owner()));
        vpn.is_some_and(|v| self.sys.maps(v, pfn))
    }

    /// A page for a speculative reference, a pin, ...
    fn target(&self, t: Target) -> Option<Pfn> {
        match t {
            Target::Alloc { a, off } => {
                let all = lock(&self.shared.allocs).clone();
                pick(&all, a).map(|(p, o)| p + off as u64 % (1u64 << o))
            }
            Target::Mapped { m } => pick(&self.sys.user_mappings(), m).map(|(_, p)| p),
            Target::Pfn { pfn } => self.online_pfn(pfn),
            Target::Huge { h, off } => pick(&self.hugetlb_heads(), h).map(|head| head + off as u64 % crate::hugetlb::HUGETLB_NR_PAGES),
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
    fn any_pfn(&self, k: u32) -> Pfn {
        k as u64 % (self.sys.config().max_sections as u64 * PAGES_PER_SECTION)
    }

    /// The first vpn of the `slot`-th PMD-aligned range.
    fn pmd_slot(&self, slot: u8) -> Option<usize> {
        let n = self.sys.config().nr_vpages / crate::folio::HPAGE_PMD_NR as usize;
        (n > 0).then(|| (slot as usize % n) * crate::folio::HPAGE_PMD_NR as usize)
    }

    fn drop_alloc_ref(&mut self, pfn: Pfn) {
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
    fn quiesce(&mut self) {
        self.finish_soft_offline();
        self.finish_vmem_unplug();
        for pfn in std::mem::take(&mut self.h.specs) {
            let cpu = self.own_cpu.unwrap_or(0);
            let _ = crate::drivers::walker_put(self.cpu(cpu), pfn);
        }
    }

    /// Before this thread offlines block `nr`: a speculative reference it
    /// holds on a page of the block that is PageOffline or PG_hwpoison by
    /// now is let go (a walker's put). The kernel's premise for pfn walkers
    /// (research A.19): they check what they got and drop such a page at
    /// once (`get_unless_zero` does so when the page already is one); a
    /// reference taken before the page became one (in virtio-mem's unplug
    /// window, before memory_failure) cannot still be held when an offline
    /// steps over the page (MEM_GOING_OFFLINE's reference drop, the skipped
    /// poisoned pages) — in one thread an op boundary is not a time bound.
    /// Every other page a speculative reference keeps blocks the offline
    /// (it cannot be migrated), so nothing else needs letting go. The
    /// window itself (a walker preempted across the offline of another
    /// thread, the residual race of A.19) is `conc`'s to explore.
    fn let_go_of_offline_pages(&mut self, cpu: usize, nr: u64) {
        let sys = self.sys;
        let offline_in_block = |pfn: Pfn| pfn / PAGES_PER_SECTION == nr && sys.pfn_to_page(pfn).is_ok_and(|p| p.PageOffline() || p.PageHWPoison());
        let (go, keep): (Vec<Pfn>, Vec<Pfn>) = std::mem::take(&mut self.h.specs).into_iter().partition(|&pfn| offline_in_block(pfn));
        self.h.specs = keep;
        for pfn in go {
            let _ = crate::drivers::walker_put(self.cpu(cpu), pfn);
        }
    }

    /// Finish the virtio-mem unplug this thread left pending, if any.
    fn finish_vmem_unplug(&mut self) -> Option<crate::Result<()>> {
        let cpu = self.vmem_pending.take()?;
        let v = self.drivers.virtio_mem.clone()?;
        Some(v.unplug_finish(self.cpu(cpu)))
    }

    /// Run a resolved op; returns its result and whether a failure is a
    /// harness-level violation (an op on a held handle must succeed).
    pub fn exec(&mut self, r: &Resolved) -> (OpResult, bool) {
        use OpResult as R;
        let sys = self.sys;
        let mm = sys.memmap();
        let e = |x: crate::Error| R::Err(x.to_string());
        let flags = IsolFlags { memory_offline: false, hwpoison_unmovable: false, hwpoison_skip_held: false };
        if matches!(
            r,
            Resolved::VmemPlug { .. }
                | Resolved::VmemUnplug { .. }
                | Resolved::VmemUnplugBegin { .. }
                | Resolved::Online { .. }
                | Resolved::Offline { .. }
                | Resolved::AddMemory { .. }
                | Resolved::AddMemoryFailing { .. }
                | Resolved::RemoveMemory { .. }
        ) {
            // These may take virtio-mem's hotplug_mutex (directly or from
            // the memory notifier), which a pending unplug holds.
            self.finish_vmem_unplug();
        }
        match *r {
            Resolved::Alloc { cpu, order, mt } => match self.cpu(cpu).alloc_pages(order, mt) {
                Ok(pfn) => {
                    self.h.allocs.push(Alloc { pfn, order, refs: 1 });
                    lock(&self.shared.allocs).push((pfn, order));
                    (R::Pfn(pfn), false)
                }
                Err(x) => (e(x), false),
            },
            Resolved::Free { cpu, pfn, order } => match self.cpu(cpu).free_pages(pfn, order) {
                Ok(()) => {
                    self.drop_alloc_ref(pfn);
                    (R::Ok, false)
                }
                Err(x) => (e(x), true),
            },
            Resolved::Get { cpu, pfn } => match self.cpu(cpu).get_page(pfn) {
                Ok(()) => {
                    if let Some(a) = self.h.allocs.iter_mut().find(|a| a.pfn == pfn) {
                        a.refs += 1;
                    }
                    (R::Ok, false)
                }
                Err(x) => (e(x), true),
            },
            Resolved::Put { cpu, pfn } => match self.cpu(cpu).put_page(pfn) {
                Ok(()) => {
                    self.drop_alloc_ref(pfn);
                    (R::Ok, false)
                }
                Err(x) => (e(x), true),
            },
            Resolved::GetUnlessZero { cpu, pfn } => match self.cpu(cpu).get_page_unless_zero(pfn) {
                Ok(true) if self.offline_page(pfn) || self.poisoned_page(pfn) => {
                    // A pfn walker checks what it got and lets go of pages
                    // that are not its business: a PageOffline page
                    // belongs to its driver, a PG_hwpoison one to
                    // memory_failure (which keeps it at refcount 1, H2).
                    match self.cpu(cpu).put_page(pfn) {
                        Ok(()) => (R::Text("true, dropped at once (PageOffline or PG_hwpoison)".into()), false),
                        Err(x) => (e(x), true),
                    }
                }
                Ok(true) => {
                    self.h.specs.push(pfn);
                    (R::Bool(true), false)
                }
                Ok(false) => (R::Bool(false), false),
                Err(x) => (e(x), false),
            },
            Resolved::PutSpec { cpu, pfn } => {
                if let Some(i) = self.h.specs.iter().position(|&p| p == pfn) {
                    self.h.specs.remove(i);
                }
                match self.cpu(cpu).put_page(pfn) {
                    Ok(()) => (R::Ok, false),
                    Err(x) => (e(x), true),
                }
            }
            Resolved::Fault { cpu, vpn } => match self.cpu(cpu).fault(vpn) {
                Ok(p) => (R::Pfn(p), false),
                Err(x) => (e(x), false),
            },
            Resolved::Unmap { cpu, vpn, .. } => match self.cpu(cpu).unmap(vpn) {
                Ok(Some(p)) => {
                    self.shared.note_freed(p);
                    (R::Pfn(p), false)
                }
                Ok(None) => (R::None, false),
                Err(x) => (e(x), false),
            },
            Resolved::IsolateLru { cpu, pfn, .. } => {
                let c = self.cpu(cpu);
                match c.get_page_unless_zero(pfn) {
                    Ok(true) => {
                        let isolated = c.isolate_lru_page(pfn);
                        let put = c.put_page(pfn);
                        if isolated {
                            self.h.lru.push(pfn);
                        }
                        match put {
                            Ok(()) => (R::Bool(isolated), false),
                            Err(x) => (e(x), true),
                        }
                    }
                    Ok(false) => (R::Bool(false), false),
                    Err(x) => (e(x), false),
                }
            }
            Resolved::Migrate { cpu, pfn } => match self.cpu(cpu).migrate_page(pfn, MigrateReason::Compaction) {
                Ok(dst) => {
                    self.h.lru.retain(|&p| p != pfn);
                    if dst.is_some() {
                        self.shared.note_freed(pfn);
                    }
                    (dst.map_or(R::None, R::Pfn), false)
                }
                Err(x) => (R::Err(format!("{x:?}")), false),
            },
            Resolved::Putback { cpu, pfn } => {
                self.h.lru.retain(|&p| p != pfn);
                match self.cpu(cpu).putback_lru_page(pfn) {
                    Ok(()) => (R::Ok, false),
                    Err(x) => (e(x), true),
                }
            }
            Resolved::DrainLocal { cpu } => {
                self.cpu(cpu).drain_local_pages();
                (R::Ok, false)
            }
            Resolved::DrainAll => {
                sys.drain_all_pages();
                (R::Ok, false)
            }
            Resolved::IsolateRange { start, end } => match sys.zone().start_isolate_page_range(mm, start, end, flags) {
                Ok(()) => {
                    self.h.isolations.push((start, end));
                    sys.drain_all_pages();
                    (R::Ok, false)
                }
                Err(x) => (R::Err(format!("{x:?}")), false),
            },
            Resolved::UndoIsolate { start, end } => {
                self.h.isolations.retain(|&x| x != (start, end));
                sys.zone().undo_isolate_page_range(mm, start, end, MigrateType::Movable);
                (R::Ok, false)
            }
            Resolved::TestIsolated { start, end } => match sys.zone().test_pages_isolated(mm, start, end, flags) {
                Ok(()) => (R::Ok, false),
                Err(p) => (R::Err(format!("pfn {p:#x} is not isolated")), false),
            },
            Resolved::Online { nr } => (sys.online_memory_block(nr).map_or_else(e, |()| R::Ok), false),
            Resolved::Offline { cpu, nr } => {
                self.let_go_of_offline_pages(cpu, nr);
                (sys.offline_memory_block(self.cpu(cpu), nr).map_or_else(e, |()| R::Ok), false)
            }
            Resolved::AddMemory { nr, memmap_on_memory } => (sys.add_memory(nr, memmap_on_memory).map_or_else(e, |()| R::Ok), false),
            Resolved::AddMemoryFailing { nr, memmap_on_memory } => {
                (sys.add_memory_failing(nr, memmap_on_memory).map_or_else(e, |()| R::Ok), false)
            }
            Resolved::RemoveMemory { nr } => (sys.remove_memory(nr).map_or_else(e, |()| R::Ok), false),
            Resolved::AllocContig { cpu, start, end } => match crate::page_alloc::contig::alloc_contig_range(self.cpu(cpu), start, end) {
                Ok(()) => {
                    self.h.contig.push((start, end - start));
                    (R::Ok, false)
                }
                Err(x) => (e(x), false),
            },
            Resolved::FreeContig { cpu, start, nr } => {
                self.h.contig.retain(|&x| x != (start, nr));
                match crate::page_alloc::contig::free_contig_range(self.cpu(cpu), start, nr) {
                    Ok(n) => (R::Count(n), false),
                    Err(x) => (e(x), true),
                }
            }
            Resolved::ThpFault { cpu, vpn } => (self.cpu(cpu).fault_thp(vpn).map_or_else(e, R::Pfn), false),
            Resolved::ThpSplitPmd { cpu, vpn } => (self.cpu(cpu).split_huge_pmd(vpn).map_or_else(e, R::Bool), false),
            Resolved::ThpZap { cpu, vpn } => (self.cpu(cpu).zap_huge_pmd(vpn).map_or_else(e, |p| p.map_or(R::None, R::Pfn)), false),
            Resolved::Pin { pfn, .. } | Resolved::SwapcacheAdd { pfn, .. } if !self.user_page(pfn) => {
                // GUP pins and the swap cache reach pages through page
                // tables: only user pages.
                (R::Skip("not a user page"), false)
            }
            Resolved::Pin { cpu, pfn } => match self.cpu(cpu).pin(pfn) {
                Ok(()) => {
                    self.h.pins.push(pfn);
                    (R::Ok, false)
                }
                Err(x) => (e(x), false),
            },
            Resolved::Unpin { cpu, pfn } => {
                if let Some(i) = self.h.pins.iter().position(|&p| p == pfn) {
                    self.h.pins.remove(i);
                }
                (self.cpu(cpu).unpin(pfn).map_or_else(e, |()| R::Ok), false)
            }
            Resolved::SwapcacheAdd { cpu, pfn } => match self.cpu(cpu).add_to_swap_cache(pfn) {
                Ok(()) => {
                    self.h.swap.push(pfn);
                    (R::Ok, false)
                }
                Err(x) => (e(x), false),
            },
            Resolved::SwapcacheDel { cpu, pfn } => {
                if let Some(i) = self.h.swap.iter().position(|&p| p == pfn) {
                    self.h.swap.remove(i);
                }
                (self.cpu(cpu).delete_from_swap_cache(pfn).map_or_else(e, |()| R::Ok), false)
            }
            Resolved::SplitFolio { cpu, pfn } => {
                // split_huge_page: the caller holds a reference on the page.
                let c = self.cpu(cpu);
                match c.get_page_unless_zero(pfn) {
                    Ok(true) => {
                        let r = c.split_folio(pfn).map_or_else(e, |()| R::Ok);
                        match c.put_page(pfn) {
                            Ok(()) => (r, false),
                            Err(x) => (e(x), true),
                        }
                    }
                    Ok(false) => (R::Skip("the page has no reference to split under"), false),
                    Err(x) => (e(x), false),
                }
            }
            Resolved::Compact { cpu, start, end } => match self.cpu(cpu).compact_range(start, end) {
                Ok(r) => (R::Text(format!("{r:?}")), false),
                Err(x) => (e(x), false),
            },
            Resolved::WalkGet { cpu, pfn } => match crate::drivers::walker_get(self.cpu(cpu), pfn) {
                Ok(true) if self.offline_page(pfn) || self.poisoned_page(pfn) => (
                    crate::drivers::walker_put(self.cpu(cpu), pfn)
                        .map_or_else(e, |()| R::Text("true, dropped at once (PageOffline or PG_hwpoison)".into())),
                    false,
                ),
                Ok(true) => {
                    self.h.specs.push(pfn);
                    (R::Bool(true), false)
                }
                Ok(false) => (R::Bool(false), false),
                Err(x) => (e(x), false),
            },
            Resolved::WalkPut { cpu, pfn } => {
                if let Some(i) = self.h.specs.iter().position(|&p| p == pfn) {
                    self.h.specs.remove(i);
                }
                // A refused PageOffline page (V4) is an error by design; the
                // violation is what reports it.
                (crate::drivers::walker_put(self.cpu(cpu), pfn).map_or_else(e, |()| R::Ok), false)
            }
            Resolved::Kpageflags { pfn } => (sys.kpageflags(pfn).map_or_else(e, |f| R::Count(f)), false),
            Resolved::DumpRead { pfn } => (sys.dump_tool_read(pfn).map_or_else(e, |d| R::Text(format!("{d:?}"))), false),
            Resolved::ValidZones { nr } => (sys.valid_zones(nr).map_or_else(e, R::Text), false),
            Resolved::VmemPlug { cpu, sb } => match &self.drivers.virtio_mem {
                Some(v) => (v.plug(self.cpu(cpu), sb).map_or_else(e, |()| R::Ok), false),
                None => (R::Skip("no virtio-mem device"), false),
            },
            Resolved::VmemUnplugBegin { cpu, sb } => match self.drivers.virtio_mem.clone() {
                Some(v) => match v.unplug_begin(self.cpu(cpu), sb) {
                    Ok(pfn) => {
                        self.vmem_pending = Some(cpu);
                        (R::Pfn(pfn), false)
                    }
                    Err(x) => (e(x), false),
                },
                None => (R::Skip("no virtio-mem device"), false),
            },
            Resolved::VmemUnplugFinish { .. } => match self.finish_vmem_unplug() {
                Some(Ok(())) => (R::Ok, false),
                // The unplug this thread holds must be able to finish.
                Some(Err(x)) => (e(x), true),
                None => (R::Skip("no virtio-mem unplug pending"), false),
            },
            Resolved::VmemUnplug { cpu, sb } => match &self.drivers.virtio_mem {
                Some(v) => (v.unplug(self.cpu(cpu), sb).map_or_else(e, |()| R::Ok), false),
                None => (R::Skip("no virtio-mem device"), false),
            },
            Resolved::CmmInflate { cpu, n } | Resolved::CmmDeflate { cpu, n } => match &self.drivers.cmm {
                Some(d) => {
                    let r = if matches!(r, Resolved::CmmInflate { .. }) { d.inflate(self.cpu(cpu), n) } else { d.deflate(self.cpu(cpu), n) };
                    (r.map_or_else(e, |k| R::Count(k as u64)), false)
                }
                None => (R::Skip("no CMM balloon"), false),
            },
            Resolved::HvInflate { cpu, n } | Resolved::HvDeflate { cpu, n } => match &self.drivers.hv_balloon {
                Some(d) => {
                    let r = if matches!(r, Resolved::HvInflate { .. }) { d.inflate(self.cpu(cpu), n) } else { d.deflate(self.cpu(cpu), n) };
                    (r.map_or_else(e, |k| R::Count(k as u64)), false)
                }
                None => (R::Skip("no Hyper-V balloon"), false),
            },
            Resolved::MemoryFailure { .. }
            | Resolved::SoftOffline { .. }
            | Resolved::Unpoison { .. }
            | Resolved::HugetlbPool { .. }
            | Resolved::HugetlbReserve { .. }
            | Resolved::HugetlbUnreserve { .. }
            | Resolved::HugetlbFault
            | Resolved::HugetlbFree { .. }
            | Resolved::Dissolve { .. }
            | Resolved::SoftOfflineBegin { .. }
            | Resolved::SoftOfflineStep { .. } => self.exec_hw(r),
            Resolved::Skip(why) => (R::Skip(why), false),
        }
    }
}

/// Does the core's result meet the model's prediction?
fn meets(expect: &Expect, res: &OpResult) -> bool {
    match expect {
        Expect::Any => true,
        Expect::Ok => res.is_ok(),
        Expect::Err => res.is_err(),
        Expect::Exactly(x) => x == res,
    }
}

fn dumps<F: FreePath>(sys: &System<F>, vs: &[Violation]) -> Vec<String> {
    let mut pfns: Vec<Pfn> = Vec::new();
    for v in vs {
        if let Some(p) = v.pfn {
            if !pfns.contains(&p) {
                pfns.push(p);
            }
        }
    }
    pfns.iter()
        .take(8)
        .map(|&p| match sys.pfn_to_page(p) {
            Ok(pg) => pg.dump(p),
            Err(e) => format!("pfn {p:#x}: {e}"),
        })
        .collect()
}

/// The sequential part of a run: apply `ops` with `actor`, checking after
/// each one. Returns the violations of the first failing op.
fn run_checked<F: FreePath>(
    actor: &mut Actor<'_, F>,
    model: &mut Option<Model>,
    ops: &[Op],
    trace: &StdMutex<Vec<TraceLine>>,
) -> Option<(usize, Vec<Violation>)> {
    let sys = actor.sys;
    for (i, op) in ops.iter().enumerate() {
        let r = actor.resolve(op);
        let expect = model.as_ref().map(|m| m.predict(&r));
        let (res, operr) = actor.exec(&r);
        let mut vs = Vec::new();
        if operr {
            vs.push(Violation { id: "OPERR", pfn: None, msg: format!("{op} on a held handle failed: {res}") });
        }
        let mut shown = None;
        if let (Some(m), Some(x)) = (model.as_mut(), expect.as_ref()) {
            if !meets(x, &res) {
                let want = match x {
                    Expect::Ok => "success".to_string(),
                    Expect::Err => "an error".to_string(),
                    Expect::Exactly(r) => r.to_string(),
                    Expect::Any => "anything".to_string(),
                };
                vs.push(Violation { id: "MODEL", pfn: None, msg: format!("{op} [{r}]: the model expected {want}, the core returned {res}") });
                shown = Some(want);
            }
            if let Err(msg) = m.apply(&r, &res, sys) {
                vs.push(Violation { id: "MODEL", pfn: None, msg: format!("after {op}: {msg}") });
            }
            for (pfn, msg) in m.compare(sys) {
                vs.push(Violation { id: "MODEL", pfn, msg });
            }
        }
        // A skipped op never called the core: the state is the one the
        // previous check found clean, so the walk is not repeated.
        let skipped = matches!(r, Resolved::Skip(_));
        let mut checked = if skipped && vs.is_empty() { Vec::new() } else { sys.check() };
        checked.append(&mut vs);
        let resolved = if skipped { String::new() } else { r.to_string() };
        lock(trace).push(TraceLine { thread: None, index: i, op: op.clone(), applied: Applied { resolved, result: res }, expect: shown });
        if !checked.is_empty() {
            return Some((i, checked));
        }
    }
    None
}

/// A sequential scenario (no threads): build, run the setup checked.
fn seq_body<F: FreePath>(sc: &Scenario, trace: &StdMutex<Vec<TraceLine>>) -> Outcome {
    let sys = match System::<F>::new(sc.config.to_config(sc.design())) {
        Ok(s) => s,
        Err(e) => return Outcome { error: Some(e.to_string()), ..Outcome::default() },
    };
    let drivers = DriverSet::boot(&sys, &sc.config);
    let mut actor = match Actor::all_cpus(&sys, Arc::new(Shared::default()), sc.config.memmap_on_memory, drivers) {
        Ok(a) => a,
        Err(e) => return Outcome { error: Some(e.to_string()), ..Outcome::default() },
    };
    let mut model = sc.is_fixed().then(|| Model::new(sys.config(), sc.config.memmap_on_memory));
    if sc.config.has_drivers() {
        model.as_mut().map(Model::retire);
    }
    let bad = run_checked(&mut actor, &mut model, &sc.setup, trace);
    let mut out = Outcome::default();
    if let Some((i, vs)) = bad {
        out.dumps = dumps(&sys, &vs);
        out.violations = vs;
        out.at = Some(format!("setup #{i}"));
        out.fail_step = Some(i);
    } else {
        // The end of the run: what is half done finishes and the walkers
        // let go of their speculative references, as they would in the
        // kernel a moment later; then one more check.
        actor.quiesce();
        let vs = sys.check();
        if !vs.is_empty() {
            out.dumps = dumps(&sys, &vs);
            out.violations = vs;
            out.at = Some("the end of the run (pending ops finished, walkers' references dropped)".into());
        }
    }
    drop(actor);
    out
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".into()
    }
}

fn finish(mut out: Outcome, trace: &StdMutex<Vec<TraceLine>>, panicked: Option<String>) -> Outcome {
    out.trace = std::mem::take(&mut *lock(trace));
    if let Some(msg) = panicked {
        out.violations.insert(0, Violation { id: "PANIC", pfn: None, msg });
        out.at.get_or_insert_with(|| format!("op {} (the last one traced, or the next)", out.trace.len()));
    }
    out
}

/// Run a scenario with free path `F`.
pub fn run_with<F: FreePath>(sc: &Scenario, cov: Option<CovSinkAlias>) -> Outcome {
    #[cfg(not(feature = "shuttle"))]
    {
        let _ = cov;
        if sc.is_concurrent() {
            return Outcome::skipped(format!("a concurrent scenario ({} threads): needs the shuttle build (--features shuttle)", sc.threads.len()));
        }
        let trace = StdMutex::new(Vec::new());
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| seq_body::<F>(sc, &trace)));
        match r {
            Ok(out) => finish(out, &trace, None),
            Err(p) => finish(Outcome::default(), &trace, Some(panic_message(&*p))),
        }
    }
    #[cfg(feature = "shuttle")]
    {
        conc::run::<F>(sc, cov)
    }
}

/// Where interleaving coverage goes (the shuttle build's
/// [`crate::sched_fuzz::CovSink`]; unused in the default build).
#[cfg(feature = "shuttle")]
pub type CovSinkAlias = crate::sched_fuzz::CovSink;
/// Where interleaving coverage goes (unused in the default build).
#[cfg(not(feature = "shuttle"))]
pub type CovSinkAlias = Arc<dyn Fn(usize) + Send + Sync>;

/// Run `f::<F>()` for the free path named `name` (a [`FREE_PATHS`] name).
macro_rules! with_free_path {
    ($name:expr, $f:ident ( $($arg:expr),* )) => {
        match $name {
            "landed" => $f::<Landed>($($arg),*),
            "rfc_pageoffline_hook" => $f::<crate::RfcOfflineHook>($($arg),*),
            "no_hwpoison_check" => $f::<crate::NoHwpoisonCheck>($($arg),*),
            "side_bitmap_hook" => $f::<crate::SideBitmapHook>($($arg),*),
            "free_mt_no_recheck" => $f::<crate::FreeMtNoRecheck>($($arg),*),
            "merge_across_isolate" => $f::<crate::MergeAcrossIsolate>($($arg),*),
            other => {
                let _ = ($($arg),*);
                Outcome { error: Some(format!("unknown free path `{other}`")), ..Outcome::default() }
            }
        }
    };
}

/// Run a scenario (see the module doc).
pub fn run(sc: &Scenario) -> Outcome {
    run_cov(sc, None)
}

/// Run a scenario, reporting interleaving coverage to `cov`.
pub fn run_cov(sc: &Scenario, cov: Option<CovSinkAlias>) -> Outcome {
    if let Err(e) = sc.validate() {
        return Outcome { error: Some(format!("invalid scenario: {e}")), ..Outcome::default() };
    }
    with_free_path!(sc.free_path.as_str(), run_with(sc, cov))
}

#[cfg(feature = "shuttle")]
mod conc {
    use super::*;
    use crate::sched_fuzz::{CovSink, FuzzScheduler};

    /// The shuttle configuration of a harness run: 1 MiB stacks, no failure
    /// persistence (fuzz workers must not write files), warnings off.
    fn config() -> shuttle::Config {
        let mut c = shuttle::Config::new();
        c.stack_size = 1 << 20;
        c.silence_warnings = true;
        c.failure_persistence = shuttle::FailurePersistence::None;
        c.max_steps = shuttle::MaxSteps::FailAfter(MAX_STEPS);
        c
    }

    fn thread_ops<F: FreePath>(actor: &mut Actor<'_, F>, t: usize, ops: &[Op], trace: &StdMutex<Vec<TraceLine>>, operr: &StdMutex<Vec<Violation>>) {
        for (i, op) in ops.iter().enumerate() {
            crate::sched_fuzz::note_op(t, op.label());
            crate::sync::preempt_point(op.label());
            let r = actor.resolve(op);
            let (res, bad) = actor.exec(&r);
            if bad {
                lock(operr).push(Violation { id: "OPERR", pfn: None, msg: format!("T{t} {op} on a held handle failed: {res}") });
            }
            let resolved = if matches!(r, Resolved::Skip(_)) { String::new() } else { r.to_string() };
            lock(trace).push(TraceLine { thread: Some(t), index: i, op: op.clone(), applied: Applied { resolved, result: res }, expect: None });
        }
    }

    fn body<F: FreePath>(sc: &Scenario, trace: &StdMutex<Vec<TraceLine>>) -> Outcome {
        if !sc.is_concurrent() {
            return seq_body::<F>(sc, trace);
        }
        let sys = match System::<F>::new(sc.config.to_config(sc.design())) {
            Ok(s) => Arc::new(s),
            Err(e) => return Outcome { error: Some(e.to_string()), ..Outcome::default() },
        };
        let shared = Arc::new(Shared::default());
        let mom = sc.config.memmap_on_memory;
        let drivers = DriverSet::boot(&*sys, &sc.config);
        let operr = Arc::new(StdMutex::new(Vec::new()));
        {
            let mut a0 = match Actor::all_cpus(&sys, shared.clone(), mom, drivers.clone()) {
                Ok(a) => a,
                Err(e) => return Outcome { error: Some(e.to_string()), ..Outcome::default() },
            };
            let mut model = sc.is_fixed().then(|| Model::new(sys.config(), mom));
            if sc.config.has_drivers() {
                model.as_mut().map(Model::retire);
            }
            if let Some((i, vs)) = run_checked(&mut a0, &mut model, &sc.setup, trace) {
                return Outcome {
                    dumps: dumps(&sys, &vs),
                    violations: vs,
                    at: Some(format!("setup #{i}")),
                    fail_step: Some(i),
                    ..Outcome::default()
                };
            }
            a0.keep_only(0);
            // Threads T1.. are spawned in order: shuttle task ids 1.. .
            let trace_arc: Arc<StdMutex<Vec<TraceLine>>> = Arc::new(StdMutex::new(Vec::new()));
            let mut joins = Vec::new();
            for (t, ops) in sc.threads.iter().enumerate().skip(1) {
                let (sys, shared, ops, tr, oe, dr) = (sys.clone(), shared.clone(), ops.clone(), trace_arc.clone(), operr.clone(), drivers.clone());
                joins.push(crate::sync::thread::spawn(move || {
                    let mut a = match Actor::one_cpu(&sys, t, shared, mom, dr) {
                        Ok(a) => a,
                        Err(e) => {
                            lock(&oe).push(Violation { id: "OPERR", pfn: None, msg: format!("T{t}: cannot claim cpu {t}: {e}") });
                            return;
                        }
                    };
                    thread_ops(&mut a, t, &ops, &tr, &oe);
                }));
            }
            thread_ops(&mut a0, 0, &sc.threads[0], &trace_arc, &operr);
            drop(a0);
            for j in joins {
                if let Err(p) = j.join() {
                    std::panic::resume_unwind(p);
                }
            }
            lock(trace).extend(std::mem::take(&mut *lock(&trace_arc)));
        }
        let mut vs = sys.check();
        vs.extend(std::mem::take(&mut *lock(&operr)));
        Outcome { dumps: dumps(&sys, &vs), at: (!vs.is_empty()).then(|| "end of the run".into()), violations: vs, ..Outcome::default() }
    }

    pub(super) fn run<F: FreePath>(sc: &Scenario, cov: Option<CovSink>) -> Outcome {
        let sched = FuzzScheduler::new(&sc.schedule, cov);
        let stats = sched.stats_handle();
        let sc_arc = Arc::new(sc.clone());
        let trace: Arc<StdMutex<Vec<TraceLine>>> = Arc::new(StdMutex::new(Vec::new()));
        let out: Arc<StdMutex<Option<Outcome>>> = Arc::new(StdMutex::new(None));
        let (t2, o2) = (trace.clone(), out.clone());
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            shuttle::Runner::new(sched, config()).run(move || {
                let o = body::<F>(&sc_arc, &t2);
                *lock(&o2) = Some(o);
            })
        }));
        let panicked = r.err().map(|p| panic_message(&*p));
        let o = lock(&out).take().unwrap_or_default();
        let mut o = finish(o, &trace, panicked);
        let st = lock(&stats).clone();
        o.choice_points = st.choice_points;
        o.decisions = st.decisions;
        o.preemptions = st
            .taken
            .iter()
            .map(|t| {
                let from = t.from.map_or("-".to_string(), |f| format!("T{f}"));
                let at = t.at.map_or(String::new(), |(l, n)| format!(" at {l} #{n}"));
                let kind = if t.named { "named" } else { "step" };
                format!("{kind} preemption at choice point {}: {from}{at} -> T{}", t.step, t.to)
            })
            .collect();
        o
    }
}

// ---------------------------------------------------------------------------
// Fuzz inputs and the campaign's design.

/// The design under test of a fuzz campaign.
#[derive(Debug, Clone)]
pub struct Campaign {
    pub design: Vec<Switch>,
    pub free_path: &'static str,
    /// The bug selected by `PAGELAB_BUG`, if any.
    pub bug: Option<&'static crate::bugs::Bug>,
    /// Violation ids that are not findings (`PAGELAB_ALLOW=ID,ID`: known
    /// findings, so that a campaign can look past them).
    pub allow: Vec<String>,
}

impl Campaign {
    /// The landed design.
    pub fn fixed() -> Campaign {
        Campaign { design: Vec::new(), free_path: "landed", bug: None, allow: Vec::new() }
    }

    /// The design with bug `id`'s variant on.
    pub fn for_bug(id: &str) -> Result<Campaign, String> {
        if id.is_empty() || id.eq_ignore_ascii_case("fixed") {
            return Ok(Campaign::fixed());
        }
        let bug = crate::bugs::find(id).ok_or_else(|| {
            let ids: Vec<&str> = crate::bugs::registry().iter().map(|b| b.id).collect();
            format!("no bug `{id}` in the registry (known: {})", ids.join(", "))
        })?;
        if let Some(s) = Switch::from_name(bug.variant) {
            return Ok(Campaign { design: vec![s], free_path: "landed", bug: Some(bug), allow: Vec::new() });
        }
        let norm = |s: &str| s.replace('_', "").to_ascii_lowercase();
        let fp = FREE_PATHS
            .iter()
            .find(|(n, _)| norm(n) == norm(bug.variant))
            .ok_or_else(|| format!("bug {}: variant `{}` is neither a switch nor a free path", bug.id, bug.variant))?;
        Ok(Campaign { design: Vec::new(), free_path: fp.0, bug: Some(bug), allow: Vec::new() })
    }
}

/// The campaign from the environment: `PAGELAB_BUG` (the design) and
/// `PAGELAB_ALLOW` (read once). Panics on an unknown bug id, so a
/// misconfigured campaign stops at once.
pub fn campaign() -> &'static Campaign {
    static C: std::sync::OnceLock<Campaign> = std::sync::OnceLock::new();
    C.get_or_init(|| {
        let id = std::env::var("PAGELAB_BUG").unwrap_or_default();
        let mut c = Campaign::for_bug(&id).unwrap_or_else(|e| panic!("PAGELAB_BUG: {e}"));
        c.allow = std::env::var("PAGELAB_ALLOW")
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        c
    })
}

/// The `seq` target's input.
#[derive(Debug, Clone)]
pub struct SeqInput {
    /// Machine knobs: bit 0 max_sections 2/3, bit 1 cpus 2/4, bits 2-3 the
    /// pcp (high, batch) pair, bit 4 memmap_on_memory, bits 5-6 the driver
    /// (none, virtio_mem, cmm, hv_balloon), bit 7 unused.
    pub knobs: u8,
    pub ops: Vec<Op>,
}

const PCP_CHOICES: [(u32, u32); 4] = [(6, 2), (0, 1), (252, 63), (12, 31)];

fn base_config(knobs: u8) -> ScConfig {
    let (pcp_high, pcp_batch) = PCP_CHOICES[(knobs as usize >> 2) & 3];
    ScConfig {
        boot_sections: 1,
        max_sections: if knobs & 1 != 0 { 3 } else { 2 },
        cpus: if knobs & 2 != 0 { 4 } else { 2 },
        frame_store: true,
        memmap_on_memory: knobs & 16 != 0,
        pcp_high,
        pcp_batch,
        offline_passes: 4,
        vpages: 1024,
        // One driver at most: they model different hypervisors' devices
        // and never share a machine (a CMM balloon page inside a virtio-mem
        // range breaks virtio-mem's V1 rule without any bug).
        virtio_mem: (knobs >> 5) & 3 == 1,
        cmm: (knobs >> 5) & 3 == 2,
        hv_balloon: (knobs >> 5) & 3 == 3,
    }
}

fn with_campaign(mut sc: Scenario, c: &Campaign) -> Scenario {
    sc.design = c.design.clone();
    sc.free_path = c.free_path.to_string();
    sc
}

/// A `seq` input as a scenario (design from `c`).
pub fn seq_scenario(input: &SeqInput, c: &Campaign) -> Scenario {
    let mut ops = input.ops.clone();
    ops.truncate(MAX_SEQ_OPS);
    let sc = Scenario { config: base_config(input.knobs), setup: ops, ..Scenario::sequential(Vec::new()) };
    with_campaign(sc, c)
}

/// Decode `seq` fuzz bytes as a scenario.
pub fn seq_input(data: &[u8], c: &Campaign) -> Scenario {
    let mut u = Unstructured::new(data);
    let knobs = u8::arbitrary(&mut u).unwrap_or(0);
    let ops = ops_back_to_back(&mut u, MAX_SEQ_OPS);
    seq_scenario(&SeqInput { knobs, ops }, c)
}

/// The `seq` target's custom mutator (libFuzzer's `LLVMFuzzerCustomMutator`
/// through `fuzz_mutator!`): most mutations act on whole ops — insert a
/// random op, delete, replace or duplicate one, swap two, re-pick the
/// machine knobs, or start over from a fresh random sequence — and the
/// rest go to libFuzzer's byte mutator
/// (`byte_mutate`). Byte mutations alone keep op sequences short and
/// repetitive (runs of equal bytes decode to the same op again and again),
/// so the seed bugs' three- to seven-op sequences took minutes to appear;
/// the op-level ones keep every input a well-formed sequence. Deterministic
/// in `seed`, as libFuzzer requires. Returns the new size.
pub fn mutate_seq(data: &mut [u8], size: usize, max_size: usize, seed: u32, byte_mutate: impl FnOnce(&mut [u8], usize, usize) -> usize) -> usize {
    let mut rng = crate::rng::SplitMix64(seed as u64 ^ 0x5eed_0f0b5);
    let size = size.min(data.len());
    let mut u = Unstructured::new(&data[..size]);
    let mut knobs = u8::arbitrary(&mut u).unwrap_or(0);
    let mut ops = ops_back_to_back(&mut u, MAX_SEQ_OPS);
    let random_op = |rng: &mut crate::rng::SplitMix64| {
        let bytes: Vec<u8> = (0..4).flat_map(|_| rng.next().to_le_bytes()).collect();
        Op::arbitrary(&mut Unstructured::new(&bytes)).unwrap_or(Op::DrainAll {})
    };
    let pos = |rng: &mut crate::rng::SplitMix64, n: usize| (rng.next() % (n as u64).max(1)) as usize;
    match rng.next() % 12 {
        0 | 1 if ops.len() < MAX_SEQ_OPS => {
            let at = pos(&mut rng, ops.len() + 1);
            let op = random_op(&mut rng);
            ops.insert(at, op);
        }
        2 if !ops.is_empty() => {
            let at = pos(&mut rng, ops.len());
            ops.remove(at);
        }
        3 if !ops.is_empty() => {
            let at = pos(&mut rng, ops.len());
            ops[at] = random_op(&mut rng);
        }
        4 if !ops.is_empty() && ops.len() < MAX_SEQ_OPS => {
            let from = pos(&mut rng, ops.len());
            let to = pos(&mut rng, ops.len() + 1);
            let op = ops[from].clone();
            ops.insert(to, op);
        }
        5 if ops.len() > 1 => {
            let (a, b) = (pos(&mut rng, ops.len()), pos(&mut rng, ops.len()));
            ops.swap(a, b);
        }
        6 => knobs = rng.next() as u8,
        // A fresh random input now and then: coverage guidance keeps what
        // reached new code, but a sequence whose steps add little coverage
        // each (plug, begin an unplug, a walker's get) is found sooner by
        // sampling whole random sequences, as the stable mode does.
        7..=9 => {
            knobs = rng.next() as u8;
            ops = (0..MAX_SEQ_OPS).map(|_| random_op(&mut rng)).collect();
        }
        _ => return byte_mutate(data, size, max_size),
    }
    let mut out = vec![knobs];
    for op in &ops {
        let mut one = Vec::new();
        crate::ops::Encode::encode(op, &mut one);
        if out.len() + one.len() > max_size.min(data.len()) {
            break;
        }
        out.extend(one);
    }
    let n = out.len().min(data.len());
    data[..n].copy_from_slice(&out[..n]);
    n
}

/// Up to `max` ops decoded one after the other until the bytes run out.
///
/// The fuzz byte format, for `seq`: a knobs byte, then ops back to back;
/// for `conc`: a knobs byte, a byte each for the setup's op count
/// (mod [`MAX_SETUP_OPS`] + 1), the thread count (2 + mod 3) and each
/// thread's op count (mod [`MAX_THREAD_OPS`] + 1), the ops back to back,
/// then (choice point u16, thread u8) step preemptions until the end.
/// Not `arbitrary`'s own collection form, which puts a "go on" byte before
/// each element: random or mutated bytes then stop after one or two ops
/// on average, and the seed bugs need sequences of three to seven.
fn ops_back_to_back(u: &mut Unstructured<'_>, max: usize) -> Vec<Op> {
    let mut ops = Vec::new();
    while ops.len() < max && !u.is_empty() {
        match Op::arbitrary(u) {
            Ok(op) => ops.push(op),
            Err(_) => break,
        }
    }
    ops
}

/// The `conc` target's input.
#[derive(Debug, Clone)]
pub struct ConcInput {
    pub knobs: u8,
    pub setup: Vec<Op>,
    pub threads: Vec<Vec<Op>>,
    /// (choice point, thread) preemptions.
    pub steps: Vec<(u16, u8)>,
}

/// A `conc` input as a scenario: 2 to 4 threads, one CPU each.
pub fn conc_scenario(input: &ConcInput, c: &Campaign) -> Scenario {
    let mut setup = input.setup.clone();
    setup.truncate(MAX_SETUP_OPS);
    let mut threads: Vec<Vec<Op>> = input
        .threads
        .iter()
        .take(4)
        .map(|t| t.iter().take(MAX_THREAD_OPS).map(Op::without_cpu).collect())
        .collect();
    while threads.len() < 2 {
        threads.push(Vec::new());
    }
    let n = threads.len();
    let mut config = base_config(input.knobs & !2);
    config.cpus = n;
    let mut steps: Vec<StepPreempt> =
        input.steps.iter().take(MAX_PREEMPTIONS).map(|&(s, t)| StepPreempt { step: s as u32 % 4096, then: t as usize % n }).collect();
    steps.sort_by_key(|s| s.step);
    let sc = Scenario {
        config,
        setup,
        threads,
        schedule: crate::scenario::Schedule { named: Vec::new(), steps },
        ..Scenario::sequential(Vec::new())
    };
    with_campaign(sc, c)
}

/// Decode `conc` fuzz bytes as a scenario.
pub fn conc_input(data: &[u8], c: &Campaign) -> Scenario {
    let mut u = Unstructured::new(data);
    let mut byte = || u8::arbitrary(&mut u).unwrap_or(0);
    let knobs = byte();
    let n_setup = byte() as usize % (MAX_SETUP_OPS + 1);
    let n_threads = 2 + byte() as usize % 3;
    let per: Vec<usize> = (0..n_threads).map(|_| byte() as usize % (MAX_THREAD_OPS + 1)).collect();
    let setup = ops_back_to_back(&mut u, n_setup);
    let threads = per.iter().map(|&n| ops_back_to_back(&mut u, n)).collect();
    let mut steps = Vec::new();
    while !u.is_empty() && steps.len() < MAX_PREEMPTIONS {
        match <(u16, u8)>::arbitrary(&mut u) {
            Ok(st) => steps.push(st),
            Err(_) => break,
        }
    }
    conc_scenario(&ConcInput { knobs, setup, threads, steps }, c)
}

/// The knobs byte whose machine is `c` (cpus ignored for `conc`).
fn knobs_for(c: &ScConfig, conc: bool) -> Option<u8> {
    (0..=255u8).find(|&k| {
        let mut b = base_config(k);
        if conc {
            b.cpus = c.cpus;
        }
        b == *c
    })
}

/// Fuzz bytes of the `seq` target that decode to `sc`'s setup and
/// machine (the design is the campaign's, not the bytes'). Fails when the
/// machine is not one the knobs can describe.
pub fn seq_bytes(sc: &Scenario) -> Result<Vec<u8>, String> {
    use crate::ops::Encode;
    if sc.is_concurrent() {
        return Err("a concurrent scenario is a conc input".into());
    }
    let knobs = knobs_for(&sc.config, false).ok_or("the machine is not one of the seq target's knob settings")?;
    let mut out = vec![knobs];
    for op in sc.setup.iter().take(MAX_SEQ_OPS) {
        op.encode(&mut out);
    }
    Ok(out)
}

/// Fuzz bytes of the `conc` target that decode to `sc` (its step
/// preemptions; named ones have no byte form and are left out).
pub fn conc_bytes(sc: &Scenario) -> Result<Vec<u8>, String> {
    use crate::ops::Encode;
    if !sc.is_concurrent() || sc.threads.len() > 4 {
        return Err("a conc input has 2 to 4 threads".into());
    }
    let knobs = knobs_for(&sc.config, true).ok_or("the machine is not one of the conc target's knob settings")?;
    if sc.setup.len() > MAX_SETUP_OPS || sc.threads.iter().any(|t| t.len() > MAX_THREAD_OPS) {
        return Err(format!("a conc input has at most {MAX_SETUP_OPS} setup ops and {MAX_THREAD_OPS} ops per thread"));
    }
    let mut out = vec![knobs, sc.setup.len() as u8, (sc.threads.len() - 2) as u8];
    out.extend(sc.threads.iter().map(|t| t.len() as u8));
    for op in sc.setup.iter().chain(sc.threads.iter().flatten()) {
        op.encode(&mut out);
    }
    for st in sc.schedule.steps.iter().take(MAX_PREEMPTIONS) {
        (st.step.min(u16::MAX as u32) as u16).encode(&mut out);
        (st.then as u8).encode(&mut out);
    }
    Ok(out)
}

/// A finding: the scenario (its expectation set to what was found) and
/// the trace, as the text a fuzz target panics with.
pub fn report(sc: &Scenario, out: &Outcome) -> String {
    let sc = minimal_scenario(sc, out);
    format!(
        "pagelab harness finding: {}\n---- scenario (save as a .ops file; `pagelab replay` runs it) ----\n{sc}---- trace ----\n{out}",
        out.violations.first().map(|v| v.to_string()).unwrap_or_default()
    )
}

/// `sc` cut after the op that failed (a sequential failure makes the
/// later ops and the threads irrelevant), expecting what `out` found.
pub fn minimal_scenario(sc: &Scenario, out: &Outcome) -> Scenario {
    let mut sc = sc.clone();
    if let Some(i) = out.fail_step {
        sc.setup.truncate(i + 1);
        sc.threads.clear();
        sc.schedule = Default::default();
    }
    sc.expect = out.verdict();
    sc
}

/// Shrink a failing scenario: delete ops (setup and threads) and
/// preemptions while the run still reports a violation with the same id as
/// the first one now (delta debugging, one element at a time, to a fixed
/// point). Returns the smaller scenario (its expectation set to that id)
/// and how many runs it took.
pub fn minimize(sc: &Scenario, max_runs: usize) -> (Scenario, usize) {
    let first = run(sc);
    let Some(id) = first.violations.first().map(|v| v.id) else { return (sc.clone(), 1) };
    let mut cur = minimal_scenario(sc, &first);
    let mut runs = 1;
    let still = |c: &Scenario, runs: &mut usize| {
        *runs += 1;
        run(c).violations.iter().any(|v| v.id == id)
    };
    loop {
        let mut progress = false;
        // Lists to shrink: the setup, each thread, the step preemptions, the named ones.
        let nlists = 1 + cur.threads.len() + 2;
        for l in 0..nlists {
            let mut i = 0;
            loop {
                if runs >= max_runs {
                    cur.expect = Verdict::Violation(id.to_string());
                    return (cur, runs);
                }
                let mut c = cur.clone();
                let removed = match l {
                    0 if i < c.setup.len() => {
                        c.setup.remove(i);
                        true
                    }
                    l if l >= 1 && l <= c.threads.len() && i < c.threads[l - 1].len() => {
                        c.threads[l - 1].remove(i);
                        true
                    }
                    l if l == c.threads.len() + 1 && i < c.schedule.steps.len() => {
                        c.schedule.steps.remove(i);
                        true
                    }
                    l if l == c.threads.len() + 2 && i < c.schedule.named.len() => {
                        c.schedule.named.remove(i);
                        true
                    }
                    _ => false,
                };
                if !removed {
                    break;
                }
                if still(&c, &mut runs) {
                    cur = c;
                    progress = true;
                } else {
                    i += 1;
                }
            }
        }
        if !progress {
            break;
        }
    }
    cur.expect = Verdict::Violation(id.to_string());
    (cur, runs)
}

/// Is `out` a finding for campaign `c` (an error, or a violation whose id
/// the campaign does not allow)?
pub fn is_finding(out: &Outcome, c: &Campaign) -> bool {
    out.error.is_some() || out.violations.iter().any(|v| !c.allow.iter().any(|a| a == v.id))
}

fn check_outcome(sc: &Scenario, out: &Outcome) {
    if is_finding(out, campaign()) {
        panic!("{}", report(sc, out));
    }
}

/// The `seq` target: decode, run with the checker and the model after
/// every op; panic on a finding.
pub fn fuzz_seq(data: &[u8]) {
    let sc = seq_input(data, campaign());
    let out = run(&sc);
    check_outcome(&sc, &out);
}

/// The `conc` target: decode, run under the fuzz scheduler; panic on a
/// finding. `cov` receives interleaving-coverage indices.
pub fn fuzz_conc(data: &[u8], cov: Option<CovSinkAlias>) {
    let sc = conc_input(data, campaign());
    let out = run_cov(&sc, cov);
    give_back_free_heap();
    if out.skipped.is_some() {
        return;
    }
    check_outcome(&sc, &out);
}

/// Every 64th run, return the heap's free pages to the kernel (glibc
/// `malloc_trim`). A shuttle run allocates its machine as vectors of tens
/// of MiB; glibc's dynamic mmap threshold soon serves them from the heap,
/// whose holes stay resident: a `conc` campaign grew to 2.1 GB of RSS in
/// 8000 runs and libFuzzer stopped it as out of memory (`-rss_limit_mb`),
/// with no leak (with a fixed mmap threshold RSS stayed at 70-80 MB, at
/// half the runs per second). Trimming after every run kept RSS flat but
/// also halved the rate (the next run faults its pages back in); every
/// 64th keeps both.
fn give_back_free_heap() {
    static RUNS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    if RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 64 != 63 {
        return;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory of the allocator's
    // arenas; no pointer the program holds is affected.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The `scenario` target: any text into the parser (it must never panic);
/// a scenario that parses must print back to text that parses to itself.
pub fn fuzz_scenario(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(sc) = crate::scenario::parse("input", &text) {
        let again = crate::scenario::parse("printed", &sc.print()).unwrap_or_else(|e| panic!("printed scenario does not parse: {e}\n{sc}"));
        assert_eq!(again, sc, "print/parse round trip changed the scenario");
    }
}

#[cfg(all(test, not(feature = "shuttle")))]
mod tests {
    use super::*;
    use crate::ops::Mt;

    fn sc(ops: Vec<Op>) -> Scenario {
        Scenario::sequential(ops)
    }

    #[test]
    fn a_clean_sequence_passes_the_model_and_the_checker() {
        let ops = vec![
            Op::Alloc { cpu: 0, order: Order(0), mt: Mt::Movable },
            Op::Alloc { cpu: 1, order: Order(3), mt: Mt::Unmovable },
            Op::Get { cpu: 0, a: 1 },
            Op::GetUnlessZero { cpu: 0, target: Target::Alloc { a: 0, off: 0 } },
            Op::GetUnlessZero { cpu: 0, target: Target::Alloc { a: 1, off: 3 } },
            Op::Fault { cpu: 0, vpn: 3 },
            Op::Fault { cpu: 1, vpn: 4 },
            Op::IsolateLru { cpu: 0, m: 0 },
            Op::Migrate { cpu: 0, i: 0 },
            Op::AddMemory { block: 0, memmap_on_memory: true },
            Op::Online { block: 0 },
            Op::IsolateRange { block: 1, pb: 3, n: Count(2) },
            Op::TestIsolated { i: 0 },
            Op::UndoIsolate { i: 0 },
            Op::AllocContig { cpu: 0, block: 1, pb: 5, n: Count(1) },
            Op::FreeContig { cpu: 0, i: 0 },
            Op::Offline { cpu: 0, block: 1 },
            Op::RemoveMemory { block: 0 },
            Op::Put { cpu: 0, a: 1 },
            Op::Free { cpu: 0, a: 1 },
            Op::PutSpec { cpu: 0, s: 0 },
            Op::Unmap { cpu: 0, m: 0 },
            Op::DrainAll {},
            Op::Alloc { cpu: 1, order: Order(0), mt: Mt::Reclaimable },
        ];
        let out = run(&sc(ops));
        assert!(out.violations.is_empty(), "{out}");
        assert_eq!(out.trace.len(), 24);
        assert!(out.trace.iter().all(|t| !matches!(t.applied.result, OpResult::Skip(_))), "{out}");
    }

    #[test]
    fn the_seq_mutator_is_deterministic_keeps_inputs_well_formed_and_grows_them() {
        let byte_mutate = |d: &mut [u8], size: usize, _max: usize| {
            if let Some(b) = d.first_mut() {
                *b = b.wrapping_add(1);
            }
            size
        };
        let mut buf = vec![0u8; 512];
        let mut size = 1;
        let mut grew = 0;
        for seed in 0..400u32 {
            let mut again = buf.clone();
            let n = mutate_seq(&mut buf, size, 512, seed, byte_mutate);
            let m = mutate_seq(&mut again, size, 512, seed, byte_mutate);
            assert_eq!((n, &buf[..n]), (m, &again[..m]), "seed {seed}: not deterministic");
            assert!(n <= 512);
            let sc = seq_input(&buf[..n], &Campaign::fixed());
            assert!(sc.setup.len() <= MAX_SEQ_OPS);
            if n > size {
                grew += 1;
            }
            size = n.max(1);
        }
        assert!(grew > 50, "op insertions should lengthen inputs ({grew} of 400 did)");
        assert!(seq_input(&buf[..size], &Campaign::fixed()).setup.len() >= 10, "after 400 mutations the input should hold many ops");
    }

    #[test]
    fn random_inputs_are_clean_and_deterministic() {
        let mut s = 7u64;
        for _ in 0..40 {
            let data: Vec<u8> = (0..300)
                .map(|_| {
                    s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    (s >> 33) as u8
                })
                .collect();
            let sc = seq_input(&data, &Campaign::fixed());
            let a = run(&sc);
            // B1 is a known finding of the fixed design (a wrong invariant:
            // two isolated pageblock-order buddies are not merged, as in
            // the kernel; corpus/scenarios/finding-b1-isolated-buddies.ops).
            let c = Campaign { allow: vec!["B1".into()], ..Campaign::fixed() };
            assert!(!is_finding(&a, &c), "{}", report(&sc, &a));
            assert_eq!(a.fingerprint(), run(&sc).fingerprint());
        }
    }

    #[test]
    fn scenarios_encode_to_fuzz_bytes_that_decode_back() {
        let ops = vec![
            Op::Alloc { cpu: 1, order: Order(9), mt: Mt::Reclaimable },
            Op::GetUnlessZero { cpu: 0, target: Target::Pfn { pfn: 77 } },
            Op::IsolateRange { block: 1, pb: 3, n: Count(2) },
            Op::AddMemory { block: 0, memmap_on_memory: true },
        ];
        let c = Campaign::fixed();
        let sc = seq_scenario(&SeqInput { knobs: 5, ops: ops.clone() }, &c);
        let bytes = seq_bytes(&sc).unwrap();
        assert_eq!(seq_input(&bytes, &c), sc);
        let ci = ConcInput { knobs: 16, setup: ops.clone(), threads: vec![ops.clone(), vec![], ops[1..].to_vec()], steps: vec![(3, 1), (40, 2)] };
        let csc = conc_scenario(&ci, &c);
        let bytes = conc_bytes(&csc).unwrap();
        assert_eq!(conc_input(&bytes, &c), csc);
    }

    #[test]
    fn campaign_maps_bugs_to_designs() {
        assert!(Campaign::for_bug("fixed").unwrap().bug.is_none());
        let c = Campaign::for_bug("C4").unwrap();
        assert_eq!(c.free_path, "free_mt_no_recheck");
        let c = Campaign::for_bug("c1").unwrap();
        assert_eq!(c.design, vec![Switch::OfflineDrainOnce]);
        assert!(Campaign::for_bug("nope").is_err());
    }
}
