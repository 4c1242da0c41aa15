//! The machine's geometry: pages per memory section, pageblock order and
//! the largest buddy order — what the kernel fixes per architecture and
//! Kconfig (`SECTION_SIZE_BITS`, `pageblock_order`, `MAX_PAGE_ORDER`). A
//! [`crate::system::Config`] chooses one; every path reads it from the
//! machine ([`crate::memmap::Memmap::geometry`]).
//!
//! * [`Geometry::X86_64`]: 128 MiB sections (32768 pages), 2 MiB pageblocks
//!   (order 9 = `HPAGE_PMD_ORDER`), `MAX_PAGE_ORDER` 10 — the default, of
//!   the benchmarks and of every scenario that names no geometry.
//! * [`Geometry::SMALL`]: 2 MiB sections (512 pages, 16 pageblocks), 128 KiB
//!   pageblocks (order 5), largest order 6 — the fuzz targets'. It is the
//!   smallest geometry that keeps every relation the model's paths and
//!   registered bugs depend on: the pageblock order stays above
//!   `PAGE_ALLOC_COSTLY_ORDER` (3), so the pcp keeps its separate
//!   pageblock-order list; the largest order is above the pageblock order,
//!   so free buddies merge across pageblocks (C4m); a section holds many
//!   pageblocks (isolation ranges, virtio-mem subblocks, `alloc_contig` of
//!   part of a block); THPs and hugetlb folios stay pageblock-sized, as on
//!   x86-64. A walk of its memmap is 64 times shorter, which is what makes a
//!   checker that runs after every op affordable.
//!
//! The hot path reads no geometry: descriptors sit in one flat vmemmap
//! (`pfn_to_page` is one add), and the per-section state and per-pageblock
//! migratetype bytes are kept at fixed granules ([`STATE_GRANULE_SHIFT`],
//! [`PAGEBLOCK_GRANULE_SHIFT`]) no geometry goes below, so their lookups
//! shift by constants. Only the buddy allocator's merge and split loops
//! (a pcp refill or spill, once per batch) read the largest order and the
//! pageblock order, from the zone.
//!
//! Invariants: `section_shift >= STATE_GRANULE_SHIFT`,
//! `PAGEBLOCK_GRANULE_SHIFT <= pageblock_order <= max_order <=
//! MAX_PAGE_ORDER_LIMIT`, `pageblock_order > PAGE_ALLOC_COSTLY_ORDER`,
//! `max_order < section_shift` ([`Geometry::validate`]). Lock order: none
//! (plain data).

use crate::error::{Error, Result};
use crate::{PAGE_ALLOC_COSTLY_ORDER, PAGE_SIZE};

/// Per-section state is kept per 2^9 pages (the smallest section).
pub const STATE_GRANULE_SHIFT: u32 = 9;
/// Pageblock migratetypes are kept per 2^5 pages (the smallest pageblock).
pub const PAGEBLOCK_GRANULE_SHIFT: u32 = 5;
/// The largest `max_order` any geometry may have (the free-area arrays are
/// sized for it).
pub const MAX_PAGE_ORDER_LIMIT: u32 = 10;
/// Free-area orders of the largest geometry, `0..=MAX_PAGE_ORDER_LIMIT`.
pub const NR_PAGE_ORDERS: usize = MAX_PAGE_ORDER_LIMIT as usize + 1;

/// One machine geometry (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// Its name in scenario files (`config geometry=small`).
    pub name: &'static str,
    /// log2 of the pages in a memory section (`PFN_SECTION_SHIFT`).
    pub section_shift: u32,
    /// log2 of the pages in a pageblock (`pageblock_order`).
    pub pageblock_order: u32,
    /// The largest buddy order, inclusive (`MAX_PAGE_ORDER`).
    pub max_order: u32,
}

impl Geometry {
    /// x86-64's: 128 MiB sections, order-9 pageblocks, `MAX_PAGE_ORDER` 10.
    pub const X86_64: Geometry = Geometry { name: "x86_64", section_shift: 15, pageblock_order: 9, max_order: 10 };
    /// The fuzz targets': 512-page sections, order-5 pageblocks, order 6.
    pub const SMALL: Geometry = Geometry { name: "small", section_shift: 9, pageblock_order: 5, max_order: 6 };
    /// Every named geometry.
    pub const ALL: [Geometry; 2] = [Geometry::X86_64, Geometry::SMALL];

    /// The geometry named `name`.
    pub fn by_name(name: &str) -> Option<Geometry> {
        Geometry::ALL.into_iter().find(|g| g.name == name)
    }

    /// Pages per memory section (`PAGES_PER_SECTION`).
    pub const fn pages_per_section(&self) -> u64 {
        1 << self.section_shift
    }

    /// Bytes per memory section (`memory_block_size_bytes`: one block per
    /// section in the model).
    pub const fn section_size(&self) -> u64 {
        self.pages_per_section() * PAGE_SIZE as u64
    }

    /// Pages per pageblock (`pageblock_nr_pages`).
    pub const fn pageblock_nr_pages(&self) -> u64 {
        1 << self.pageblock_order
    }

    /// Pageblocks per section.
    pub const fn pageblocks_per_section(&self) -> u64 {
        self.pages_per_section() >> self.pageblock_order
    }

    /// Number of free-area orders, `0..=max_order`.
    pub const fn nr_orders(&self) -> usize {
        self.max_order as usize + 1
    }

    /// `HPAGE_PMD_ORDER`: a THP or hugetlb folio is one pageblock (as on
    /// x86-64, where both are order 9).
    pub const fn hpage_pmd_order(&self) -> u32 {
        self.pageblock_order
    }

    /// `HPAGE_PMD_NR`.
    pub const fn hpage_pmd_nr(&self) -> u64 {
        1 << self.hpage_pmd_order()
    }

    /// The vpn bits inside one PMD mapping (`~HPAGE_PMD_MASK` in pages).
    pub const fn hpage_pmd_mask(&self) -> usize {
        (self.hpage_pmd_nr() - 1) as usize
    }

    /// Pages of a hot-added block's own memmap with memmap_on_memory
    /// (`memory_block_memmap_on_memory_pages`): its descriptors' bytes in
    /// pages, rounded up to whole pageblocks (the kernel's
    /// `memmap_on_memory=force` rounding; x86-64's 512 pages are exactly
    /// one pageblock).
    pub const fn nr_vmemmap_pages(&self) -> u64 {
        let pages = (self.pages_per_section() * 64).div_ceil(PAGE_SIZE as u64);
        pages.div_ceil(self.pageblock_nr_pages()) * self.pageblock_nr_pages()
    }

    /// Refuse a geometry the model cannot describe.
    pub fn validate(&self) -> Result<()> {
        let ok = self.section_shift >= STATE_GRANULE_SHIFT
            && self.section_shift <= 20
            && self.pageblock_order >= PAGEBLOCK_GRANULE_SHIFT
            && self.pageblock_order > PAGE_ALLOC_COSTLY_ORDER
            && self.pageblock_order <= self.max_order
            && self.max_order <= MAX_PAGE_ORDER_LIMIT
            && self.max_order < self.section_shift;
        if ok {
            Ok(())
        } else {
            Err(Error::BadConfig(format!("geometry {self:?} is not one the model can describe (see mm::geometry)")))
        }
    }
}

impl Default for Geometry {
    fn default() -> Self {
        Geometry::X86_64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_geometries_are_valid_and_x86_64_is_the_kernels() {
        for g in Geometry::ALL {
            g.validate().unwrap();
            assert_eq!(Geometry::by_name(g.name), Some(g));
        }
        let x = Geometry::X86_64;
        assert_eq!((x.pages_per_section(), x.section_size(), x.pageblock_nr_pages()), (32768, 128 << 20, 512));
        assert_eq!((x.nr_vmemmap_pages(), x.hpage_pmd_nr(), x.nr_orders()), (512, 512, 11));
        let s = Geometry::SMALL;
        assert_eq!((s.pages_per_section(), s.pageblocks_per_section(), s.nr_vmemmap_pages()), (512, 16, 32));
        assert!(Geometry { max_order: 4, ..s }.validate().is_err(), "max order below the pageblock order");
        assert!(Geometry { pageblock_order: 3, max_order: 3, ..s }.validate().is_err(), "pageblock order at the costly order");
    }
}
