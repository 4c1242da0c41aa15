//! Intrusive free lists threaded through the descriptors' `lru` links, as
//! pfn indices (the kernel's `list_head page->lru`).
//!
//! A page is on at most one list at a time (a buddy free list or a pcp
//! list); the list's owner lock protects the links of its pages. Links are
//! `plain` atomics accessed `Relaxed`: the lock provides the ordering.
//!
//! Invariants: `head == NIL` iff `tail == NIL`; along `next` from `head`,
//! every page's `prev` is its predecessor and the last is `tail`.
//! Lock order: none of its own (callers hold zone->lock or the pcp lock).

use crate::memmap::Memmap;
use crate::page::{Page, NIL};
use crate::sync::plain::{AtomicU32, Ordering};
use crate::Pfn;

/// Head and tail pfns of one list.
#[derive(Debug)]
pub(crate) struct ListHead {
    head: AtomicU32,
    tail: AtomicU32,
}

impl Default for ListHead {
    fn default() -> Self {
        ListHead { head: AtomicU32::new(NIL), tail: AtomicU32::new(NIL) }
    }
}

/// The descriptor of a pfn that is on a list. A list entry whose section has
/// no memmap is a corrupted list: the lists are only ever built from online
/// pfns, so this is an internal invariant, not input validation.
#[inline(always)]
pub(crate) fn page(mm: &Memmap, pfn: u32) -> &Page {
    match mm.listed_page(pfn as Pfn) {
        Some(p) => p,
        None => panic!("free list corrupted: pfn {pfn:#x} has no memmap"),
    }
}

impl ListHead {
    #[inline(always)]
    pub(crate) fn first(&self) -> Option<u32> {
        let h = self.head.load(Ordering::Relaxed);
        (h != NIL).then_some(h)
    }

    #[inline(always)]
    pub(crate) fn last(&self) -> Option<u32> {
        let t = self.tail.load(Ordering::Relaxed);
        (t != NIL).then_some(t)
    }

    #[inline(always)]
    pub(crate) fn is_empty(&self) -> bool {
        self.head.load(Ordering::Relaxed) == NIL
    }

    /// `list_add`: insert at the head.
    #[inline(always)]
    pub(crate) fn push_front(&self, mm: &Memmap, pfn: u32, p: &Page) {
        let old = self.head.load(Ordering::Relaxed);
        p.lru_next.store(old, Ordering::Relaxed);
        p.lru_prev.store(NIL, Ordering::Relaxed);
        if old == NIL {
            self.tail.store(pfn, Ordering::Relaxed);
        } else {
            page(mm, old).lru_prev.store(pfn, Ordering::Relaxed);
        }
        self.head.store(pfn, Ordering::Relaxed);
    }

    /// `list_add_tail`: insert at the tail.
    #[inline]
    pub(crate) fn push_back(&self, mm: &Memmap, pfn: u32, p: &Page) {
        let old = self.tail.load(Ordering::Relaxed);
        p.lru_prev.store(old, Ordering::Relaxed);
        p.lru_next.store(NIL, Ordering::Relaxed);
        if old == NIL {
            self.head.store(pfn, Ordering::Relaxed);
        } else {
            page(mm, old).lru_next.store(pfn, Ordering::Relaxed);
        }
        self.tail.store(pfn, Ordering::Relaxed);
    }

    /// `list_del` of an entry known to be on this list.
    #[inline]
    pub(crate) fn remove(&self, mm: &Memmap, pfn: u32, p: &Page) {
        let next = p.lru_next.load(Ordering::Relaxed);
        let prev = p.lru_prev.load(Ordering::Relaxed);
        if prev == NIL {
            self.head.store(next, Ordering::Relaxed);
        } else {
            page(mm, prev).lru_next.store(next, Ordering::Relaxed);
        }
        if next == NIL {
            self.tail.store(prev, Ordering::Relaxed);
        } else {
            page(mm, next).lru_prev.store(prev, Ordering::Relaxed);
        }
        let _ = pfn;
        p.lru_next.store(NIL, Ordering::Relaxed);
        p.lru_prev.store(NIL, Ordering::Relaxed);
    }

    /// Remove and return the first entry.
    #[inline(always)]
    pub(crate) fn pop_front<'m>(&self, mm: &'m Memmap) -> Option<(u32, &'m Page)> {
        let pfn = self.first()?;
        let p = page(mm, pfn);
        self.remove(mm, pfn, p);
        Some((pfn, p))
    }

    /// Remove and return the last entry.
    #[inline]
    pub(crate) fn pop_back<'m>(&self, mm: &'m Memmap) -> Option<(u32, &'m Page)> {
        let pfn = self.last()?;
        let p = page(mm, pfn);
        self.remove(mm, pfn, p);
        Some((pfn, p))
    }

    /// A copy with the same head and tail (a reset's image).
    pub(crate) fn copy(&self) -> ListHead {
        let (head, tail) = self.raw();
        ListHead { head: AtomicU32::new(head), tail: AtomicU32::new(tail) }
    }

    /// Raw head/tail for the checker's walk (which must survive corruption).
    pub(crate) fn raw(&self) -> (u32, u32) {
        (self.head.load(Ordering::Relaxed), self.tail.load(Ordering::Relaxed))
    }
}
