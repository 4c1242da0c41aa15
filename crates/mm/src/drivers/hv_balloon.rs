//! A Hyper-V / XEN style balloon (`drivers/hv/hv_balloon.c`,
//! `drivers/xen/balloon.c`): inflated pages are PageOffline and the driver
//! keeps its allocation reference on each for as long as they are
//! ballooned. It does not take part in offlining: its memory notifier does
//! nothing at MEM_GOING_OFFLINE (hv_balloon only tracks its hot-added
//! ranges there), which is the case the RFC thread insisted on keeping
//! working — "other users use PG_offline + refcount >= 1; has_unmovable_pages()
//! has to stop right there" (seed 000).
//!
//! What offlining does with such a page (landed, aa218795cb5f): isolation
//! with MEMORY_OFFLINE lets PageOffline pages through, then
//! `scan_movable_pages` finds a PageOffline page whose refcount is still
//! above 0 after MEM_GOING_OFFLINE and fails with -EBUSY. The offline is rolled
//! back and everything is as before (O3): blocks Movable, pcp enabled,
//! managed pages unchanged, the balloon's pages untouched.
//!
//! Invariants (checked by `check`): V1 — every ballooned page is in online
//! memory, PageOffline, off every list, refcount ≥ 1; managed pages
//! exclude them (the driver adjusts managed exactly when it sets/clears
//! PageOffline).
//!
//! Not modeled: hot-add of partially backed ranges (hv_online_page), the
//! host protocol, page reporting.
//!
//! Lock order: the balloon's page list lock → pcp lock → zone->lock.

use super::{balloon_alloc, balloon_give_back, balloon_take};
use crate::error::Result;
use crate::hotplug::notifier::{MemAction, MemoryNotifier, MemoryNotify, NotifyCtx};
use crate::page_alloc::FreePath;
use crate::page_ref::page_count;
use crate::pageblock::MigrateType;
use crate::sync::Mutex;
use crate::system::Cpu;
use crate::Pfn;

/// The balloon.
#[derive(Debug)]
pub struct HvBalloon {
    pages: Mutex<Vec<Pfn>>,
}

impl Default for HvBalloon {
    fn default() -> Self {
        Self::new()
    }
}

impl HvBalloon {
    /// An empty balloon.
    pub fn new() -> HvBalloon {
        HvBalloon { pages: Mutex::new(Vec::new()) }
    }

    /// The ballooned pfns.
    pub fn pages(&self) -> Vec<Pfn> {
        self.pages.lock().clone()
    }

    /// `balloon_up`: take up to `n` pages from the guest (kernel pages,
    /// GFP_HIGHUSER without __GFP_MOVABLE); returns how many.
    pub fn inflate<F: FreePath>(&self, cpu: &Cpu<'_, F>, n: usize) -> Result<usize> {
        let sys = cpu.system();
        let mut done = 0;
        while done < n {
            let Some(pfn) = balloon_alloc(cpu, MigrateType::Unmovable)? else { break };
            let mut v = self.pages.lock();
            balloon_take(sys, pfn)?;
            v.push(pfn);
            done += 1;
        }
        Ok(done)
    }

    /// `balloon_down`: give up to `n` pages back; returns how many.
    pub fn deflate<F: FreePath>(&self, cpu: &Cpu<'_, F>, n: usize) -> Result<usize> {
        let sys = cpu.system();
        let mut freed = Vec::new();
        {
            let mut v = self.pages.lock();
            while freed.len() < n {
                let Some(pfn) = v.pop() else { break };
                balloon_give_back(sys, pfn)?;
                freed.push(pfn);
            }
        }
        for &pfn in &freed {
            cpu.put_page(pfn)?;
        }
        Ok(freed.len())
    }
}

impl MemoryNotifier for HvBalloon {
    fn name(&self) -> &str {
        "hv_balloon"
    }

    /// Nothing to do for ballooned pages at any transition: they keep their
    /// reference, so an offline of memory that holds one fails.
    fn notify(&self, _ctx: &dyn NotifyCtx, _action: MemAction, _arg: &MemoryNotify) -> std::result::Result<(), String> {
        Ok(())
    }

    fn check_pages(&self, ctx: &dyn NotifyCtx, report: &mut dyn FnMut(&'static str, Option<Pfn>, String)) {
        for &pfn in self.pages.lock().iter() {
            match ctx.memmap().pfn_to_online_page(pfn) {
                Err(_) => report("V1", Some(pfn), "ballooned page is not in online memory (its block went offline)".into()),
                Ok(p) if !p.PageOffline() || page_count(p) < 1 => {
                    report("V1", Some(pfn), format!("ballooned page is not a referenced PageOffline page: {}", p.dump(pfn)))
                }
                Ok(_) => {}
            }
        }
    }

    fn for_each_offline_page(&self, _ctx: &dyn NotifyCtx, f: &mut dyn FnMut(Pfn)) {
        self.pages.lock().iter().copied().for_each(f);
    }
}
