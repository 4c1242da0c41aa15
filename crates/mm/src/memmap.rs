//! The memmap: one flat vmemmap of descriptors (SPARSEMEM_VMEMMAP), the
//! per-section state, `pfn_to_page`, `pfn_to_online_page`, and the optional
//! frame store (page contents).
//!
//! At creation the memmap reserves virtual space for the descriptors of
//! every pfn it can describe (`max_sections` sections of the geometry's
//! size) as one inaccessible anonymous mapping, and (with the frame store)
//! one mapping for their 4 KiB contents. `add_section` commits the
//! section's part of the vmemmap (`mprotect` read-write; it reads as
//! zeros, a valid descriptor state, [`crate::page`]); `remove_section`
//! gives its memory back (`MADV_DONTNEED`: it reads as zeros again). A
//! committed part stays mapped until the `Memmap` is dropped, so a reader
//! that raced with a removal reads zeros, never unmapped memory — which is
//! what makes `pfn_to_page` a plain lock-free lookup: one state byte, one
//! add. Under shuttle the vmemmap is a vector of descriptors.
//!
//! The section state and the pageblock migratetypes are bytes kept per
//! fixed granule ([`STATE_GRANULE_SHIFT`], [`PAGEBLOCK_GRANULE_SHIFT`]):
//! a section's or a pageblock's value is written to each of its granules,
//! so that a lookup shifts by a constant whatever the geometry.
//!
//! Invariants:
//! * a section's part of the vmemmap, once committed, stays mapped until
//!   the `Memmap` is dropped;
//! * section state moves Absent -> Present (memmap, offline) -> Online and
//!   back; only Online sections' pages may be in buddy, on pcp or allocated;
//! * every granule of a section holds the section's state, every granule
//!   of a pageblock the pageblock's migratetype.
//!
//! Lock order: `Memmap::hotplug` is the kernel's `mem_hotplug_lock`
//! ([`crate::locking`] #3), written by section add/online/offline/remove.

use crate::error::{Error, Result};
use crate::geometry::{Geometry, PAGEBLOCK_GRANULE_SHIFT, STATE_GRANULE_SHIFT};
use crate::page::Page;
use crate::sync::plain::{AtomicU64, AtomicU8, Ordering};
use crate::sync::Mutex;
use crate::{Pfn, PAGE_SIZE};

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

/// The descriptors' storage.
enum Vmemmap {
    /// The reserved mapping, committed per section.
    #[cfg(not(feature = "shuttle"))]
    Mmap(memmap2::MmapMut),
    /// Shuttle's atomics cannot live in raw mapped memory.
    #[cfg(feature = "shuttle")]
    Vec(Box<[Page]>),
}

/// The memmap of a simulated machine.
pub struct Memmap {
    /// Base of the vmemmap: the descriptor of pfn `p` is `vmemmap + p`.
    vmemmap: *const Page,
    /// Base of the frame store (null without one): pfn `p`'s contents are
    /// the 4 KiB at `frames + p * PAGE_SIZE`.
    frames: *mut u8,
    /// [`SectionState`] per state granule.
    state: Box<[AtomicU8]>,
    /// Pageblock migratetype per pageblock granule (the kernel's `usemap`).
    pageblock: Box<[AtomicU8]>,
    /// A per-pfn bit kept outside the descriptors: what a hook that "checks
    /// a bitmap on another cache line" reads. Bit set = page is special.
    side_bitmap: Box<[AtomicU64]>,
    /// Frames written since the memmap was created or last reset.
    frames_written: Box<[AtomicU64]>,
    geo: Geometry,
    max_sections: usize,
    /// The kernel's mem_hotplug_lock (write side).
    pub(crate) hotplug: Mutex<()>,
    /// Owns the mappings the raw pointers point into.
    vmemmap_store: Vmemmap,
    frame_store: Option<memmap2::MmapMut>,
}

// SAFETY: the raw pointers point into mappings owned by the Memmap itself
// (`vmemmap_store`, `frame_store`), which live as long as it; all data
// reachable through `vmemmap` is atomics (descriptors), and frame bytes are
// only accessed through `unsafe fn`s whose callers own the page.
unsafe impl Send for Memmap {}
// SAFETY: as above; shared access only hands out `&Page` (all-atomic) and
// raw frame pointers behind `unsafe fn`.
unsafe impl Sync for Memmap {}

/// `n` zeroed bytes of plain atomics.
fn zeroed<T: Default>(n: usize) -> Box<[T]> {
    (0..n).map(|_| T::default()).collect()
}

impl Memmap {
    /// A memmap able to describe `max_sections` sections of geometry `geo`,
    /// none present yet.
    pub fn new(max_sections: usize, frame_store: bool, geo: Geometry) -> Result<Memmap> {
        geo.validate()?;
        let max_pfn = max_sections as u64 * geo.pages_per_section();
        let n = max_pfn as usize;
        let (vmemmap_store, vmemmap) = Self::reserve_vmemmap(n)?;
        let frame_store = if frame_store {
            let m = memmap2::MmapOptions::new()
                .len((n * PAGE_SIZE).max(PAGE_SIZE))
                .map_anon()
                .map_err(|e| Error::Os(format!("frame store mmap of {max_pfn} pages: {e}")))?;
            Some(m)
        } else {
            None
        };
        let frames = frame_store.as_ref().map_or(std::ptr::null_mut(), |m| m.as_ptr() as *mut u8);
        Ok(Memmap {
            vmemmap,
            frames,
            state: zeroed(n >> STATE_GRANULE_SHIFT),
            pageblock: zeroed(n >> PAGEBLOCK_GRANULE_SHIFT),
            side_bitmap: zeroed(n.div_ceil(64)),
            frames_written: zeroed(n.div_ceil(64)),
            geo,
            max_sections,
            hotplug: Mutex::new(()),
            vmemmap_store,
            frame_store,
        })
    }

    /// Reserve the vmemmap: inaccessible until a section commits its part.
    #[cfg(not(feature = "shuttle"))]
    fn reserve_vmemmap(n: usize) -> Result<(Vmemmap, *const Page)> {
        let len = (n * std::mem::size_of::<Page>()).max(PAGE_SIZE);
        let mut m = memmap2::MmapOptions::new().len(len).map_anon().map_err(|e| Error::Os(format!("vmemmap mmap: {e}")))?;
        // mmap returns page-aligned memory, so the 64-byte alignment of Page holds.
        debug_assert_eq!(m.as_ptr() as usize % std::mem::align_of::<Page>(), 0);
        // SAFETY: the range is exactly our own fresh anonymous mapping, which
        // nothing references yet; PROT_NONE only makes later accesses fault
        // until add_section commits them.
        let r = unsafe { libc::mprotect(m.as_mut_ptr() as *mut libc::c_void, len, libc::PROT_NONE) };
        if r != 0 {
            return Err(Error::Os(format!("mprotect(PROT_NONE) of the vmemmap: {}", std::io::Error::last_os_error())));
        }
        let base = m.as_ptr() as *const Page;
        Ok((Vmemmap::Mmap(m), base))
    }

    /// Shuttle: every descriptor exists from the start (zeroed).
    #[cfg(feature = "shuttle")]
    fn reserve_vmemmap(n: usize) -> Result<(Vmemmap, *const Page)> {
        // A copy of a compile-time zeroed descriptor per pfn (see Page::ZEROED).
        let v: Box<[Page]> = (0..n).map(|_| Page::ZEROED).collect();
        let base = v.as_ptr();
        Ok((Vmemmap::Vec(v), base))
    }

    /// The geometry.
    #[inline(always)]
    pub fn geometry(&self) -> &Geometry {
        &self.geo
    }

    /// Sections this memmap can describe.
    pub fn max_sections(&self) -> usize {
        self.max_sections
    }

    /// One past the highest pfn this memmap can describe.
    pub fn max_pfn(&self) -> Pfn {
        self.max_sections as u64 * self.geo.pages_per_section()
    }

    /// Whether page contents are stored.
    pub fn has_frame_store(&self) -> bool {
        !self.frames.is_null()
    }

    /// The state byte of `pfn`'s section (Err beyond the memmap).
    #[inline(always)]
    fn state_of(&self, pfn: Pfn) -> Result<u8> {
        match self.state.get((pfn >> STATE_GRANULE_SHIFT) as usize) {
            Some(s) => Ok(s.load(Ordering::Acquire)),
            None => Err(Error::PfnOutOfRange { pfn, max_pfn: self.max_pfn() }),
        }
    }

    /// The state of the section holding `pfn`.
    pub fn section_state(&self, pfn: Pfn) -> Result<SectionState> {
        self.state_of(pfn).map(SectionState::from_u8)
    }

    /// The state of section number `nr`.
    pub fn section_state_nr(&self, nr: u64) -> Result<SectionState> {
        self.section_state(nr * self.geo.pages_per_section())
    }

    /// Set the state of the section holding `pfn` (every granule of it).
    pub(crate) fn set_section_state(&self, pfn: Pfn, s: SectionState) -> Result<()> {
        self.state_of(pfn)?;
        let pps = self.geo.pages_per_section();
        let first = ((pfn & !(pps - 1)) >> STATE_GRANULE_SHIFT) as usize;
        for g in &self.state[first..first + (pps >> STATE_GRANULE_SHIFT) as usize] {
            g.store(s as u8, Ordering::Release);
        }
        Ok(())
    }

    /// `pfn_valid`: the pfn has a memmap.
    #[inline]
    pub fn pfn_valid(&self, pfn: Pfn) -> bool {
        matches!(self.section_state(pfn), Ok(SectionState::Present | SectionState::Online))
    }

    /// The descriptor of `pfn`, which the caller knows is inside a section
    /// that was committed once.
    ///
    /// # Safety
    /// `pfn < self.max_pfn()`, and its section was added at least once.
    #[inline(always)]
    unsafe fn page_unchecked(&self, pfn: Pfn) -> &Page {
        // SAFETY: by the contract, the offset is inside the vmemmap and its
        // section's part is committed, which it stays for the Memmap's life
        // (zero bytes are a valid Page); &self keeps the Memmap alive.
        unsafe { &*self.vmemmap.add(pfn as usize) }
    }

    /// `pfn_to_page`: the descriptor of a pfn whose section is present
    /// (online or not).
    #[inline(always)]
    pub fn pfn_to_page(&self, pfn: Pfn) -> Result<&Page> {
        if self.state_of(pfn)? == SectionState::Absent as u8 {
            return Err(Error::PfnNotPresent { pfn });
        }
        // SAFETY: state_of succeeded, so pfn < max_pfn (the state granules
        // cover exactly 0..max_pfn); a section that is not Absent has been
        // added, which committed its part of the vmemmap.
        Ok(unsafe { self.page_unchecked(pfn) })
    }

    /// The descriptors of the online section holding `pfn`, first pfn
    /// first (a walker over whole sections looks each up once, not per pfn).
    pub fn online_section_pages(&self, pfn: Pfn) -> Option<&[Page]> {
        if self.state_of(pfn).ok()? != SectionState::Online as u8 {
            return None;
        }
        let pps = self.geo.pages_per_section();
        let base = pfn & !(pps - 1);
        // SAFETY: the section is online, so added (committed) and inside
        // the vmemmap; its descriptors stay valid (all-atomic, zero is a
        // valid state) for the Memmap's life.
        Some(unsafe { std::slice::from_raw_parts(self.vmemmap.add(base as usize), pps as usize) })
    }

    /// The descriptor of a pfn known to be on a free list (so online by
    /// the list invariants): only what memory safety needs is checked (the
    /// pfn is inside the memmap and its section was added).
    #[inline(always)]
    pub(crate) fn listed_page(&self, pfn: Pfn) -> Option<&Page> {
        self.pfn_to_page(pfn).ok()
    }

    /// `pfn_to_online_page`: the descriptor only if the section is online.
    #[inline(always)]
    pub fn pfn_to_online_page(&self, pfn: Pfn) -> Result<&Page> {
        match self.state_of(pfn)? {
            // SAFETY: as in pfn_to_page: in range, and an online section
            // was added.
            s if s == SectionState::Online as u8 => Ok(unsafe { self.page_unchecked(pfn) }),
            s if s == SectionState::Present as u8 => Err(Error::PfnOffline { pfn }),
            _ => Err(Error::PfnNotPresent { pfn }),
        }
    }

    /// The migratetype byte of `pfn`'s pageblock (Err beyond the memmap).
    #[inline(always)]
    pub(crate) fn pageblock_byte(&self, pfn: Pfn) -> Result<&AtomicU8> {
        self.pageblock.get((pfn >> PAGEBLOCK_GRANULE_SHIFT) as usize).ok_or(Error::PfnOutOfRange { pfn, max_pfn: self.max_pfn() })
    }

    /// The migratetype bytes of `pfn`'s pageblock (all its granules).
    pub(crate) fn pageblock_bytes(&self, pfn: Pfn) -> Result<&[AtomicU8]> {
        self.pageblock_byte(pfn)?;
        let nr = self.geo.pageblock_nr_pages();
        let first = ((pfn & !(nr - 1)) >> PAGEBLOCK_GRANULE_SHIFT) as usize;
        Ok(&self.pageblock[first..first + (nr >> PAGEBLOCK_GRANULE_SHIFT) as usize])
    }

    /// Give section `nr` a memmap (Absent -> Present). The descriptors read
    /// as zero and its pageblocks as migratetype 0. Caller holds `hotplug`.
    pub(crate) fn add_section(&self, nr: u64) -> Result<()> {
        let pps = self.geo.pages_per_section();
        let pfn = nr * pps;
        if self.section_state(pfn)? != SectionState::Absent {
            return Err(Error::SectionState { section: nr, what: "add: section already present" });
        }
        self.commit_section(nr)?;
        let first = (pfn >> PAGEBLOCK_GRANULE_SHIFT) as usize;
        for pb in &self.pageblock[first..first + (pps >> PAGEBLOCK_GRANULE_SHIFT) as usize] {
            pb.store(0, Ordering::Relaxed);
        }
        self.set_section_state(pfn, SectionState::Present)
    }

    /// Make section `nr`'s part of the vmemmap accessible (idempotent).
    #[cfg(not(feature = "shuttle"))]
    fn commit_section(&self, nr: u64) -> Result<()> {
        let bytes = self.geo.pages_per_section() as usize * std::mem::size_of::<Page>();
        let off = nr as usize * bytes;
        // SAFETY: [off, off + bytes) lies inside our own vmemmap mapping
        // (nr < max_sections, checked by section_state above) and is page
        // aligned (a section's descriptors are a whole number of pages);
        // read-write access to memory we own breaks no reference.
        let r = unsafe { libc::mprotect(self.vmemmap.cast::<u8>().add(off) as *mut libc::c_void, bytes, libc::PROT_READ | libc::PROT_WRITE) };
        if r != 0 {
            return Err(Error::Os(format!("mprotect of section {nr}'s memmap: {}", std::io::Error::last_os_error())));
        }
        Ok(())
    }

    /// Shuttle: the descriptors exist from the start.
    #[cfg(feature = "shuttle")]
    fn commit_section(&self, _nr: u64) -> Result<()> {
        Ok(())
    }

    /// Remove section `nr`'s memmap (Present -> Absent) and give its memory
    /// back; it reads as zeros from now on. Caller holds `hotplug`.
    pub(crate) fn remove_section(&self, nr: u64) -> Result<()> {
        let pps = self.geo.pages_per_section();
        let pfn = nr * pps;
        match self.section_state(pfn)? {
            SectionState::Present => {}
            SectionState::Online => return Err(Error::SectionState { section: nr, what: "remove: section is online" }),
            SectionState::Absent => return Err(Error::SectionState { section: nr, what: "remove: section not present" }),
        }
        self.set_section_state(pfn, SectionState::Absent)?;
        self.zero_descriptors(pfn, pps)?;
        if let Some(m) = &self.frame_store {
            let len = pps as usize * PAGE_SIZE;
            // SAFETY: the range is the section's part of our own anonymous
            // frame mapping; after DONTNEED it reads as zeros; frames are
            // only accessed through `unsafe fn`s whose callers own the page,
            // and no page of a removed section is owned by anyone.
            unsafe { m.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, pfn as usize * PAGE_SIZE, len) }
                .map_err(|e| Error::Os(format!("madvise(DONTNEED) frames of section {nr}: {e}")))?;
        }
        Ok(())
    }

    /// Give the descriptors of `[pfn, pfn + n)` back: they read as zeros.
    #[cfg(not(feature = "shuttle"))]
    fn zero_descriptors(&self, pfn: Pfn, n: u64) -> Result<()> {
        let Vmemmap::Mmap(m) = &self.vmemmap_store;
        let size = std::mem::size_of::<Page>();
        // SAFETY: the range is a committed part of our own anonymous
        // mapping; after DONTNEED it reads as zeros, which is a valid bit
        // pattern for every descriptor field (all atomics); the mapping
        // stays in place, so concurrent readers never touch unmapped memory.
        unsafe { m.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, pfn as usize * size, n as usize * size) }
            .map_err(|e| Error::Os(format!("madvise(DONTNEED) of the memmap at pfn {pfn:#x}: {e}")))
    }

    /// Shuttle: zero the descriptors one by one.
    #[cfg(feature = "shuttle")]
    fn zero_descriptors(&self, pfn: Pfn, n: u64) -> Result<()> {
        let Vmemmap::Vec(v) = &self.vmemmap_store;
        v[pfn as usize..(pfn + n) as usize].iter().for_each(Page::reset);
        Ok(())
    }

    /// Test the side-bitmap bit of `pfn` (false for an unknown pfn).
    #[inline(always)]
    pub fn side_bit(&self, pfn: Pfn) -> bool {
        let i = pfn as usize;
        self.side_bitmap.get(i / 64).is_some_and(|w| w.load(Ordering::Relaxed) & (1 << (i % 64)) != 0)
    }

    /// Set or clear the side-bitmap bit of `pfn`.
    pub fn set_side_bit(&self, pfn: Pfn, on: bool) -> Result<()> {
        self.state_of(pfn)?;
        let i = pfn as usize;
        let w = &self.side_bitmap[i / 64];
        if on {
            w.fetch_or(1 << (i % 64), Ordering::Relaxed);
        } else {
            w.fetch_and(!(1 << (i % 64)), Ordering::Relaxed);
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
        if self.frames.is_null() || self.state_of(pfn)? == SectionState::Absent as u8 {
            return Err(Error::PfnNotPresent { pfn });
        }
        // SAFETY: a non-null `frames` points to the mapping of max_pfn
        // frames, which lives as long as the Memmap; state_of succeeded, so
        // pfn < max_pfn and the frame lies inside it.
        Ok(unsafe { self.frames.add(pfn as usize * PAGE_SIZE) })
    }

    /// Note that the frame of `pfn` was written (for [`Memmap::reset_frames`]).
    fn frame_written(&self, pfn: Pfn) {
        if let Some(w) = self.frames_written.get(pfn as usize / 64) {
            w.fetch_or(1 << (pfn % 64), Ordering::Relaxed);
        }
    }

    /// Zero every frame written since the memmap was created or last
    /// reset, as a fresh frame store reads. The caller owns the machine
    /// exclusively (a reset).
    pub(crate) fn reset_frames(&mut self) {
        for (i, w) in self.frames_written.iter_mut().enumerate() {
            let mut bits = std::mem::take(w.get_mut());
            while bits != 0 {
                let pfn = i * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                // SAFETY: &mut self: nothing else touches any frame; the
                // frame of a pfn we wrote lies inside the frame mapping.
                unsafe { std::ptr::write_bytes(self.frames.add(pfn * PAGE_SIZE), 0, PAGE_SIZE) };
            }
        }
    }

    /// Fill the frame of `pfn` with a pattern derived from `tag`.
    ///
    /// # Safety
    /// As for [`Memmap::frame_ptr`].
    pub unsafe fn frame_write_pattern(&self, pfn: Pfn, tag: u64) -> Result<()> {
        // SAFETY: forwarded contract; the frame is 4096 bytes, 8-aligned.
        let p = unsafe { self.frame_ptr(pfn)? } as *mut u64;
        self.frame_written(pfn);
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
        self.frame_written(dst);
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
        let m = Memmap::new(4, false, Geometry::X86_64).unwrap();
        assert_eq!(m.pfn_to_page(5).unwrap_err(), Error::PfnNotPresent { pfn: 5 });
        let pps = Geometry::X86_64.pages_per_section();
        let far = 4 * pps;
        assert_eq!(m.pfn_to_page(far).unwrap_err(), Error::PfnOutOfRange { pfn: far, max_pfn: far });
        m.add_section(1).unwrap();
        let pfn = pps + 17;
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
        let m = Memmap::new(2, false, Geometry::X86_64).unwrap();
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
        let m = Memmap::new(1, true, Geometry::X86_64).unwrap();
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
