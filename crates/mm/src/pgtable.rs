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

/// The entries of the page table, guarded by `ptl`. They read as a slice;
/// they are written through `IndexMut` or [`PageTable::get_mut`], which
/// note the vpns written (with the feature `track-touched`, for the
/// incremental checker: [`crate::touched`]).
#[derive(Clone)]
pub struct PageTable {
    ptes: Vec<Pte>,
    /// Vpns written since the checker last drained them (under ptl).
    #[cfg(feature = "track-touched")]
    touched: Vec<u64>,
}

impl PageTable {
    /// `n` empty entries.
    pub(crate) fn new(n: usize) -> PageTable {
        PageTable::from_entries(vec![Pte::None; n])
    }

    /// A table holding `ptes`, none of them noted as written.
    pub(crate) fn from_entries(ptes: Vec<Pte>) -> PageTable {
        PageTable {
            #[cfg(feature = "track-touched")]
            touched: vec![0; ptes.len().div_ceil(64)],
            ptes,
        }
    }

    /// The entries.
    pub(crate) fn entries(&self) -> &[Pte] {
        &self.ptes
    }

    #[inline]
    fn note(&mut self, _vpns: std::ops::Range<usize>) {
        #[cfg(feature = "track-touched")]
        for v in _vpns.start.._vpns.end.min(self.ptes.len()) {
            self.touched[v / 64] |= 1 << (v % 64);
        }
    }

    /// The entry of `vpn` to write (None beyond the table).
    pub(crate) fn get_mut(&mut self, vpn: usize) -> Option<&mut Pte> {
        self.note(vpn..vpn.saturating_add(1));
        self.ptes.get_mut(vpn)
    }

    /// Append the vpns written since the last drain to `out` (ascending)
    /// and forget them (nothing without the feature `track-touched`).
    pub fn drain_touched(&mut self, _out: &mut Vec<usize>) {
        #[cfg(feature = "track-touched")]
        for (k, w) in self.touched.iter_mut().enumerate() {
            let mut b = std::mem::take(w);
            while b != 0 {
                _out.push(k * 64 + b.trailing_zeros() as usize);
                b &= b - 1;
            }
        }
    }
}

impl std::ops::Deref for PageTable {
    type Target = [Pte];
    fn deref(&self) -> &[Pte] {
        &self.ptes
    }
}

impl std::ops::Index<usize> for PageTable {
    type Output = Pte;
    fn index(&self, vpn: usize) -> &Pte {
        &self.ptes[vpn]
    }
}

impl std::ops::IndexMut<usize> for PageTable {
    fn index_mut(&mut self, vpn: usize) -> &mut Pte {
        self.note(vpn..vpn.saturating_add(1));
        &mut self.ptes[vpn]
    }
}

impl std::ops::Index<std::ops::Range<usize>> for PageTable {
    type Output = [Pte];
    fn index(&self, r: std::ops::Range<usize>) -> &[Pte] {
        &self.ptes[r]
    }
}

impl std::ops::IndexMut<std::ops::Range<usize>> for PageTable {
    fn index_mut(&mut self, r: std::ops::Range<usize>) -> &mut [Pte] {
        self.note(r.clone());
        &mut self.ptes[r]
    }
}

/// The entries only (the written-vpn notes are the checker's bookkeeping).
impl std::fmt::Debug for PageTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.ptes.fmt(f)
    }
}

/// The page table (`mm_struct` with its one `ptl`).
#[derive(Debug)]
pub struct AddressSpace {
    pub(crate) ptl: Mutex<PageTable>,
}

impl AddressSpace {
    pub(crate) fn new(nr_vpages: usize) -> AddressSpace {
        AddressSpace { ptl: Mutex::new(PageTable::new(nr_vpages)) }
    }
}

/// The vpn of a user page's owner tag.
#[inline]
pub fn owner_vpn(owner: u64) -> Option<usize> {
    (owner & USER_TAG != 0).then_some((owner & !USER_TAG) as usize)
}
