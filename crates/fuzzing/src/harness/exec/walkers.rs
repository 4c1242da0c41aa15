//! Compaction and pfn walkers (`mm/compaction.c`, `fs/proc/page.c`,
//! `/proc/kcore` readers, `drivers/base/memory.c`): `compact`,
//! `compact_at`, `scan_isolate`, `walk_get`, `walk_put`, `kpageflags`, `dump_read`,
//! `valid_zones`.
//!
//! `compact_at` compacts the pageblock holding a target page (what the
//! scanner meets when it walks a range with something in it); `kpageflags`
//! and `dump_read` take any pfn the memmap can describe (online, offline or
//! absent), `valid_zones` any block. A walker's reference on a page that is
//! PageOffline or PG_hwpoison by the time it looks is dropped at once, like
//! `get_unless_zero`'s.

use super::{err, skip, Answer, Step};
use crate::harness::actor::{pick, Actor};
use crate::ops::{Op, OpResult as R, Resolved, Target};
use mm::Pfn;
use mm::page_alloc::FreePath;

impl<F: FreePath> Actor<'_, F> {
    /// The pageblock holding an online target page, as (start, end).
    fn target_pageblock(&self, target: Target) -> Result<(Pfn, Pfn), &'static str> {
        let pfn = self.target(target).ok_or("no target page")?;
        if self.sys.memmap().pfn_to_online_page(pfn).is_err() {
            return Err("the target page is not online");
        }
        let pb = self.sys.geometry().pageblock_nr_pages();
        let start = pfn & !(pb - 1);
        Ok((start, start + pb))
    }

    pub(super) fn walkers(&mut self, op: &Op, cpu: usize, st: &mut Step) -> Answer {
        let sys = self.sys;
        Some(match *op {
            Op::Compact { block, pb, n, .. } => {
                let Some((start, end)) = self.pb_range(block, pb, n) else { return skip("no online block") };
                st.resolved(Resolved::Compact { cpu, start, end });
                match self.cpu(cpu).compact_range(start, end) {
                    Ok(r) => (R::Compact(r), false),
                    Err(x) => (err(x), false),
                }
            }
            Op::CompactAt { target, .. } => {
                let (start, end) = match self.target_pageblock(target) {
                    Ok(r) => r,
                    Err(why) => return skip(why),
                };
                st.resolved(Resolved::CompactAt { cpu, start, end });
                match self.cpu(cpu).compact_range(start, end) {
                    Ok(r) => (R::Compact(r), false),
                    Err(x) => (err(x), false),
                }
            }
            Op::ScanIsolate { target, .. } => {
                let (start, end) = match self.target_pageblock(target) {
                    Ok(r) => r,
                    Err(why) => return skip(why),
                };
                st.resolved(Resolved::ScanIsolate { cpu, start, end });
                let isolated = self.cpu(cpu).isolate_migratepages_block(start, end);
                let n = isolated.len() as u64;
                self.h.lru.extend(isolated);
                (R::Count(n), false)
            }
            Op::WalkGet { target, .. } => {
                let Some(pfn) = self.target(target) else { return skip("no target page") };
                st.resolved(Resolved::WalkGet { cpu, pfn });
                match mm::drivers::walker_get(self.cpu(cpu), pfn) {
                    Ok(true) if self.offline_page(pfn) || self.poisoned_page(pfn) => (
                        mm::drivers::walker_put(self.cpu(cpu), pfn)
                            .map_or_else(err, |()| R::Text("true, dropped at once (PageOffline or PG_hwpoison)".into())),
                        false,
                    ),
                    Ok(true) => {
                        self.h.specs.push(pfn);
                        (R::Bool(true), false)
                    }
                    Ok(false) => (R::Bool(false), false),
                    Err(x) => (err(x), false),
                }
            }
            Op::WalkPut { s, .. } => {
                let Some(pfn) = pick(&self.h.specs, s) else { return skip("no speculative reference held") };
                st.resolved(Resolved::WalkPut { cpu, pfn });
                if let Some(i) = self.h.specs.iter().position(|&p| p == pfn) {
                    self.h.specs.remove(i);
                }
                // A refused PageOffline page (V4) is an error by design; the
                // violation is what reports it.
                (mm::drivers::walker_put(self.cpu(cpu), pfn).map_or_else(err, |()| R::Ok), false)
            }
            Op::Kpageflags { pfn } => {
                let pfn = self.any_pfn(pfn);
                st.resolved(Resolved::Kpageflags { pfn });
                (sys.kpageflags(pfn).map_or_else(err, R::Count), false)
            }
            Op::DumpRead { pfn } => {
                let pfn = self.any_pfn(pfn);
                st.resolved(Resolved::DumpRead { pfn });
                (sys.dump_tool_read(pfn).map_or_else(err, R::Dump), false)
            }
            Op::ValidZones { block } => {
                let block = block as u64 % sys.config().max_sections as u64;
                st.resolved(Resolved::ValidZones { block });
                (sys.valid_zones(block).map_or_else(err, R::Text), false)
            }
            _ => return None,
        })
    }
}
