//! Isolation, memory blocks and contiguous ranges (`mm/page_isolation.c`,
//! `mm/memory_hotplug.c`, `drivers/base/memory.c`, `alloc_contig_range` in
//! `mm/page_alloc.c`): `isolate_range`, `undo_isolate`, `test_isolated`,
//! `online`, `offline`, `add_memory`, `add_memory_failing`,
//! `remove_memory`, `alloc_contig`, `free_contig`.
//!
//! `block` names the `block`-th block in the state the op needs (offline
//! for `online` and `remove_memory`, online for `offline`, absent for
//! `add_memory`), or `block % max_sections` when there is none; `pb`..`n`
//! pageblocks of an online block, clamped to it; `i` the thread's held
//! isolations or ranges. The block ops first finish a virtio-mem unplug this
//! thread left pending: they may take virtio-mem's `hotplug_mutex`
//! (directly or from the memory notifier), which the pending unplug holds.

use super::{err, skip, Answer, Step};
use crate::harness::actor::{pick, Actor};
use crate::ops::{Op, OpError, OpResult as R, Resolved};
use mm::hotplug::memory_block::BlockState;
use mm::page_alloc::FreePath;
use mm::page_isolation::IsolFlags;
use mm::pageblock::MigrateType;

/// Isolation by hand (not for offline): hwpoisoned pages are unmovable.
const FLAGS: IsolFlags = IsolFlags { memory_offline: false, hwpoison_unmovable: false, hwpoison_skip_held: false };

impl<F: FreePath> Actor<'_, F> {
    pub(super) fn hotplug(&mut self, op: &Op, cpu: usize, st: &mut Step) -> Answer {
        let sys = self.sys;
        let mm = sys.memmap();
        Some(match *op {
            Op::IsolateRange { block, pb, n } => {
                let Some((start, end)) = self.pb_range(block, pb, n) else { return skip("no online block") };
                st.resolved(Resolved::IsolateRange { start, end });
                match sys.zone().start_isolate_page_range(mm, start, end, FLAGS) {
                    Ok(()) => {
                        self.h.isolations.push((start, end));
                        // As every caller does.
                        sys.drain_all_pages();
                        (R::Ok, false)
                    }
                    Err(x) => (R::Err(OpError::Isolate(x)), false),
                }
            }
            Op::UndoIsolate { i } => {
                let Some((start, end)) = pick(&self.h.isolations, i) else { return skip("no isolation held") };
                st.resolved(Resolved::UndoIsolate { start, end });
                self.h.isolations.retain(|&x| x != (start, end));
                sys.zone().undo_isolate_page_range(mm, start, end, MigrateType::Movable);
                (R::Ok, false)
            }
            Op::TestIsolated { i } => {
                let Some((start, end)) = pick(&self.h.isolations, i) else { return skip("no isolation held") };
                st.resolved(Resolved::TestIsolated { start, end });
                match sys.zone().test_pages_isolated(mm, start, end, FLAGS) {
                    Ok(()) => (R::Ok, false),
                    Err(p) => (R::Err(OpError::NotIsolated(p)), false),
                }
            }
            Op::Online { block } => {
                let block = self.block_for(BlockState::Offline, block);
                st.resolved(Resolved::Online { block });
                self.finish_vmem_unplug();
                (sys.online_memory_block(block).map_or_else(err, |()| R::Ok), false)
            }
            Op::Offline { block, .. } => {
                let block = self.block_for(BlockState::Online, block);
                st.resolved(Resolved::Offline { cpu, block });
                self.finish_vmem_unplug();
                self.let_go_of_offline_pages(cpu, block);
                (sys.offline_memory_block(self.cpu(cpu), block).map_or_else(err, |()| R::Ok), false)
            }
            Op::AddMemory { block, memmap_on_memory } => {
                let block = self.block_for(BlockState::Removed, block);
                let memmap_on_memory = memmap_on_memory && self.memmap_on_memory;
                st.resolved(Resolved::AddMemory { block, memmap_on_memory });
                self.finish_vmem_unplug();
                (sys.add_memory(block, memmap_on_memory).map_or_else(err, |()| R::Ok), false)
            }
            Op::AddMemoryFailing { block, memmap_on_memory } => {
                let block = self.block_for(BlockState::Removed, block);
                let memmap_on_memory = memmap_on_memory && self.memmap_on_memory;
                st.resolved(Resolved::AddMemoryFailing { block, memmap_on_memory });
                self.finish_vmem_unplug();
                (sys.add_memory_failing(block, memmap_on_memory).map_or_else(err, |()| R::Ok), false)
            }
            Op::RemoveMemory { block } => {
                let block = self.block_for(BlockState::Offline, block);
                st.resolved(Resolved::RemoveMemory { block });
                self.finish_vmem_unplug();
                (sys.remove_memory(block).map_or_else(err, |()| R::Ok), false)
            }
            Op::AllocContig { block, pb, n, .. } => {
                let Some((start, end)) = self.pb_range(block, pb, n) else { return skip("no online block") };
                st.resolved(Resolved::AllocContig { cpu, start, end });
                match mm::contig::alloc_contig_range(self.cpu(cpu), start, end) {
                    Ok(()) => {
                        self.h.contig.push((start, end - start));
                        (R::Ok, false)
                    }
                    Err(x) => (err(x), false),
                }
            }
            Op::FreeContig { i, .. } => {
                let Some((start, nr)) = pick(&self.h.contig, i) else { return skip("no contiguous range held") };
                st.resolved(Resolved::FreeContig { cpu, start, end: start + nr });
                self.h.contig.retain(|&x| x != (start, nr));
                match mm::contig::free_contig_range(self.cpu(cpu), start, nr) {
                    Ok(n) => (R::Count(n), false),
                    Err(x) => (err(x), true),
                }
            }
            _ => return None,
        })
    }
}
