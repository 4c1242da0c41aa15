//! The PageOffline drivers (`drivers/virtio/virtio_mem.c`,
//! `arch/powerpc/platforms/pseries/cmm.c`, `drivers/hv/hv_balloon.c`):
//! `vmem_plug`, `vmem_unplug`, `vmem_unplug_begin`, `vmem_unplug_finish`,
//! `cmm_inflate`, `cmm_deflate`, `hv_inflate`, `hv_deflate`.
//!
//! A driver op on a machine without that driver (`drivers=` in the config)
//! is skipped. `sb` names the `sb`-th subblock in the state the op needs
//! (unplugged for a plug, plugged for an unplug), or `sb` modulo the
//! subblocks when there is none, so the error path runs. A plug or unplug
//! first finishes an unplug this thread left pending (virtio-mem's
//! `hotplug_mutex` is not reentrant).

use super::{err, skip, Answer, Step};
use crate::harness::actor::{vmem_subblock, Actor};
use crate::ops::{Op, OpResult as R, Resolved};
use mm::page_alloc::FreePath;

const NO_VMEM: &str = "no virtio-mem device (config drivers=virtio_mem)";

impl<F: FreePath> Actor<'_, F> {
    pub(super) fn drivers(&mut self, op: &Op, cpu: usize, st: &mut Step) -> Answer {
        let count = |r: mm::Result<usize>| (r.map_or_else(err, |k| R::Count(k as u64)), false);
        Some(match *op {
            Op::VmemPlug { sb, .. } => {
                let Some(v) = self.drivers.virtio_mem.clone() else { return skip(NO_VMEM) };
                let sb = vmem_subblock(&v, false, sb);
                st.resolved(Resolved::VmemPlug { cpu, sb });
                self.finish_vmem_unplug();
                (v.plug(self.cpu(cpu), sb).map_or_else(err, |()| R::Ok), false)
            }
            Op::VmemUnplug { sb, .. } => {
                let Some(v) = self.drivers.virtio_mem.clone() else { return skip(NO_VMEM) };
                let sb = vmem_subblock(&v, true, sb);
                st.resolved(Resolved::VmemUnplug { cpu, sb });
                self.finish_vmem_unplug();
                (v.unplug(self.cpu(cpu), sb).map_or_else(err, |()| R::Ok), false)
            }
            Op::VmemUnplugBegin { sb, .. } => {
                let Some(v) = self.drivers.virtio_mem.clone() else { return skip(NO_VMEM) };
                let sb = vmem_subblock(&v, true, sb);
                st.resolved(Resolved::VmemUnplugBegin { cpu, sb });
                self.finish_vmem_unplug();
                match v.unplug_begin(self.cpu(cpu), sb) {
                    Ok(pfn) => {
                        self.vmem_pending = Some(cpu);
                        (R::Pfn(pfn), false)
                    }
                    Err(x) => (err(x), false),
                }
            }
            Op::VmemUnplugFinish {} => {
                let Some(cpu) = self.vmem_pending else { return skip("no virtio-mem unplug pending on this thread") };
                st.resolved(Resolved::VmemUnplugFinish { cpu });
                match self.finish_vmem_unplug() {
                    Some(Ok(())) => (R::Ok, false),
                    // The unplug this thread holds must be able to finish.
                    Some(Err(x)) => (err(x), true),
                    None => (R::Skip("no virtio-mem unplug pending"), false),
                }
            }
            Op::CmmInflate { n, .. } => {
                let Some(d) = self.drivers.cmm.clone() else { return skip("no CMM balloon (config drivers=cmm)") };
                st.resolved(Resolved::CmmInflate { cpu, n: n as usize });
                count(d.inflate(self.cpu(cpu), n as usize))
            }
            Op::CmmDeflate { n, .. } => {
                let Some(d) = self.drivers.cmm.clone() else { return skip("no CMM balloon (config drivers=cmm)") };
                st.resolved(Resolved::CmmDeflate { cpu, n: n as usize });
                count(d.deflate(self.cpu(cpu), n as usize))
            }
            Op::HvInflate { n, .. } => {
                let Some(d) = self.drivers.hv_balloon.clone() else { return skip("no Hyper-V balloon (config drivers=hv_balloon)") };
                st.resolved(Resolved::HvInflate { cpu, n: n as usize });
                count(d.inflate(self.cpu(cpu), n as usize))
            }
            Op::HvDeflate { n, .. } => {
                let Some(d) = self.drivers.hv_balloon.clone() else { return skip("no Hyper-V balloon (config drivers=hv_balloon)") };
                st.resolved(Resolved::HvDeflate { cpu, n: n as usize });
                count(d.deflate(self.cpu(cpu), n as usize))
            }
            _ => return None,
        })
    }
}
