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
//! zeroes its descriptors and the frames written since they last read zeros
//! (stores: a freed range would fault back in page by page at the next
//! add). A committed part stays mapped until the `Memmap` is dropped or
//! reset ([`crate::reset`], which owns it), so a reader that raced with a
//! removal reads zeros or the old values, never unmapped memory — which is
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
//!   the `Memmap` is dropped or reset;
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
use crate::sync::plain::{AtomicBool, AtomicU64, AtomicU8, Ordering};
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
    /// The reserved mapping, committed per section: held so that it lives
    /// as long as the memmap (accessed through `vmemmap` only).
    #[cfg(not(feature = "shuttle"))]
    Mmap(#[allow(dead_code)] memmap2::MmapMut),
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
    /// Per section: its part of the vmemmap was committed (added once).
    committed: Box<[AtomicBool]>,
    /// The pfns looked up or written since the checker last drained them.
    #[cfg(feature = "track-touched")]
    touched: crate::touched::Touched,
    geo: Geometry,
    max_sections: usize,
    /// The kernel's mem_hotplug_lock (write side).
    pub(crate) hotplug: Mutex<()>,
    /// Owns the mappings the raw pointers point into.
    #[cfg_attr(not(feature = "shuttle"), allow(dead_code))]
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
            committed: zeroed(max_sections),
            #[cfg(feature = "track-touched")]
            touched: crate::touched::Touched::new(n),
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

    /// Note that `pfn` was looked at (with the feature `track-touched`;
    /// else nothing: see [`crate::touched`]).
    #[inline(always)]
    fn touch(&self, _pfn: Pfn) {
        #[cfg(feature = "track-touched")]
        self.touched.mark(_pfn);
    }

    /// The pfns looked up or written since they were last drained (None
    /// without the feature `track-touched`).
    pub fn touched(&self) -> Option<&crate::touched::Touched> {
        #[cfg(feature = "track-touched")]
        return Some(&self.touched);
        #[cfg(not(feature = "track-touched"))]
        None
    }

    /// `pfn_to_page`: the descriptor of a pfn whose section is present
    /// (online or not).
    #[inline(always)]
    pub fn pfn_to_page(&self, pfn: Pfn) -> Result<&Page> {
        if self.state_of(pfn)? == SectionState::Absent as u8 {
            return Err(Error::PfnNotPresent { pfn });
        }
        self.touch(pfn);
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
            s if s == SectionState::Online as u8 => {
                self.touch(pfn);
                // SAFETY: as in pfn_to_page: in range, and an online
                // section was added.
                Ok(unsafe { self.page_unchecked(pfn) })
            }
            s if s == SectionState::Present as u8 => Err(Error::PfnOffline { pfn }),
            _ => Err(Error::PfnNotPresent { pfn }),
        }
    }

    /// `pfn_to_online_page` for an observer (the checker): the same
    /// answer, and the pfn is not noted as touched ([`crate::touched`]).
    #[inline]
    pub(crate) fn observe_online_page(&self, pfn: Pfn) -> Result<&Page> {
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
        // Committed once, it stays so (the next add finds zeros there).
        if !self.committed[nr as usize].load(Ordering::Relaxed) {
            self.commit_section(nr)?;
            self.committed[nr as usize].store(true, Ordering::Relaxed);
        }
        let first = (pfn >> PAGEBLOCK_GRANULE_SHIFT) as usize;
        for pb in &self.pageblock[first..first + (pps >> PAGEBLOCK_GRANULE_SHIFT) as usize] {
            pb.store(0, Ordering::Relaxed);
        }
        self.set_section_state(pfn, SectionState::Present)
    }

    /// Make section `nr`'s part of the vmemmap accessible.
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
        self.zero_descriptors(pfn, pps);
        // SAFETY: frames are only accessed through `unsafe fn`s whose
        // callers own the page, and no page of a removed section is owned
        // by anyone.
        unsafe { self.zero_written_frames(pfn, pps) };
        Ok(())
    }

    /// Zero the descriptors of `[pfn, pfn + n)` (a committed range), field
    /// by field: a reader racing with the removal reads each field either
    /// old or zero, never unmapped memory.
    fn zero_descriptors(&self, pfn: Pfn, n: u64) {
        for p in pfn..pfn + n {
            // SAFETY: the callers pass a committed section's range, which
            // lies inside the vmemmap.
            unsafe { self.page_unchecked(p) }.reset();
        }
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

    /// Note that the frame of `pfn` was written (for [`Memmap::zero_written_frames`]).
    fn frame_written(&self, pfn: Pfn) {
        self.touch(pfn);
        if let Some(w) = self.frames_written.get(pfn as usize / 64) {
            w.fetch_or(1 << (pfn % 64), Ordering::Relaxed);
        }
    }

    /// Zero the frames of `[pfn, pfn + n)` written since they last read
    /// zeros (the others still do) and forget that they were written:
    /// stores to the few written frames instead of `MADV_DONTNEED` of the
    /// whole range, whose pages would fault back in at the next use.
    ///
    /// # Safety
    /// No page of the range is owned by anyone (a removed section, or the
    /// whole memmap under a reset's `&mut`): nothing reads or writes these
    /// frames meanwhile.
    unsafe fn zero_written_frames(&self, pfn: Pfn, n: u64) {
        if self.frames.is_null() {
            return;
        }
        let end = (pfn + n).min(self.max_pfn());
        let mut p = pfn;
        while p < end {
            let (word, bit) = ((p / 64) as usize, p % 64);
            let span = (64 - bit).min(end - p);
            let mask = if span == 64 { u64::MAX } else { ((1u64 << span) - 1) << bit };
            let mut bits = self.frames_written[word].fetch_and(!mask, Ordering::Relaxed) & mask;
            while bits != 0 {
                let f = word * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                // SAFETY: f < max_pfn, so its frame lies inside the frame
                // mapping; by the contract nobody uses it meanwhile.
                unsafe { std::ptr::write_bytes(self.frames.add(f * PAGE_SIZE), 0, PAGE_SIZE) };
            }
            p += span;
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

/// A memmap's state as plain values (a reset's image, [`crate::reset`]):
/// the descriptors of every committed section, the section states, the
/// pageblock migratetypes and the side bitmap.
pub(crate) struct MemmapImage {
    sections: Vec<(u64, Box<[Page]>)>,
    committed: Box<[bool]>,
    state: Box<[u8]>,
    pageblock: Box<[u8]>,
    side_bitmap: Box<[u64]>,
}

impl Memmap {
    /// The memmap's state (quiescent: under shuttle inside
    /// [`crate::sync::quiet_loads`]). Err if a frame was written: a reset
    /// gives frames back as zeros, so an image is only taken before that
    /// (right after boot, which writes none).
    pub(crate) fn image(&self) -> Result<MemmapImage> {
        if self.frames_written.iter().any(|w| w.load(Ordering::Relaxed) != 0) {
            return Err(Error::BadRequest("a memmap image is taken before any frame is written (right after boot)".into()));
        }
        let pps = self.geo.pages_per_section();
        let committed: Box<[bool]> = self.committed.iter().map(|c| c.load(Ordering::Relaxed)).collect();
        let sections = (0..self.max_sections as u64)
            .filter(|&nr| committed[nr as usize])
            .map(|nr| {
                // SAFETY: nr < max_sections and the section was committed,
                // which it stays for the Memmap's life (or until a reset,
                // which needs &mut self).
                let pages: Box<[Page]> = (nr * pps..(nr + 1) * pps).map(|pfn| unsafe { self.page_unchecked(pfn) }.copy()).collect();
                (nr, pages)
            })
            .collect();
        Ok(MemmapImage {
            sections,
            committed,
            state: self.state.iter().map(|s| s.load(Ordering::Relaxed)).collect(),
            pageblock: self.pageblock.iter().map(|s| s.load(Ordering::Relaxed)).collect(),
            side_bitmap: self.side_bitmap.iter().map(|s| s.load(Ordering::Relaxed)).collect(),
        })
    }

    /// Bring the memmap back to `img`: the image's sections get its
    /// descriptors, a section added since reads zeros (it stays committed,
    /// as after a removal: the next add needs no `mprotect`), every written
    /// frame reads zeros again, and the hotplug lock is a new one.
    /// `&mut self`: nothing else looks.
    pub(crate) fn restore(&mut self, img: &MemmapImage) -> Result<()> {
        let pps = self.geo.pages_per_section();
        for nr in 0..self.max_sections as u64 {
            // A removal zeroed its section already; a section still present
            // holds descriptors.
            let present = self.section_state_nr(nr)? != SectionState::Absent;
            if !img.committed[nr as usize] && present {
                self.clear_descriptors(nr * pps, pps)?;
            }
        }
        for (nr, pages) in &img.sections {
            self.set_descriptors(nr * pps, pages);
        }
        for (d, s) in self.state.iter_mut().zip(img.state.iter()) {
            *d.get_mut() = *s;
        }
        for (d, s) in self.pageblock.iter_mut().zip(img.pageblock.iter()) {
            *d.get_mut() = *s;
        }
        for (d, s) in self.side_bitmap.iter_mut().zip(img.side_bitmap.iter()) {
            *d.get_mut() = *s;
        }
        // SAFETY: &mut self: nothing else touches any frame.
        unsafe { self.zero_written_frames(0, self.max_pfn()) };
        self.hotplug = Mutex::new(());
        #[cfg(feature = "track-touched")]
        self.touched.clear();
        Ok(())
    }

    /// Overwrite the descriptors from `base` on with copies of `src`.
    #[cfg(not(feature = "shuttle"))]
    fn set_descriptors(&mut self, base: Pfn, src: &[Page]) {
        for (i, s) in src.iter().enumerate() {
            // SAFETY: the image holds only committed sections of this
            // memmap's geometry, so base + i < max_pfn inside a committed part.
            unsafe { self.page_unchecked(base + i as u64) }.set_from(s);
        }
    }

    /// Shuttle: assign copies (no shuttle atomic may be used outside an
    /// execution, and a reset runs between them).
    #[cfg(feature = "shuttle")]
    fn set_descriptors(&mut self, base: Pfn, src: &[Page]) {
        let Vmemmap::Vec(v) = &mut self.vmemmap_store;
        for (d, s) in v[base as usize..].iter_mut().zip(src) {
            *d = s.copy();
        }
    }

    /// Zero the descriptors of `[pfn, pfn + n)` (a committed range),
    /// owning the memmap.
    #[cfg(not(feature = "shuttle"))]
    fn clear_descriptors(&mut self, pfn: Pfn, n: u64) -> Result<()> {
        self.zero_descriptors(pfn, n);
        Ok(())
    }

    /// Shuttle: assign zeroed descriptors (outside an execution).
    #[cfg(feature = "shuttle")]
    fn clear_descriptors(&mut self, pfn: Pfn, n: u64) -> Result<()> {
        let Vmemmap::Vec(v) = &mut self.vmemmap_store;
        v[pfn as usize..(pfn + n) as usize].iter_mut().for_each(|p| *p = Page::ZEROED);
        Ok(())
    }
}

/// The memmap's whole state for comparisons (a reset against a fresh boot):
/// the per-granule bytes, the bitmaps, every section's descriptors (an
/// absent section's as "zero" when they all read zeros, as they must:
/// whether its part of the vmemmap was ever committed is the mapping's
/// business, not the machine's state), and a digest of every frame; not
/// the addresses of its mappings.
impl std::fmt::Debug for Memmap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The touched set is the checker's bookkeeping, not the machine's.
        let Memmap { vmemmap: _, frames: _, state, pageblock, side_bitmap, frames_written, committed, geo, max_sections, hotplug, vmemmap_store: _, frame_store, .. } = self;
        let pps = geo.pages_per_section();
        let bytes = |v: &[AtomicU8]| v.iter().map(|b| b.load(Ordering::Relaxed)).collect::<Vec<_>>();
        let words = |v: &[AtomicU64]| v.iter().map(|b| b.load(Ordering::Relaxed)).collect::<Vec<_>>();
        let mut d = f.debug_struct("Memmap");
        d.field("geometry", geo).field("max_sections", max_sections).field("hotplug", hotplug);
        d.field("state", &bytes(state)).field("pageblock", &bytes(pageblock));
        d.field("side_bitmap", &words(side_bitmap)).field("frames_written", &words(frames_written));
        for (nr, c) in committed.iter().enumerate() {
            if !c.load(Ordering::Relaxed) {
                d.field("section", &(nr, "zero"));
                continue;
            }
            // SAFETY: a committed section of this memmap.
            let pages: Vec<&Page> = (nr as u64 * pps..(nr as u64 + 1) * pps).map(|pfn| unsafe { self.page_unchecked(pfn) }).collect();
            let absent = self.section_state_nr(nr as u64) == Ok(SectionState::Absent);
            if absent && pages.iter().all(|p| p.is_zeroed()) {
                d.field("section", &(nr, "zero"));
            } else {
                d.field("section", &(nr, pages));
            }
        }
        if let Some(m) = frame_store {
            // FNV-1a over the words of every frame.
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            for w in m.chunks_exact(8) {
                h ^= u64::from_ne_bytes(w.try_into().unwrap_or_default());
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
            d.field("frames_fnv", &h);
        }
        d.finish()
    }
}

/// The word at index `i` of the pattern for `tag`: for each `i` a
/// bijection of the tag (an xor with a constant of `i`, then a multiply by
/// an odd constant), so two tags differ at every word and a frame holding
/// another page's contents fails wherever it is sampled. One multiply per
/// word: a THP fault fills its whole folio with it.
#[inline]
pub fn pattern_word(tag: u64, i: usize) -> u64 {
    (tag ^ (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)).wrapping_mul(0xbf58_476d_1ce4_e5b9)
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
