//! The user page table (`struct mm_struct` and its page-table entries, in
//! miniature): one address space of `nr_vpages` virtual pages, each entry
//! empty, a PTE mapping one page, a poisoned entry, or one slot of a PMD
//! mapping of a THP. The operations on it live in [`crate::memory`] (faults,
//! unmaps), [`crate::folio`] (THP mappings) and [`crate::migrate`].
//!
//! Reverse map: a mapped page's `owner` tag is [`USER_TAG`] | vpn, so a pfn
//! leads to its one page-table entry (anonymous, not shared).
//!
//! Invariants: the table has exactly `nr_vpages` entries; a PMD mapping
//! fills every slot of a PMD-aligned range with the same head.
//! Lock order: `ptl` (the page-table lock) → pcp lock → zone->lock.

use crate::sync::Mutex;
use crate::Pfn;

/// Owner tags of user pages have this bit set; the low bits are the vpn.
pub const USER_TAG: u64 = 1 << 62;

/// A page-table entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pte {
    /// Nothing mapped.
    None,
    /// A PTE mapping of this page.
    Present(Pfn),
    /// The page was poisoned and unmapped: the next access gets SIGBUS.
    HwPoison,
    /// A PMD mapping of the order-9 THP whose head is this pfn: each of the
    /// 512 entries of the 2 MiB-aligned range holds it, and `vpn` reaches
    /// subpage `head + vpn % 512` (see [`crate::folio`]).
    Pmd(Pfn),
}

/// The page table (`mm_struct` with its one `ptl`).
pub struct AddressSpace {
    pub(crate) ptl: Mutex<Vec<Pte>>,
}

impl AddressSpace {
    pub(crate) fn new(nr_vpages: usize) -> AddressSpace {
        AddressSpace { ptl: Mutex::new(vec![Pte::None; nr_vpages]) }
    }
}

/// The vpn of a user page's owner tag.
#[inline]
pub fn owner_vpn(owner: u64) -> Option<usize> {
    (owner & USER_TAG != 0).then_some((owner & !USER_TAG) as usize)
}
