//! The powerpc pseries CMM balloon (Collaborative Memory Manager,
//! `arch/powerpc/platforms/pseries/cmm.c`, `cmm_memory_cb` and
//! `cmm_mem_going_offline`): the guest loans pages to the hypervisor.
//!
//! * [`Cmm::inflate`] allocates pages and loans them: PageOffline (as
//!   `balloon_page_insert` does), managed −= 1 each, the balloon keeps the
//!   allocation reference, and the hypervisor is told
//!   (`plpar_page_set_loaned`). [`Cmm::deflate`] is the reverse
//!   (`plpar_page_set_active`, managed += 1, put).
//! * **Landed design** (v5.6, fe030c9b85e6 "Implement balloon compaction"):
//!   balloon pages are movable and offlining migrates them — a new page is
//!   allocated and loaned, the old one is reclaimed and freed, the balloon
//!   size is unchanged. The model's offline_pages has no `__PageMovable`
//!   arm, so the balloon's migration callback runs from MEM_GOING_OFFLINE,
//!   where the range is already isolated (the replacement can never come
//!   from it), instead of from do_migrate_range. A migration that finds no
//!   target refuses GOING_OFFLINE; nothing needs undoing at CANCEL.
//! * [`Switch::CmmFreeOnGoingOffline`] (pre-5.6): at MEM_GOING_OFFLINE the
//!   balloon reclaims every loaned page inside the range and frees it to
//!   buddy (the range's ISOLATE lists), shrinking itself; MEM_CANCEL_OFFLINE
//!   does nothing. After a failed offline the freed pages are ordinary free
//!   memory again and the guest reuses pages it had promised to the
//!   hypervisor. (Pre-5.6 CMM also needed the memory-isolate notifier to
//!   get past has_unmovable_pages; here its pages are PageOffline, which
//!   MEMORY_OFFLINE isolation skips, so isolation passes the same way.)
//!
//! Invariant CMM1 (checked by `check`): the loan contract is kept — the
//! balloon holds exactly as many pages as it promised the hypervisor
//! (`target`: grown by inflate, shrunk by deflate and by pages that left
//! with memory that was successfully offlined), the hypervisor's loan set
//! equals the balloon's page list, and every loaned page is PageOffline,
//! in online memory, off every list, with refcount ≥ 1. A failed offline
//! must leave the contract as it was: pages released at MEM_GOING_OFFLINE
//! and not re-taken at MEM_CANCEL_OFFLINE are recorded then (runtime CMM1)
//! and keep the balloon short of its promise (state CMM1).
//!
//! Not modeled: the cmm thread that re-inflates towards the hypervisor's
//! target, the page arrays' own allocations, balloon compaction through
//! `alloc_contig_range`/compaction (non-LRU movable pages are not modeled:
//! a loaned page makes such a range busy).
//!
//! Lock order: the balloon's state lock → pcp lock → zone->lock; it is
//! taken inside the notifier chain (under mem_hotplug_lock) and never held
//! while waiting for any lock above it.

use super::{balloon_alloc, balloon_give_back, balloon_take, describe};
use crate::design::Switch;
use crate::error::Result;
use crate::hotplug::notifier::{MemAction, MemoryNotifier, MemoryNotify, NotifyCtx};
use crate::page_alloc::FreePath;
use crate::page_ref::{page_count, put_page_testzero};
use crate::pageblock::MigrateType;
use crate::sync::Mutex;
use crate::system::Cpu;
use crate::Pfn;
use std::collections::BTreeSet;

/// Lost pfns named in one CMM1 report.
const MAX_LISTED: usize = 8;

#[derive(Debug, Default)]
struct CmmState {
    /// `cmm_page_array`: the loaned pages (`loaned_pages` = its length).
    pages: Vec<Pfn>,
    /// The hypervisor's view: pages it was told are loaned (ghost state).
    hv_loaned: BTreeSet<Pfn>,
    /// The loan contract: pages promised to the hypervisor (ghost state).
    target: usize,
    /// The offline in flight: its range and the pages released for it.
    in_flight: Option<(MemoryNotify, Vec<Pfn>)>,
    /// Pages released for offlines that were then cancelled.
    lost: Vec<Pfn>,
}

/// The CMM balloon.
#[derive(Debug)]
pub struct Cmm {
    state: Mutex<CmmState>,
}

impl Default for Cmm {
    fn default() -> Self {
        Self::new()
    }
}

impl Cmm {
    /// An empty balloon.
    pub fn new() -> Cmm {
        Cmm { state: Mutex::new(CmmState::default()) }
    }

    /// `loaned_pages`.
    pub fn loaned_pages(&self) -> usize {
        self.state.lock().pages.len()
    }

    /// The loaned pfns.
    pub fn pages(&self) -> Vec<Pfn> {
        self.state.lock().pages.clone()
    }

    /// Pages promised to the hypervisor.
    pub fn target(&self) -> usize {
        self.state.lock().target
    }

    /// `cmm_alloc_pages`: loan up to `n` more pages; returns how many were
    /// loaned (fewer when memory runs out, like `__GFP_NORETRY`).
    pub fn inflate<F: FreePath>(&self, cpu: &Cpu<'_, F>, n: usize) -> Result<usize> {
        let sys = cpu.system();
        // Balloon pages are movable since balloon compaction; pre-5.6 CMM
        // took GFP_NOIO kernel pages.
        let mt = if sys.design().has(Switch::CmmFreeOnGoingOffline) { MigrateType::Unmovable } else { MigrateType::Movable };
        let mut done = 0;
        while done < n {
            let Some(pfn) = balloon_alloc(cpu, mt)? else { break };
            let mut st = self.state.lock();
            balloon_take(sys, pfn)?;
            st.pages.push(pfn);
            st.hv_loaned.insert(pfn);
            st.target += 1;
            done += 1;
        }
        Ok(done)
    }

    /// `cmm_free_pages`: reclaim up to `n` pages from the hypervisor and
    /// give them back to the guest; returns how many.
    pub fn deflate<F: FreePath>(&self, cpu: &Cpu<'_, F>, n: usize) -> Result<usize> {
        let sys = cpu.system();
        let mut freed = Vec::new();
        {
            let mut st = self.state.lock();
            while freed.len() < n {
                let Some(pfn) = st.pages.pop() else { break };
                st.hv_loaned.remove(&pfn);
                st.target -= 1;
                balloon_give_back(sys, pfn)?;
                freed.push(pfn);
            }
        }
        for &pfn in &freed {
            cpu.put_page(pfn)?;
        }
        Ok(freed.len())
    }

    /// Reclaim a loaned page (`plpar_page_set_active`, PageOffline off,
    /// managed += 1) and drop the balloon's reference; the last reference
    /// frees it straight to buddy (`__free_page` from notifier context).
    fn release(ctx: &dyn NotifyCtx, st: &mut CmmState, pfn: Pfn) -> Result<()> {
        st.hv_loaned.remove(&pfn);
        let p = ctx.memmap().pfn_to_page(pfn)?;
        p.__ClearPageOffline();
        ctx.adjust_managed_page_count(1);
        if put_page_testzero(p, pfn)? {
            ctx.free_to_buddy(pfn, 0)?;
        }
        Ok(())
    }

    /// MEM_GOING_OFFLINE.
    fn going_offline(&self, ctx: &dyn NotifyCtx, arg: &MemoryNotify) -> std::result::Result<(), String> {
        let mut st = self.state.lock();
        st.in_flight = Some((*arg, Vec::new()));
        if ctx.design().has(Switch::CmmFreeOnGoingOffline) {
            // cmm_mem_going_offline: free every loaned page of the range.
            let (inside, keep): (Vec<Pfn>, Vec<Pfn>) = st.pages.iter().partition(|&&p| arg.contains(p));
            st.pages = keep;
            for &pfn in &inside {
                Self::release(ctx, &mut st, pfn).map_err(|e| e.to_string())?;
            }
            if let Some((_, released)) = st.in_flight.as_mut() {
                released.extend(inside);
            }
        } else {
            // Balloon compaction: migrate each loaned page out of the range.
            for i in 0..st.pages.len() {
                let old = st.pages[i];
                if !arg.contains(old) {
                    continue;
                }
                let new = ctx.alloc_page(MigrateType::Movable).map_err(|e| format!("cmm: no migration target: {e}"))?;
                if arg.contains(new) {
                    ctx.record_violation("A1", Some(new), "balloon migration target allocated inside the isolated range".into());
                }
                let np = ctx.memmap().pfn_to_page(new).map_err(|e| e.to_string())?;
                np.__SetPageOffline();
                ctx.adjust_managed_page_count(-1);
                st.hv_loaned.insert(new);
                st.pages[i] = new;
                Self::release(ctx, &mut st, old).map_err(|e| e.to_string())?;
            }
        }
        drop(st);
        crate::sync::preempt_point("cmm:going_offline");
        Ok(())
    }
}

impl MemoryNotifier for Cmm {
    fn name(&self) -> &str {
        "cmm"
    }

    fn notify(&self, ctx: &dyn NotifyCtx, action: MemAction, arg: &MemoryNotify) -> std::result::Result<(), String> {
        match action {
            MemAction::GoingOffline => self.going_offline(ctx, arg),
            MemAction::CancelOffline => {
                let mut st = self.state.lock();
                // Landed: nothing was released. Pre-5.6: nothing is re-taken
                // either — that is the bug.
                if let Some((a, released)) = st.in_flight.take() {
                    if a == *arg && !released.is_empty() {
                        let list: Vec<String> = released.iter().take(MAX_LISTED).map(|p| format!("{p:#x}")).collect();
                        ctx.record_violation(
                            "CMM1",
                            released.first().copied(),
                            format!(
                                "failed offline of [{:#x}, {:#x}) deflated the balloon: {} loaned pages released at MEM_GOING_OFFLINE were not re-taken at MEM_CANCEL_OFFLINE ({})",
                                a.start_pfn,
                                a.start_pfn + a.nr_pages,
                                released.len(),
                                list.join(", ")
                            ),
                        );
                        st.lost.extend(released);
                    }
                }
                Ok(())
            }
            MemAction::Offline => {
                let mut st = self.state.lock();
                if let Some((a, released)) = st.in_flight.take() {
                    if a == *arg {
                        // Those loans ended with the memory itself.
                        st.target -= released.len();
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn check_pages(&self, ctx: &dyn NotifyCtx, report: &mut dyn FnMut(&'static str, Option<Pfn>, String)) {
        let st = self.state.lock();
        if st.pages.len() != st.target {
            let lost: Vec<String> =
                st.lost.iter().take(MAX_LISTED).map(|&p| format!("{p:#x} {}", describe(ctx, p))).collect();
            report(
                "CMM1",
                st.lost.first().copied(),
                format!(
                    "cmm holds {} loaned pages but promised {} to the hypervisor; released by cancelled offlines: [{}]",
                    st.pages.len(),
                    st.target,
                    lost.join("; ")
                ),
            );
        }
        let listed: BTreeSet<Pfn> = st.pages.iter().copied().collect();
        if listed.len() != st.pages.len() || listed != st.hv_loaned {
            report(
                "CMM1",
                None,
                format!("cmm's page list ({} entries) and the hypervisor's loan set ({}) differ", st.pages.len(), st.hv_loaned.len()),
            );
        }
        for &pfn in &st.pages {
            let ok = ctx
                .memmap()
                .pfn_to_online_page(pfn)
                .is_ok_and(|p| p.PageOffline() && page_count(p) >= 1);
            if !ok {
                report("CMM1", Some(pfn), format!("loaned page is not a referenced PageOffline page: {}", describe(ctx, pfn)));
            }
        }
    }

    fn for_each_offline_page(&self, _ctx: &dyn NotifyCtx, f: &mut dyn FnMut(Pfn)) {
        self.state.lock().pages.iter().copied().for_each(f);
    }
}
