//! The checker's balloon pass (V1–V4, CMM1, HV1; see [`crate::drivers`]):
//! every registered driver's check of the pages it holds, and PageOffline
//! pages nobody owns.

use crate::drivers::MAX_ORPHANS_LISTED;
use crate::hotplug::notifier::NotifyCtx;
use crate::page_alloc::FreePath;
use crate::system::System;
use crate::Pfn;

impl<F: FreePath> System<F> {
    /// The drivers' checks ([`crate::hotplug::notifier::MemoryNotifier::check`]) and
    /// the ownership rule for PageOffline pages, over `offline_pfns` (the
    /// PageOffline pages the checker's memmap walk found). Called by
    /// [`System::check`] with mem_hotplug_lock held and no allocator lock.
    pub(crate) fn check_balloons(&self, offline_pfns: &[Pfn], report: &mut impl FnMut(&'static str, Option<Pfn>, String)) {
        let chain: Vec<_> = self.notifiers.lock().clone();
        let ctx: &dyn NotifyCtx = self;
        for n in &chain {
            n.check_pages(ctx, report);
        }
        if offline_pfns.is_empty() {
            return;
        }
        let mm = self.memmap();
        let mut owned = vec![false; mm.max_pfn() as usize];
        for n in &chain {
            n.for_each_offline_page(ctx, &mut |pfn| {
                if let Some(slot) = owned.get_mut(pfn as usize) {
                    *slot = true;
                }
            });
        }
        let mut orphans = 0usize;
        for &pfn in offline_pfns {
            let Ok(p) = mm.observe_online_page(pfn) else { continue };
            if p.PageOffline() && !owned.get(pfn as usize).copied().unwrap_or(false) {
                orphans += 1;
                if orphans <= MAX_ORPHANS_LISTED {
                    report("V1", Some(pfn), format!("PageOffline page held by no registered driver: {}", p.dump(pfn)));
                }
            }
        }
        if orphans > MAX_ORPHANS_LISTED {
            report("V1", None, format!("{orphans} PageOffline pages in online memory are held by no registered driver"));
        }
    }
}
