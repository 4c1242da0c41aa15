//! The drivers a scenario registers at boot (`drivers=` in its config):
//! virtio-mem over the blocks above the boot memory, the CMM balloon, the
//! Hyper-V-style balloon.
//!
//! Invariants: each driver is registered on the memory notifier chain once,
//! at boot. Lock order: none of its own.

use crate::scenario::ScConfig;
use mm::page_alloc::FreePath;
use mm::system::System;
use std::sync::Arc;

/// The drivers a scenario registers at boot (`drivers=` in its config).
#[derive(Default)]
pub struct DriverSet {
    pub virtio_mem: Option<Arc<mm::drivers::virtio_mem::VirtioMem>>,
    pub cmm: Option<Arc<mm::drivers::cmm::Cmm>>,
    pub hv_balloon: Option<Arc<mm::drivers::hv_balloon::HvBalloon>>,
}

impl DriverSet {
    /// Create and register the configured drivers (virtio-mem over the
    /// blocks above the boot memory).
    pub fn boot<F: FreePath>(sys: &System<F>, c: &ScConfig) -> Arc<DriverSet> {
        let mut d = DriverSet::default();
        let hot = c.max_sections as u64 - c.boot_sections;
        if c.virtio_mem && hot > 0 {
            let v = Arc::new(mm::drivers::virtio_mem::VirtioMem::new(&c.geometry, c.boot_sections, hot));
            sys.register_memory_notifier(v.clone());
            d.virtio_mem = Some(v);
        }
        if c.cmm {
            let v = Arc::new(mm::drivers::cmm::Cmm::new());
            sys.register_memory_notifier(v.clone());
            d.cmm = Some(v);
        }
        if c.hv_balloon {
            let v = Arc::new(mm::drivers::hv_balloon::HvBalloon::new());
            sys.register_memory_notifier(v.clone());
            d.hv_balloon = Some(v);
        }
        Arc::new(d)
    }
}
