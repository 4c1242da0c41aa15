//! The checker's folio pass (MG2, MG3, H7, A2; see [`crate::folio`]): THP
//! mapcounts against the page table, references against mappings, pins and
//! the swap cache.

use crate::folio::{folio_entire_mapcount, folio_nr_pages, folio_pincount, folio_swapcache_refs, folio_test_thp};
use crate::memmap::SectionState;
use crate::page::Page;
use crate::page_alloc::FreePath;
use crate::page_ref::page_count;
use crate::pgtable::{Pte, USER_TAG};
use std::collections::BTreeMap;
use crate::system::System;
use crate::Pfn;

impl<F: FreePath> System<F> {
    /// THP and folio invariants (MG2, MG3, H7, A2 — see the module doc),
    /// called by [`System::check`] after the allocator locks are dropped,
    /// with `memmap.hotplug` held; takes `ptl`.
    pub(crate) fn check_folios(&self, report: &mut impl FnMut(&'static str, Option<Pfn>, String)) {
        let mm = &self.memmap;
        let online = |pfn: Pfn| mm.pfn_to_online_page(pfn).ok();
        let pt = self.aspace.ptl.lock();
        // PMD mappings per head and PTE mappings per pfn, from the tables.
        let mut pmd: BTreeMap<Pfn, i32> = BTreeMap::new();
        let mut pte: BTreeMap<Pfn, i32> = BTreeMap::new();
        let mut pmd_vpns: Vec<(usize, Pfn)> = Vec::new();
        for (vpn, e) in pt.iter().enumerate() {
            match *e {
                Pte::Pmd(head) => {
                    let base = vpn & !mm.geometry().hpage_pmd_mask();
                    let end = base + mm.geometry().hpage_pmd_nr() as usize;
                    if vpn != base {
                        if pt.get(base) != Some(&Pte::Pmd(head)) {
                            report("MG2", Some(head), format!("vpn {vpn}: PMD entry of {head:#x} outside an aligned PMD range"));
                        }
                    } else if end > pt.len() || pt[base..end].iter().any(|x| *x != Pte::Pmd(head)) {
                        report("MG2", Some(head), format!("vpn {vpn}: torn PMD mapping of {head:#x}"));
                    } else {
                        *pmd.entry(head).or_default() += 1;
                        pmd_vpns.push((vpn, head));
                    }
                }
                Pte::Present(pfn) => *pte.entry(pfn).or_default() += 1,
                _ => {}
            }
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
        for &head in pmd.keys() {
            if !online(head).is_some_and(folio_test_thp) {
                report("MG2", Some(head), "a PMD maps a pfn that is not the head of a live THP".into());
            }
        }
        let mut small: Vec<Pfn> = Vec::new();
        for &pfn in pte.keys() {
            match online(pfn) {
                Some(p) if !p.PageCompound() => small.push(pfn),
                _ => {}
            }
        }
        for head in heads {
            let Some(hp) = online(head) else { continue };
            let nr = folio_nr_pages(hp);
            let entire = folio_entire_mapcount(hp);
            let maps = pmd.get(&head).copied().unwrap_or(0);
            if entire != maps {
                report("MG2", Some(head), format!("THP entire_mapcount {entire} but {maps} PMDs map it"));
            }
            let mut total = entire;
            let mut mapped = maps > 0;
            for p in head..head + nr {
                let Some(sp) = online(p) else { continue };
                let w = sp.page_mapcount();
                let n = pte.get(&p).copied().unwrap_or(0);
                if sp.page_type().is_some() || w != n {
                    report("MG2", Some(p), format!("subpage mapcount {w} but {n} PTEs map it ({})", sp.dump(p)));
                }
                total += w;
                mapped |= n > 0;
            }
            self.check_folio_refs(head, hp, total, mapped, report);
        }
        for pfn in small {
            let Some(p) = online(pfn) else { continue };
            if p.PageHugetlb() {
                continue;
            }
            let n = pte.get(&pfn).copied().unwrap_or(0);
            self.check_folio_refs(pfn, p, n, n > 0, report);
        }
        // PMD-mapped contents (the PTE-mapped ones are MG2 of check.rs).
        if mm.has_frame_store() {
            for (vpn, head) in pmd_vpns {
                for i in 0..mm.geometry().hpage_pmd_nr() {
                    let pfn = head + i;
                    let tag = USER_TAG | (vpn as u64 + i);
                    let Some(sp) = online(pfn) else { continue };
                    if sp.owner() != tag {
                        report("MG2", Some(pfn), format!("vpn {}: PMD-mapped subpage lost its owner tag", vpn as u64 + i));
                        continue;
                    }
                    // The 8-word sample, as for the PTE-mapped pages (MG2 in
                    // check.rs): every word depends on the tag.
                    // SAFETY: the page is mapped (by this PMD) and ptl is held;
                    // frames of mapped pages are only accessed under ptl.
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
    fn check_folio_refs(&self, head: Pfn, hp: &Page, total: i32, mapped: bool, report: &mut impl FnMut(&'static str, Option<Pfn>, String)) {
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
