//! The page allocator's hot paths never touch the heap: after warm-up,
//! alloc/free pairs on the pcp, get/put on a held page, and bursts that
//! refill the pcp from buddy and spill it back perform zero heap
//! allocations.
//!
//! A counting `#[global_allocator]` wraps the system allocator and counts
//! allocations (alloc, alloc_zeroed, realloc) and deallocations made by a
//! thread while that thread is *armed*. Arming is per thread, so the test
//! harness's own threads (and any other test running in parallel) are never
//! counted. The test first proves that the counter does count (a deliberate
//! `Box::new` while armed), so a broken counter cannot make it pass.

// Std-only: shuttle primitives need a shuttle execution (see shuttle_*.rs).
#![cfg(not(feature = "shuttle"))]

use mm::page_ref::page_count;
use mm::{Config, Landed, System};
use std::alloc::{GlobalAlloc, Layout, System as StdAlloc};
use std::cell::Cell;
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};

static ALLOCS: AtomicUsize = AtomicUsize::new(0);
static DEALLOCS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    // const-initialized, no destructor: reading it never allocates.
    static ARMED: Cell<bool> = const { Cell::new(false) };
}

fn armed() -> bool {
    ARMED.try_with(Cell::get).unwrap_or(false)
}

struct Counting;

// SAFETY: every method forwards to the system allocator unchanged; the only
// addition is a relaxed counter increment, which does not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if armed() {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller upholds GlobalAlloc's contract for this call,
        // which is forwarded unchanged to the system allocator.
        unsafe { StdAlloc.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if armed() {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller upholds GlobalAlloc's contract for this call,
        // which is forwarded unchanged to the system allocator.
        unsafe { StdAlloc.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if armed() {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller upholds GlobalAlloc's contract for this call,
        // which is forwarded unchanged to the system allocator.
        unsafe { StdAlloc.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if armed() {
            DEALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller upholds GlobalAlloc's contract for this call,
        // which is forwarded unchanged to the system allocator.
        unsafe { StdAlloc.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Heap operations (allocations, deallocations) made by this thread while
/// `f` runs.
fn heap_ops_during<R>(f: impl FnOnce() -> R) -> (usize, usize, R) {
    struct Disarm;
    impl Drop for Disarm {
        fn drop(&mut self) {
            ARMED.with(|a| a.set(false));
        }
    }
    // This test is the only thread that arms, so the global counters move
    // only for it; read them before and after rather than resetting.
    let (a0, d0) = (ALLOCS.load(Ordering::Relaxed), DEALLOCS.load(Ordering::Relaxed));
    ARMED.with(|a| a.set(true));
    let r = {
        let _d = Disarm;
        f()
    };
    let (a1, d1) = (ALLOCS.load(Ordering::Relaxed), DEALLOCS.load(Ordering::Relaxed));
    (a1 - a0, d1 - d0, r)
}

const BURST: usize = 300;

#[test]
fn pcp_and_buddy_paths_make_no_heap_allocations() {
    // The counter must be able to fail the test: a deliberate allocation
    // while armed is seen.
    let (a, d, ()) = heap_ops_during(|| drop(black_box(Box::new(black_box(0xdead_beef_u64)))));
    assert!(a >= 1 && d >= 1, "the counting allocator missed a Box::new while armed ({a} allocs, {d} frees)");
    // And an unarmed allocation is not counted.
    let before = ALLOCS.load(Ordering::Relaxed);
    drop(black_box(Box::new(1u64)));
    assert_eq!(ALLOCS.load(Ordering::Relaxed), before, "an unarmed allocation was counted");

    let sys = System::<Landed>::new(Config { mem_bytes: 1 << 30, ..Default::default() }).expect("boot 1 GiB");
    let cpu = sys.cpu(0).expect("claim cpu 0");
    let (high, _batch) = sys.zone().pcp_high_batch(0).expect("cpu 0 exists");
    assert!((BURST as u32) > high, "a burst of {BURST} must overflow pcp high {high}");

    // Warm-up, unarmed: first-touch of the memmap, lazy statics, the
    // membarrier registration, a first refill and spill.
    let mut pfns = [0u64; BURST];
    for _ in 0..2 {
        for p in pfns.iter_mut() {
            *p = cpu.alloc_page().expect("warm-up alloc");
        }
        for &p in pfns.iter() {
            cpu.put_page(p).expect("warm-up put");
        }
    }
    for _ in 0..1000 {
        let p = cpu.alloc_page().expect("warm-up alloc");
        cpu.put_page(p).expect("warm-up put");
    }
    let held = cpu.alloc_page().expect("alloc held page");
    let held_page = sys.pfn_to_page(held).expect("held descriptor");

    let (allocs, deallocs, (refills, spills)) = heap_ops_during(|| {
        // 1. alloc/free pairs on the pcp.
        for _ in 0..100_000 {
            let p = cpu.alloc_page().unwrap();
            cpu.put_page(black_box(p)).unwrap();
        }
        // 2. get_page + put_page on a held page (never frees).
        for _ in 0..10_000 {
            cpu.get_page(black_box(held)).unwrap();
            cpu.put_page(black_box(held)).unwrap();
        }
        // 3. Bursts that empty the pcp (refill from buddy under zone->lock)
        //    and overflow it (spill to buddy).
        let (mut refills, mut spills) = (0u32, 0u32);
        for _ in 0..20 {
            let start = cpu.pcp_count();
            for p in pfns.iter_mut() {
                *p = cpu.alloc_page().unwrap();
            }
            // Fewer than BURST pages were cached: some came from buddy.
            refills += u32::from((start as usize) < BURST);
            let after_allocs = cpu.pcp_count();
            for &p in pfns.iter() {
                cpu.put_page(black_box(p)).unwrap();
            }
            // BURST pages went onto the pcp; fewer stayed: it spilled.
            spills += u32::from((cpu.pcp_count() as usize) < after_allocs as usize + BURST);
        }
        (refills, spills)
    });

    assert_eq!(page_count(held_page), 1, "get/put left the held page's count changed");
    cpu.put_page(held).expect("free held page");
    assert_eq!(refills, 20, "every burst must refill the pcp from buddy");
    assert_eq!(spills, 20, "every burst must spill the pcp to buddy");
    assert_eq!(
        (allocs, deallocs),
        (0, 0),
        "the pcp/buddy paths touched the heap: {allocs} allocations, {deallocs} deallocations"
    );

    // The counter is still live after the measured region.
    let (a, _, ()) = heap_ops_during(|| drop(black_box(vec![black_box(7u8); 16])));
    assert!(a >= 1, "the counting allocator stopped counting");
}
