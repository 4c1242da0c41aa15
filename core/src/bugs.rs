//! The bug registry: the five seed bugs and historical ones, each with the
//! kernel commit that fixed it, the invariant it breaks, its mechanism in
//! one sentence, and a deterministic reproducer.
//!
//! A reproducer runs one scenario twice — with the bug's variant on
//! (`buggy = true`) and with the landed design — and returns what the
//! checker (plus the run-time BUG_ON/WARN sites) reported. A bug is
//! *reproduced* when the buggy run reports the registered invariant, and
//! *fixed* when the landed run reports nothing at all.
//!
//! Races are written out as preemption plans ([`crate::sched::Preempt`]):
//! "when T1 reaches its 1st `free_unref_page:mt_read`, run T0". They run
//! under shuttle with [`crate::sched::PreemptScheduler`], so they need the
//! `shuttle` build; sequential reproducers run in both builds.
//!
//! Invariants: every entry's `variant` names a [`crate::Switch`] or a
//! [`crate::FreePath`] type; `source` is a seed file name, "history", or
//! "fuzz" (a hole our fuzzer found in the kernel's landed rule).
//! Lock order: none of its own.

use crate::check::Violation;
use crate::design::{Design, Switch};
use crate::page_alloc::{FreePath, Landed};
use crate::system::{Config, System};
use crate::SECTION_SIZE;

/// A reproducer: `buggy` selects the variant; the result is every
/// violation reported at the end, or why the scenario could not run.
pub type Reproducer = fn(buggy: bool) -> Result<Vec<Violation>, String>;

/// One registered bug.
#[derive(Clone, Copy)]
pub struct Bug {
    /// Short id: the research notes' (B1..B5 for the seeds, C1.. for history).
    pub id: &'static str,
    pub title: &'static str,
    /// The kernel commit that fixed it (12-char hash, as the notes give it).
    pub fix_commit: &'static str,
    /// The catalogue id of the invariant it breaks.
    pub invariant: &'static str,
    /// The mechanism in one sentence.
    pub mechanism: &'static str,
    /// The seed file for the five seed bugs, "history" for the kernel's
    /// fixed bugs, "fuzz" for a hole pagelab's fuzzer found in the kernel's
    /// current rule (fixed in the landed design only).
    pub source: &'static str,
    /// The switch or FreePath type that turns it on.
    pub variant: &'static str,
    /// Needs the shuttle build (a race with a preemption plan).
    pub race: bool,
    pub reproduce: Reproducer,
}

impl Bug {
    /// The invariants whose violation, under this bug's design, counts as
    /// detecting it: the registered one first, then the ones the same
    /// mechanism breaks on the way there (its reproducer reports them too,
    /// see `pagelab bugs --check`). A fuzz harness that checks after every
    /// op stops at the first of them, so it may never reach the registered
    /// one: B3's flag-first soft offline leaves a PG_hwpoison folio on the
    /// hugetlb freelist (HR3, the model's H3) one op before the reserved
    /// fault finds no folio (HR1).
    pub fn detected_by(&'static self) -> &'static [&'static str] {
        match self.id {
            "B2c" => &["I1", "B3", "P2"],
            // Flag first: the flagged folio stays on the freelist (HR3,
            // the model's H3) or, when nothing reserves it, is dissolved
            // into buddy with its PG_hwpoison head (H1).
            "B3" => &["HR1", "HR3", "H1"],
            "C4" | "C4m" => &["B3", "B4"],
            "C6" => &["HD1", "HR2"],
            "C7" => &["R3", "HR3"],
            "C12" => &["A1", "B4"],
            _ => std::slice::from_ref(&self.invariant),
        }
    }
}

impl std::fmt::Debug for Bug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bug").field("id", &self.id).field("variant", &self.variant).finish()
    }
}

/// The outcome of running a bug's reproducer both ways.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub id: &'static str,
    pub invariant: &'static str,
    pub buggy: Result<Vec<Violation>, String>,
    pub fixed: Result<Vec<Violation>, String>,
}

impl Verdict {
    /// The buggy run reported the registered invariant.
    pub fn reproduced(&self) -> bool {
        matches!(&self.buggy, Ok(v) if v.iter().any(|x| x.id == self.invariant))
    }
    /// The landed run reported nothing.
    pub fn fixed_clean(&self) -> bool {
        matches!(&self.fixed, Ok(v) if v.is_empty())
    }
    /// Both.
    pub fn pass(&self) -> bool {
        self.reproduced() && self.fixed_clean()
    }
}

/// Run `bug`'s reproducer both ways. Races need `--features shuttle`;
/// without it their verdict says so.
pub fn check_bug(bug: &Bug) -> Verdict {
    let run = |buggy| {
        if bug.race && !cfg!(feature = "shuttle") {
            return Err("a race reproducer: needs the shuttle build (--features shuttle)".to_string());
        }
        (bug.reproduce)(buggy)
    };
    Verdict { id: bug.id, invariant: bug.invariant, buggy: run(true), fixed: run(false) }
}

/// Look a bug up by id.
pub fn find(id: &str) -> Option<&'static Bug> {
    registry().iter().find(|b| b.id.eq_ignore_ascii_case(id))
}

fn cfg(sections: u64, max: usize, design: Design) -> Config {
    Config {
        mem_bytes: sections * SECTION_SIZE,
        max_sections: max,
        nr_cpus: 2,
        frame_store: true,
        design,
        offline_max_passes: 4,
        ..Config::default()
    }
}

fn design(buggy: bool, s: Switch) -> Design {
    if buggy {
        Design::with(&[s])
    } else {
        Design::fixed()
    }
}

/// Run a sequential scenario: directly in the default build, as a single
/// shuttle execution in the shuttle build (model types need one).
pub fn sequential(f: impl Fn() -> Result<Vec<Violation>, String> + Send + Sync + 'static) -> Result<Vec<Violation>, String> {
    #[cfg(not(feature = "shuttle"))]
    {
        f()
    }
    #[cfg(feature = "shuttle")]
    {
        race(Vec::new(), f)
    }
}

/// Run a race scenario under a preemption plan; fails if the plan's
/// preemptions were not all taken (the race did not happen as written).
#[cfg(feature = "shuttle")]
pub fn race(
    plan: Vec<crate::sched::Preempt>,
    f: impl Fn() -> Result<Vec<Violation>, String> + Send + Sync + 'static,
) -> Result<Vec<Violation>, String> {
    use std::sync::{Arc, Mutex};
    let out: Arc<Mutex<Option<Result<Vec<Violation>, String>>>> = Arc::new(Mutex::new(None));
    let o = out.clone();
    let want = plan.len();
    let taken = crate::sched::run_preempt(plan, move || {
        let r = f();
        *o.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
    });
    let r = out.lock().unwrap_or_else(|e| e.into_inner()).take().ok_or("the scenario did not finish")?;
    if taken != want {
        return Err(format!("only {taken} of {want} planned preemptions happened"));
    }
    r
}

#[cfg(not(feature = "shuttle"))]
fn race(
    _plan: Vec<crate::sched_plan::Preempt>,
    _f: impl Fn() -> Result<Vec<Violation>, String> + Send + Sync + 'static,
) -> Result<Vec<Violation>, String> {
    Err("a race reproducer: needs the shuttle build (--features shuttle)".into())
}

fn e<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// C1: offline drains the pcp once, at isolation, and leaves it enabled.
fn c1_offline_drain_once(buggy: bool) -> Result<Vec<Violation>, String> {
    use crate::sched_plan::Preempt;
    let d = design(buggy, Switch::OfflineDrainOnce);
    race(
        vec![
            Preempt { task: 0, label: "repro:spawned", nth: 1, then: 1 },
            Preempt { task: 1, label: "free_unref_page:mt_read", nth: 1, then: 0 },
        ],
        move || {
            let sys = std::sync::Arc::new(System::<Landed>::new(cfg(1, 2, d.clone())).map_err(e)?);
            sys.add_memory(1, false).map_err(e)?;
            sys.online_memory_block(1).map_err(e)?;
            let c0 = sys.cpu(0).map_err(e)?;
            let s1 = sys.clone();
            let t = crate::sync::thread::spawn(move || -> Result<(), String> {
                let c1 = s1.cpu(1).map_err(e)?;
                let p = c1.fault(0).map_err(e)?;
                if p < crate::PAGES_PER_SECTION {
                    return Err(format!("setup: the user page {p:#x} is not in block 1"));
                }
                // The final put: its migratetype is read before the offline
                // below isolates the block (the preemption point).
                c1.unmap(0).map_err(e)?;
                c1.alloc_page().map_err(e)?;
                Ok(())
            });
            crate::sync::preempt_point("repro:spawned");
            let _ = sys.offline_memory_block(&c0, 1);
            t.join().map_err(|_| "worker panicked".to_string())??;
            Ok(sys.check())
        },
    )
}

/// C2: drain_pages_zone decides "empty" from a count read outside the lock.
fn c2_drain_racy_count(buggy: bool) -> Result<Vec<Violation>, String> {
    use crate::sched_plan::Preempt;
    let d = design(buggy, Switch::DrainRacyCount);
    race(
        vec![
            Preempt { task: 0, label: "repro:spawned", nth: 1, then: 1 },
            Preempt { task: 1, label: "rmqueue_pcplist:refilled", nth: 1, then: 0 },
        ],
        move || {
            let sys = std::sync::Arc::new(System::<Landed>::new(cfg(1, 2, d.clone())).map_err(e)?);
            sys.add_memory(1, false).map_err(e)?;
            sys.online_memory_block(1).map_err(e)?;
            let c0 = sys.cpu(0).map_err(e)?;
            let s1 = sys.clone();
            let t = crate::sync::thread::spawn(move || -> Result<(), String> {
                let c1 = s1.cpu(1).map_err(e)?;
                // An empty pcp: the refill puts a batch of block 1 on the
                // list before it updates pcp->count (the preemption point).
                c1.alloc_page().map_err(e)?;
                Ok(())
            });
            crate::sync::preempt_point("repro:spawned");
            let _ = sys.offline_memory_block(&c0, 1);
            t.join().map_err(|_| "worker panicked".to_string())??;
            Ok(sys.check())
        },
    )
}

/// C4: free pages are listed by a migratetype read before isolation.
fn c4<F: FreePath>() -> Result<Vec<Violation>, String> {
    sequential(|| {
        let sys = System::<F>::new(cfg(2, 2, Design::fixed())).map_err(e)?;
        let c = sys.cpu(0).map_err(e)?;
        let p = c.alloc_page().map_err(e)?;
        // p (and its refill batch) now sit on the pcp with "Movable" cached.
        c.put_page(p).map_err(e)?;
        let block = p & !(crate::PAGEBLOCK_NR_PAGES - 1);
        let flags = crate::page_isolation::IsolFlags { memory_offline: true, hwpoison_unmovable: false, hwpoison_skip_held: false };
        sys.zone()
            .start_isolate_page_range(sys.memmap(), block, block + crate::PAGEBLOCK_NR_PAGES, flags)
            .map_err(|x| format!("{x:?}"))?;
        drop(c);
        sys.drain_all_pages();
        Ok(sys.check())
    })
}

fn c4_free_mt_no_recheck(buggy: bool) -> Result<Vec<Violation>, String> {
    if buggy {
        c4::<crate::FreeMtNoRecheck>()
    } else {
        c4::<Landed>()
    }
}

/// C4-merge: a free block of an isolated pageblock merges with its normal
/// neighbour.
fn c4m<F: FreePath>() -> Result<Vec<Violation>, String> {
    sequential(|| {
        let sys = System::<F>::new(cfg(1, 1, Design::fixed())).map_err(e)?;
        let c = sys.cpu(0).map_err(e)?;
        let mut held = Vec::new();
        while let Ok(p) = c.alloc_pages(crate::PAGEBLOCK_ORDER, crate::MigrateType::Movable) {
            held.push(p);
        }
        let a = *held.iter().find(|&&p| p & (1 << crate::PAGEBLOCK_ORDER) == 0).ok_or("no order-9 pair")?;
        let b = a ^ (1 << crate::PAGEBLOCK_ORDER);
        if !held.contains(&b) {
            return Err("setup: the buddy of the first block is not allocated".into());
        }
        c.free_pages(a, crate::PAGEBLOCK_ORDER).map_err(e)?;
        c.drain_local_pages();
        let flags = crate::page_isolation::IsolFlags { memory_offline: true, hwpoison_unmovable: false, hwpoison_skip_held: false };
        sys.zone()
            .start_isolate_page_range(sys.memmap(), a, a + crate::PAGEBLOCK_NR_PAGES, flags)
            .map_err(|x| format!("{x:?}"))?;
        c.free_pages(b, crate::PAGEBLOCK_ORDER).map_err(e)?;
        c.drain_local_pages();
        Ok(sys.check())
    })
}

fn c4_merge_across_isolate(buggy: bool) -> Result<Vec<Violation>, String> {
    if buggy {
        c4m::<crate::MergeAcrossIsolate>()
    } else {
        c4m::<Landed>()
    }
}

/// C12: the add_memory error path frees the altmap's vmemmap to buddy.
fn c12_altmap_error_path(buggy: bool) -> Result<Vec<Violation>, String> {
    let d = design(buggy, Switch::AltmapErrorPathNull);
    sequential(move || {
        let sys = System::<Landed>::new(cfg(1, 2, d.clone())).map_err(e)?;
        if sys.add_memory_failing(1, true).is_ok() {
            return Err("the injected failure did not fail".into());
        }
        Ok(sys.check())
    })
}

/// Seed 000 (B1): PageOffline pages at refcount 0 without a put_page hook.
fn b1_pageoffline_refcount_zero(buggy: bool) -> Result<Vec<Violation>, String> {
    use crate::drivers::virtio_mem::{VirtioMem, SBS_PER_MB};
    use crate::drivers::{walker_get, walker_put};
    let d = design(buggy, Switch::PageOfflineRefcountZero);
    sequential(move || {
        let sys = System::<Landed>::new(cfg(2, 3, d.clone())).map_err(e)?;
        let c0 = sys.cpu(0).map_err(e)?;
        let c1 = sys.cpu(1).map_err(e)?;
        let vm = std::sync::Arc::new(VirtioMem::new(2, 1));
        sys.register_memory_notifier(vm.clone());
        sys.add_memory(2, false).map_err(e)?;
        for sb in 0..SBS_PER_MB {
            vm.plug(&c0, sb).map_err(e)?;
        }
        sys.online_memory_block(2).map_err(e)?;
        // T1 (virtio-mem): alloc_contig_range of a subblock; it holds 1.
        let prepared = vm.unplug_prepare(&c0, 9).map_err(e)?;
        let pfn = prepared.start_pfn() + 17;
        // T0 (a pfn walker): a speculative reference -> 2.
        if !walker_get(&c1, pfn).map_err(e)? {
            return Err("setup: the walker got no reference".into());
        }
        // T1: __SetPageOffline; under the RFC the driver drops to 0 here (-> 1).
        prepared.commit().map_err(e)?;
        // T0: its put is now the last one.
        let _ = walker_put(&c1, pfn);
        Ok(sys.check())
    })
}

/// B1-CMM: the CMM balloon frees its loans at GOING_OFFLINE, keeps nothing
/// on CANCEL.
fn b1_cmm_free_on_going_offline(buggy: bool) -> Result<Vec<Violation>, String> {
    use crate::drivers::cmm::Cmm;
    let d = design(buggy, Switch::CmmFreeOnGoingOffline);
    sequential(move || {
        let sys = System::<Landed>::new(cfg(2, 3, d.clone())).map_err(e)?;
        let c = sys.cpu(0).map_err(e)?;
        let cmm = std::sync::Arc::new(Cmm::new());
        sys.register_memory_notifier(cmm.clone());
        // Fill block 0 so the loans and a user page land in block 1.
        let mut hog = Vec::new();
        loop {
            let p = c.alloc_pages(crate::MAX_PAGE_ORDER, crate::MigrateType::Movable).map_err(e)?;
            if p >= crate::PAGES_PER_SECTION {
                c.free_pages(p, crate::MAX_PAGE_ORDER).map_err(e)?;
                break;
            }
            hog.push(p);
        }
        cmm.inflate(&c, 8).map_err(e)?;
        let user = c.fault(0).map_err(e)?;
        for p in hog {
            c.free_pages(p, crate::MAX_PAGE_ORDER).map_err(e)?;
        }
        // A pin on the user page makes the offline fail after GOING_OFFLINE.
        c.get_page(user).map_err(e)?;
        if sys.offline_memory_block(&c, 1).is_ok() {
            return Err("setup: the offline was expected to fail".into());
        }
        c.put_page(user).map_err(e)?;
        Ok(sys.check())
    })
}

fn b5_head_mapcount(buggy: bool) -> Result<Vec<Violation>, String> {
    sequential(move || crate::compaction::repro::b5_head_mapcount(buggy))
}
fn b5_check_before_ref(buggy: bool) -> Result<Vec<Violation>, String> {
    sequential(move || crate::compaction::repro::b5_check_before_ref(buggy))
}
fn c19_clear_lru_before_ref(buggy: bool) -> Result<Vec<Violation>, String> {
    sequential(move || crate::compaction::repro::c19_clear_lru_before_ref(buggy))
}
fn c16_pmd_map_poisoned(buggy: bool) -> Result<Vec<Violation>, String> {
    sequential(move || crate::folio::repro_c16_pmd_map_poisoned(buggy))
}
fn b4_walkers_read_offline_memmap(buggy: bool) -> Result<Vec<Violation>, String> {
    sequential(move || crate::walkers::repro::b4_walkers_read_offline_memmap(buggy))
}

fn hw_sys(d: Design) -> Result<System<Landed>, String> {
    System::<Landed>::new(cfg(2, 2, d)).map_err(e)
}

/// A free pfn in block 1 (inside a pristine order-10 block at boot).
const FREE_PFN: crate::Pfn = crate::PAGES_PER_SECTION + 1000 + 7;

/// Seed 001 (B2a): soft offline of a free page flags it in buddy.
fn b2_soft_offline_poison_in_buddy(buggy: bool) -> Result<Vec<Violation>, String> {
    let d = design(buggy, Switch::SoftOfflinePoisonInBuddy);
    sequential(move || {
        let sys = hw_sys(d.clone())?;
        let c = sys.cpu(0).map_err(e)?;
        sys.soft_offline_page(&c, FREE_PFN).map_err(e)?;
        Ok(sys.check())
    })
}

/// B2(c): the raw ISOLATE flip around the in-use migration; checked inside
/// the window, between the migration step and the poison step.
fn b2c_soft_offline_isolate_dance(buggy: bool) -> Result<Vec<Violation>, String> {
    let d = design(buggy, Switch::SoftOfflineIsolateDance);
    sequential(move || {
        let sys = hw_sys(d.clone())?;
        let c = sys.cpu(0).map_err(e)?;
        let pfn = c.fault(9).map_err(e)?;
        let mut op = sys.soft_offline_begin(pfn).map_err(e)?;
        op.step(&c); // get_hwpoison_page: in use
        op.step(&c); // isolate and migrate
        let mid = sys.check();
        while !op.is_done() {
            op.step(&c);
        }
        Ok(mid)
    })
}

/// Seed 002 (B3, race 2): soft offline flags the free hugetlb folio a
/// reservation counts on before trying to dissolve it.
fn b3_soft_offline_flag_first(buggy: bool) -> Result<Vec<Violation>, String> {
    let d = design(buggy, Switch::SoftOfflineFlagFirst);
    sequential(move || {
        let sys = hw_sys(d.clone())?;
        let c = sys.cpu(0).map_err(e)?;
        sys.hugetlb_alloc_pool(&c, 1).map_err(e)?;
        sys.hugetlb_reserve(1).map_err(e)?;
        let f = *sys.hugetlb_freelist().first().ok_or("setup: empty pool")?;
        let _ = sys.soft_offline_page(&c, f + 3);
        // The reserved fault: the only folio is flagged and skipped.
        let _ = sys.hugetlb_fault();
        Ok(sys.check())
    })
}

/// C6: free_huge_folio vs dissolve: T1's free has dropped the last
/// reference but not yet enqueued the folio when T0 dissolves it.
fn c6_dissolve_no_freed_check(buggy: bool) -> Result<Vec<Violation>, String> {
    use crate::sched_plan::Preempt;
    let d = design(buggy, Switch::DissolveNoFreedCheck);
    race(
        vec![
            Preempt { task: 0, label: "repro:spawned", nth: 1, then: 1 },
            Preempt { task: 1, label: "free_huge_folio:refcount_zero", nth: 1, then: 0 },
        ],
        move || {
            let sys = std::sync::Arc::new(hw_sys(d.clone())?);
            {
                let c = sys.cpu(0).map_err(e)?;
                sys.hugetlb_alloc_pool(&c, 2).map_err(e)?;
            }
            let a = sys.hugetlb_fault().map_err(e)?;
            let s1 = sys.clone();
            let t = crate::sync::thread::spawn(move || s1.hugetlb_free(a).map_err(e));
            crate::sync::preempt_point("repro:spawned");
            let _ = sys.dissolve_free_hugetlb_folio(a);
            t.join().map_err(|_| "worker panicked".to_string())??;
            Ok(sys.check())
        },
    )
}

/// C7: memory_failure's speculative reference on a hugetlb folio being
/// prepared (written as the two halves of the preparation with the
/// get in between).
fn c7_hwpoison_spec_ref_hugetlb(buggy: bool) -> Result<Vec<Violation>, String> {
    let d = design(buggy, Switch::HwpoisonSpecRefHugetlb);
    sequential(move || {
        let sys = hw_sys(d.clone())?;
        let c = sys.cpu(0).map_err(e)?;
        let f = sys.hugetlb_alloc_folio_begin(&c).map_err(e)?;
        let _ = sys.get_hwpoison_page(&c, f, false);
        sys.hugetlb_alloc_folio_finish(f).map_err(e)?;
        Ok(sys.check())
    })
}

/// C8: dissolving a free hugetlb folio a reservation counts on.
fn c8_dissolve_ignores_resv(buggy: bool) -> Result<Vec<Violation>, String> {
    let d = design(buggy, Switch::DissolveIgnoresResv);
    sequential(move || {
        let sys = hw_sys(d.clone())?;
        let c = sys.cpu(0).map_err(e)?;
        sys.hugetlb_alloc_pool(&c, 1).map_err(e)?;
        sys.hugetlb_reserve(1).map_err(e)?;
        let f = *sys.hugetlb_freelist().first().ok_or("setup: empty pool")?;
        let _ = sys.dissolve_free_hugetlb_folio(f);
        let _ = sys.hugetlb_fault();
        Ok(sys.check())
    })
}

/// C10: memory_failure on a pfn of offline memory reads its memmap.
fn c10_memory_failure_offline(buggy: bool) -> Result<Vec<Violation>, String> {
    let d = design(buggy, Switch::MemmapReadsOffline);
    sequential(move || {
        let sys = hw_sys(d.clone())?;
        let c = sys.cpu(0).map_err(e)?;
        sys.offline_memory_block(&c, 1).map_err(e)?;
        let _ = sys.memory_failure(&c, crate::PAGES_PER_SECTION + 5);
        Ok(sys.check())
    })
}

/// B4(iii): offline_pages over the whole memmap_on_memory block, its own
/// vmemmap pages included.
fn b4v_vmemmap_in_offline_range(buggy: bool) -> Result<Vec<Violation>, String> {
    let d = design(buggy, Switch::VmemmapInOfflineRange);
    sequential(move || {
        let sys = System::<Landed>::new(cfg(1, 2, d.clone())).map_err(e)?;
        sys.add_memory(1, true).map_err(e)?;
        sys.online_memory_block(1).map_err(e)?;
        let c = sys.cpu(0).map_err(e)?;
        let _ = sys.offline_memory_block(&c, 1);
        Ok(sys.check())
    })
}

/// C9: poison a page, offline its block (poisoned pages are skipped),
/// online it again.
fn c9_online_forgets_hwpoison(buggy: bool) -> Result<Vec<Violation>, String> {
    let d = design(buggy, Switch::OnlineForgetsHwpoison);
    sequential(move || {
        let sys = hw_sys(d.clone())?;
        let c = sys.cpu(0).map_err(e)?;
        sys.memory_failure(&c, FREE_PFN).map_err(e)?;
        sys.offline_memory_block(&c, 1).map_err(e)?;
        let _ = sys.online_memory_block(1);
        Ok(sys.check())
    })
}

/// C11: offline of a block holding one hard-poisoned page.
fn c11_hwpoison_offline_unmovable(buggy: bool) -> Result<Vec<Violation>, String> {
    let d = design(buggy, Switch::HwpoisonOfflineUnmovable);
    sequential(move || {
        let sys = hw_sys(d.clone())?;
        let c = sys.cpu(0).map_err(e)?;
        sys.memory_failure(&c, FREE_PFN).map_err(e)?;
        let _ = sys.offline_memory_block(&c, 1);
        Ok(sys.check())
    })
}

/// C22: hard offline of a kernel page in use (memory_failure can only
/// flag it), then offline of its block while the owner still holds it.
/// Fixed, the offline is refused until the owner frees the page, and then
/// succeeds.
fn c22_offline_skips_held_hwpoison(buggy: bool) -> Result<Vec<Violation>, String> {
    let d = design(buggy, Switch::OfflineSkipsHeldHwpoison);
    sequential(move || {
        let sys = hw_sys(d.clone())?;
        let c = sys.cpu(0).map_err(e)?;
        let pfn = c.alloc_pages(0, crate::MigrateType::Reclaimable).map_err(e)?;
        let nr = pfn / crate::PAGES_PER_SECTION;
        let r = sys.memory_failure(&c, pfn).map_err(e)?;
        if r != crate::memory_failure::MfResult::Ignored {
            return Err(format!("memory_failure on an in-use kernel page should only flag it, got {r:?}"));
        }
        if sys.offline_memory_block(&c, nr).is_ok() {
            // The owner's page is now in offline memory.
            return Ok(sys.check());
        }
        c.put_page(pfn).map_err(e)?;
        sys.offline_memory_block(&c, nr).map_err(|x| format!("offline after the owner freed the poisoned page: {x}"))?;
        Ok(sys.check())
    })
}

/// C15: hard offline of a tail of a high-order non-compound allocation
/// (memory_failure can only flag it), then the owner frees the block.
fn c15_free_prepare_hwpoison_order0_only(buggy: bool) -> Result<Vec<Violation>, String> {
    let d = design(buggy, Switch::FreePrepareHwpoisonOrder0Only);
    sequential(move || {
        let sys = hw_sys(d.clone())?;
        let c = sys.cpu(0).map_err(e)?;
        let pfn = c.alloc_pages(1, crate::MigrateType::Unmovable).map_err(e)?;
        let _ = sys.memory_failure(&c, pfn + 1);
        c.free_pages(pfn, 1).map_err(e)?;
        Ok(sys.check())
    })
}

/// C17: hard offline of a free page that sits on a pcp list.
fn c17_hwpoison_ignore_pcp_free(buggy: bool) -> Result<Vec<Violation>, String> {
    let d = design(buggy, Switch::HwpoisonIgnorePcpFree);
    sequential(move || {
        let sys = hw_sys(d.clone())?;
        let c = sys.cpu(0).map_err(e)?;
        let pfn = c.alloc_page().map_err(e)?;
        c.put_page(pfn).map_err(e)?;
        let _ = sys.memory_failure(&c, pfn);
        Ok(sys.check())
    })
}

/// Every registered bug.
pub fn registry() -> &'static [Bug] {
    REGISTRY
}

static REGISTRY: &[Bug] = &[
    Bug {
        id: "B1",
        title: "PageOffline pages offlined at refcount 0: a speculative reference frees an unplugged page",
        fix_commit: "aa218795cb5f",
        invariant: "V4",
        mechanism: "with unplugged PageOffline pages at refcount 0 (RFC v3 6/9) and no hook in put_page, a pfn walker's speculative get taken before the driver dropped its reference ends in the final put, which sends the unplugged page to the free path",
        source: "000_0092d3deb7bbe402.txt",
        variant: "pageoffline_refcount_zero",
        race: false,
        reproduce: b1_pageoffline_refcount_zero,
    },
    Bug {
        id: "B1c",
        title: "CMM balloon frees loaned pages at MEM_GOING_OFFLINE and never re-takes them",
        fix_commit: "fe030c9b85e6",
        invariant: "CMM1",
        mechanism: "the CMM notifier frees the loaned pages of the range to buddy at GOING_OFFLINE and does nothing on CANCEL_OFFLINE, so a failed offline silently deflates the balloon and the guest reuses memory the hypervisor owns",
        source: "000_0092d3deb7bbe402.txt",
        variant: "cmm_free_on_going_offline",
        race: false,
        reproduce: b1_cmm_free_on_going_offline,
    },
    Bug {
        id: "B2",
        title: "soft offline leaves a PG_hwpoison page in the buddy free lists",
        fix_commit: "79f5f8fab482",
        invariant: "H1",
        mechanism: "the pre-5.10 soft offline flags a page PG_hwpoison where it finds it in buddy (set_hwpoison_free_buddy_page) instead of taking it off the free lists first, so a poisoned page stays allocatable",
        source: "001_1429a2010e369bac.txt",
        variant: "soft_offline_poison_in_buddy",
        race: false,
        reproduce: b2_soft_offline_poison_in_buddy,
    },
    Bug {
        id: "B2c",
        title: "soft offline flips the pageblock to ISOLATE without isolation accounting",
        fix_commit: "79f5f8fab482",
        invariant: "I1",
        mechanism: "the pre-5.10 in-use path sets MIGRATE_ISOLATE with a raw set_pageblock_migratetype, without nr_isolate_pageblock++ or moving the free pages, so the zone's isolation bookkeeping and the free lists disagree with the block",
        source: "001_1429a2010e369bac.txt",
        variant: "soft_offline_isolate_dance",
        race: false,
        reproduce: b2c_soft_offline_isolate_dance,
    },
    Bug {
        id: "B3",
        title: "soft offline of a free huge page sets PG_hwpoison before dissolving it",
        fix_commit: "6bc9b56433b7",
        invariant: "HR1",
        mechanism: "soft_offline_free_page flags the hugetlb head first (as hard offline does) and then tries to dissolve it; the dissolve is refused because a reservation needs the page, so a flagged folio stays on the freelist and the reserved fault finds no usable page",
        source: "002_9a94bcd7686719e3.txt",
        variant: "soft_offline_flag_first",
        race: false,
        reproduce: b3_soft_offline_flag_first,
    },
    Bug {
        id: "B4",
        title: "pfn walkers read the memmap of offline memory (valid_zones, kpageflags, dump tools)",
        fix_commit: "96c804a6ae8c",
        invariant: "M3",
        mechanism: "walkers test pfn_valid instead of pfn_to_online_page and so read the struct pages of an offline section, whose memmap is poisoned (or, with memmap_on_memory, not even there)",
        source: "003_90b20de495d21dca.txt",
        variant: "memmap_reads_offline",
        race: false,
        reproduce: b4_walkers_read_offline_memmap,
    },
    Bug {
        id: "B4v",
        title: "memmap_on_memory: offline_pages over the block's own vmemmap pages",
        fix_commit: "a08a2ae34613",
        invariant: "O4",
        mechanism: "offline_pages is called on the whole hot-added block instead of starting after its nr_vmemmap_pages, so has_unmovable_pages meets the Reserved vmemmap pages and the offline can never succeed",
        source: "003_90b20de495d21dca.txt",
        variant: "vmemmap_in_offline_range",
        race: false,
        reproduce: b4v_vmemmap_in_offline_range,
    },
    Bug {
        id: "B5",
        title: "THP mapcount on isolation: a PTE-mapped THP looks pinned and is never migrated",
        fix_commit: "829ae0f81ce0",
        invariant: "O4",
        mechanism: "isolate_migratepages_block compares the folio's refcount with page_mapcount(head) instead of the total mapcount, so a PTE-mapped THP (512 references, head mapcount 1) is judged pinned and alloc_contig/offline cannot make progress",
        source: "004_7681180b8ddbfddc.txt",
        variant: "isolate_uses_head_mapcount",
        race: false,
        reproduce: b5_head_mapcount,
    },
    Bug {
        id: "B5r",
        title: "compaction's pinned check runs before the speculative reference",
        fix_commit: "829ae0f81ce0",
        invariant: "R1",
        mechanism: "the v6.0 order checks refcount against mapcount with no reference held and never repeats it, so a page freed and reused (and pinned) in between is isolated on a stale decision",
        source: "history",
        variant: "isolate_check_before_ref",
        race: false,
        reproduce: b5_check_before_ref,
    },
    Bug {
        id: "C17",
        title: "hwpoison on a free page that sits on a pcp list",
        fix_commit: "17e395b60f5b",
        invariant: "H1",
        mechanism: "memory_failure finds a refcount-0 page that is not in buddy (it is on a pcp list), gives up on it as a kernel high-order page, and leaves a PG_hwpoison page on the pcp list to be allocated",
        source: "history",
        variant: "hwpoison_ignore_pcp_free",
        race: false,
        reproduce: c17_hwpoison_ignore_pcp_free,
    },
    Bug {
        id: "C16",
        title: "PMD-mapping a THP with a poisoned subpage",
        fix_commit: "eac96c3efdb5",
        invariant: "H7",
        mechanism: "do_set_pmd ignores PageHasHWPoisoned and maps the whole folio by PMD, exposing the poisoned subpage",
        source: "history",
        variant: "thp_pmd_map_poisoned",
        race: false,
        reproduce: c16_pmd_map_poisoned,
    },
    Bug {
        id: "C19",
        title: "compaction clears PG_lru before taking its reference",
        fix_commit: "unknown",
        invariant: "A2",
        mechanism: "TestClearPageLRU runs before get_page_unless_zero; when the get fails (the folio is frozen), the flag stays cleared on a live mapped page that nobody isolated",
        source: "history",
        variant: "clear_lru_before_ref",
        race: false,
        reproduce: c19_clear_lru_before_ref,
    },
    Bug {
        id: "C1",
        title: "pcp vs isolation: a page freed to a pcp list after the offline drain",
        fix_commit: "ec6e8c7e0314",
        invariant: "A1",
        mechanism: "offline drains the pcp lists once and leaves them enabled, so a free whose migratetype was read before isolation parks the page on a pcp list, from which it is allocated out of the isolated block",
        source: "history",
        variant: "offline_drain_once",
        race: true,
        reproduce: c1_offline_drain_once,
    },
    Bug {
        id: "C2",
        title: "drain_pages_zone reads pcp->count outside the pcp lock",
        fix_commit: "66eca1021a42",
        invariant: "A1",
        mechanism: "a refill has put a batch on the list but not yet raised pcp->count, the forced drain sees 0 and skips the CPU, and the batch, now inside an isolated block, is allocated",
        source: "history",
        variant: "drain_racy_count",
        race: true,
        reproduce: c2_drain_racy_count,
    },
    Bug {
        id: "C4",
        title: "free path uses a stale migratetype: free pages of an isolated block on a normal list",
        fix_commit: "ad53f92eb416",
        invariant: "B3",
        mechanism: "pages leaving a pcp list go to the free list of the migratetype cached when they were freed instead of the block's current one, so pages of a block isolated meanwhile stay allocatable",
        source: "history",
        variant: "FreeMtNoRecheck",
        race: false,
        reproduce: c4_free_mt_no_recheck,
    },
    Bug {
        id: "C4m",
        title: "buddy merge across an isolated pageblock boundary",
        fix_commit: "3c605096d315",
        invariant: "B3",
        mechanism: "a free order-9 block in an isolated pageblock merges with its free buddy in a normal pageblock, so one order-10 block on the normal list covers isolated memory",
        source: "history",
        variant: "MergeAcrossIsolate",
        race: false,
        reproduce: c4_merge_across_isolate,
    },
    Bug {
        id: "C6",
        title: "hugetlb: a race between freeing and dissolving the page",
        fix_commit: "7ffddd499ba6",
        invariant: "HD1",
        mechanism: "dissolve takes a refcount-0 hugetlb folio whose free has dropped the last reference but not yet put it on the freelist, frees it to buddy, and the free then enqueues it on the hugetlb freelist as well",
        source: "history",
        variant: "dissolve_no_freed_check",
        race: true,
        reproduce: c6_dissolve_no_freed_check,
    },
    Bug {
        id: "C7",
        title: "hwpoison: speculative reference on a hugetlb page being allocated",
        fix_commit: "25182f05ffed",
        invariant: "R3",
        mechanism: "memory_failure's get_page_unless_zero succeeds on a fresh hugetlb folio between its preparation and the allocator's put_page_testzero, which then does not see 1 -> 0",
        source: "history",
        variant: "hwpoison_spec_ref_hugetlb",
        race: false,
        reproduce: c7_hwpoison_spec_ref_hugetlb,
    },
    Bug {
        id: "C8",
        title: "dissolving reserved free huge pages",
        fix_commit: "082d5b6b60e9",
        invariant: "HR1",
        mechanism: "dissolve_free_huge_page does not check free - resv, so dissolving (for offline) the only free folio a reservation counts on leaves free < resv and the reserved fault finds nothing",
        source: "history",
        variant: "dissolve_ignores_resv",
        race: false,
        reproduce: c8_dissolve_ignores_resv,
    },
    Bug {
        id: "C10",
        title: "memory_failure reads the uninitialized memmap of offline memory",
        fix_commit: "96c804a6ae8c",
        invariant: "M3",
        mechanism: "memory_failure looks the pfn up with pfn_valid/pfn_to_page instead of pfn_to_online_page and so reads the poisoned struct page of an offline section",
        source: "history",
        variant: "memmap_reads_offline",
        race: false,
        reproduce: c10_memory_failure_offline,
    },
    Bug {
        id: "C9",
        title: "hwpoison lost across offline and online",
        fix_commit: "5033091de814",
        invariant: "H5",
        mechanism: "with no per-block poison counter, onlining a block re-initializes the memmap of a page that memory_failure poisoned, so PG_hwpoison is lost while the poison count still includes it and the page goes back to buddy",
        source: "history",
        variant: "online_forgets_hwpoison",
        race: false,
        reproduce: c9_online_forgets_hwpoison,
    },
    Bug {
        id: "C15",
        title: "a hwpoisoned subpage of a high-order block goes to buddy with the block",
        fix_commit: "unknown",
        invariant: "H1",
        mechanism: "free_pages_prepare tests PG_hwpoison only for order-0 frees, so a high-order block whose subpage memory_failure flagged (MF_MSG_KERNEL_HIGH_ORDER: it cannot contain a tail of a non-compound allocation) is merged into buddy whole, poisoned page included; fixed by freeing only the healthy subpages",
        source: "history",
        variant: "free_prepare_hwpoison_order0_only",
        race: false,
        reproduce: c15_free_prepare_hwpoison_order0_only,
    },
    Bug {
        id: "C11",
        title: "hwpoisoned pages make memory offline fail",
        fix_commit: "b15c87263a69",
        invariant: "O4",
        mechanism: "has_unmovable_pages treats a hard-poisoned page (refcount held, not LRU) as unmovable, so a block holding one can never be offlined",
        source: "history",
        variant: "hwpoison_offline_unmovable",
        race: false,
        reproduce: c11_hwpoison_offline_unmovable,
    },
    Bug {
        id: "C22",
        title: "offline takes a hwpoisoned page offline while its owner still holds it",
        fix_commit: "none",
        invariant: "O2",
        mechanism: "since b15c87263a69 offline skips every PG_hwpoison page (has_unmovable_pages, test_pages_isolated, __offline_isolated_pages), but memory_failure only flags a kernel page it cannot handle and leaves it to its owner, who frees it after its memory went offline; fixed here by skipping only pages memory failure holds or nobody does",
        source: "fuzz",
        variant: "offline_skips_held_hwpoison",
        race: false,
        reproduce: c22_offline_skips_held_hwpoison,
    },
    Bug {
        id: "C12",
        title: "add_memory_resource error path frees the altmap vmemmap to buddy",
        fix_commit: "f42ce5f087eb",
        invariant: "A1",
        mechanism: "when creating the memory block device fails, the error path removes the memory without its altmap, so the vmemmap pages are freed into buddy and stay listed after the memory is gone",
        source: "history",
        variant: "altmap_error_path_null",
        race: false,
        reproduce: c12_altmap_error_path,
    },
];
