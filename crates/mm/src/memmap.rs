//! The memmap: per-section descriptor arrays (SPARSEMEM), `pfn_to_page`,
//! `pfn_to_online_page`, and the optional frame store (page contents).
//!
//! A section is 32768 pages (128 MiB). Each section slot owns, once it was
//! first added, one anonymous mapping of 32768 × 64 B = 2 MiB of descriptors
//! (a vector under shuttle) and, with the frame store enabled, one anonymous
//! mapping of 128 MiB of page contents. Mappings are created lazily and
//! never written at creation: the zeroed descriptor is a valid state
//! ([`crate::page`]), so memory is used in proportion to what is touched.
//!
//! Removing a section does what the kernel does with its vmemmap: the
//! virtual range stays reserved and its backing memory is given back
//! (`MADV_DONTNEED`, which makes it read as zeros). A reader that raced with
//! the removal and still holds a `&Page` therefore reads zeros instead of
//! touching unmapped memory; the mapping itself lives as long as the
//! `Memmap`. That is the property that makes `pfn_to_page` a plain
//! lock-free lookup.
//!
//! Invariants:
//! * a slot's descriptor pointer, once non-null, never changes and stays
//!   valid until the `Memmap` is dropped;
//! * section state moves Absent -> Present (memmap, offline) -> Online and
//!   back; only Online sections' pages may be in buddy, on pcp or allocated.
//!
//! Lock order: `Memmap::hotplug` is the kernel's `mem_hotplug_lock`
//! ([`crate::locking`] #3), written by section add/online/offline/remove.

use crate::error::{Error, Result};
use crate::page::Page;
use crate::sync::plain::{AtomicU8, Ordering};
use crate::sync::Mutex;
use crate::{Pfn, PAGES_PER_SECTION, PAGE_SIZE, PFN_SECTION_SHIFT};
use std::sync::atomic::AtomicPtr;

/// Pageblocks per section (64).
pub const PAGEBLOCKS_PER_SECTION: usize = (PAGES_PER_SECTION / crate::PAGEBLOCK_NR_PAGES) as usize;

/// Lifecycle of a memory section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum SectionState {
    /// No memmap: pfn_valid() is false.
    Absent = 0,
    /// Memmap present, memory offline: pfn_valid() true, pfn_to_online_page() NULL.
    Present = 1,
    /// Online: the section's pages belong to the zone.
    Online = 2,
}

impl SectionState {
    fn from_u8(v: u8) -> SectionState {
        match v {
            1 => SectionState::Present,
            2 => SectionState::Online,
            _ => SectionState::Absent,
        }
    }
}

/// Backing memory of one section's descriptors.
enum DescStore {
    #[cfg(not(feature = "shuttle"))]
    Mmap(memmap2::MmapMut),
    #[cfg(feature = "shuttle")]
    Vec(Box<[Page]>),
}

/// One `mem_section`.
pub(crate) struct SectionSlot {
    pages: AtomicPtr<Page>,
    frames: AtomicPtr<u8>,
    state: AtomicU8,
    /// Pageblock migratetypes (the kernel's `usemap`), one byte per block.
    pub(crate) pageblock: [AtomicU8; PAGEBLOCKS_PER_SECTION],
    /// A per-pfn bit kept outside the descriptors (one bit per page, 4 KiB
    /// per section, allocated with the slot): what a hook that "checks a
    /// bitmap on another cache line" reads. Bit set = page is special.
    pub(crate) side_bitmap: Box<[std::sync::atomic::AtomicU64]>,
}

#[derive(Default)]
struct Backing {
    desc: Vec<Option<DescStore>>,
    frames: Vec<Option<memmap2::MmapMut>>,
}

/// The memmap of a simulated machine.
pub struct Memmap {
    slots: Box<[SectionSlot]>,
    frame_store: bool,
    /// Owns the mappings; also the kernel's mem_hotplug_lock (write side).
    pub(crate) hotplug: Mutex<()>,
    backing: std::sync::Mutex<Backing>,
}

// SAFETY: the raw pointers in the slots point into mappings owned by
// `backing`, which live as long as the Memmap; all data reachable through
// them is atomics (descriptors) or bytes whose access is `unsafe` and
// documented as requiring exclusive ownership (frames).
unsafe impl Send for Memmap {}
// SAFETY: as above; shared access only hands out `&Page` (all-atomic) and
// raw frame pointers behind `unsafe fn`.
unsafe impl Sync for Memmap {}

const SECTION_MASK: u64 = PAGES_PER_SECTION - 1;
const FRAME_BYTES: usize = PAGES_PER_SECTION as usize * PAGE_SIZE;

impl Memmap {
    /// A memmap able to describe `max_sections` sections, none present yet.
    pub fn new(max_sections: usize, frame_store: bool) -> Memmap {
        let slots = (0..max_sections)
            .map(|_| SectionSlot {
                pages: AtomicPtr::new(std::ptr::null_mut()),
                frames: AtomicPtr::new(std::ptr::null_mut()),
                state: AtomicU8::new(SectionState::Absent as u8),
                pageblock: std::array::from_fn(|_| AtomicU8::new(0)),
                side_bitmap: (0..PAGES_PER_SECTION / 64).map(|_| std::sync::atomic::AtomicU64::new(0)).collect(),
            })
            .collect();
        let mut backing = Backing::default();
        backing.desc.resize_with(max_sections, || None);
        backing.frames.resize_with(max_sections, || None);
        Memmap { slots, frame_store, hotplug: Mutex::new(()), backing: std::sync::Mutex::new(backing) }
    }

    /// Sections this memmap can describe.
    pub fn max_sections(&self) -> usize {
        self.slots.len()
    }

    /// One past the highest pfn this memmap can describe.
    pub fn max_pfn(&self) -> Pfn {
        self.slots.len() as u64 * PAGES_PER_SECTION
    }

    /// Whether page contents are stored.
    pub fn has_frame_store(&self) -> bool {
        self.frame_store
    }

    #[inline(always)]
    pub(crate) fn slot(&self, pfn: Pfn) -> Result<&SectionSlot> {
        self.slots
            .get((pfn >> PFN_SECTION_SHIFT) as usize)
            .ok_or(Error::PfnOutOfRange { pfn, max_pfn: self.max_pfn() })
    }

    /// The state of the section holding `pfn`.
    pub fn section_state(&self, pfn: Pfn) -> Result<SectionState> {
        Ok(SectionState::from_u8(self.slot(pfn)?.state.load(Ordering::Acquire)))
    }

    /// The state of section number `nr`.
    pub fn section_state_nr(&self, nr: u64) -> Result<SectionState> {
        self.section_state(nr * PAGES_PER_SECTION)
    }

    pub(crate) fn set_section_state(&self, pfn: Pfn, s: SectionState) -> Result<()> {
        self.slot(pfn)?.state.store(s as u8, Ordering::Release);
        Ok(())
    }

    /// `pfn_valid`: the pfn has a memmap.
    #[inline]
    pub fn pfn_valid(&self, pfn: Pfn) -> bool {
        matches!(self.section_state(pfn), Ok(SectionState::Present | SectionState::Online))
    }

    /// `pfn_to_page`: the descriptor of a pfn whose section is present
    /// (online or not).
    #[inline(always)]
    pub fn pfn_to_page(&self, pfn: Pfn) -> Result<&Page> {
        let slot = self.slot(pfn)?;
        let base = slot.pages.load(Ordering::Acquire);
        if base.is_null() || slot.state.load(Ordering::Relaxed) == SectionState::Absent as u8 {
            return Err(Error::PfnNotPresent { pfn });
        }
        // SAFETY: a non-null `pages` points to PAGES_PER_SECTION initialized
        // descriptors (zero bytes are a valid Page) that stay mapped until
        // the Memmap is dropped, which outlives `&self`; the offset is masked
        // to the section.
        Ok(unsafe { &*base.add((pfn & SECTION_MASK) as usize) })
    }

    /// The descriptors of the online section holding `pfn`, first pfn
    /// first (a walker over whole sections looks each up once, not per pfn).
    pub fn online_section_pages(&self, pfn: Pfn) -> Option<&[Page]> {
        let slot = self.slots.get((pfn >> PFN_SECTION_SHIFT) as usize)?;
        if slot.state.load(Ordering::Acquire) != SectionState::Online as u8 {
            return None;
        }
        let base = slot.pages.load(Ordering::Acquire);
        if base.is_null() {
            return None;
        }
        // SAFETY: as in pfn_to_page: a non-null `pages` points to
        // PAGES_PER_SECTION initialized descriptors that stay mapped (and
        // valid: all-atomic, zero is a valid state) for the Memmap's life.
        Some(unsafe { std::slice::from_raw_parts(base, PAGES_PER_SECTION as usize) })
    }

    /// The descriptor of a pfn known to be on a free list (so online by
    /// the list invariants): no section-state test, only what memory
    /// safety needs (the slot exists and has a memmap).
    #[inline(always)]
    pub(crate) fn listed_page(&self, pfn: Pfn) -> Option<&Page> {
        let slot = self.slots.get((pfn >> PFN_SECTION_SHIFT) as usize)?;
        let base = slot.pages.load(Ordering::Acquire);
        if base.is_null() {
            return None;
        }
        // SAFETY: as in pfn_to_page: a non-null `pages` stays valid for the
        // Memmap's lifetime and the offset is masked to the section.
        Some(unsafe { &*base.add((pfn & SECTION_MASK) as usize) })
    }

    /// `pfn_to_online_page`: the descriptor only if the section is online.
    #[inline(always)]
    pub fn pfn_to_online_page(&self, pfn: Pfn) -> Result<&Page> {
        let slot = self.slot(pfn)?;
        match slot.state.load(Ordering::Acquire) {
            s if s == SectionState::Online as u8 => self.pfn_to_page(pfn),
            s if s == SectionState::Present as u8 => Err(Error::PfnOffline { pfn }),
            _ => Err(Error::PfnNotPresent { pfn }),
        }
    }

    /// Give section `nr` a memmap (Absent -> Present). The descriptors read
    /// as zero. Caller holds `hotplug`.
    pub(crate) fn add_section(&self, nr: u64) -> Result<()> {
        let pfn = nr * PAGES_PER_SECTION;
        let slot = self.slot(pfn)?;
        if self.section_state(pfn)? != SectionState::Absent {
            return Err(Error::SectionState { section: nr, what: "add: section already present" });
        }
        let mut b = self.backing.lock().unwrap_or_else(|e| e.into_inner());
        let i = nr as usize;
        if b.desc[i].is_none() {
            let store = Self::new_desc_store()?;
            let ptr = match &store {
                #[cfg(not(feature = "shuttle"))]
                DescStore::Mmap(m) => m.as_ptr() as *mut Page,
                #[cfg(feature = "shuttle")]
                DescStore::Vec(v) => v.as_ptr() as *mut Page,
            };
            b.desc[i] = Some(store);
            slot.pages.store(ptr, Ordering::Release);
        }
        if self.frame_store && b.frames[i].is_none() {
            let m = memmap2::MmapOptions::new()
                .len(FRAME_BYTES)
                .map_anon()
                .map_err(|e| Error::Os(format!("frame store mmap for section {nr}: {e}")))?;
            slot.frames.store(m.as_ptr() as *mut u8, Ordering::Release);
            b.frames[i] = Some(m);
        }
        for pb in &slot.pageblock {
            pb.store(0, Ordering::Relaxed);
        }
        slot.state.store(SectionState::Present as u8, Ordering::Release);
        Ok(())
    }

    #[cfg(not(feature = "shuttle"))]
    fn new_desc_store() -> Result<DescStore> {
        let len = PAGES_PER_SECTION as usize * std::mem::size_of::<Page>();
        let m = memmap2::MmapOptions::new()
            .len(len)
            .map_anon()
            .map_err(|e| Error::Os(format!("memmap mmap: {e}")))?;
        // mmap returns page-aligned memory, so the 64-byte alignment of Page holds.
        debug_assert_eq!(m.as_ptr() as usize % std::mem::align_of::<Page>(), 0);
        Ok(DescStore::Mmap(m))
    }

    #[cfg(feature = "shuttle")]
    fn new_desc_store() -> Result<DescStore> {
        // A copy of a compile-time zeroed descriptor per pfn (see Page::ZEROED).
        Ok(DescStore::Vec((0..PAGES_PER_SECTION).map(|_| Page::ZEROED).collect()))
    }

    /// Remove section `nr`'s memmap (Present -> Absent) and give its memory
    /// back; it reads as zeros from now on. Caller holds `hotplug`.
    pub(crate) fn remove_section(&self, nr: u64) -> Result<()> {
        let pfn = nr * PAGES_PER_SECTION;
        let slot = self.slot(pfn)?;
        match self.section_state(pfn)? {
            SectionState::Present => {}
            SectionState::Online => {
                return Err(Error::SectionState { section: nr, what: "remove: section is online" })
            }
            SectionState::Absent => {
                return Err(Error::SectionState { section: nr, what: "remove: section not present" })
            }
        }
        slot.state.store(SectionState::Absent as u8, Ordering::Release);
        let b = self.backing.lock().unwrap_or_else(|e| e.into_inner());
        match &b.desc[nr as usize] {
            #[cfg(not(feature = "shuttle"))]
            Some(DescStore::Mmap(m)) => {
                // SAFETY: the range is our own anonymous mapping. After
                // DONTNEED it reads as zeros, which is a valid bit pattern for
                // every descriptor field (all atomics); the mapping stays in
                // place, so concurrent readers never touch unmapped memory.
                unsafe { m.unchecked_advise(memmap2::UncheckedAdvice::DontNeed) }
                    .map_err(|e| Error::Os(format!("madvise(DONTNEED) memmap of section {nr}: {e}")))?;
            }
            #[cfg(feature = "shuttle")]
            Some(DescStore::Vec(v)) => v.iter().for_each(Page::reset),
            None => {}
        }
        if let Some(m) = &b.frames[nr as usize] {
            // SAFETY: as above, on the byte-only frame mapping; frames are only
            // accessed through `unsafe fn`s whose callers own the page, and no
            // page of a removed section is owned by anyone.
            unsafe { m.unchecked_advise(memmap2::UncheckedAdvice::DontNeed) }
                .map_err(|e| Error::Os(format!("madvise(DONTNEED) frames of section {nr}: {e}")))?;
        }
        Ok(())
    }

    /// Test the side-bitmap bit of `pfn` (false for an unknown pfn).
    #[inline(always)]
    pub fn side_bit(&self, pfn: Pfn) -> bool {
        match self.slot(pfn) {
            Ok(s) => {
                let i = (pfn & SECTION_MASK) as usize;
                s.side_bitmap[i / 64].load(Ordering::Relaxed) & (1 << (i % 64)) != 0
            }
            Err(_) => false,
        }
    }

    /// Set or clear the side-bitmap bit of `pfn`.
    pub fn set_side_bit(&self, pfn: Pfn, on: bool) -> Result<()> {
        let s = self.slot(pfn)?;
        let i = (pfn & SECTION_MASK) as usize;
        if on {
            s.side_bitmap[i / 64].fetch_or(1 << (i % 64), Ordering::Relaxed);
        } else {
            s.side_bitmap[i / 64].fetch_and(!(1 << (i % 64)), Ordering::Relaxed);
        }
        Ok(())
    }

    /// Raw pointer to the 4 KiB contents of `pfn`.
    ///
    /// # Safety
    /// The caller must own the page exclusively for as long as it uses the
    /// pointer (it holds the only reference, or froze the page, or the page
    /// is isolated for migration), so no other thread reads or writes the
    /// same frame concurrently.
    pub unsafe fn frame_ptr(&self, pfn: Pfn) -> Result<*mut u8> {
        let slot = self.slot(pfn)?;
        let base = slot.frames.load(Ordering::Acquire);
        if base.is_null() {
            return Err(Error::PfnNotPresent { pfn });
        }
        // SAFETY: a non-null `frames` points to the section's FRAME_BYTES
        // mapping, which lives as long as the Memmap; the offset is masked
        // to the section, so the result stays inside it.
        Ok(unsafe { base.add((pfn & SECTION_MASK) as usize * PAGE_SIZE) })
    }

    /// Fill the frame of `pfn` with a pattern derived from `tag`.
    ///
    /// # Safety
    /// As for [`Memmap::frame_ptr`].
    pub unsafe fn frame_write_pattern(&self, pfn: Pfn, tag: u64) -> Result<()> {
        // SAFETY: forwarded contract; the frame is 4096 bytes, 8-aligned.
        let p = unsafe { self.frame_ptr(pfn)? } as *mut u64;
        for i in 0..PAGE_SIZE / 8 {
            // SAFETY: i < 512 words inside the frame, which the caller owns.
            unsafe { p.add(i).write(pattern_word(tag, i)) };
        }
        Ok(())
    }

    /// Check that the frame of `pfn` holds the pattern of `tag`; returns the
    /// first differing byte offset, if any.
    ///
    /// # Safety
    /// As for [`Memmap::frame_ptr`].
    pub unsafe fn frame_verify_pattern(&self, pfn: Pfn, tag: u64) -> Result<Option<usize>> {
        // SAFETY: forwarded contract.
        let p = unsafe { self.frame_ptr(pfn)? } as *const u64;
        for i in 0..PAGE_SIZE / 8 {
            // SAFETY: i < 512 words inside the frame, which the caller owns.
            if unsafe { p.add(i).read() } != pattern_word(tag, i) {
                return Ok(Some(i * 8));
            }
        }
        Ok(None)
    }

    /// [`Memmap::frame_verify_pattern`] on 8 words spread over the frame
    /// (the first and last included): what the checker runs after every
    /// op. Every word of the pattern depends on the tag, so a frame that
    /// holds another page's contents, zeros or stale bytes fails on each
    /// of them; a copy torn inside a page is not a failure the model has.
    ///
    /// # Safety
    /// As for [`Memmap::frame_ptr`].
    pub unsafe fn frame_verify_sample(&self, pfn: Pfn, tag: u64) -> Result<Option<usize>> {
        // SAFETY: forwarded contract.
        let p = unsafe { self.frame_ptr(pfn)? } as *const u64;
        const WORDS: usize = PAGE_SIZE / 8;
        for i in (0..8).map(|k| k * (WORDS - 1) / 7) {
            // SAFETY: i <= 511, inside the frame, which the caller owns.
            if unsafe { p.add(i).read() } != pattern_word(tag, i) {
                return Ok(Some(i * 8));
            }
        }
        Ok(None)
    }

    /// Copy the 4 KiB contents of `src` to `dst` (migration's copy step).
    ///
    /// # Safety
    /// The caller owns both pages exclusively, and `src != dst`.
    pub unsafe fn frame_copy(&self, src: Pfn, dst: Pfn) -> Result<()> {
        if src == dst {
            return Err(Error::BadPage { pfn: src, reason: "frame_copy onto itself" });
        }
        // SAFETY: forwarded contract; distinct pfns have disjoint frames.
        unsafe { std::ptr::copy_nonoverlapping(self.frame_ptr(src)?, self.frame_ptr(dst)?, PAGE_SIZE) };
        Ok(())
    }
}

/// The word at index `i` of the pattern for `tag` (splitmix64).
#[inline]
pub fn pattern_word(tag: u64, i: usize) -> u64 {
    let mut z = tag.wrapping_add((i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_follows_section_state() {
        let m = Memmap::new(4, false);
        assert_eq!(m.pfn_to_page(5).unwrap_err(), Error::PfnNotPresent { pfn: 5 });
        let far = 4 * PAGES_PER_SECTION;
        assert_eq!(m.pfn_to_page(far).unwrap_err(), Error::PfnOutOfRange { pfn: far, max_pfn: far });
        m.add_section(1).unwrap();
        let pfn = PAGES_PER_SECTION + 17;
        assert!(m.pfn_valid(pfn));
        assert!(m.pfn_to_page(pfn).is_ok());
        assert_eq!(m.pfn_to_online_page(pfn).unwrap_err(), Error::PfnOffline { pfn });
        m.set_section_state(pfn, SectionState::Online).unwrap();
        assert!(m.pfn_to_online_page(pfn).is_ok());
        assert!(m.add_section(1).is_err(), "double add is refused");
    }

    // Touches descriptor (shuttle) atomics outside a shuttle execution.
    #[cfg(not(feature = "shuttle"))]
    #[test]
    fn remove_zeroes_the_memmap_and_readd_works() {
        let m = Memmap::new(2, false);
        m.add_section(0).unwrap();
        m.pfn_to_page(100).unwrap().SetPageReserved();
        m.remove_section(0).unwrap();
        assert!(!m.pfn_valid(100));
        assert!(m.remove_section(0).is_err());
        m.add_section(0).unwrap();
        assert_eq!(m.pfn_to_page(100).unwrap().flags(), 0, "a re-added section starts zeroed");
    }

    #[test]
    fn frame_store_roundtrip() {
        let m = Memmap::new(1, true);
        m.add_section(0).unwrap();
        // SAFETY: single-threaded test; nobody else touches these frames.
        unsafe {
            m.frame_write_pattern(3, 0xabc).unwrap();
            assert_eq!(m.frame_verify_pattern(3, 0xabc).unwrap(), None);
            assert_eq!(m.frame_verify_pattern(3, 0xabd).unwrap(), Some(0));
            m.frame_copy(3, 9).unwrap();
            assert_eq!(m.frame_verify_pattern(9, 0xabc).unwrap(), None);
            assert!(m.frame_copy(9, 9).is_err());
        }
    }
}
