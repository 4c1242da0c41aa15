//! Balloon and memory-device drivers that hold `PageOffline` pages
//! (`drivers/virtio/virtio_mem.c`, `arch/powerpc/platforms/pseries/cmm.c`,
//! `drivers/hv/hv_balloon.c`, and `mm/memory_hotplug.c`'s handling of
//! PageOffline pages in `offline_pages`): how each one gets its pages out of
//! the way of memory offlining, and the variants the RFC thread argued
//! about.
//!
//! | driver | pages it holds | at MEM_GOING_OFFLINE | checks |
//! |---|---|---|---|
//! | [`virtio_mem`] | unplugged subblocks of online blocks, PageOffline, refcount 1 | drops its reference (re-takes it at CANCEL) | V1–V5 |
//! | [`cmm`] | loaned pages, PageOffline, refcount 1 | migrates them out of the range (balloon compaction) | CMM1 |
//! | [`hv_balloon`] | ballooned pages, PageOffline, refcount 1 | nothing: offline fails, everything is restored | V1, O3 |
//!
//! Shared rules, all checked by [`crate::system::System::check`] through
//! [`crate::hotplug::notifier::MemoryNotifier::check_pages`]:
//! * **managed pages**: a driver subtracts a page from `managed_pages`
//!   exactly when it sets PageOffline on it and adds it back exactly when
//!   it clears PageOffline (the checker's rule is `managed = Σ online pages
//!   − vmemmap − #PageOffline`); the one exception is the offline window,
//!   where virtio-mem adds its pages back at GOING_OFFLINE because
//!   offline_pages subtracts the whole range (≤ v6.10 accounting);
//! * **ownership**: every PageOffline page of online memory is claimed by a
//!   registered driver ([`crate::hotplug::notifier::MemoryNotifier::for_each_offline_page`]);
//!   an unclaimed one is reported as V1;
//! * **V4**: a PageOffline page never reaches the free path. The model's
//!   free path is the CONFIG_DEBUG_VM one: `free_pages_prepare` refuses a
//!   page whose mapcount word holds a type, returns [`crate::error::Error::BadPage`] and
//!   leaks the page (the kernel's `bad_page()` report: "nonzero mapcount").
//!   Such a leaked page is indistinguishable at rest from a page the RFC
//!   design holds at refcount 0, so the report is made where the free path
//!   refused it: a pfn walker drops its speculative reference through
//!   [`walker_put`], which records V4 when the page it freed was PageOffline.
//!   A non-debug kernel would instead put the page on a buddy list (≤ v6.11:
//!   Buddy *and* Offline); the checker's B2/P2 rules (typed page on a free
//!   list) and each driver's "unplugged page is free" rule (V4/A1) cover
//!   that outcome should a free path ever let one through.
//!
//! Driver checks assume a quiescent point: no driver operation (inflate,
//! plug, ...) in flight on another thread while [`crate::system::System::check`] runs.
//!
//! Lock order ([`crate::locking`]): the notifier chain is called with
//! device_hotplug_lock, mem_hotplug_lock and pcp_batch_high_lock held
//! (#2–#4); a driver takes only what comes after them (virtio-mem's
//! `hotplug_mutex`, its state lock, pcp lock, zone->lock) and never one
//! of the first three itself.

pub mod cmm;
pub mod hv_balloon;
pub mod virtio_mem;

use crate::error::{Error, Result};
use crate::hotplug::notifier::NotifyCtx;
use crate::page_alloc::FreePath;
use crate::pageblock::MigrateType;
use crate::system::{Cpu, System};
use crate::Pfn;

/// Most unowned PageOffline pages listed one by one by the ownership check.
pub(crate) const MAX_ORPHANS_LISTED: usize = 16;


/// A pfn walker (compaction's isolate_migratepages_block, memory_failure,
/// page_idle, /proc/kpageflags) takes a speculative reference on an
/// arbitrary pfn: `get_page_unless_zero`. `Ok(true)`: taken, and the
/// walker must drop it with [`walker_put`].
pub fn walker_get<F: FreePath>(cpu: &Cpu<'_, F>, pfn: Pfn) -> Result<bool> {
    let got = cpu.get_page_unless_zero(pfn)?;
    // B1's window: the walker holds its reference while the page's owner
    // changes what the page is.
    crate::sync::preempt_point("walker:holds_ref");
    Ok(got)
}

/// The walker drops its speculative reference (`put_page`). If that was
/// the last reference of a PageOffline page, the page reaches the free
/// path, which is V4: the free path refuses it ([`crate::error::Error::BadPage`], the
/// page is leaked) and the violation is recorded here (see the module doc).
pub fn walker_put<F: FreePath>(cpu: &Cpu<'_, F>, pfn: Pfn) -> Result<()> {
    // A refused PageOffline page is recorded as V4 by put_page itself.
    cpu.put_page(pfn)
}


/// Where a pfn is, in words, for a driver's report.
/// A balloon's next page (`cmm_alloc_pages`, `balloon_up`): an order-0
/// allocation of `mt`, or None when memory runs out (`__GFP_NORETRY`).
pub(crate) fn balloon_alloc<F: FreePath>(cpu: &Cpu<'_, F>, mt: MigrateType) -> Result<Option<Pfn>> {
    match cpu.alloc_pages(0, mt) {
        Ok(p) => Ok(Some(p)),
        Err(Error::NoMemory { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A balloon takes `pfn` (its reference is now the balloon's): PageOffline,
/// one page fewer managed (`__SetPageOffline` + `adjust_managed_page_count`
/// of -1). Called with the balloon's list lock held, so no check sees a
/// PageOffline page that no driver lists.
pub(crate) fn balloon_take<F: FreePath>(sys: &System<F>, pfn: Pfn) -> Result<()> {
    sys.memmap().pfn_to_page(pfn)?.__SetPageOffline();
    NotifyCtx::adjust_managed_page_count(sys, -1);
    Ok(())
}

/// A balloon gives `pfn` back before it puts its reference: PageOffline
/// cleared, one page more managed.
pub(crate) fn balloon_give_back<F: FreePath>(sys: &System<F>, pfn: Pfn) -> Result<()> {
    sys.memmap().pfn_to_page(pfn)?.__ClearPageOffline();
    NotifyCtx::adjust_managed_page_count(sys, 1);
    Ok(())
}

pub(crate) fn describe(ctx: &dyn NotifyCtx, pfn: Pfn) -> String {
    match ctx.memmap().pfn_to_online_page(pfn) {
        Err(_) => "not in online memory".into(),
        Ok(p) if p.PageBuddy() => "free (a buddy head)".into(),
        Ok(p) if p.PageOffline() => format!("PageOffline, refcount {}", crate::page_ref::page_count(p)),
        Ok(p) => match crate::page_ref::page_count(p) {
            0 => "free (on a pcp list or inside a buddy block)".into(),
            n => format!("in use by the guest (refcount {n})"),
        },
    }
}
