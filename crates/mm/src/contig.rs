//! Contiguous allocation (`alloc_contig_range` / `free_contig_range`,
//! mm/page_alloc.c): take a whole pfn range out of the allocator, moving
//! whatever user pages live there elsewhere first. It is what virtio-mem
//! uses to unplug part of an online block, and what CMA does.
//!
//! Steps (`alloc_contig_range` / `__alloc_contig_migrate_range` in
//! `mm/page_alloc.c`):
//! 1. `start_isolate_page_range` over the pageblock-aligned range, without
//!    MEMORY_OFFLINE (a PageOffline page with a reference is unmovable here;
//!    only offlining knows how to get rid of those, through the notifier);
//! 2. `drain_all_pages`: pages freed to a pcp before the isolation go back
//!    to buddy; frees after it see the ISOLATE type and go to buddy directly;
//! 3. migrate the in-use LRU pages out (`isolate_lru_page` + `migrate_page`;
//!    targets never come from the range, its blocks are ISOLATE), retried
//!    a bounded number of times like `__alloc_contig_migrate_range`;
//! 4. `test_pages_isolated`: every pfn must now be a free buddy block;
//! 5. take every free block off the ISOLATE lists (`isolate_freepages_range`)
//!    and hand out each page as an order-0 page with refcount 1;
//! 6. `undo_isolate_page_range` back to MIGRATE_MOVABLE, on success and on
//!    failure alike.
//!
//! Not modeled: an unaligned range (v5.19+'s `isolate_single_pageblock`
//! and the `outer_start` search: the model's isolation already splits free
//! blocks larger than a pageblock at the range edges, so no free block ever
//! straddles a pageblock-aligned range); hugetlb and non-LRU movable pages
//! (balloon compaction's `__PageMovable`): such pages make the range busy.
//!
//! Invariants: on `Ok`, every page of the range has refcount 1, no type, no
//! list membership, and NR_FREE_PAGES is unchanged (ISOLATE free pages are
//! not counted, so taking them off does not change it); on `Err`, the range
//! is back to MIGRATE_MOVABLE and nothing was taken (I2, I4). A second
//! isolator of an overlapping range (offline, another contig allocation)
//! gets [`Error::Busy`].
//! Lock order: no lock is held across steps; each step takes pcpu_drain_mutex,
//! pcp locks and zone->lock itself (pcp lock → zone->lock). A caller may
//! hold locks ordered above them (virtio-mem's hotplug_mutex) but no pcp
//! lock and not zone->lock.

use crate::error::{Error, Result};
use crate::migrate::{MigrateError, MigrateReason};
use crate::page_alloc::FreePath;
use crate::page_isolation::{IsolFlags, IsolateError};
use crate::page_ref::{page_count, set_page_refcounted};
use crate::pageblock::MigrateType;
use crate::system::Cpu;
use crate::Pfn;

/// Migration rounds before the range is declared busy
/// (`__alloc_contig_migrate_range` gives up after 5 tries).
const MIGRATE_TRIES: u32 = 5;

/// `alloc_contig_range(start, end, MIGRATE_MOVABLE)`: on success every page
/// of `[start, end)` is allocated to the caller as an order-0 page with
/// refcount 1. `start` and `end` must be pageblock aligned and inside
/// online memory.
pub fn alloc_contig_range<F: FreePath>(cpu: &Cpu<'_, F>, start: Pfn, end: Pfn) -> Result<()> {
    let sys = cpu.system();
    let mm = sys.memmap();
    let zone = sys.zone();
    if start >= end || !start.is_multiple_of(mm.geometry().pageblock_nr_pages()) || !end.is_multiple_of(mm.geometry().pageblock_nr_pages()) {
        return Err(Error::BadRequest(format!(
            "alloc_contig_range [{start:#x}, {end:#x}): not a non-empty pageblock-aligned range"
        )));
    }
    let mut b = start;
    while b < end {
        mm.pfn_to_online_page(b)?;
        b += mm.geometry().pageblock_nr_pages();
    }
    // 1. Isolate.
    zone.start_isolate_page_range(mm, start, end, IsolFlags::default()).map_err(|e| match e {
        IsolateError::Busy { pfn } => Error::Busy { pfn, reason: "pageblock already isolated by another isolator".into() },
        IsolateError::Unmovable { pfn } => Error::Busy { pfn, reason: "unmovable page in the range".into() },
    })?;
    let undo = || zone.undo_isolate_page_range(mm, start, end, MigrateType::Movable);
    // 2. Drain.
    sys.drain_all_pages();
    // 3. Migrate.
    if let Err(e) = migrate_range(cpu, start, end) {
        undo();
        return Err(e);
    }
    // 4. Verify.
    if let Err(pfn) = zone.test_pages_isolated(mm, start, end, IsolFlags::default()) {
        undo();
        return Err(Error::Busy { pfn, reason: "page not free after migration (test_pages_isolated)".into() });
    }
    // 5. Take everything off the ISOLATE lists, re-checking under the lock.
    let taken = {
        let mut fa = zone.lock.lock();
        let mut heads = Vec::new();
        let mut pfn = start;
        let mut busy = None;
        while pfn < end {
            let Some(p) = mm.pfn_to_page(pfn).ok().filter(|p| p.PageBuddy()) else {
                busy = Some(pfn);
                break;
            };
            let order = p.buddy_order().min(mm.geometry().max_order);
            heads.push((pfn, order));
            pfn += 1 << order;
        }
        if busy.is_none() {
            for &(h, order) in &heads {
                zone.del_page_from_free_list(mm, &mut fa, h, order);
            }
        }
        busy.map_or(Ok(heads), Err)
    };
    let heads = match taken {
        Ok(h) => h,
        Err(pfn) => {
            undo();
            return Err(Error::Busy { pfn, reason: "page left buddy between test and take".into() });
        }
    };
    // split_map_pages + post_alloc_hook: each page is its own order-0
    // allocation. Nobody can reach them: they are off every list and the
    // speculative getters see refcount 0 until the Release store.
    for (h, order) in heads {
        for pfn in h..h + (1u64 << order) {
            let p = mm.pfn_to_page(pfn)?;
            p.set_page_private(0);
            set_page_refcounted(p);
        }
    }
    // 6. Undo the isolation: nothing free is left in the range to move.
    undo();
    Ok(())
}

/// The migrate phase: move every in-use LRU page of the range elsewhere.
/// Busy when an in-use page stays after [`MIGRATE_TRIES`] rounds.
fn migrate_range<F: FreePath>(cpu: &Cpu<'_, F>, start: Pfn, end: Pfn) -> Result<()> {
    let mm = cpu.system().memmap();
    for _ in 0..MIGRATE_TRIES {
        let mut isolated = Vec::new();
        let mut in_use = None;
        let mut pfn = start;
        while pfn < end {
            let p = mm.pfn_to_page(pfn)?;
            if p.PageBuddy() {
                pfn += 1 << p.buddy_order().min(mm.geometry().max_order);
                continue;
            }
            if page_count(p) != 0 {
                in_use.get_or_insert(pfn);
                // isolate_migratepages_range: speculative reference first,
                // then the LRU isolation takes its own.
                if p.PageLRU() && cpu.get_page_unless_zero(pfn)? {
                    if cpu.isolate_lru_page(pfn) {
                        isolated.push(pfn);
                    }
                    cpu.put_page(pfn)?;
                }
            }
            pfn += 1;
        }
        let Some(first) = in_use else { return Ok(()) };
        if isolated.is_empty() {
            return Err(Error::Busy { pfn: first, reason: "in-use page that cannot be migrated".into() });
        }
        for src in isolated {
            match cpu.migrate_page(src, MigrateReason::Compaction) {
                Ok(_) => {}
                Err(MigrateError::NoMemory) => {
                    let _ = cpu.putback_lru_page(src);
                    return Err(Error::NoMemory { order: 0 });
                }
                Err(MigrateError::Again | MigrateError::NotMovable) => {
                    let _ = cpu.putback_lru_page(src);
                }
            }
        }
    }
    // A last look: pages freed by the final round may have left it empty.
    let mut pfn = start;
    while pfn < end {
        let p = mm.pfn_to_page(pfn)?;
        if p.PageBuddy() {
            pfn += 1 << p.buddy_order().min(mm.geometry().max_order);
        } else if page_count(p) != 0 {
            return Err(Error::Busy { pfn, reason: format!("in-use page still there after {MIGRATE_TRIES} migration rounds") });
        } else {
            pfn += 1;
        }
    }
    Ok(())
}

/// `free_contig_range(pfn, nr_pages)`: drop the reference on each page of
/// a range obtained with [`alloc_contig_range`]. Like the kernel, it puts
/// every page even when some fail, and reports pages that were still
/// referenced by someone else (`"%lu pages are still in use!"`): those are
/// freed by their last holder. The first error is returned.
pub fn free_contig_range<F: FreePath>(cpu: &Cpu<'_, F>, start: Pfn, nr: u64) -> Result<u64> {
    let mm = cpu.system().memmap();
    let mut still_in_use = 0u64;
    let mut first_err = None;
    for pfn in start..start + nr {
        let r = mm.pfn_to_page(pfn).and_then(|p| {
            if page_count(p) != 1 {
                still_in_use += 1;
            }
            cpu.put_page(pfn)
        });
        if let Err(e) = r {
            first_err.get_or_insert(e);
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(still_in_use),
    }
}

#[cfg(all(test, not(feature = "shuttle")))]
mod tests {
    use super::*;
    use crate::{Config, Landed, System};
    use crate::geometry::Geometry;
    const X86: Geometry = Geometry::X86_64;

    fn sys() -> System<Landed> {
        System::new(Config { mem_bytes: 2 * X86.section_size(), max_sections: 3, nr_cpus: 2, frame_store: true, ..Config::default() })
            .unwrap()
    }

    fn clean(s: &System<Landed>) {
        let v = s.check();
        assert!(v.is_empty(), "{}", v.iter().map(|v| v.to_string()).collect::<Vec<_>>().join("\n"));
    }

    /// User pages in the range are migrated with their bytes; every page
    /// ends up allocated once; freeing gives everything back.
    #[test]
    fn contig_range_migrates_user_pages_and_takes_the_range() {
        let s = sys();
        let c = s.cpu(0).unwrap();
        // Fill block 0 with 4 MiB chunks so that user pages land in block 1.
        let mut hog = vec![];
        loop {
            let p = c.alloc_pages(X86.max_order, MigrateType::Movable).unwrap();
            if p >= X86.pages_per_section() {
                c.free_pages(p, X86.max_order).unwrap();
                break;
            }
            hog.push(p);
        }
        let target = c.fault(0).unwrap();
        assert!(target >= X86.pages_per_section());
        for v in 1..21 {
            c.fault(v).unwrap();
        }
        let start = target & !(X86.pageblock_nr_pages() - 1);
        let end = start + X86.pageblock_nr_pages();
        let in_range = s.user_mappings().iter().filter(|(_, p)| (start..end).contains(p)).count();
        assert!(in_range > 10, "the range holds user pages ({in_range})");
        alloc_contig_range(&c, start, end).unwrap();
        for pfn in start..end {
            let p = s.pfn_to_page(pfn).unwrap();
            assert_eq!(page_count(p), 1, "pfn {pfn:#x}");
            assert!(p.page_type().is_none() && !p.PageLRU());
        }
        for (v, pfn) in s.user_mappings() {
            assert!(!(start..end).contains(&pfn), "vpn {v} still maps the range");
            assert_eq!(s.verify_user_page(v).unwrap(), Some(true));
        }
        assert_eq!(s.zone().nr_isolate_pageblock(), 0);
        clean(&s);
        assert_eq!(free_contig_range(&c, start, X86.pageblock_nr_pages()).unwrap(), 0);
        for p in hog {
            c.free_pages(p, X86.max_order).unwrap();
        }
        c.drain_local_pages();
        clean(&s);
    }

    /// An unmovable page makes the range busy and everything is undone.
    #[test]
    fn contig_range_with_unmovable_page_is_busy_and_undone() {
        let s = sys();
        let c = s.cpu(0).unwrap();
        let k = c.alloc_pages(0, MigrateType::Unmovable).unwrap();
        let start = k & !(X86.pageblock_nr_pages() - 1);
        let before = s.stats();
        let e = alloc_contig_range(&c, start, start + X86.pageblock_nr_pages()).unwrap_err();
        assert!(matches!(e, Error::Busy { pfn, .. } if pfn == k), "{e}");
        assert_eq!(s.zone().nr_isolate_pageblock(), 0);
        assert_eq!(s.stats().nr_free_pages, before.nr_free_pages);
        clean(&s);
        c.put_page(k).unwrap();
        clean(&s);
    }

    /// Two isolators of one range: the second one is refused (I2).
    #[test]
    fn contig_range_refuses_an_isolated_range() {
        let s = sys();
        let c = s.cpu(0).unwrap();
        let start = X86.pages_per_section();
        s.zone().start_isolate_page_range(s.memmap(), start, start + X86.pageblock_nr_pages(), IsolFlags::default()).unwrap();
        let e = alloc_contig_range(&c, start, start + X86.pageblock_nr_pages()).unwrap_err();
        assert!(matches!(e, Error::Busy { .. }), "{e}");
        s.zone().undo_isolate_page_range(s.memmap(), start, start + X86.pageblock_nr_pages(), MigrateType::Movable);
        clean(&s);
        assert!(alloc_contig_range(&c, start, start + 3).is_err(), "unaligned range refused");
    }
}
