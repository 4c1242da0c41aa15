//! Folios and transparent huge pages (`mm/huge_memory.c`, `mm/rmap.c`,
//! `include/linux/mm.h` mapcount helpers, FOLL_PIN accounting of `mm/gup.c`,
//! the swap cache's references): an order-9 anonymous THP that can be
//! mapped by one PMD or by up to 512 PTEs, pinned, added to the swap cache,
//! and split into 512 order-0 pages.
//!
//! # State kept in the descriptors (kernel v6.1 semantics)
//! * `refcount` of the head = `folio_ref_count`: one reference per PMD
//!   mapping, one per PTE mapping, `nr_pages` while in the swap cache, one
//!   per pin, plus transient references (isolation, speculative gets, a
//!   splitter's). Tails always hold 0.
//! * `entire_mapcount` of the head = `_entire_mapcount + 1`: PMD mappings.
//! * the mapcount word of every subpage (head included) = its PTE mappings
//!   (`_mapcount + 1`).
//! * `pincount` of the head = `_pincount`. **Pinning choice**: every pin adds
//!   one reference and one pincount, for small folios too. The kernel adds
//!   `GUP_PIN_COUNTING_BIAS` (1024) references to a small folio instead of
//!   using `_pincount`; the model keeps the exact count everywhere, so
//!   [`folio_maybe_dma_pinned`] is exact rather than a heuristic. No
//!   property modeled here depends on the difference: a pin is an extra
//!   reference either way.
//! * `PG_swapcache`, `PG_lru`, `PG_has_hwpoisoned` on the head. The kernel
//!   keeps "has hwpoisoned" on the second page; the model keeps it on the
//!   head, where `free_pages_prepare` clears it (it is part of
//!   `PAGE_FLAGS_CHECK_AT_PREP`), so a re-allocated folio never inherits it.
//! * `compound_info` of the head carries [`COMPOUND_ANON_THP`] besides the
//!   order: the model's `folio_test_anon() && folio_test_large()` for a
//!   user THP, cleared by the free path with the rest of `compound_info`.
//! * every subpage's owner tag is `USER_TAG | vpn` of the address it is
//!   mapped at and its frame holds that tag's pattern, so contents survive
//!   splits and migrations verifiably ([`crate::memory`]'s reverse map).
//!
//! Mapcount vocabulary (B5): `folio_mapcount` (v6.1 `total_mapcount`) =
//! entire + Σ subpage PTE mapcounts; `page_mapcount(page)` = the page's own
//! PTE mapcount + the folio's entire mapcount. A PMD-mapped THP has
//! refcount 1, `page_mapcount(head)` 1, `folio_mapcount` 1; after
//! [`Cpu::split_huge_pmd`] it has refcount 512, `page_mapcount(head)` 1 and
//! `folio_mapcount` 512 — the numbers the pre-829ae0f81ce0 compaction check
//! got wrong.
//!
//! Page tables: a PMD mapping is [`Pte::Pmd`]`(head)` in each of the 512
//! entries of its 2 MiB-aligned range (one PMD entry seen through 512
//! slots); PTE mappings of subpages are ordinary [`Pte::Present`]. A partial
//! `unmap` of a PMD-mapped range splits the PMD first, as munmap does.
//!
//! Splitting (`split_huge_page_to_list`): the caller holds one reference;
//! `can_split_folio` requires `folio_ref_count == folio_mapcount +
//! extra_pins + 1` (extra pins = `nr_pages` in the swap cache), so a pinned
//! or otherwise referenced folio is refused. A PMD mapping is first turned
//! into PTEs, the folio is frozen at the expected count under the page-table
//! lock, and [`Cpu::split_folio_finish`] turns it into 512 order-0 pages:
//! each keeps its PTE mapping's reference, one swap-cache reference if the
//! folio was in the swap cache, PG_lru (or, with an isolation list, an
//! isolation reference instead), and the page the caller named keeps the
//! caller's reference; subpages left with no reference are freed.
//! Migration splits a THP before migrating it (split-before-migrate,
//! `Cpu::split_thp_for_migration`): the head migrates in that call, the
//! tails go back to the LRU for the next pass.
//!
//! H7 (C16, eac96c3efdb5): [`Cpu::map_folio_pmd`] (`do_set_pmd`) refuses a
//! PMD mapping of a folio with `PageHasHWPoisoned` and falls back to PTEs,
//! leaving the poisoned subpage unmapped (its access gets SIGBUS). With
//! [`Switch::ThpPmdMapPoisoned`] it maps the PMD anyway and records H7.
//!
//! Invariants checked by `System::check_folios`, called from
//! [`System::check`] (ids of the checker's catalogue, [`crate::check`]):
//! * MG2: `entire_mapcount` = PMD mappings of the folio; each subpage's
//!   mapcount = PTEs mapping it; a PMD entry covers an aligned range of
//!   `HPAGE_PMD_NR` ([`crate::geometry::Geometry::hpage_pmd_nr`]) slots of one live THP; PMD-mapped contents intact.
//! * MG3: `folio_ref_count >= folio_mapcount + pincount + swap-cache refs`.
//! * H7: no PMD mapping is *made* for a folio with PageHasHWPoisoned
//!   (recorded by [`Cpu::map_folio_pmd`]). A PMD mapping that existed when
//!   memory_failure poisoned a subpage and could not split the THP stays:
//!   that is the kernel's MF_MSG_UNSPLIT_THP outcome (the folio is marked
//!   and left; a speculative reference is enough to make the split fail),
//!   not a violation.
//! * A2: a mapped folio off the LRU (PG_lru clear) must be held by an
//!   isolator (a reference beyond mappings, pins and swap cache); otherwise
//!   its LRU flag was lost (C19) and its release would skip the LRU deletion.
//! * A2 (existing checker): no tail page holds its own reference.
//!
//! Lock order: `memmap.hotplug` → `ptl` → pcp lock → zone->lock. Every
//! mapping change and the split's frozen window run under `ptl`; frames of
//! mapped pages are only touched under `ptl`. Refcounts, mapcounts and the
//! pincount are atomics (lock-free readers such as the compaction scanner
//! read them racily, as in the kernel).

use crate::design::Switch;
use crate::error::{Error, Result};
use crate::memmap::Memmap;
use crate::pgtable::{owner_vpn, Pte, USER_TAG};
use crate::page::Page;
use crate::page_alloc::FreePath;
use crate::page_ref::{self, page_count, page_ref_freeze, page_ref_unfreeze};
use crate::pageblock::MigrateType;
use crate::sync::atomic::Ordering;
use crate::sync::{plain, MutexGuard};
use crate::system::{Cpu, System};
use crate::Pfn;

/// Bit of a head's `compound_info` marking an anonymous user THP (the low
/// byte is the order; the free path clears the whole word).
pub const COMPOUND_ANON_THP: u32 = 1 << 8;

/// Is `page` the head of an anonymous THP (`folio_test_large` + anon)?
#[inline]
pub fn folio_test_thp(page: &Page) -> bool {
    page.PageHead()
        && page.page_type().is_none()
        && page.compound_info.load(plain::Ordering::Relaxed) & COMPOUND_ANON_THP != 0
}

/// `page_folio`: the head pfn and descriptor of the folio holding `pfn`.
pub fn folio_head(mm: &Memmap, pfn: Pfn) -> Result<(Pfn, &Page)> {
    let page = mm.pfn_to_page(pfn)?;
    match page.compound_head_pfn() {
        Some(h) => Ok((h, mm.pfn_to_page(h)?)),
        None => Ok((pfn, page)),
    }
}

/// `folio_order`, clamped to the largest buddy order (a racy read of a
/// descriptor being freed or a poisoned one never walks off the memmap).
#[inline]
fn folio_order(head: &Page) -> u32 {
    head.compound_order().min(crate::geometry::MAX_PAGE_ORDER_LIMIT)
}

/// `folio_nr_pages`.
#[inline]
pub fn folio_nr_pages(head: &Page) -> u64 {
    1 << folio_order(head)
}

/// `folio_entire_mapcount`: PMD mappings of a large folio.
#[inline]
pub fn folio_entire_mapcount(head: &Page) -> i32 {
    head.entire_mapcount.load(Ordering::Relaxed)
}

/// `folio_mapcount` (v6.1 `total_mapcount`): entire mapcount plus every
/// subpage's PTE mapcount. Racy without a reference, like the kernel's.
pub fn folio_mapcount(mm: &Memmap, pfn: Pfn) -> i32 {
    let Ok((head, hp)) = folio_head(mm, pfn) else { return 0 };
    if !hp.PageHead() {
        return hp.page_mapcount();
    }
    let mut n = folio_entire_mapcount(hp);
    for p in head..head + folio_nr_pages(hp) {
        if let Ok(sp) = mm.pfn_to_page(p) {
            n += sp.page_mapcount();
        }
    }
    n
}

/// `page_mapcount(page)` (v6.1): the page's own PTE mappings plus its
/// folio's PMD mappings. For a THP head this is what the pre-829ae0f81ce0
/// compaction check compared the refcount with.
pub fn page_mapcount(mm: &Memmap, pfn: Pfn) -> i32 {
    let Ok(p) = mm.pfn_to_page(pfn) else { return 0 };
    let own = p.page_mapcount();
    match folio_head(mm, pfn) {
        Ok((_, hp)) if hp.PageHead() => own + folio_entire_mapcount(hp),
        _ => own,
    }
}

/// `folio_pincount` (exact for every folio in the model, see the module doc).
#[inline]
pub fn folio_pincount(head: &Page) -> i32 {
    head.pincount.load(Ordering::Relaxed)
}

/// `folio_maybe_dma_pinned`.
#[inline]
pub fn folio_maybe_dma_pinned(head: &Page) -> bool {
    folio_pincount(head) > 0
}

/// References the swap cache holds on the folio (`nr_pages` if PG_swapcache).
#[inline]
pub fn folio_swapcache_refs(head: &Page) -> i32 {
    if head.PageSwapCache() {
        folio_nr_pages(head) as i32
    } else {
        0
    }
}

/// `folio_test_has_hwpoisoned` (kept on the head in the model).
#[inline]
pub fn folio_test_has_hwpoisoned(head: &Page) -> bool {
    head.PageHasHWPoisoned()
}

/// `folio_set_has_hwpoisoned`: memory_failure marks a large folio it could
/// not split, so that it is never mapped by a PMD again (H7).
#[inline]
pub fn folio_set_has_hwpoisoned(head: &Page) {
    head.SetPageHasHWPoisoned();
}

/// The first PG_hwpoison subpage of the folio at `head`, if any.
pub fn folio_first_hwpoison(mm: &Memmap, head: Pfn) -> Option<Pfn> {
    let hp = mm.pfn_to_page(head).ok()?;
    let nr = if hp.PageHead() { folio_nr_pages(hp) } else { 1 };
    (head..head + nr).find(|&p| mm.pfn_to_page(p).is_ok_and(|sp| sp.PageHWPoison()))
}

/// `can_split_folio`: Ok when the only references are the mappings, the
/// swap cache's and the caller's `caller_refs`; else `(refcount, expected)`.
pub fn can_split_folio(mm: &Memmap, head: Pfn, caller_refs: i32) -> std::result::Result<i32, (i32, i32)> {
    let Ok(hp) = mm.pfn_to_page(head) else { return Err((0, caller_refs)) };
    let expected = folio_mapcount(mm, head) + folio_swapcache_refs(hp) + caller_refs;
    let rc = page_count(hp);
    if rc == expected {
        Ok(expected)
    } else {
        Err((rc, expected))
    }
}

/// `__split_huge_pmd_locked`: turn the PMD mapping of the aligned range
/// holding `vpn` into 512 PTE mappings. The PMD's one reference becomes one
/// per PTE (`page_ref_add(HPAGE_PMD_NR - 1)`), every subpage's mapcount goes
/// up by one and the entire mapcount down by one. Ok(false) when the range
/// is not PMD-mapped. The caller holds `ptl` (it passes the table).
pub(crate) fn split_huge_pmd_locked(mm: &Memmap, pt: &mut crate::pgtable::PageTable, vpn: usize) -> Result<bool> {
    let base = vpn & !mm.geometry().hpage_pmd_mask();
    let Some(&Pte::Pmd(head)) = pt.get(base) else { return Ok(false) };
    let end = base + mm.geometry().hpage_pmd_nr() as usize;
    if end > pt.len() || pt[base..end].iter().any(|e| *e != Pte::Pmd(head)) {
        return Err(Error::BadRequest(format!("vpn {base}: torn PMD mapping of {head:#x}")));
    }
    let hp = mm.pfn_to_page(head)?;
    // The PMD mapping's reference is held, so Relaxed suffices (get_page).
    page_ref::page_ref_add(hp, mm.geometry().hpage_pmd_nr() as i32 - 1);
    for i in 0..mm.geometry().hpage_pmd_nr() {
        mm.pfn_to_page(head + i)?.mapcount.fetch_add(1, Ordering::Relaxed);
    }
    hp.entire_mapcount.fetch_sub(1, Ordering::Relaxed);
    for (i, e) in pt[base..end].iter_mut().enumerate() {
        *e = Pte::Present(head + i as u64);
    }
    Ok(true)
}

/// The first half of a split, returned by [`Cpu::split_folio_begin`]: the
/// folio is frozen (refcount 0) and the page-table lock is held until
/// [`Cpu::split_folio_finish`]. Dropping it without finishing unfreezes the
/// folio unchanged (mappings were turned into PTEs, as a failed split does).
/// While it lives, the same thread must not take `ptl` again (no `fault`,
/// `unmap`, `migrate_page` or `System::check`): only lock-free paths such
/// as the compaction scanner may run in the window.
pub struct FolioSplit<'s> {
    pt: Option<MutexGuard<'s, crate::pgtable::PageTable>>,
    mm: &'s Memmap,
    head: Pfn,
    keep: Pfn,
    nr: u64,
    frozen_at: i32,
}

impl FolioSplit<'_> {
    /// The head of the folio being split.
    pub fn head(&self) -> Pfn {
        self.head
    }
    /// The count the folio was frozen at.
    pub fn frozen_at(&self) -> i32 {
        self.frozen_at
    }
}

impl Drop for FolioSplit<'_> {
    fn drop(&mut self) {
        if self.pt.is_some() {
            // Abandoned between the halves: give the references back.
            if let Ok(hp) = self.mm.pfn_to_page(self.head) {
                let _ = page_ref_unfreeze(hp, self.head, self.frozen_at);
            }
        }
    }
}

impl<F: FreePath> Cpu<'_, F> {
    /// `do_huge_pmd_anonymous_page`: fault a fresh order-9 THP into the
    /// 2 MiB-aligned range starting at `vpn`, mapped by one PMD. Returns the
    /// head pfn (or the head already PMD-mapped there). The range must be
    /// empty (`pmd_none`); the kernel would fall back to a PTE fault, the
    /// model reports the request as bad so a scenario is explicit.
    pub fn fault_thp(&self, vpn: usize) -> Result<Pfn> {
        let sys = self.system();
        let mm = sys.memmap();
        if vpn & mm.geometry().hpage_pmd_mask() != 0 {
            return Err(Error::BadRequest(format!("vpn {vpn} is not aligned to a PMD ({} pages)", mm.geometry().hpage_pmd_nr())));
        }
        let mut pt = sys.aspace.ptl.lock();
        let end = vpn + mm.geometry().hpage_pmd_nr() as usize;
        if end > pt.len() {
            return Err(Error::BadRequest(format!("vpn range {vpn}..{end} is beyond the address space ({} pages)", pt.len())));
        }
        if let Pte::Pmd(h) = pt[vpn] {
            return Ok(h);
        }
        if pt[vpn..end].iter().any(|e| *e != Pte::None) {
            return Err(Error::BadRequest(format!("vpn range {vpn}..{end} already has PTEs: a THP fault needs an empty PMD")));
        }
        let head = self.alloc_pages(mm.geometry().hpage_pmd_order(), MigrateType::Movable)?;
        let hp = mm.pfn_to_page(head)?;
        hp.compound_info.store(mm.geometry().hpage_pmd_order() | COMPOUND_ANON_THP, plain::Ordering::Relaxed);
        for i in 0..mm.geometry().hpage_pmd_nr() {
            let pfn = head + i;
            let tag = USER_TAG | (vpn as u64 + i);
            mm.pfn_to_page(pfn)?.set_owner(tag);
            if mm.has_frame_store() {
                // SAFETY: the folio was just allocated (refcount 1, ours) and
                // is not mapped yet; ptl is held: nobody else reaches its frames.
                if let Err(e) = unsafe { mm.frame_write_pattern(pfn, tag) } {
                    drop(pt);
                    self.put_page(head)?;
                    return Err(e);
                }
            }
        }
        hp.entire_mapcount.store(1, Ordering::Relaxed);
        hp.SetPageLRU();
        for e in &mut pt[vpn..end] {
            *e = Pte::Pmd(head);
        }
        Ok(head)
    }

    /// `do_set_pmd` (fault of a large folio that already exists, e.g. a
    /// swap-in at its own address): map the THP at `head` by one PMD at
    /// `vpn`, taking the mapping's reference. The folio must be referenced
    /// (by the swap cache or the caller) and its subpages tagged for `vpn`.
    /// A folio with PageHasHWPoisoned is not PMD-mapped: the fault falls
    /// back to PTEs for every healthy subpage and leaves a SIGBUS entry for
    /// the poisoned ones (C16, H7) — unless [`Switch::ThpPmdMapPoisoned`].
    /// Returns true when mapped by PMD.
    pub fn map_folio_pmd(&self, vpn: usize, head: Pfn) -> Result<bool> {
        let sys = self.system();
        let mm = sys.memmap();
        let hp = mm.pfn_to_page(head)?;
        if !folio_test_thp(hp) || folio_order(hp) != mm.geometry().hpage_pmd_order() {
            return Err(Error::BadRequest(format!("pfn {head:#x} is not the head of a THP")));
        }
        if vpn & mm.geometry().hpage_pmd_mask() != 0 || owner_vpn(hp.owner()) != Some(vpn) {
            return Err(Error::BadRequest(format!("THP {head:#x} belongs at vpn {:?}, not {vpn}", owner_vpn(hp.owner()))));
        }
        let mut pt = sys.aspace.ptl.lock();
        let end = vpn + mm.geometry().hpage_pmd_nr() as usize;
        if end > pt.len() || pt[vpn..end].iter().any(|e| *e != Pte::None) {
            return Err(Error::BadRequest(format!("vpn range {vpn}..{end} is not empty")));
        }
        let poisoned = folio_test_has_hwpoisoned(hp);
        if poisoned && !sys.cfg.design.has(Switch::ThpPmdMapPoisoned) {
            // Fallback to PTEs (finish_fault / fault-around skip hwpoison pages).
            for i in 0..mm.geometry().hpage_pmd_nr() {
                let sp = mm.pfn_to_page(head + i)?;
                if sp.PageHWPoison() {
                    pt[vpn + i as usize] = Pte::HwPoison;
                    continue;
                }
                page_ref::get_page(hp, head)?;
                sp.mapcount.fetch_add(1, Ordering::Relaxed);
                pt[vpn + i as usize] = Pte::Present(head + i);
            }
            return Ok(false);
        }
        page_ref::get_page(hp, head)?;
        hp.entire_mapcount.fetch_add(1, Ordering::Relaxed);
        for e in &mut pt[vpn..end] {
            *e = Pte::Pmd(head);
        }
        drop(pt);
        if let Some(bad) = folio_first_hwpoison(mm, head).filter(|_| poisoned) {
            sys.record_violation(
                "H7",
                Some(bad),
                format!("do_set_pmd mapped THP {head:#x} by a PMD although it has a hwpoisoned subpage (PageHasHWPoisoned ignored)"),
            );
        }
        Ok(true)
    }

    /// `split_huge_pmd`: turn the PMD mapping covering `vpn` into PTEs
    /// (what a COW fault after fork or an mprotect of part of the range
    /// does). Ok(false) when `vpn` is not PMD-mapped.
    pub fn split_huge_pmd(&self, vpn: usize) -> Result<bool> {
        let sys = self.system();
        let mut pt = sys.aspace.ptl.lock();
        split_huge_pmd_locked(sys.memmap(), &mut pt, vpn)
    }

    /// `zap_huge_pmd`: unmap the whole PMD mapping covering `vpn` and drop
    /// its reference. Returns the head, or None when not PMD-mapped.
    pub fn zap_huge_pmd(&self, vpn: usize) -> Result<Option<Pfn>> {
        let sys = self.system();
        let mut pt = sys.aspace.ptl.lock();
        let base = vpn & !sys.geometry().hpage_pmd_mask();
        let Some(&Pte::Pmd(head)) = pt.get(base) else { return Ok(None) };
        let end = base + sys.geometry().hpage_pmd_nr() as usize;
        for e in &mut pt[base..end] {
            *e = Pte::None;
        }
        sys.memmap().pfn_to_page(head)?.entire_mapcount.fetch_sub(1, Ordering::Relaxed);
        drop(pt);
        self.put_page(head)?;
        Ok(Some(head))
    }

    /// FOLL_PIN on the folio holding `pfn` (`try_grab_folio`): one more
    /// reference and one more pincount (see the module doc for the choice).
    pub fn pin(&self, pfn: Pfn) -> Result<()> {
        let (head, hp) = folio_head(self.system().memmap(), pfn)?;
        page_ref::get_page(hp, head)?;
        hp.pincount.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// `unpin_user_page`: drop a pin and its reference.
    pub fn unpin(&self, pfn: Pfn) -> Result<()> {
        let (head, hp) = folio_head(self.system().memmap(), pfn)?;
        hp.pincount
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| (c > 0).then(|| c - 1))
            .map_err(|_| Error::BadRequest(format!("pfn {pfn:#x}: unpin of a folio that is not pinned")))?;
        self.put_page(head)
    }

    /// `add_to_swap_cache` of the anonymous folio holding `pfn` (the caller
    /// holds a reference): the swap cache takes `nr_pages` references and
    /// the folio gets PG_swapcache.
    pub fn add_to_swap_cache(&self, pfn: Pfn) -> Result<()> {
        let (head, hp) = folio_head(self.system().memmap(), pfn)?;
        if owner_vpn(hp.owner()).is_none() {
            return Err(Error::BadRequest(format!("pfn {pfn:#x}: only anonymous user folios are swap-backed")));
        }
        if !hp.PageLRU() {
            // Reclaim, the only caller of add_to_swap, adds a folio it just
            // isolated from the LRU; one that is off the LRU is someone
            // else's (soft offline, migration, compaction hold it).
            return Err(Error::BadRequest(format!("pfn {pfn:#x}: not on the LRU: reclaim cannot isolate it")));
        }
        if hp.PageHWPoison() || self.system().memmap().pfn_to_page(pfn).is_ok_and(|p| p.PageHWPoison()) {
            // memory_failure unmapped it and holds it off the LRU: reclaim,
            // the only caller of add_to_swap, never meets it.
            return Err(Error::BadRequest(format!("pfn {pfn:#x}: a hwpoisoned folio is not reclaimed into the swap cache")));
        }
        let nr = folio_nr_pages(hp) as i32;
        page_ref::get_page(hp, head)?;
        page_ref::page_ref_add(hp, nr - 1);
        if hp.TestSetPageSwapCache() {
            page_ref::page_ref_sub(hp, nr);
            return Err(Error::BadRequest(format!("pfn {pfn:#x}: already in the swap cache")));
        }
        Ok(())
    }

    /// `delete_from_swap_cache`: clear PG_swapcache and drop the swap
    /// cache's references; the last one frees the folio.
    pub fn delete_from_swap_cache(&self, pfn: Pfn) -> Result<()> {
        let (head, hp) = folio_head(self.system().memmap(), pfn)?;
        if !hp.TestClearPageSwapCache() {
            return Err(Error::BadRequest(format!("pfn {pfn:#x}: not in the swap cache")));
        }
        let nr = folio_nr_pages(hp) as i32;
        if nr > 1 {
            page_ref::page_ref_sub(hp, nr - 1);
        }
        self.put_page(head)
    }

    /// `split_folio`: split the THP holding `pfn` into order-0 pages; the
    /// caller holds one reference on the folio and keeps it on `pfn`'s page.
    pub fn split_folio(&self, pfn: Pfn) -> Result<()> {
        self.split_folio_to_list(pfn, None)
    }

    /// `split_huge_page_to_list`: with `list` (the caller isolated the
    /// folio), every tail is isolated too — it gets an isolation reference
    /// instead of PG_lru and is pushed on the list.
    pub fn split_folio_to_list(&self, pfn: Pfn, list: Option<&mut Vec<Pfn>>) -> Result<()> {
        let s = self.split_folio_begin(pfn)?;
        self.split_folio_finish(s, list)
    }

    /// First half of a split: checks `can_split_folio`, turns a PMD mapping
    /// into PTEs, and freezes the folio at its expected count, holding
    /// `ptl`. The frozen window (`split_folio:frozen`) is where a racing
    /// speculative reference fails (C19's window).
    pub fn split_folio_begin(&self, pfn: Pfn) -> Result<FolioSplit<'_>> {
        let sys = self.system();
        let mm = sys.memmap();
        let (head, hp) = folio_head(mm, pfn)?;
        if !folio_test_thp(hp) {
            return Err(Error::BadRequest(format!("pfn {pfn:#x} is not part of a THP")));
        }
        let mut pt = sys.aspace.ptl.lock();
        if !folio_test_thp(hp) {
            return Err(Error::BadRequest(format!("pfn {pfn:#x}: the THP was split or freed meanwhile")));
        }
        if let Err((rc, expected)) = can_split_folio(mm, head, 1) {
            return Err(Error::ExtraRefs { pfn: head, refcount: rc, expected });
        }
        // unmap_folio's TTU_SPLIT_HUGE_PMD: a PMD mapping becomes PTEs.
        if let Some(vpn) = owner_vpn(hp.owner()) {
            if pt.get(vpn & !mm.geometry().hpage_pmd_mask()) == Some(&Pte::Pmd(head)) {
                split_huge_pmd_locked(mm, &mut pt, vpn)?;
            }
        }
        let expected = match can_split_folio(mm, head, 1) {
            Ok(e) => e,
            Err((rc, expected)) => return Err(Error::ExtraRefs { pfn: head, refcount: rc, expected }),
        };
        if !page_ref_freeze(hp, expected) {
            return Err(Error::ExtraRefs { pfn: head, refcount: page_count(hp), expected });
        }
        crate::sync::preempt_point("split_folio:frozen");
        Ok(FolioSplit { pt: Some(pt), mm, head, keep: pfn, nr: folio_nr_pages(hp), frozen_at: expected })
    }

    /// Second half of a split (`__split_huge_page`): see the module doc.
    pub fn split_folio_finish(&self, mut s: FolioSplit<'_>, mut list: Option<&mut Vec<Pfn>>) -> Result<()> {
        let sys = self.system();
        let mm = sys.memmap();
        let (head, keep, nr) = (s.head, s.keep, s.nr);
        let pt = s.pt.take();
        let hp = mm.pfn_to_page(head)?;
        let lru = hp.PageLRU();
        let swap = i32::from(hp.PageSwapCache());
        let isolate = i32::from(list.is_some());
        // lru_add_page_tail's VM_WARN_ON(!PageLRU(head)): a folio split
        // without an isolation list is on the LRU list, so its flag must be set.
        let warn_lru = list.is_none() && !lru;
        for t in head + 1..head + nr {
            let tp = mm.pfn_to_page(t)?;
            let mc = tp.page_mapcount();
            tp.compound_head.store(0, plain::Ordering::Relaxed);
            if swap != 0 {
                tp.SetPageSwapCache();
            }
            page_ref_unfreeze(tp, t, 1 + mc + swap + isolate)?;
            match list.as_deref_mut() {
                Some(l) => l.push(t),
                None => tp.SetPageLRU(),
            }
        }
        let mc = hp.page_mapcount();
        hp.entire_mapcount.store(0, Ordering::Relaxed);
        hp.ClearPageHasHWPoisoned();
        hp.compound_info.store(0, plain::Ordering::Relaxed);
        hp.ClearPageHead();
        page_ref_unfreeze(hp, head, 1 + mc + swap)?;
        drop(pt);
        if warn_lru {
            sys.record_violation(
                "A2",
                Some(head),
                "split of a folio that is on the LRU but lost PG_lru while frozen (VM_WARN_ON in lru_add_page_tail): \
                 a racing scanner cleared the flag without holding a reference"
                    .into(),
            );
        }
        // Every page got one reference for the split itself; the caller's
        // page keeps it as the caller's, the others drop it (freeing the
        // ones nothing else references).
        for p in head..head + nr {
            if p != keep {
                self.put_page(p)?;
            }
        }
        Ok(())
    }

}

impl<F: FreePath> System<F> {
    /// What memory_failure does to a THP it cannot split (MF_MSG_UNSPLIT_THP,
    /// the C16 precondition): flag the raw page PG_hwpoison, count it
    /// (num_poisoned_pages and the block's nr_hwpoison, H5) and mark the
    /// folio PageHasHWPoisoned. Unmapping user mappings is memory_failure's
    /// business and is not done here.
    pub fn hwpoison_unsplit_thp_subpage(&self, pfn: Pfn) -> Result<()> {
        let (_, hp) = folio_head(&self.memmap, pfn)?;
        if !folio_test_thp(hp) {
            return Err(Error::BadRequest(format!("pfn {pfn:#x} is not part of a THP")));
        }
        let p = self.memmap.pfn_to_page(pfn)?;
        if !p.TestSetPageHWPoison() {
            self.num_poisoned_pages.fetch_add(1, plain::Ordering::Relaxed);
            if let Some(b) = self.blocks.get((pfn / self.geometry().pages_per_section()) as usize) {
                b.nr_hwpoison.fetch_add(1, plain::Ordering::Relaxed);
            }
        }
        folio_set_has_hwpoisoned(hp);
        Ok(())
    }


}

#[cfg(all(test, not(feature = "shuttle")))]
mod tests {
    //! The checker half: corrupt a THP on purpose, expect the id.
    use super::*;
    use crate::{Config, Design, Landed};

    fn sys() -> System<Landed> {
        System::new(Config {
            mem_bytes: 2 * crate::Geometry::X86_64.section_size(),
            max_sections: 2,
            nr_cpus: 2,
            frame_store: true,
            design: Design::fixed(),
            ..Config::default()
        })
        .unwrap()
    }

    fn has(s: &System<Landed>, id: &str, pfn: Pfn) -> bool {
        s.check().iter().any(|v| v.id == id && v.pfn == Some(pfn))
    }

    #[test]
    fn wrong_entire_mapcount_is_mg2() {
        let s = sys();
        let c = s.cpu(0).unwrap();
        let h = c.fault_thp(0).unwrap();
        assert!(s.check().is_empty(), "{:?}", s.check());
        s.pfn_to_page(h).unwrap().entire_mapcount.store(2, Ordering::Relaxed);
        assert!(has(&s, "MG2", h));
    }

    #[test]
    fn refcount_below_mappings_is_mg3() {
        let s = sys();
        let c = s.cpu(0).unwrap();
        let h = c.fault_thp(0).unwrap();
        c.split_huge_pmd(0).unwrap();
        s.pfn_to_page(h).unwrap().refcount.fetch_sub(3, Ordering::Relaxed);
        assert!(has(&s, "MG3", h));
    }

    #[test]
    fn existing_pmd_over_a_later_poisoned_subpage_is_not_h7() {
        // memory_failure's MF_MSG_UNSPLIT_THP: the THP is marked and left,
        // mapped. H7 is about *making* a PMD mapping of a poisoned folio,
        // recorded by map_folio_pmd (C16's reproducer in bugs.rs).
        let s = sys();
        let c = s.cpu(0).unwrap();
        let h = c.fault_thp(0).unwrap();
        s.hwpoison_unsplit_thp_subpage(h + 3).unwrap();
        assert!(!has(&s, "H7", h + 3), "{:?}", s.check());
    }

    #[test]
    fn lost_lru_flag_on_mapped_folio_is_a2() {
        let s = sys();
        let c = s.cpu(0).unwrap();
        let p = c.fault(7).unwrap();
        s.pfn_to_page(p).unwrap().ClearPageLRU();
        assert!(has(&s, "A2", p));
    }

    #[test]
    fn mapcount_helpers_follow_b5_numbers() {
        let s = sys();
        let c = s.cpu(0).unwrap();
        let h = c.fault_thp(512).unwrap();
        let mm = s.memmap();
        assert_eq!((folio_mapcount(mm, h), page_mapcount(mm, h), page_count(mm.pfn_to_page(h).unwrap())), (1, 1, 1));
        c.split_huge_pmd(512).unwrap();
        assert_eq!((folio_mapcount(mm, h), page_mapcount(mm, h), page_count(mm.pfn_to_page(h).unwrap())), (512, 1, 512));
        assert_eq!(can_split_folio(mm, h, 0), Ok(512));
    }
}
