//! Booting a machine (`mm_init` / `memblock` → `add_memory` + online of the
//! boot memory, in miniature): [`System::new`] builds the memmap, the zone
//! and the CPU slots, and adds and onlines the boot sections through
//! memory hotplug, as the kernel's boot memory is hotplug-described.
//!
//! The top of the crate's layers: it wires the layers below together (the
//! hugetlb destructor the put path calls).
//!
//! Invariants: after `new`, the boot sections are online, every free page
//! is in buddy, every pcp list is empty. Lock order: as memory hotplug's.

use crate::error::Result;
use crate::hotplug::memory_block::MemoryBlock;
use crate::memmap::Memmap;
use crate::page_alloc::{FreePath, Zone};
use crate::pgtable::AddressSpace;
use crate::sync::Mutex;
use crate::system::{Config, System};
use std::marker::PhantomData;

impl<F: FreePath> System<F> {
    /// Build the machine: add and online the boot sections.
    pub fn new(cfg: Config) -> Result<Self> {
        cfg.validate()?;
        crate::sync::init_barriers()?;
        let sys = System {
            memmap: Memmap::new(cfg.max_sections, cfg.frame_store, cfg.geometry)?,
            zone: Zone::new(cfg.nr_cpus, cfg.pcp_high, cfg.pcp_batch, cfg.design.has(crate::design::Switch::FreePrepareHwpoisonOrder0Only)),
            blocks: (0..cfg.max_sections).map(|_| MemoryBlock::default()).collect(),
            aspace: AddressSpace::new(cfg.nr_vpages),
            notifiers: Mutex::new(Vec::new()),
            device_hotplug_lock: Mutex::new(()),
            violations: Default::default(),
            num_poisoned_pages: crate::sync::plain::AtomicI64::new(0),
            hugetlb: Mutex::new(Default::default()),
            mf_mutex: Mutex::new(Default::default()),
            hugetlb_dtor: System::free_huge_folio_finish,
            cfg,
            _f: PhantomData,
        };
        for nr in 0..sys.cfg.boot_sections() {
            sys.add_memory(nr, false)?;
            sys.online_boot_block(nr)?;
        }
        Ok(sys)
    }
}
