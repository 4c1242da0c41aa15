//! Memory failure and hugetlb (`mm/memory-failure.c`, `mm/hugetlb.c`):
//! `memory_failure`, `soft_offline`, `unpoison`, `soft_offline_begin`,
//! `soft_offline_step`, `hugetlb_pool`, `hugetlb_reserve`,
//! `hugetlb_unreserve`, `hugetlb_fault`, `hugetlb_free`, `dissolve`.
//!
//! Resolution: `huge:` targets index the hugetlb folios of online memory in
//! pfn order, whatever their state (free, mapped, being prepared by
//! `hugetlb_pool` or freed by `hugetlb_free` on another thread: the windows
//! of C7 and C6); `hugetlb_free i` indexes the present entries of the one
//! hugetlbfs mapping (any thread's); `poisoned:` targets the pages the
//! harness poisoned, so `unpoison` mostly hits one. The hwpoison ops take a
//! `pfn:` target as any pfn the memmap can describe, not only online ones
//! (a machine check or the injection interface names a raw pfn: C10).
//!
//! A stepwise soft offline (`soft_offline_begin`) holds `mf_mutex` between
//! ops, which is not reentrant: an op of the same thread that takes it
//! (`memory_failure`, `soft_offline`, `unpoison`, another
//! `soft_offline_begin`) first runs the held one to its end, and so does
//! the end of the thread (the actor's drop).

use super::{err, skip, Answer, Step};
use crate::harness::actor::{pick, Actor};
use crate::harness::lock;
use crate::ops::{Op, OpResult as R, Resolved};
use mm::memory_failure::MfResult;
use mm::page_alloc::FreePath;

impl<'s, F: FreePath> Actor<'s, F> {
    pub(super) fn hwpoison(&mut self, op: &Op, cpu: usize, st: &mut Step) -> Answer {
        let sys = self.sys;
        Some(match *op {
            Op::MemoryFailure { target, .. } => {
                let Some(pfn) = self.hw_target(target) else { return skip("no target page") };
                st.resolved(Resolved::MemoryFailure { cpu, pfn });
                self.finish_soft_offline();
                match sys.memory_failure(self.cpu(cpu), pfn) {
                    Ok(res) => {
                        // Only contained pages: see `unpoison`.
                        if res == MfResult::Recovered {
                            self.note_poisoned(pfn);
                        }
                        (R::Text(format!("{res:?}")), false)
                    }
                    Err(x) => (err(x), false),
                }
            }
            Op::SoftOffline { target, .. } => {
                let Some(pfn) = self.hw_target(target) else { return skip("no target page") };
                st.resolved(Resolved::SoftOffline { cpu, pfn });
                self.finish_soft_offline();
                match sys.soft_offline_page(self.cpu(cpu), pfn) {
                    Ok(()) => {
                        self.note_poisoned(pfn);
                        (R::Ok, false)
                    }
                    Err(x) => (err(x), false),
                }
            }
            Op::Unpoison { target, .. } => {
                let Some(pfn) = self.hw_target(target) else { return skip("no target page") };
                // unpoison_memory is the kernel's test interface and assumes
                // memory_failure contained the page (took it off buddy, or
                // holds its reference): on a flagged page memory_failure only
                // gave up on (Ignored, Delayed, Failed: its owner still holds
                // it) it drops the owner's reference, in the kernel as in the
                // model. The harness unpoisons contained pages, and unflagged
                // ones for the error path.
                if self.poisoned_page(pfn) && !lock(&self.shared.poisoned).contains(&pfn) {
                    return skip("flagged but not contained by memory_failure: unpoison would drop its owner's reference");
                }
                st.resolved(Resolved::Unpoison { cpu, pfn });
                self.finish_soft_offline();
                match sys.unpoison_memory(self.cpu(cpu), pfn) {
                    Ok(()) => {
                        lock(&self.shared.poisoned).retain(|&p| p != pfn);
                        (R::Ok, false)
                    }
                    Err(x) => (err(x), false),
                }
            }
            Op::SoftOfflineBegin { target, .. } => {
                let Some(pfn) = self.hw_target(target) else { return skip("no target page") };
                st.resolved(Resolved::SoftOfflineBegin { cpu, pfn });
                self.finish_soft_offline();
                match sys.soft_offline_begin(pfn) {
                    Ok(so) => self.soft_offline_step(cpu, so),
                    Err(x) => (err(x), false),
                }
            }
            Op::SoftOfflineStep {} => {
                let Some((c, so)) = self.soft.take() else { return skip("no soft offline in progress") };
                st.resolved(Resolved::SoftOfflineStep { cpu: c, pfn: so.pfn() });
                self.soft_offline_step(c, so)
            }
            Op::HugetlbPool { n, .. } => {
                let n = n.0 as usize;
                st.resolved(Resolved::HugetlbPool { cpu, n });
                (sys.hugetlb_alloc_pool(self.cpu(cpu), n).map_or_else(err, |k| R::Count(k as u64)), false)
            }
            Op::HugetlbReserve { n } => {
                let n = n.0 as u64;
                st.resolved(Resolved::HugetlbReserve { n });
                (sys.hugetlb_reserve(n).map_or_else(err, |()| R::Ok), false)
            }
            Op::HugetlbUnreserve { n } => {
                let n = n.0 as u64;
                st.resolved(Resolved::HugetlbUnreserve { n });
                (sys.hugetlb_unreserve(n).map_or_else(err, |()| R::Ok), false)
            }
            Op::HugetlbFault {} => {
                st.resolved(Resolved::HugetlbFault {});
                (sys.hugetlb_fault().map_or_else(err, R::Pfn), false)
            }
            Op::HugetlbFree { i } => {
                let Some(pfn) = pick(&sys.hugetlb_mapped(), i) else { return skip("no hugetlb folio mapped") };
                st.resolved(Resolved::HugetlbFree { pfn });
                (sys.hugetlb_free(pfn).map_or_else(err, |()| R::Ok), false)
            }
            Op::Dissolve { target } => {
                let Some(pfn) = self.target(target) else { return skip("no target page") };
                st.resolved(Resolved::Dissolve { pfn });
                (sys.dissolve_free_hugetlb_folio(pfn).map_or_else(err, |()| R::Ok), false)
            }
            _ => return None,
        })
    }

    /// One step of a soft offline on CPU `c`: done (noting the page when it
    /// succeeded), or kept in progress for `soft_offline_step`.
    fn soft_offline_step(&mut self, c: usize, mut so: mm::memory_failure::SoftOffline<'s, F>) -> (R, bool) {
        match so.step(self.cpu(c)) {
            Some(Ok(())) => {
                self.note_poisoned(so.pfn());
                (R::Text("done: ok".into()), false)
            }
            Some(Err(x)) => (R::Text(format!("done: {x}")), false),
            None => {
                self.soft = Some((c, so));
                (R::Text("in progress".into()), false)
            }
        }
    }
}
