//! User memory (`mm/memory.c`, `mm/rmap.c` in miniature): one address space
//! of `nr_vpages` virtual pages whose page table maps them to movable,
//! LRU pages. It is what makes pages *movable*: migration and hwpoison find
//! a page's mapping through the reverse map and rewrite it.
//!
//! Reverse map: a mapped page's `owner` tag ([`crate::pgtable::USER_TAG`])
//! leads to its one page-table entry (anonymous, not shared). With the
//! frame store on, a fault writes the pattern of its owner tag into the
//! frame, and [`System::verify_user_page`] proves that every migration kept
//! the bytes (the "contents preserved" invariant).
//!
//! Invariants:
//! * a present pte maps a page with refcount >= 1 (the mapping's
//!   reference), mapcount 1, PG_lru (unless isolated), owner = its vpn tag;
//! * a poisoned pte (after memory_failure unmapped the page) makes the next
//!   access fail with SIGBUS.
//! * a `Pte::Pmd(head)` entry in each slot of a 2 MiB-aligned range is a
//!   PMD mapping of an order-9 THP; `unmap` of one of its pages splits the
//!   PMD into PTEs first ([`crate::folio`]).
//!
//! Lock order: `ptl` (the page-table lock) → pcp lock → zone->lock. Frames
//! of mapped pages are only read or written under `ptl`.

use crate::error::{Error, Result};
use crate::page_alloc::FreePath;
use crate::pageblock::MigrateType;
use crate::sync::plain::Ordering;
use crate::pgtable::{Pte, USER_TAG};
use crate::system::{Cpu, System};
use crate::Pfn;






impl<F: FreePath> System<F> {
    /// Number of virtual pages.
    pub fn nr_vpages(&self) -> usize {
        self.aspace.ptl.lock().len()
    }

    /// The pte of `vpn`.
    pub fn pte(&self, vpn: usize) -> Result<Pte> {
        let pt = self.aspace.ptl.lock();
        pt.get(vpn).copied().ok_or(Error::BadRequest(format!("vpn {vpn} is beyond the address space ({} pages)", pt.len())))
    }

    /// Every present mapping (vpn, pfn).
    pub fn user_mappings(&self) -> Vec<(usize, Pfn)> {
        let pt = self.aspace.ptl.lock();
        pt.iter()
            .enumerate()
            .filter_map(|(v, p)| if let Pte::Present(pfn) = p { Some((v, *pfn)) } else { None })
            .collect()
    }

    /// Does the page table map `vpn` to `pfn` (a PTE, or the PMD of the
    /// THP `pfn` is a subpage of)?
    pub fn maps(&self, vpn: usize, pfn: Pfn) -> bool {
        let pt = self.aspace.ptl.lock();
        match pt.get(vpn) {
            Some(Pte::Present(p)) => *p == pfn,
            Some(Pte::Pmd(head)) => *head + vpn as u64 % self.geometry().hpage_pmd_nr() == pfn,
            _ => false,
        }
    }

    /// Is the user page at `vpn` intact? Ok(None) when not mapped; with the
    /// frame store off only the rmap is checked.
    pub fn verify_user_page(&self, vpn: usize) -> Result<Option<bool>> {
        self.verify_user_page_with(vpn, true)
    }

    /// [`System::verify_user_page`], reading every word of the frame
    /// (`full`) or a sample of 8 ([`crate::memmap::Memmap::frame_verify_sample`], the
    /// checker's form: it runs after every op of a fuzz input).
    pub fn verify_user_page_with(&self, vpn: usize, full: bool) -> Result<Option<bool>> {
        let pt = self.aspace.ptl.lock();
        let Some(&pte) = pt.get(vpn) else { return Err(Error::BadRequest(format!("vpn {vpn} out of range"))) };
        let pfn = match pte {
            Pte::Present(pfn) => pfn,
            Pte::Pmd(head) => head + (vpn as u64 & (self.geometry().hpage_pmd_nr() - 1)),
            _ => return Ok(None),
        };
        let p = self.memmap.pfn_to_page(pfn)?;
        let tag = USER_TAG | vpn as u64;
        if p.owner() != tag {
            return Ok(Some(false));
        }
        if !self.memmap.has_frame_store() {
            return Ok(Some(true));
        }
        let bad = if full {
            // SAFETY: the page is mapped by this pte and `ptl` is held:
            // nobody migrates, unmaps or frees it, and user frames are only
            // accessed under `ptl`.
            unsafe { self.memmap.frame_verify_pattern(pfn, tag)? }
        } else {
            // SAFETY: as for the full check just above.
            unsafe { self.memmap.frame_verify_sample(pfn, tag)? }
        };
        Ok(Some(bad.is_none()))
    }
}

impl<F: FreePath> Cpu<'_, F> {
    /// Page fault on `vpn` (`do_anonymous_page`): map a fresh movable page,
    /// fill it, put it on the LRU. Returns the pfn now mapped.
    pub fn fault(&self, vpn: usize) -> Result<Pfn> {
        let sys = self.system();
        let mut pt = sys.aspace.ptl.lock();
        let len = pt.len();
        let pte = pt.get_mut(vpn).ok_or(Error::BadRequest(format!("vpn {vpn} is beyond the address space ({len} pages)")))?;
        match *pte {
            Pte::Present(pfn) => return Ok(pfn),
            Pte::Pmd(head) => return Ok(head + (vpn as u64 & (sys.geometry().hpage_pmd_nr() - 1))),
            Pte::HwPoison => return Err(Error::Sigbus { vpn }),
            Pte::None => {}
        }
        let pfn = self.alloc_pages(0, MigrateType::Movable)?;
        let page = sys.memmap.pfn_to_page(pfn)?;
        let tag = USER_TAG | vpn as u64;
        page.set_owner(tag);
        if sys.memmap.has_frame_store() {
            // SAFETY: freshly allocated, refcount 1 held by us, not yet
            // mapped: no one else can reach the frame.
            unsafe { sys.memmap.frame_write_pattern(pfn, tag)? };
        }
        page.mapcount.store(1, Ordering::Relaxed);
        page.SetPageLRU();
        *pte = Pte::Present(pfn);
        Ok(pfn)
    }

    /// Unmap `vpn` (`zap_pte_range`): drop the mapping and its reference.
    pub fn unmap(&self, vpn: usize) -> Result<Option<Pfn>> {
        let sys = self.system();
        let mut pt = sys.aspace.ptl.lock();
        // A partial munmap of a PMD-mapped THP splits the PMD first.
        crate::folio::split_huge_pmd_locked(&sys.memmap, &mut pt, vpn)?;
        let len = pt.len();
        let pte = pt.get_mut(vpn).ok_or(Error::BadRequest(format!("vpn {vpn} is beyond the address space ({len} pages)")))?;
        let old = std::mem::replace(pte, Pte::None);
        let Pte::Present(pfn) = old else { return Ok(None) };
        let page = sys.memmap.pfn_to_page(pfn)?;
        page.mapcount.store(0, Ordering::Relaxed);
        drop(pt);
        self.put_page(pfn)?;
        Ok(Some(pfn))
    }
}
