//! The page descriptor: one 64-byte `Page` per 4 KiB frame, like the
//! kernel's `struct page`.
//!
//! Layout (`#[repr(C, align(64))]`, exactly one cache line in the default
//! build; asserted at compile time):
//!
//! | bytes | field | kernel | protected by |
//! |---|---|---|---|
//! | 0..8 | `flags` | `page->flags` (PG_* bits) | atomic bit ops |
//! | 8..12 | `refcount` | `_refcount` | lock-free (see [`crate::page_ref`]) |
//! | 12..16 | `mapcount` | `_mapcount` / `page_type` union | owner of the page |
//! | 16..24 | `private` | `page_private` (buddy order, MAGIC_HWPOISON) | zone->lock while free |
//! | 24..32 | `lru_next`, `lru_prev` | `page->lru` as pfn indices | the list's lock |
//! | 32..40 | `compound_head` | tail: head pfn << 1 \| 1 | owner |
//! | 40..44 | `compound_info` | head: folio order | owner |
//! | 44..48 | `entire_mapcount` | `_entire_mapcount` + 1 | owner |
//! | 48..52 | `pincount` | `_pincount` | owner |
//! | 52..56 | `index` | `page->index`: pcp-cached migratetype | pcp lock |
//! | 56..64 | `owner` | page_owner-like tag | owner |
//!
//! Zero bytes are a valid descriptor ("unmapped, untyped, refcount 0, no
//! flags"): the mapcount word stores the kernel's `_mapcount + 1`, so the
//! kernel's -1 ("not mapped") is 0 here. That is what lets an anonymous
//! mmap serve as a memmap without being written first (memory in
//! proportion to what is touched).
//!
//! Invariants kept here: a page has a page type (Buddy, Offline, ...) only
//! while its mapcount is unused; the type lives in the top byte of the
//! mapcount word (0xF0..=0xFF), exactly as the kernel's v6.12 encoding.
//! Lock order: none (accessors take no locks).

#![allow(non_snake_case)]

use crate::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering};
use crate::sync::plain;
use crate::Pfn;
use std::fmt;

/// "No page" in a pfn-indexed list link.
pub const NIL: u32 = u32::MAX;

/// PG_* flag bits (`enum pageflags`), kernel names.
#[allow(non_upper_case_globals)]
pub mod pg {
    /// Locked by its user (`folio_lock`).
    pub const PG_locked: u64 = 1 << 0;
    /// Referenced recently (LRU aging).
    pub const PG_referenced: u64 = 1 << 1;
    /// Contents valid.
    pub const PG_uptodate: u64 = 1 << 2;
    /// virtio-mem reuses PG_dirty on PageOffline pages for "never onlined".
    pub const PG_dirty: u64 = 1 << 3;
    /// On an LRU list (movable by migration).
    pub const PG_lru: u64 = 1 << 4;
    /// The head page of a compound page.
    pub const PG_head: u64 = 1 << 5;
    /// On the active LRU.
    pub const PG_active: u64 = 1 << 6;
    /// Has filesystem private data.
    pub const PG_private: u64 = 1 << 7;
    /// Reserved: never freed to buddy (vmemmap pages, the kernel image).
    pub const PG_reserved: u64 = 1 << 8;
    /// In the swap cache.
    pub const PG_swapcache: u64 = 1 << 9;
    /// Hardware-poisoned: never to be handed out again.
    pub const PG_hwpoison: u64 = 1 << 10;
    /// THP: set on the second page when some subpage is poisoned.
    pub const PG_has_hwpoisoned: u64 = 1 << 11;
    /// mlock()ed.
    pub const PG_mlocked: u64 = 1 << 12;
    /// Model-only (the kernel has no such bit): memory_failure or soft
    /// offline holds this PG_hwpoison page — it contained it (unmapped it
    /// and kept its one reference). A page taken off buddy says so with
    /// MAGIC_HWPOISON instead. Offline needs the distinction: a poisoned
    /// page that its owner still holds (memory_failure could only flag it)
    /// is in use, and memory must not go offline under it (C22).
    pub const PG_hwpoison_held: u64 = 1 << 13;
    /// hugetlb private bits (HPG_*), kept on the head page: on the freelist.
    pub const HPG_freed: u64 = 1 << 16;
    /// hugetlb: in use and migratable.
    pub const HPG_migratable: u64 = 1 << 17;
    /// hugetlb: a temporary (surplus) folio.
    pub const HPG_temporary: u64 = 1 << 18;
    /// hugetlb: its vmemmap is optimized away.
    pub const HPG_vmemmap_optimized: u64 = 1 << 19;
    /// hugetlb: its raw-error list is unreliable.
    pub const HPG_raw_hwp_unreliable: u64 = 1 << 20;

    /// Flags that must be clear when a page is freed (the kernel's
    /// PAGE_FLAGS_CHECK_AT_FREE) — a page freed with one of these is a bad page.
    pub const PAGE_FLAGS_CHECK_AT_FREE: u64 =
        PG_lru | PG_locked | PG_private | PG_swapcache | PG_mlocked | PG_reserved;
    /// Flags cleared when a page is prepared for freeing (PAGE_FLAGS_CHECK_AT_PREP,
    /// less PG_hwpoison which the free path inspects instead).
    pub const PAGE_FLAGS_CHECK_AT_PREP: u64 =
        PG_referenced | PG_uptodate | PG_dirty | PG_active | PG_has_hwpoisoned | PG_hwpoison_held | HPG_freed
            | HPG_migratable | HPG_temporary | HPG_vmemmap_optimized | HPG_raw_hwp_unreliable;

    /// Names for dump_page.
    pub const NAMES: &[(u64, &str)] = &[
        (PG_locked, "locked"),
        (PG_referenced, "referenced"),
        (PG_uptodate, "uptodate"),
        (PG_dirty, "dirty"),
        (PG_lru, "lru"),
        (PG_head, "head"),
        (PG_active, "active"),
        (PG_private, "private"),
        (PG_reserved, "reserved"),
        (PG_swapcache, "swapcache"),
        (PG_hwpoison, "hwpoison"),
        (PG_has_hwpoisoned, "has_hwpoisoned"),
        (PG_mlocked, "mlocked"),
        (PG_hwpoison_held, "hwpoison_held"),
        (HPG_freed, "hugetlb_freed"),
        (HPG_migratable, "hugetlb_migratable"),
        (HPG_temporary, "hugetlb_temporary"),
        (HPG_vmemmap_optimized, "hugetlb_vmemmap_optimized"),
        (HPG_raw_hwp_unreliable, "hugetlb_raw_hwp_unreliable"),
    ];
}

/// Page types stored in the top byte of the mapcount word (v6.12 `PGTY_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum PageType {
    /// `PGTY_buddy`: the head of a free buddy block.
    Buddy = 0xf0,
    /// `PGTY_offline`: logically offline (a balloon driver's page).
    Offline = 0xf1,
    /// `PGTY_table`: a page-table page.
    Table = 0xf2,
    /// `PGTY_guard`: a debug guard page.
    Guard = 0xf3,
    /// `PGTY_hugetlb`: the head of a hugetlb folio.
    Hugetlb = 0xf4,
    /// `PGTY_slab`: a slab page.
    Slab = 0xf5,
    /// `PGTY_zsmalloc`.
    Zsmalloc = 0xf6,
    /// `PGTY_unaccepted`: memory not yet accepted (confidential VMs).
    Unaccepted = 0xf7,
}

impl PageType {
    fn from_byte(b: u8) -> Option<PageType> {
        Some(match b {
            0xf0 => PageType::Buddy,
            0xf1 => PageType::Offline,
            0xf2 => PageType::Table,
            0xf3 => PageType::Guard,
            0xf4 => PageType::Hugetlb,
            0xf5 => PageType::Slab,
            0xf6 => PageType::Zsmalloc,
            0xf7 => PageType::Unaccepted,
            _ => return None,
        })
    }
    const fn word(self) -> u32 {
        (self as u32) << 24
    }
}

/// The first mapcount word value that encodes a page type.
const PAGE_TYPE_BASE: u32 = 0xf000_0000;

/// The page descriptor. See the module documentation for the layout.
#[repr(C, align(64))]
pub struct Page {
    pub(crate) flags: AtomicU64,
    pub(crate) refcount: AtomicI32,
    pub(crate) mapcount: AtomicU32,
    pub(crate) private: plain::AtomicU64,
    pub(crate) lru_next: plain::AtomicU32,
    pub(crate) lru_prev: plain::AtomicU32,
    pub(crate) compound_head: plain::AtomicU64,
    pub(crate) compound_info: plain::AtomicU32,
    pub(crate) entire_mapcount: AtomicI32,
    pub(crate) pincount: AtomicI32,
    pub(crate) index: plain::AtomicU32,
    pub(crate) owner: plain::AtomicU64,
}

#[cfg(not(feature = "shuttle"))]
const _: () = {
    assert!(std::mem::size_of::<Page>() == 64);
    assert!(std::mem::align_of::<Page>() == 64);
};

impl Default for Page {
    fn default() -> Self {
        Self::new()
    }
}

macro_rules! page_flag {
    ($test:ident, $set:ident, $clear:ident, $tset:ident, $tclear:ident, $bit:expr) => {
        #[doc = concat!("Test `", stringify!($bit), "`.")]
        #[inline(always)]
        pub fn $test(&self) -> bool {
            self.flags.load(Ordering::Relaxed) & $bit != 0
        }
        #[doc = concat!("Atomically set `", stringify!($bit), "`.")]
        #[inline]
        pub fn $set(&self) {
            self.flags.fetch_or($bit, Ordering::Relaxed);
        }
        #[doc = concat!("Atomically clear `", stringify!($bit), "`.")]
        #[inline]
        pub fn $clear(&self) {
            self.flags.fetch_and(!$bit, Ordering::Relaxed);
        }
        #[doc = concat!("Atomically set `", stringify!($bit), "`; true if it was already set.")]
        #[inline]
        pub fn $tset(&self) -> bool {
            self.flags.fetch_or($bit, Ordering::AcqRel) & $bit != 0
        }
        #[doc = concat!("Atomically clear `", stringify!($bit), "`; true if it was set.")]
        #[inline]
        pub fn $tclear(&self) -> bool {
            self.flags.fetch_and(!$bit, Ordering::AcqRel) & $bit != 0
        }
    };
}

macro_rules! page_type_ops {
    ($test:ident, $set:ident, $clear:ident, $ty:expr) => {
        #[doc = concat!("Is the page of type `", stringify!($ty), "`?")]
        #[inline(always)]
        pub fn $test(&self) -> bool {
            self.mapcount.load(Ordering::Relaxed) == $ty.word()
        }
        #[doc = concat!("Give the page type `", stringify!($ty), "` (the page must be unmapped and untyped).")]
        #[inline]
        pub fn $set(&self) {
            self.mapcount.store($ty.word(), Ordering::Relaxed);
        }
        #[doc = concat!("Remove page type `", stringify!($ty), "`.")]
        #[inline]
        pub fn $clear(&self) {
            self.mapcount.store(0, Ordering::Relaxed);
        }
    };
}

impl Page {
    /// A zeroed descriptor as a constant: refcount 0, no flags, unmapped,
    /// untyped. Every use of a `const` is a fresh value. Under shuttle,
    /// whose atomic constructors are `const fn`s that hash their creation
    /// site, copying it makes a memmap section cost a memcpy instead of
    /// ~80 ms of hashing in a debug build.
    #[allow(clippy::declare_interior_mutable_const)]
    pub(crate) const ZEROED: Page = Page {
        flags: AtomicU64::new(0),
        refcount: AtomicI32::new(0),
        mapcount: AtomicU32::new(0),
        private: plain::AtomicU64::new(0),
        lru_next: plain::AtomicU32::new(0),
        lru_prev: plain::AtomicU32::new(0),
        compound_head: plain::AtomicU64::new(0),
        compound_info: plain::AtomicU32::new(0),
        entire_mapcount: AtomicI32::new(0),
        pincount: AtomicI32::new(0),
        index: plain::AtomicU32::new(0),
        owner: plain::AtomicU64::new(0),
    };

    /// A copy of the descriptor, field by field, for a reset's image
    /// ([`crate::reset`]): the caller sees a quiescent memmap (under shuttle
    /// inside [`crate::sync::quiet_loads`], so no load is a scheduling
    /// point). The copy's shuttle atomics are new objects.
    pub(crate) fn copy(&self) -> Page {
        Page {
            flags: AtomicU64::new(self.flags.load(Ordering::Relaxed)),
            refcount: AtomicI32::new(self.refcount.load(Ordering::Relaxed)),
            mapcount: AtomicU32::new(self.mapcount.load(Ordering::Relaxed)),
            private: plain::AtomicU64::new(self.private.load(Ordering::Relaxed)),
            lru_next: plain::AtomicU32::new(self.lru_next.load(Ordering::Relaxed)),
            lru_prev: plain::AtomicU32::new(self.lru_prev.load(Ordering::Relaxed)),
            compound_head: plain::AtomicU64::new(self.compound_head.load(Ordering::Relaxed)),
            compound_info: plain::AtomicU32::new(self.compound_info.load(Ordering::Relaxed)),
            entire_mapcount: AtomicI32::new(self.entire_mapcount.load(Ordering::Relaxed)),
            pincount: AtomicI32::new(self.pincount.load(Ordering::Relaxed)),
            index: plain::AtomicU32::new(self.index.load(Ordering::Relaxed)),
            owner: plain::AtomicU64::new(self.owner.load(Ordering::Relaxed)),
        }
    }

    /// Overwrite every field with `src`'s (a reset of the default build's
    /// memmap, which owns the machine).
    #[cfg(not(feature = "shuttle"))]
    pub(crate) fn set_from(&self, src: &Page) {
        self.flags.store(src.flags.load(Ordering::Relaxed), Ordering::Relaxed);
        self.refcount.store(src.refcount.load(Ordering::Relaxed), Ordering::Relaxed);
        self.mapcount.store(src.mapcount.load(Ordering::Relaxed), Ordering::Relaxed);
        self.private.store(src.private.load(Ordering::Relaxed), Ordering::Relaxed);
        self.lru_next.store(src.lru_next.load(Ordering::Relaxed), Ordering::Relaxed);
        self.lru_prev.store(src.lru_prev.load(Ordering::Relaxed), Ordering::Relaxed);
        self.compound_head.store(src.compound_head.load(Ordering::Relaxed), Ordering::Relaxed);
        self.compound_info.store(src.compound_info.load(Ordering::Relaxed), Ordering::Relaxed);
        self.entire_mapcount.store(src.entire_mapcount.load(Ordering::Relaxed), Ordering::Relaxed);
        self.pincount.store(src.pincount.load(Ordering::Relaxed), Ordering::Relaxed);
        self.index.store(src.index.load(Ordering::Relaxed), Ordering::Relaxed);
        self.owner.store(src.owner.load(Ordering::Relaxed), Ordering::Relaxed);
    }

    /// Does every field read zero (a descriptor as a fresh memmap holds it)?
    pub(crate) fn is_zeroed(&self) -> bool {
        let Page { flags, refcount, mapcount, private, lru_next, lru_prev, compound_head, compound_info, entire_mapcount, pincount, index, owner } = self;
        let r = Ordering::Relaxed;
        flags.load(r) == 0
            && refcount.load(r) == 0
            && mapcount.load(r) == 0
            && private.load(r) == 0
            && lru_next.load(r) == 0
            && lru_prev.load(r) == 0
            && compound_head.load(r) == 0
            && compound_info.load(r) == 0
            && entire_mapcount.load(r) == 0
            && pincount.load(r) == 0
            && index.load(r) == 0
            && owner.load(r) == 0
    }

    /// A zeroed descriptor ([`Page::ZEROED`]).
    pub fn new() -> Self {
        Self::ZEROED
    }

    /// Reset every field to the zeroed state (used when a section's memmap is
    /// re-initialized; the caller owns the whole section).
    pub(crate) fn reset(&self) {
        self.flags.store(0, Ordering::Relaxed);
        self.refcount.store(0, Ordering::Relaxed);
        self.mapcount.store(0, Ordering::Relaxed);
        self.private.store(0, Ordering::Relaxed);
        self.lru_next.store(0, Ordering::Relaxed);
        self.lru_prev.store(0, Ordering::Relaxed);
        self.compound_head.store(0, Ordering::Relaxed);
        self.compound_info.store(0, Ordering::Relaxed);
        self.entire_mapcount.store(0, Ordering::Relaxed);
        self.pincount.store(0, Ordering::Relaxed);
        self.index.store(0, Ordering::Relaxed);
        self.owner.store(0, Ordering::Relaxed);
    }

    /// `page_init_poison`: fill the descriptor with all-ones, as the kernel
    /// does to the memmap of offline memory (CONFIG_DEBUG_VM). A reader that
    /// trusts such a descriptor sees nonsense; [`Page::PagePoisoned`] detects it.
    pub(crate) fn poison(&self) {
        self.flags.store(u64::MAX, Ordering::Relaxed);
        self.refcount.store(-1, Ordering::Relaxed);
        self.mapcount.store(u32::MAX, Ordering::Relaxed);
        self.private.store(u64::MAX, Ordering::Relaxed);
        self.lru_next.store(u32::MAX, Ordering::Relaxed);
        self.lru_prev.store(u32::MAX, Ordering::Relaxed);
        self.compound_head.store(u64::MAX, Ordering::Relaxed);
        self.compound_info.store(u32::MAX, Ordering::Relaxed);
        self.entire_mapcount.store(-1, Ordering::Relaxed);
        self.pincount.store(-1, Ordering::Relaxed);
        self.index.store(u32::MAX, Ordering::Relaxed);
        self.owner.store(u64::MAX, Ordering::Relaxed);
    }

    /// `PagePoisoned`: the descriptor belongs to offline memory.
    #[inline]
    pub fn PagePoisoned(&self) -> bool {
        self.flags.load(Ordering::Relaxed) == u64::MAX
    }

    /// The raw flags word.
    #[inline(always)]
    pub fn flags(&self) -> u64 {
        self.flags.load(Ordering::Relaxed)
    }

    page_flag!(PageLocked, SetPageLocked, ClearPageLocked, TestSetPageLocked, TestClearPageLocked, pg::PG_locked);
    page_flag!(PageDirty, SetPageDirty, ClearPageDirty, TestSetPageDirty, TestClearPageDirty, pg::PG_dirty);
    page_flag!(PageLRU, SetPageLRU, ClearPageLRU, TestSetPageLRU, TestClearPageLRU, pg::PG_lru);
    page_flag!(PageHead, SetPageHead, ClearPageHead, TestSetPageHead, TestClearPageHead, pg::PG_head);
    page_flag!(PagePrivate, SetPagePrivate, ClearPagePrivate, TestSetPagePrivate, TestClearPagePrivate, pg::PG_private);
    page_flag!(PageReserved, SetPageReserved, ClearPageReserved, TestSetPageReserved, TestClearPageReserved, pg::PG_reserved);
    page_flag!(PageSwapCache, SetPageSwapCache, ClearPageSwapCache, TestSetPageSwapCache, TestClearPageSwapCache, pg::PG_swapcache);
    page_flag!(PageHWPoison, SetPageHWPoison, ClearPageHWPoison, TestSetPageHWPoison, TestClearPageHWPoison, pg::PG_hwpoison);
    page_flag!(PageHWPoisonHeld, SetPageHWPoisonHeld, ClearPageHWPoisonHeld, TestSetPageHWPoisonHeld, TestClearPageHWPoisonHeld, pg::PG_hwpoison_held);
    page_flag!(PageHasHWPoisoned, SetPageHasHWPoisoned, ClearPageHasHWPoisoned, TestSetPageHasHWPoisoned, TestClearPageHasHWPoisoned, pg::PG_has_hwpoisoned);

    page_type_ops!(PageBuddy, __SetPageBuddy, __ClearPageBuddy, PageType::Buddy);
    page_type_ops!(PageOffline, __SetPageOffline, __ClearPageOffline, PageType::Offline);
    page_type_ops!(PageGuard, __SetPageGuard, __ClearPageGuard, PageType::Guard);
    page_type_ops!(PageHugetlb, __SetPageHugetlb, __ClearPageHugetlb, PageType::Hugetlb);

    /// The page type, if the mapcount word holds one.
    #[inline]
    pub fn page_type(&self) -> Option<PageType> {
        let w = self.mapcount.load(Ordering::Relaxed);
        if w >= PAGE_TYPE_BASE {
            PageType::from_byte((w >> 24) as u8)
        } else {
            None
        }
    }

    /// The raw mapcount/type word (`_mapcount + 1`, or a type in the top byte).
    #[inline(always)]
    pub fn mapcount_word(&self) -> u32 {
        self.mapcount.load(Ordering::Relaxed)
    }

    /// `page_mapcount`: how many page tables map this page (0 for typed pages).
    #[inline]
    pub fn page_mapcount(&self) -> i32 {
        let w = self.mapcount.load(Ordering::Relaxed);
        if w >= PAGE_TYPE_BASE {
            0
        } else {
            w as i32
        }
    }

    /// `page_mapped`.
    #[inline]
    pub fn page_mapped(&self) -> bool {
        self.page_mapcount() > 0
    }

    /// `page_mapcount_reset`: back to "unmapped, untyped".
    #[inline]
    pub fn page_mapcount_reset(&self) {
        self.mapcount.store(0, Ordering::Relaxed);
    }

    /// `page_private`.
    #[inline]
    pub fn page_private(&self) -> u64 {
        self.private.load(Ordering::Relaxed)
    }

    /// `set_page_private`.
    #[inline]
    pub fn set_page_private(&self, v: u64) {
        self.private.store(v, Ordering::Relaxed);
    }

    /// `buddy_order`: the order of a PageBuddy head (valid under zone->lock).
    #[inline]
    pub fn buddy_order(&self) -> u32 {
        self.private.load(Ordering::Relaxed) as u32
    }

    /// `PageHWPoisonTakenOff`: hwpoison took this free page off buddy.
    #[inline]
    pub fn PageHWPoisonTakenOff(&self) -> bool {
        self.page_private() == crate::MAGIC_HWPOISON
    }

    /// A PG_hwpoison page that nobody but memory failure holds: it holds it
    /// itself ([`Page::PageHWPoisonHeld`], or taken off buddy: MAGIC_HWPOISON),
    /// or the free path leaked it at refcount 0 once its owner let go. Memory
    /// offline may leave such a page behind in the range it takes offline. One
    /// that fails this test is flagged but still in its owner's hands
    /// (memory_failure could only flag it: MF_IGNORED, MF_DELAYED): the owner
    /// will use and free it, so it blocks offline like any page in use (the
    /// kernel skips it anyway: C22).
    #[inline]
    pub fn hwpoison_contained(&self) -> bool {
        self.PageHWPoison() && (self.PageHWPoisonHeld() || self.PageHWPoisonTakenOff() || self.refcount.load(Ordering::Relaxed) == 0)
    }

    /// `PageTail`.
    #[inline]
    pub fn PageTail(&self) -> bool {
        self.compound_head.load(Ordering::Relaxed) & 1 != 0
    }

    /// `PageCompound`: head or tail of a compound page.
    #[inline]
    pub fn PageCompound(&self) -> bool {
        self.PageHead() || self.PageTail()
    }

    /// For a tail page, the pfn of its head.
    #[inline]
    pub fn compound_head_pfn(&self) -> Option<Pfn> {
        let w = self.compound_head.load(Ordering::Relaxed);
        (w & 1 != 0).then_some(w >> 1)
    }

    /// For a compound head, its order (`compound_order`); 0 otherwise.
    #[inline]
    pub fn compound_order(&self) -> u32 {
        if self.PageHead() {
            self.compound_info.load(Ordering::Relaxed) & 0xff
        } else {
            0
        }
    }

    /// The migratetype cached while the page sits on a pcp list
    /// (`get_pcppage_migratetype`).
    #[inline(always)]
    pub fn pcp_migratetype(&self) -> u32 {
        self.index.load(Ordering::Relaxed)
    }

    /// The owner tag (who allocated the page; used to verify contents).
    #[inline]
    pub fn owner(&self) -> u64 {
        self.owner.load(Ordering::Relaxed)
    }

    /// Set the owner tag.
    #[inline]
    pub fn set_owner(&self, tag: u64) {
        self.owner.store(tag, Ordering::Relaxed);
    }

    /// Human-readable flag names.
    pub fn flag_names(&self) -> String {
        let f = self.flags();
        let v: Vec<&str> = pg::NAMES.iter().filter(|(b, _)| f & b != 0).map(|(_, n)| *n).collect();
        v.join("|")
    }

    /// The kernel's `dump_page`: one line describing the descriptor.
    pub fn dump(&self, pfn: Pfn) -> String {
        let ty = match self.page_type() {
            Some(t) => format!("{t:?}"),
            None => format!("mapcount:{}", self.page_mapcount()),
        };
        let link = |v: u32| if v == NIL { "nil".to_string() } else { format!("{v:#x}") };
        format!(
            "pfn {pfn:#x}: refcount:{} {ty} private:{:#x} flags:[{}] lru:{}<->{} index:{} owner:{:#x}",
            self.refcount.load(Ordering::Relaxed),
            self.page_private(),
            self.flag_names(),
            link(self.lru_prev.load(Ordering::Relaxed)),
            link(self.lru_next.load(Ordering::Relaxed)),
            self.pcp_migratetype(),
            self.owner(),
        )
    }
}

/// Shuttle-only helpers (`--features shuttle`).
#[cfg(feature = "shuttle")]
impl Page {
    /// Every field of the descriptor, in layout order (flags, refcount,
    /// mapcount word, private, lru_next, lru_prev, compound_head,
    /// compound_info, entire_mapcount, pincount, index, owner), read
    /// *without* shuttle scheduling points. For fingerprints and dumps of a
    /// quiescent system: the reads are not modeled as interleaving points,
    /// so a concurrent writer's effect may or may not be seen. (All shuttle
    /// tasks share one OS thread, so there is no data race.)
    pub fn raw_words(&self) -> [u64; 12] {
        // SAFETY: shuttle's raw_load is `unsafe` only because the read is not
        // a scheduling point; it borrows the atomic's RefCell, which no
        // other task can hold across a switch (all tasks run on this OS
        // thread and atomics never switch while borrowed).
        let (flags, refcount, mapcount, entire, pin) = unsafe {
            (
                self.flags.raw_load(),
                self.refcount.raw_load(),
                self.mapcount.raw_load(),
                self.entire_mapcount.raw_load(),
                self.pincount.raw_load(),
            )
        };
        [
            flags,
            refcount as u32 as u64,
            mapcount as u64,
            self.private.load(Ordering::Relaxed),
            self.lru_next.load(Ordering::Relaxed) as u64,
            self.lru_prev.load(Ordering::Relaxed) as u64,
            self.compound_head.load(Ordering::Relaxed),
            self.compound_info.load(Ordering::Relaxed) as u64,
            entire as u32 as u64,
            pin as u32 as u64,
            self.index.load(Ordering::Relaxed) as u64,
            self.owner.load(Ordering::Relaxed),
        ]
    }
}

impl fmt::Debug for Page {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.dump(u64::MAX))
    }
}

// Shuttle atomics only work inside a shuttle execution (tests/shuttle_*.rs).
#[cfg(all(test, not(feature = "shuttle")))]
mod tests {
    use super::*;

    #[test]
    fn zeroed_descriptor_is_unmapped_untyped_free() {
        let p = Page::new();
        assert_eq!(p.page_mapcount(), 0);
        assert!(p.page_type().is_none());
        assert!(!p.PageBuddy() && !p.PageTail() && !p.PageHead());
        assert_eq!(p.flags(), 0);
    }

    #[test]
    fn page_type_excludes_mapcount() {
        let p = Page::new();
        p.__SetPageBuddy();
        assert!(p.PageBuddy());
        assert!(!p.PageOffline());
        assert_eq!(p.page_type(), Some(PageType::Buddy));
        assert_eq!(p.page_mapcount(), 0, "a typed page reports no mappings");
        p.__ClearPageBuddy();
        assert!(p.page_type().is_none());
        p.__SetPageOffline();
        assert!(p.PageOffline() && !p.PageBuddy());
    }

    #[test]
    fn flag_ops_follow_kernel_semantics() {
        let p = Page::new();
        assert!(!p.TestSetPageHWPoison());
        assert!(p.TestSetPageHWPoison());
        assert!(p.PageHWPoison());
        assert!(p.TestClearPageHWPoison());
        assert!(!p.PageHWPoison());
        p.SetPageLRU();
        p.SetPageReserved();
        assert_eq!(p.flag_names(), "lru|reserved");
        p.ClearPageLRU();
        assert!(!p.PageLRU() && p.PageReserved());
    }

    #[cfg(not(feature = "shuttle"))]
    #[test]
    fn descriptor_is_one_cache_line() {
        assert_eq!(std::mem::size_of::<Page>(), 64);
        assert_eq!(std::mem::align_of::<Page>(), 64);
    }
}
