//! The baseline a naive design would use: **one global lock around a free
//! stack of order-0 pages** (`Mutex<Vec<u32>>`), over the same 64-byte
//! descriptors as the model.
//!
//! * `alloc`: lock, pop a pfn, unlock; look the descriptor up with
//!   `pfn_to_page` and publish refcount 1 (`set_page_refcounted`, a Release
//!   store) — what `prep_new_page` does for order 0.
//! * `free`: `put_page_testzero` on the descriptor (the same `lock xadd`
//!   the model's put_page does); if that was the last reference, lock, push
//!   the pfn, unlock.
//!
//! No per-CPU cache, no buddy, no migratetypes, no checks: every
//! allocation and every final put takes the one lock, and the pages a
//! thread frees are the next pages any thread allocates (their descriptor
//! lines move between cores). This is `zone->lock` with no pcp in front of
//! it, the design the pcp lists exist to avoid; the `scaling` group shows
//! what it costs with two threads.
//!
//! The pages are taken from the model's own allocator when the baseline is
//! built (so they are real, allocated, refcounted descriptors) and given
//! back by [`GlobalLockAlloc::release`].

use crate::PageAlloc;
use mm::memmap::Memmap;
use mm::page_ref::{put_page_testzero, set_page_count, set_page_refcounted};
use mm::{Cpu, FreePath};
use std::sync::Mutex;

/// One global lock around a free stack (see the module doc).
pub struct GlobalLockAlloc<'s> {
    mm: &'s Memmap,
    free: Mutex<Vec<u32>>,
    nr_pages: usize,
}

impl<'s> GlobalLockAlloc<'s> {
    /// Take `nr_pages` order-0 pages from the model through `cpu` and put
    /// them on the baseline's free stack (refcount 0, like a free page).
    pub fn new<F: FreePath>(cpu: &Cpu<'s, F>, nr_pages: usize) -> GlobalLockAlloc<'s> {
        let sys = cpu.system();
        let mm = sys.memmap();
        let mut stack = Vec::with_capacity(nr_pages);
        for _ in 0..nr_pages {
            let pfn = cpu.alloc_page().expect("baseline: take a page from the model");
            let page = mm.pfn_to_page(pfn).expect("allocated pfn has a descriptor");
            // We own the page exclusively (just allocated, on no list).
            set_page_count(page, 0);
            stack.push(u32::try_from(pfn).expect("pfn fits 32 bits"));
        }
        // LIFO like the pcp lists: the most recently freed page is reused first.
        stack.reverse();
        GlobalLockAlloc { mm, free: Mutex::new(stack), nr_pages }
    }

    /// Pages currently on the free stack.
    pub fn nr_free(&self) -> usize {
        self.free.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Give every page back to the model (all must be free).
    pub fn release<F: FreePath>(self, cpu: &Cpu<'s, F>) {
        let stack = self.free.into_inner().unwrap_or_else(|e| e.into_inner());
        assert_eq!(stack.len(), self.nr_pages, "baseline released with pages still allocated");
        for pfn in stack {
            let page = self.mm.pfn_to_page(pfn as u64).expect("descriptor");
            set_page_count(page, 1);
            cpu.put_page(pfn as u64).expect("give the page back");
        }
    }
}

impl PageAlloc for GlobalLockAlloc<'_> {
    #[inline(always)]
    fn alloc(&self) -> u64 {
        let pfn = self.free.lock().unwrap_or_else(|e| e.into_inner()).pop().expect("baseline out of pages: size it larger") as u64;
        let page = self.mm.pfn_to_page(pfn).unwrap();
        set_page_refcounted(page);
        pfn
    }

    #[inline(always)]
    fn free(&self, pfn: u64) {
        let page = self.mm.pfn_to_page(pfn).unwrap();
        if put_page_testzero(page, pfn).unwrap() {
            self.free.lock().unwrap_or_else(|e| e.into_inner()).push(pfn as u32);
        }
    }
}
