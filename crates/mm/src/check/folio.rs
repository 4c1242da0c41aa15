//! The checker's folio pass (MG2, MG3, H7, A2; see [`crate::folio`]): THP
//! mapcounts against the page table, references against mappings, pins and
//! the swap cache.
//!
//! The page table is counted into [`MapCounts`] (PTE mappings per pfn, PMD
//! mappings per head) one PMD-sized range of vpns at a time: a full check
//! counts every range; an incremental one keeps the counts and moves them
//! by the written ranges' old and new entries, then checks only the folios
//! those entries and the visited pages belong to.
//!
//! Invariants: as [`crate::folio`]'s. Lock order: called after the
//! allocator locks are dropped, with `memmap.hotplug` held; takes `ptl`.

use super::state::CheckState;
use crate::folio::{folio_entire_mapcount, folio_nr_pages, folio_pincount, folio_swapcache_refs, folio_test_thp};
use crate::memmap::{Memmap, SectionState};
use crate::page::Page;
use crate::page_alloc::FreePath;
use crate::page_ref::page_count;
use crate::pgtable::{owner_vpn, Pte, USER_TAG};
use crate::system::System;
use crate::Pfn;

/// PTE mappings per pfn and PMD mappings per THP head (pfns below the
/// memmap's end; an entry beyond it is MG2 of the mappings pass).
#[derive(Default, Clone)]
pub(crate) struct MapCounts {
    pte: Vec<i32>,
    pmd: Vec<i32>,
}

type Report<'r> = &'r mut dyn FnMut(&'static str, Option<Pfn>, String);

impl MapCounts {
    fn new(max_pfn: u64) -> Self {
        MapCounts { pte: vec![0; max_pfn as usize], pmd: vec![0; max_pfn as usize] }
    }
    fn pte(&self, pfn: Pfn) -> i32 {
        self.pte.get(pfn as usize).copied().unwrap_or(0)
    }
    fn pmd(&self, head: Pfn) -> i32 {
        self.pmd.get(head as usize).copied().unwrap_or(0)
    }

    /// Count the entries of the PMD-sized range at `base` into the counts
    /// (`sign` 1) or out of them (-1). Counting in, `new` receives the
    /// well-formed PMD mappings (vpn, head) and the range's malformed PMD
    /// entries are reported (MG2).
    fn count_range(&mut self, mm: &Memmap, pt: &[Pte], base: usize, sign: i32, mut new: Option<(&mut Vec<(usize, Pfn)>, Report<'_>)>) {
        let nr = mm.geometry().hpage_pmd_nr() as usize;
        let mask = mm.geometry().hpage_pmd_mask();
        for vpn in base..(base + nr).min(pt.len()) {
            match pt[vpn] {
                Pte::Pmd(head) => {
                    let base = vpn & !mask;
                    let end = base + nr;
                    if vpn != base {
                        if pt.get(base) != Some(&Pte::Pmd(head)) {
                            if let Some((_, report)) = new.as_mut() {
                                report("MG2", Some(head), format!("vpn {vpn}: PMD entry of {head:#x} outside an aligned PMD range"));
                            }
                        }
                    } else if end > pt.len() || pt[base..end].iter().any(|x| *x != Pte::Pmd(head)) {
                        if let Some((_, report)) = new.as_mut() {
                            report("MG2", Some(head), format!("vpn {vpn}: torn PMD mapping of {head:#x}"));
                        }
                    } else {
                        if let Some(c) = self.pmd.get_mut(head as usize) {
                            *c += sign;
                        }
                        if let Some((maps, _)) = new.as_mut() {
                            maps.push((vpn, head));
                        }
                    }
                }
                Pte::Present(pfn) => {
                    if let Some(c) = self.pte.get_mut(pfn as usize) {
                        *c += sign;
                    }
                }
                _ => {}
            }
        }
    }
}

impl<F: FreePath> System<F> {
    /// THP and folio invariants over every folio (MG2, MG3, H7, A2 — see
    /// the module doc); records the table and its counts in `st` when given.
    pub(crate) fn check_folios(&self, st: Option<&mut CheckState>, report: Report<'_>) {
        let mm = &self.memmap;
        let online = |pfn: Pfn| mm.observe_online_page(pfn).ok();
        let pt = self.aspace.ptl.lock();
        let mut maps = MapCounts::new(mm.max_pfn());
        let mut pmd_vpns: Vec<(usize, Pfn)> = Vec::new();
        let nr = mm.geometry().hpage_pmd_nr() as usize;
        for base in (0..pt.len()).step_by(nr) {
            maps.count_range(mm, &pt, base, 1, Some((&mut pmd_vpns, &mut *report)));
        }
        // Folios to look at: every THP head of an online section, and every
        // page a PTE maps.
        let mut heads: Vec<Pfn> = Vec::new();
        for nr in 0..mm.max_sections() as u64 {
            if mm.section_state_nr(nr) != Ok(SectionState::Online) {
                continue;
            }
            let base = nr * mm.geometry().pages_per_section();
            let mut pfn = base;
            while pfn < base + mm.geometry().pages_per_section() {
                if online(pfn).is_some_and(folio_test_thp) {
                    heads.push(pfn);
                }
                pfn += mm.geometry().hpage_pmd_nr();
            }
        }
        let small: Vec<Pfn> = (0..mm.max_pfn()).filter(|&p| maps.pte(p) > 0 && online(p).is_some_and(|p| !p.PageCompound())).collect();
        self.check_mapped_folios(&maps, &pmd_vpns, &heads, &small, report);
        if let Some(st) = st {
            st.ptes = pt.entries().to_vec();
            st.maps = maps;
        }
    }

    /// The folio invariants over the folios a check's touched set leads to:
    /// the written vpns' ranges are counted anew (their old entries out,
    /// their new ones in), and the folios checked are those of the visited
    /// pages and of those ranges' old and new entries.
    pub(crate) fn check_folios_touched(&self, st: &mut CheckState, vpns: &[usize], visited: &[Pfn], report: Report<'_>) {
        let mm = &self.memmap;
        let online = |pfn: Pfn| mm.observe_online_page(pfn).ok();
        let pt = self.aspace.ptl.lock();
        let nr = mm.geometry().hpage_pmd_nr() as usize;
        let mut bases: Vec<usize> = vpns.iter().map(|v| v - v % nr).collect();
        bases.dedup();
        let mut pmd_vpns: Vec<(usize, Pfn)> = Vec::new();
        let mut pfns: Vec<Pfn> = visited.to_vec();
        for &base in &bases {
            let end = (base + nr).min(pt.len());
            for e in st.ptes[base..end].iter().chain(pt[base..end].iter()) {
                match *e {
                    Pte::Present(p) | Pte::Pmd(p) => pfns.push(p),
                    _ => {}
                }
            }
            st.maps.count_range(mm, &st.ptes, base, -1, None);
            st.maps.count_range(mm, &pt, base, 1, Some((&mut pmd_vpns, &mut *report)));
            st.ptes[base..end].copy_from_slice(&pt[base..end]);
        }
        let mut heads: Vec<Pfn> = Vec::new();
        let mut small: Vec<Pfn> = Vec::new();
        for &pfn in &pfns {
            let Some(p) = online(pfn) else { continue };
            let head = p.compound_head_pfn().unwrap_or(pfn);
            if online(head).is_some_and(folio_test_thp) {
                heads.push(head);
                // Its PMD mapping, if it has one (the owner tag names it).
                if st.maps.pmd(head) > 0 {
                    if let Some(v) = online(head).and_then(|h| owner_vpn(h.owner())) {
                        let base = v - v % nr;
                        if pt.get(base) == Some(&Pte::Pmd(head)) {
                            pmd_vpns.push((base, head));
                        }
                    }
                }
            } else if !p.PageCompound() && st.maps.pte(pfn) > 0 {
                small.push(pfn);
            }
        }
        for v in [&mut heads, &mut small] {
            v.sort_unstable();
            v.dedup();
        }
        pmd_vpns.sort_unstable();
        pmd_vpns.dedup();
        let maps = std::mem::take(&mut st.maps);
        self.check_mapped_folios(&maps, &pmd_vpns, &heads, &small, report);
        st.maps = maps;
    }

    /// The checks proper: PMD mappings of live THPs, THP mapcounts, folio
    /// references, PMD-mapped contents.
    fn check_mapped_folios(&self, maps: &MapCounts, pmd_vpns: &[(usize, Pfn)], heads: &[Pfn], small: &[Pfn], report: Report<'_>) {
        let mm = &self.memmap;
        let online = |pfn: Pfn| mm.observe_online_page(pfn).ok();
        let mut mapped_heads: Vec<Pfn> = pmd_vpns.iter().map(|&(_, h)| h).collect();
        mapped_heads.sort_unstable();
        mapped_heads.dedup();
        for &head in &mapped_heads {
            if !online(head).is_some_and(folio_test_thp) {
                report("MG2", Some(head), "a PMD maps a pfn that is not the head of a live THP".into());
            }
        }
        for &head in heads {
            let Some(hp) = online(head) else { continue };
            let nr = folio_nr_pages(hp);
            let entire = folio_entire_mapcount(hp);
            let pmds = maps.pmd(head);
            if entire != pmds {
                report("MG2", Some(head), format!("THP entire_mapcount {entire} but {pmds} PMDs map it"));
            }
            let mut total = entire;
            let mut mapped = pmds > 0;
            for p in head..head + nr {
                let Some(sp) = online(p) else { continue };
                let w = sp.page_mapcount();
                let n = maps.pte(p);
                if sp.page_type().is_some() || w != n {
                    report("MG2", Some(p), format!("subpage mapcount {w} but {n} PTEs map it ({})", sp.dump(p)));
                }
                total += w;
                mapped |= n > 0;
            }
            self.check_folio_refs(head, hp, total, mapped, report);
        }
        for &pfn in small {
            let Some(p) = online(pfn) else { continue };
            if p.PageHugetlb() {
                continue;
            }
            let n = maps.pte(pfn);
            self.check_folio_refs(pfn, p, n, n > 0, report);
        }
        // PMD-mapped contents (the PTE-mapped ones are MG2 of the mappings pass).
        if mm.has_frame_store() {
            for &(vpn, head) in pmd_vpns {
                for i in 0..mm.geometry().hpage_pmd_nr() {
                    let pfn = head + i;
                    let tag = USER_TAG | (vpn as u64 + i);
                    let Some(sp) = online(pfn) else { continue };
                    if sp.owner() != tag {
                        report("MG2", Some(pfn), format!("vpn {}: PMD-mapped subpage lost its owner tag", vpn as u64 + i));
                        continue;
                    }
                    // The 8-word sample, as for the PTE-mapped pages: every
                    // word depends on the tag.
                    // SAFETY: the page is mapped (by this PMD) and ptl is held
                    // by the caller; frames of mapped pages are only accessed
                    // under ptl.
                    match unsafe { mm.frame_verify_sample(pfn, tag) } {
                        Ok(None) => {}
                        Ok(Some(off)) => report("MG2", Some(pfn), format!("vpn {}: contents differ at byte {off}", vpn as u64 + i)),
                        Err(e) => report("MG2", Some(pfn), format!("vpn {}: {e}", vpn as u64 + i)),
                    }
                }
            }
        }
    }

    /// MG3 and the A2 lost-LRU-flag rule for one folio with `total` mappings.
    fn check_folio_refs(&self, head: Pfn, hp: &Page, total: i32, mapped: bool, report: Report<'_>) {
        let rc = page_count(hp);
        let pins = folio_pincount(hp);
        let swap = folio_swapcache_refs(hp);
        if pins < 0 || folio_entire_mapcount(hp) < 0 {
            report("MG3", Some(head), format!("negative pincount {pins} or entire mapcount {}", folio_entire_mapcount(hp)));
        }
        let need = total + pins.max(0) + swap;
        if rc < need {
            report(
                "MG3",
                Some(head),
                format!("refcount {rc} < mappings {total} + pins {pins} + swap-cache refs {swap}: a reference was dropped twice"),
            );
        }
        if mapped && !hp.PageLRU() && !hp.PageHWPoison() && rc <= need {
            report(
                "A2",
                Some(head),
                format!(
                    "mapped folio is off the LRU (PG_lru clear) yet nobody holds an isolation reference \
                     (refcount {rc} = mappings + pins + swap cache): its LRU flag was lost, and its release \
                     will skip the LRU deletion"
                ),
            );
        }
    }
}
