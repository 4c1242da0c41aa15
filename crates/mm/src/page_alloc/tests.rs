//! Unit tests of the allocator: merge/split at every order, pcp refill and
//! spill at the batch and high marks, drain, pcp disable.

use crate::geometry::Geometry;
const X86: Geometry = Geometry::X86_64;
use crate::pageblock::MigrateType;
use crate::{Config, Landed, System, PCP_DEFAULT_BATCH, PCP_DEFAULT_HIGH};

fn sys(sections: u64, cpus: usize) -> System<Landed> {
    System::new(Config {
        mem_bytes: sections * X86.section_size(),
        max_sections: sections as usize + 2,
        nr_cpus: cpus,
        ..Config::default()
    })
    .unwrap()
}

fn assert_clean(s: &System<Landed>) {
    let v = s.check();
    assert!(v.is_empty(), "checker found:\n{}", v.iter().map(|v| v.to_string()).collect::<Vec<_>>().join("\n"));
}

#[test]
fn boot_puts_every_page_in_buddy_at_max_order() {
    let s = sys(2, 1);
    let st = s.stats();
    assert_eq!(st.nr_free_pages, 2 * X86.pages_per_section() as i64);
    assert_eq!(st.managed_pages, st.present_pages);
    assert_eq!(st.nr_free[X86.max_order as usize], (2 * X86.pages_per_section()) >> X86.max_order);
    assert_eq!(st.nr_free[..X86.max_order as usize].iter().sum::<u64>(), 0);
    assert_clean(&s);
}

/// Allocating one block of each order from a pristine order-10 block splits
/// it exactly (one free block left at every order between), and freeing it
/// merges all the way back.
#[test]
fn split_and_merge_at_every_order() {
    for order in 0..=X86.max_order {
        let s = sys(1, 1);
        let cpu = s.cpu(0).unwrap();
        // Orders the pcp caches would go through a batch refill; take them
        // straight from buddy to observe the split itself.
        let pfn = s.zone().rmqueue_buddy(s.memmap(), order, MigrateType::Movable).unwrap();
        s.zone().prep_new_page(s.memmap(), pfn, s.pfn_to_page(pfn).unwrap(), order).unwrap();
        let st = s.stats();
        for o in order..X86.max_order {
            assert_eq!(st.nr_free[o as usize], 1, "order {order}: one free block of order {o} after split");
        }
        assert_eq!(st.nr_free[X86.max_order as usize], 32 - 1, "order {order}");
        assert_eq!(st.nr_free_pages, X86.pages_per_section() as i64 - (1 << order));
        assert_clean(&s);
        if order > 0 {
            let p = s.pfn_to_page(pfn).unwrap();
            assert!(p.PageHead() && p.compound_order() == order);
            assert_eq!(s.pfn_to_page(pfn + (1 << order) - 1).unwrap().compound_head_pfn(), Some(pfn));
        }
        cpu.free_pages(pfn, order).unwrap();
        cpu.drain_local_pages();
        let st = s.stats();
        assert_eq!(st.nr_free_pages, X86.pages_per_section() as i64, "order {order}");
        assert_eq!(st.nr_free[X86.max_order as usize], 32, "order {order}: merged back to order 10");
        assert_clean(&s);
    }
}

/// Two buddies freed one after the other merge; the merged block goes up.
#[test]
fn buddies_merge_only_when_both_free() {
    let s = sys(1, 1);
    let z = s.zone();
    let mm = s.memmap();
    let a = z.rmqueue_buddy(mm, 3, MigrateType::Movable).unwrap();
    let b = z.rmqueue_buddy(mm, 3, MigrateType::Movable).unwrap();
    assert_eq!(a ^ b, 8, "consecutive order-3 allocations are buddies");
    z.free_one_page::<Landed>(mm, a, 3);
    assert_eq!(s.stats().nr_free[3], 1, "a alone cannot merge");
    z.free_one_page::<Landed>(mm, b, 3);
    let st = s.stats();
    assert_eq!(st.nr_free[3], 0);
    assert_eq!(st.nr_free[X86.max_order as usize], 32);
}

#[test]
fn pcp_refills_one_batch_and_spills_at_high() {
    let s = sys(1, 1);
    let cpu = s.cpu(0).unwrap();
    let batch = PCP_DEFAULT_BATCH;
    let high = PCP_DEFAULT_HIGH;
    let first = cpu.alloc_page().unwrap();
    assert_eq!(cpu.pcp_count(), batch - 1, "an empty list is refilled with one batch");
    assert_eq!(s.stats().nr_free_pages, (X86.pages_per_section() - batch as u64) as i64);
    let mut held = vec![first];
    for _ in 0..batch - 1 {
        held.push(cpu.alloc_page().unwrap());
    }
    assert_eq!(cpu.pcp_count(), 0);
    held.push(cpu.alloc_page().unwrap());
    assert_eq!(cpu.pcp_count(), batch - 1, "second refill");
    // Allocate enough to free past high.
    while held.len() < (high + batch) as usize {
        held.push(cpu.alloc_page().unwrap());
    }
    let base = cpu.pcp_count();
    let mut freed = 0;
    while cpu.pcp_count() + 1 < high {
        cpu.put_page(held.pop().unwrap()).unwrap();
        freed += 1;
    }
    assert_eq!(cpu.pcp_count(), base + freed);
    assert_eq!(cpu.pcp_count(), high - 1, "one below high: no spill yet");
    cpu.put_page(held.pop().unwrap()).unwrap();
    assert_eq!(cpu.pcp_count(), high - batch, "reaching high spills one batch (free_factor 0)");
    assert_clean(&s);
    for p in held {
        cpu.put_page(p).unwrap();
    }
    cpu.drain_local_pages();
    assert_eq!(cpu.pcp_count(), 0);
    assert_eq!(s.stats().nr_free_pages, X86.pages_per_section() as i64);
    assert_clean(&s);
}

#[test]
fn higher_order_pcp_refill_takes_a_scaled_batch() {
    let s = sys(1, 1);
    let cpu = s.cpu(0).unwrap();
    let p = cpu.alloc_pages(2, MigrateType::Movable).unwrap();
    // batch >> order = 15 blocks of order 2; one handed out.
    assert_eq!(cpu.pcp_count(), (PCP_DEFAULT_BATCH >> 2) * 4 - 4);
    assert_clean(&s);
    cpu.free_pages(p, 2).unwrap();
    cpu.drain_local_pages();
    assert_clean(&s);
    assert_eq!(s.stats().nr_free_pages, X86.pages_per_section() as i64);
}

#[test]
fn drain_all_pages_empties_every_cpu() {
    let s = sys(1, 3);
    let cpus: Vec<_> = (0..3).map(|i| s.cpu(i).unwrap()).collect();
    for c in &cpus {
        let p = c.alloc_page().unwrap();
        c.put_page(p).unwrap();
        assert_eq!(c.pcp_count(), PCP_DEFAULT_BATCH);
    }
    s.drain_all_pages();
    for c in &cpus {
        assert_eq!(c.pcp_count(), 0);
    }
    assert_eq!(s.stats().nr_free_pages, X86.pages_per_section() as i64);
    assert_clean(&s);
}

#[test]
fn pcp_disable_flushes_every_free_until_enabled() {
    let s = sys(1, 2);
    let c = s.cpu(0).unwrap();
    let held: Vec<_> = (0..10).map(|_| c.alloc_page().unwrap()).collect();
    assert!(c.pcp_count() > 0);
    {
        let _off = s.zone_pcp_disable();
        assert_eq!(c.pcp_count(), 0, "forced drain");
        assert_eq!(s.zone().pcp_high_batch(0), Some((0, 1)));
        for &p in &held[..5] {
            c.put_page(p).unwrap();
            assert_eq!(c.pcp_count(), 0, "a disabled pcp never keeps a page (P5)");
        }
        assert_clean(&s);
    }
    assert_eq!(s.zone().pcp_high_batch(0), Some((PCP_DEFAULT_HIGH, PCP_DEFAULT_BATCH)));
    for &p in &held[5..] {
        c.put_page(p).unwrap();
    }
    assert_eq!(c.pcp_count(), 5, "enabled again: frees are cached");
    assert_clean(&s);
}

#[test]
fn fallback_claims_whole_pageblocks() {
    let s = sys(1, 1);
    let c = s.cpu(0).unwrap();
    // Everything is Movable at boot: an Unmovable request must steal.
    let p = c.alloc_pages(0, MigrateType::Unmovable).unwrap();
    assert_eq!(
        crate::pageblock::get_pageblock_migratetype(s.memmap(), p).unwrap(),
        MigrateType::Unmovable
    );
    assert_clean(&s);
    c.put_page(p).unwrap();
    c.drain_local_pages();
    assert_clean(&s);
    // The claimed block (and its order-10 partner block, through the
    // mergeable conversion) is whole again.
    assert_eq!(s.stats().nr_free_pages, X86.pages_per_section() as i64);
}

#[test]
fn memory_runs_out_cleanly_and_comes_back() {
    let s = sys(1, 1);
    let c = s.cpu(0).unwrap();
    let mut held = Vec::new();
    loop {
        match c.alloc_pages(4, MigrateType::Movable) {
            Ok(p) => held.push(p),
            Err(crate::Error::NoMemory { order: 4 }) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(held.len() as u64, X86.pages_per_section() / 16);
    assert_clean(&s);
    for p in held {
        c.free_pages(p, 4).unwrap();
    }
    assert_clean(&s);
    assert_eq!(s.stats().nr_free[X86.max_order as usize], 32);
}

#[test]
fn hot_add_online_and_remove_sections() {
    let s = sys(1, 1);
    s.add_memory(1, false).unwrap();
    assert_eq!(s.stats().managed_pages, X86.pages_per_section() as i64, "added but offline");
    assert_clean(&s);
    s.online_memory_block(1).unwrap();
    assert_eq!(s.stats().nr_free_pages, 2 * X86.pages_per_section() as i64);
    assert!(s.remove_memory(1).is_err(), "online sections cannot be removed");
    s.add_memory(2, false).unwrap();
    s.remove_memory(2).unwrap();
    assert!(s.pfn_to_page(2 * X86.pages_per_section()).is_err());
    assert_clean(&s);
}
