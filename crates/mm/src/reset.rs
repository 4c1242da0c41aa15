//! Reset: a machine brought back to its state right after boot in place,
//! instead of a new boot — what a fuzz target does before each input
//! (libFuzzer's persistent mode: one process, millions of inputs). A boot
//! maps the vmemmap and the frame store, commits the boot sections and
//! frees their pages into buddy; a reset keeps the mappings and copies the
//! booted state back.
//!
//! [`System::boot_image`] records that state right after [`System::new`];
//! [`System::reset`] restores it. Every part of the system is either
//! copied from the image (the descriptors of every section committed at
//! boot, the section states, the pageblock migratetypes, the side bitmap,
//! the zone's free lists, pcp lists and counters, the memory blocks, the
//! page table, the hugetlb and memory-failure state, the recorded
//! violations, the notifier chain) or built new (every lock); a section
//! committed since boot is given back (its descriptors zeroed, its part of
//! the vmemmap inaccessible again) and every frame written since reads zeros
//! again. `reset` destructures the system without `..`, so a field added to
//! [`System`] does not compile until the reset handles it; a test compares
//! the whole state ([`System`]'s `Debug`) of a reset machine with a fresh
//! boot's.
//!
//! Under shuttle a reset runs between executions: it only assigns new
//! values (new atomics, new mutexes) and reads through
//! [`crate::sync::quiet_loads`], which need no execution; the machine's
//! shuttle objects are all new afterwards, as after a boot (their causality
//! clocks start empty: they are shuttle's bookkeeping, not the model's
//! state).
//!
//! Invariants: after `reset(img)` the machine equals the one `img` was
//! taken from when it was taken. Lock order: `boot_image` takes
//! zone->lock, `pcp_batch_high_lock`, ptl, `hugetlb_lock`, `mf_mutex`, the
//! violations' and the notifier chain's mutexes, one at a time; `reset`
//! takes none (`&mut self`).

use crate::error::{Error, Result};
use crate::hotplug::memory_block::MemoryBlock;
use crate::hotplug::notifier::MemoryNotifier;
use crate::hugetlb::state::HugetlbState;
use crate::memmap::MemmapImage;
use crate::memory_failure::state::MfState;
use crate::page_alloc::zone::ZoneImage;
use crate::page_alloc::{FreePath, Zone};
use crate::pgtable::{AddressSpace, PageTable, Pte};
use crate::sync::{plain, Arc, Mutex};
use crate::system::{Config, System};
use crate::violation::{Violation, Violations};

/// A machine's state right after boot ([`System::boot_image`]).
pub struct BootImage {
    cfg: Config,
    memmap: MemmapImage,
    zone: ZoneImage,
    blocks: Box<[MemoryBlock]>,
    ptes: Vec<Pte>,
    notifiers: Vec<Arc<dyn MemoryNotifier>>,
    violations: Vec<Violation>,
    num_poisoned_pages: i64,
    hugetlb: HugetlbState,
    mf: MfState,
}

impl<F: FreePath> System<F> {
    /// Record the machine's state, to [`System::reset`] it to later. Taken
    /// right after [`System::new`] (Err once a frame was written: a reset
    /// gives frames back as zeros). The machine must be quiescent: no CPU
    /// claimed, no operation running.
    pub fn boot_image(&self) -> Result<BootImage> {
        crate::sync::quiet_loads(|| {
            Ok(BootImage {
                cfg: self.cfg.clone(),
                memmap: self.memmap.image()?,
                zone: self.zone.image(),
                blocks: self.blocks.iter().map(MemoryBlock::copy).collect(),
                ptes: self.aspace.ptl.lock().entries().to_vec(),
                notifiers: self.notifiers.lock().clone(),
                violations: self.violations.snapshot(),
                num_poisoned_pages: self.num_poisoned_pages(),
                hugetlb: self.hugetlb.lock().clone(),
                mf: self.mf_mutex.lock().clone(),
            })
        })
    }

    /// Bring the machine back to `img` (see the module doc). Err if `img`
    /// is another machine's (another configuration) or an OS call fails.
    pub fn reset(&mut self, img: &BootImage) -> Result<()> {
        if img.cfg != self.cfg {
            return Err(Error::BadConfig("a boot image of another machine (another configuration)".into()));
        }
        // Every field by name: a new one does not compile until it is reset.
        let System {
            memmap,
            zone,
            cfg: _,
            blocks,
            aspace,
            notifiers,
            device_hotplug_lock,
            violations,
            num_poisoned_pages,
            hugetlb,
            mf_mutex,
            hugetlb_dtor: _,
            _f,
        } = self;
        crate::sync::quiet_loads(|| {
            memmap.restore(&img.memmap)?;
            *zone = Zone::from_image(&img.zone);
            *blocks = img.blocks.iter().map(MemoryBlock::copy).collect();
            *aspace = AddressSpace { ptl: Mutex::new(PageTable::from_entries(img.ptes.clone())) };
            *notifiers = Mutex::new(img.notifiers.clone());
            *device_hotplug_lock = Mutex::new(());
            *violations = Violations::from_vec(img.violations.clone());
            *num_poisoned_pages = plain::AtomicI64::new(img.num_poisoned_pages);
            *hugetlb = Mutex::new(img.hugetlb.clone());
            *mf_mutex = Mutex::new(img.mf.clone());
            Ok(())
        })
    }
}
