//! The checker's per-page rules (A2, B1, B2, H1, M2, R1, R3, R4, H5) and
//! user mappings (MG2): over every pfn of every online section in a full
//! check, over the touched pages ([`crate::touched`]) and what they lead to
//! in an incremental one. The counters the rules sum (PG_hwpoison pages per
//! block for H5, PageOffline pages for `managed_pages`) are kept per page
//! as a [`Tally`], so an incremental check moves the sums by the visited
//! pages' changes instead of summing them again.
//!
//! Invariants: every pfn is looked up fallibly. Lock order: run under the
//! locks [`super`] takes (the user-mapping pass takes ptl, after the
//! allocator locks are dropped).

use super::state::CheckState;
use super::walk::{Seen, Walk};
use crate::memmap::SectionState;
use crate::page::Page;
use crate::page_alloc::FreePath;
use crate::page_ref::page_count;
use crate::pageblock::{get_pageblock_migratetype, MigrateType};
use crate::pgtable::{owner_vpn, Pte};
use crate::Pfn;

/// What the counters sum of one page, and whether it heads a compound
/// page (whose tails an incremental check visits with it).
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub(super) struct Tally(u8);

impl Tally {
    const HWPOISON: u8 = 1;
    const OFFLINE: u8 = 2;
    const HEAD_SHIFT: u8 = 2;

    fn of(p: &Page) -> Tally {
        let mut t = 0;
        if p.PageHWPoison() {
            t |= Self::HWPOISON;
        }
        if p.PageOffline() {
            t |= Self::OFFLINE;
        }
        if p.PageHead() {
            t |= ((p.compound_order().min(62) + 1) as u8) << Self::HEAD_SHIFT;
        }
        Tally(t)
    }
    pub(super) fn hwpoison(self) -> i64 {
        (self.0 & Self::HWPOISON != 0) as i64
    }
    pub(super) fn offline(self) -> i64 {
        (self.0 & Self::OFFLINE != 0) as i64
    }
    /// The compound order, if the page is a compound head.
    pub(super) fn head_order(self) -> Option<u32> {
        let o = self.0 >> Self::HEAD_SHIFT;
        (o != 0).then(|| o as u32 - 1)
    }
}

/// The hwpoison and balloon passes' candidates, gathered by the page
/// rules so that one walk of the memmap serves all three.
#[derive(Default)]
pub(super) struct Candidates {
    pub(super) poison: Vec<Pfn>,
    pub(super) offline: Vec<Pfn>,
}

/// Sums over the online sections, for the zone and block counters.
#[derive(Default)]
pub(super) struct Sums {
    pub(super) online_pages: i64,
    pub(super) expect_managed: i64,
    pub(super) isolate_blocks: u64,
    pub(super) poison_total: i64,
}

impl<F: FreePath> Walk<'_, F> {
    /// Every per-page rule on online pfn `pfn` of a section whose first
    /// `vm_end` pfns are its vmemmap; returns the page's tally.
    fn visit(&mut self, pfn: Pfn, p: &Page, vm_end: Pfn, cand: &mut Candidates) -> Tally {
        let rc = page_count(p);
        if p.PageHWPoison() || p.PageHWPoisonHeld() || p.PageHWPoisonTakenOff() {
            cand.poison.push(pfn);
        }
        if p.PageOffline() {
            cand.offline.push(pfn);
        }
        let tally = Tally::of(p);
        if pfn < vm_end {
            // Refcount 1 is the altmap's; a speculative reference (a pfn
            // walker, soft offline's grab) may sit on top.
            if !p.PageReserved() || rc < 1 || self.seen[pfn as usize] != Seen::None {
                self.report("M2", Some(pfn), format!("vmemmap page not Reserved/referenced/off the lists: {}", p.dump(pfn)));
            }
            return tally;
        }
        match self.seen[pfn as usize] {
            Seen::BuddyHead | Seen::Pcp => {}
            Seen::BuddyTail | Seen::PcpTail => {
                if p.PageBuddy() {
                    self.report("B1", Some(pfn), "PageBuddy head nested inside a larger free block".into());
                }
                if rc < 0 {
                    self.report("R4", Some(pfn), format!("refcount {rc} inside a free block"));
                } else if rc != 0 {
                    self.report("R1", Some(pfn), format!("refcount {rc} on a page inside a free block"));
                }
                if p.PageHWPoison() {
                    self.report("H1", Some(pfn), "PG_hwpoison page inside a free block".into());
                }
            }
            Seen::None => {
                if p.PageBuddy() {
                    self.report("B2", Some(pfn), format!("PageBuddy page on no free list ({})", p.dump(pfn)));
                } else if rc < 0 {
                    self.report("R4", Some(pfn), format!("refcount {rc}: a put on a page without a reference"));
                } else if rc == 0 {
                    self.check_unlisted_zero(pfn, p);
                } else if p.PageTail() {
                    self.report("A2", Some(pfn), format!("tail page holds its own refcount {rc}"));
                }
            }
        }
        tally
    }

    /// The section-level sums of every online section, and the pageblock
    /// count I1 needs (cheap: one byte per pageblock).
    fn section_sums(&mut self, sums: &mut Sums) {
        let mm = self.sys.memmap();
        let geo = *mm.geometry();
        for nr in 0..mm.max_sections() as u64 {
            let blk = &self.sys.blocks[nr as usize];
            sums.poison_total += blk.nr_hwpoison();
            if mm.section_state_nr(nr) != Ok(SectionState::Online) {
                continue;
            }
            sums.online_pages += geo.pages_per_section() as i64;
            sums.expect_managed += (geo.pages_per_section() - blk.nr_vmemmap_pages() as u64) as i64;
            let base = nr * geo.pages_per_section();
            let mut b = base;
            while b < base + geo.pages_per_section() {
                if get_pageblock_migratetype(mm, b) == Ok(MigrateType::Isolate) {
                    sums.isolate_blocks += 1;
                }
                b += geo.pageblock_nr_pages();
            }
        }
    }

    /// H5 for section `nr`, online, whose pages carry `flagged` PG_hwpoison.
    fn block_poison(&mut self, nr: u64, flagged: i64) {
        let blk = &self.sys.blocks[nr as usize];
        if flagged != blk.nr_hwpoison() {
            let base = nr * self.sys.memmap().geometry().pages_per_section();
            self.report("H5", Some(base), format!("block {nr} counts {} hwpoisoned pages but {flagged} carry PG_hwpoison", blk.nr_hwpoison()));
        }
    }

    /// The page rules over every pfn of every online section; records
    /// every page's tally in `st` (when given) for the next incremental
    /// check.
    pub(super) fn all_pages(&mut self, sums: &mut Sums, cand: &mut Candidates, mut st: Option<&mut CheckState>) {
        self.section_sums(sums);
        let mm = self.sys.memmap();
        let pps = mm.geometry().pages_per_section();
        if let Some(st) = st.as_deref_mut() {
            st.reset_tallies(mm.max_pfn() as usize, mm.max_sections());
        }
        for nr in 0..mm.max_sections() as u64 {
            let base = nr * pps;
            let Some(pages) = mm.online_section_pages(base) else { continue };
            let vm_end = base + self.sys.blocks[nr as usize].nr_vmemmap_pages() as u64;
            let (mut flagged, mut offline) = (0i64, 0i64);
            for (pfn, p) in (base..).zip(pages) {
                let t = self.visit(pfn, p, vm_end, cand);
                flagged += t.hwpoison();
                offline += t.offline();
                if let Some(st) = st.as_deref_mut() {
                    st.tally[pfn as usize] = t;
                }
            }
            sums.expect_managed -= offline;
            if let Some(st) = st.as_deref_mut() {
                st.flagged[nr as usize] = flagged;
                st.offline[nr as usize] = offline;
            }
            self.block_poison(nr, flagged);
        }
    }

    /// The page rules over the pages `touched` leads to: each touched page,
    /// the tails of a compound head (as it is or was at the last check),
    /// the head of a tail, and the whole free block a touched free head
    /// starts. The sums move by the visited pages' tallies' changes.
    pub(super) fn touched_pages(&mut self, touched: &[Pfn], sums: &mut Sums, cand: &mut Candidates, st: &mut CheckState) {
        self.section_sums(sums);
        let mm = self.sys.memmap();
        let pps = mm.geometry().pages_per_section();
        let max_pfn = mm.max_pfn();
        // The set to visit, as a bitmap (touched pfns come sorted; what
        // they lead to does not).
        let mut bits = vec![0u64; (max_pfn as usize).div_ceil(64)];
        let mut add = |a: Pfn, b: Pfn| {
            for q in a..b.min(max_pfn) {
                bits[(q / 64) as usize] |= 1 << (q % 64);
            }
        };
        for &pfn in touched {
            let Some(p) = self.page(pfn) else { continue };
            add(pfn, pfn + 1);
            let orders = [st.tally[pfn as usize].head_order(), Tally::of(p).head_order()];
            for o in orders.into_iter().flatten() {
                add(pfn, pfn + (1u64 << o));
            }
            if let Some(h) = p.compound_head_pfn() {
                add(h, h + 1);
            }
            if matches!(self.seen[pfn as usize], Seen::BuddyHead | Seen::Pcp) {
                add(pfn, pfn + (1u64 << self.head_order[pfn as usize]));
            }
        }
        let mut visit = std::mem::take(&mut st.visit);
        visit.clear();
        for (k, &w) in bits.iter().enumerate() {
            let mut b = w;
            while b != 0 {
                visit.push(k as u64 * 64 + b.trailing_zeros() as u64);
                b &= b - 1;
            }
        }
        st.pages_visited += visit.len() as u64;
        for &pfn in &visit {
            let nr = pfn / pps;
            let Some(p) = self.page(pfn) else { continue };
            let vm_end = nr * pps + self.sys.blocks[nr as usize].nr_vmemmap_pages() as u64;
            let t = self.visit(pfn, p, vm_end, cand);
            let old = std::mem::replace(&mut st.tally[pfn as usize], t);
            st.flagged[nr as usize] += t.hwpoison() - old.hwpoison();
            st.offline[nr as usize] += t.offline() - old.offline();
        }
        st.visit = visit;
        for nr in 0..mm.max_sections() as u64 {
            if mm.section_state_nr(nr) == Ok(SectionState::Online) {
                sums.expect_managed -= st.offline[nr as usize];
                let flagged = st.flagged[nr as usize];
                self.block_poison(nr, flagged);
            }
        }
    }

    /// A page at refcount 0 on no list: legitimate only as a tail of a live
    /// compound page, a leaked hwpoison page (H2) or a PageOffline page.
    fn check_unlisted_zero(&mut self, pfn: Pfn, p: &Page) {
        if let Some(head) = p.compound_head_pfn() {
            let live = self.page(head).is_some_and(|h| {
                h.PageHead()
                    && (page_count(h) > 0 || crate::hugetlb::state::folio_is_free_hugetlb(h))
                    && pfn < head + (1u64 << h.compound_order())
            });
            if !live {
                self.report("A2", Some(pfn), format!("tail of compound head {head:#x}, which is not a live compound page"));
            }
        } else if p.PageHWPoison() || p.PageOffline() || p.PageHWPoisonTakenOff() || crate::hugetlb::state::folio_is_free_hugetlb(p) {
            // Leaked/taken-off poisoned page (H2), a balloon page, or a
            // folio on the hugetlb freelist (HR3): owned outside the allocator.
        } else {
            self.report(
                "A2",
                Some(pfn),
                "refcount 0 but on no free list: leaked by the free path, or frozen and never unfrozen (R3)".into(),
            );
        }
    }

    /// MG2 for the PTE mappings `maps` (vpn, pfn): each maps a live page
    /// carrying its owner tag and (with the frame store) its bytes.
    pub(super) fn user_mappings(&mut self, maps: &[(usize, Pfn)]) {
        for &(vpn, pfn) in maps {
            let Some(p) = self.page(pfn) else {
                self.report("MG2", Some(pfn), format!("vpn {vpn} maps a pfn that is not online"));
                continue;
            };
            // A PTE-mapped THP subpage is referenced through its head.
            let rc = p.compound_head_pfn().and_then(|h| self.page(h)).map_or(page_count(p), page_count);
            if rc < 1 || p.page_mapcount() != 1 || p.PageBuddy() {
                self.report("MG2", Some(pfn), format!("vpn {vpn} maps a page that is not in use: {}", p.dump(pfn)));
                continue;
            }
            match self.sys.verify_user_page_with(vpn, false) {
                Ok(Some(true)) | Ok(None) => {}
                Ok(Some(false)) => self.report("MG2", Some(pfn), format!("vpn {vpn}: contents or owner tag lost")),
                Err(e) => self.report("MG2", Some(pfn), format!("vpn {vpn}: {e}")),
            }
        }
    }
}

/// The PTE mappings an incremental check looks at: the present entries of
/// the written vpns, and the entry each visited user page's owner tag
/// names (ptes: the table's entries).
pub(super) fn touched_mappings(ptes: &[Pte], vpns: &[usize], visited: &[Pfn], owners: impl Fn(Pfn) -> Option<u64>) -> Vec<(usize, Pfn)> {
    let mut v: Vec<(usize, Pfn)> = Vec::new();
    for &vpn in vpns {
        if let Some(Pte::Present(pfn)) = ptes.get(vpn) {
            v.push((vpn, *pfn));
        }
    }
    for &pfn in visited {
        if let Some(vpn) = owners(pfn).and_then(owner_vpn) {
            if ptes.get(vpn) == Some(&Pte::Present(pfn)) {
                v.push((vpn, pfn));
            }
        }
    }
    v.sort_unstable();
    v.dedup();
    v
}
