//! The harness's hwpoison and hugetlb ops (`memory_failure`,
//! `soft_offline`, `unpoison`, `soft_offline_begin` / `soft_offline_step`,
//! `hugetlb_pool`, `hugetlb_reserve`, `hugetlb_unreserve`, `hugetlb_fault`,
//! `hugetlb_free`, `dissolve`): how their operands resolve and how they are
//! run (`mm/memory-failure.c`, `mm/hugetlb.c` through [`System`]'s methods).
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
//!
//! Invariants: none of its own (the checker judges). Lock order: the
//! harness holds `mf_mutex` (inside the held soft offline) only between
//! this thread's ops, and `mf_mutex` is the outermost lock of the core.

use super::{lock, pick, Actor};
use crate::memory_block::BlockState;
use crate::memory_failure::MfResult;
use crate::model::Resolved;
use crate::ops::{Op, OpResult, Target};
use crate::page_alloc::FreePath;
use crate::{Pfn, PAGEBLOCK_NR_PAGES, PAGES_PER_SECTION};

impl<'s, F: FreePath> Actor<'s, F> {
    /// The heads of the hugetlb folios of online memory, in pfn order
    /// (a folio is pageblock-sized and aligned: one look per pageblock).
    pub(super) fn hugetlb_heads(&self) -> Vec<Pfn> {
        let mut v = Vec::new();
        for nr in self.blocks_in(BlockState::Online) {
            let base = nr * PAGES_PER_SECTION;
            for pfn in (base..base + PAGES_PER_SECTION).step_by(PAGEBLOCK_NR_PAGES as usize) {
                if self.sys.pfn_to_page(pfn).is_ok_and(|p| p.PageHugetlb() && !p.PageTail()) {
                    v.push(pfn);
                }
            }
        }
        v
    }

    /// The page a hwpoison op names: a `pfn:` target is any pfn the memmap
    /// can describe (online, offline or absent: the pfn of a machine check
    /// or of the injection interface), the others resolve as usual.
    fn hw_target(&self, t: Target) -> Option<Pfn> {
        match t {
            Target::Pfn { pfn } => Some(self.any_pfn(pfn)),
            t => self.target(t),
        }
    }

    /// Resolve one of this module's ops (`cpu`: the acting CPU).
    pub(super) fn resolve_hw(&self, op: &Op, cpu: usize) -> Resolved {
        let no = Resolved::Skip("no target page");
        match *op {
            Op::MemoryFailure { target, .. } => self.hw_target(target).map_or(no, |pfn| Resolved::MemoryFailure { cpu, pfn }),
            Op::SoftOffline { target, .. } => self.hw_target(target).map_or(no, |pfn| Resolved::SoftOffline { cpu, pfn }),
            // unpoison_memory is the kernel's test interface and assumes
            // memory_failure contained the page (took it off buddy, or holds
            // its reference): on a flagged page memory_failure only gave up
            // on (Ignored, Delayed, Failed: its owner still holds it) it
            // drops the owner's reference, in the kernel as in the model.
            // The harness unpoisons contained pages, and unflagged ones for
            // the error path.
            Op::Unpoison { target, .. } => match self.hw_target(target) {
                Some(pfn) if self.poisoned_page(pfn) && !lock(&self.shared.poisoned).contains(&pfn) => {
                    Resolved::Skip("flagged but not contained by memory_failure: unpoison would drop its owner's reference")
                }
                Some(pfn) => Resolved::Unpoison { cpu, pfn },
                None => no,
            },
            Op::SoftOfflineBegin { target, .. } => self.hw_target(target).map_or(no, |pfn| Resolved::SoftOfflineBegin { cpu, pfn }),
            Op::SoftOfflineStep {} => match &self.soft {
                Some((c, so)) => Resolved::SoftOfflineStep { cpu: *c, pfn: so.pfn() },
                None => Resolved::Skip("no soft offline in progress"),
            },
            Op::HugetlbPool { n, .. } => Resolved::HugetlbPool { cpu, n: n.0 as usize },
            Op::HugetlbReserve { n } => Resolved::HugetlbReserve { n: n.0 as u64 },
            Op::HugetlbUnreserve { n } => Resolved::HugetlbUnreserve { n: n.0 as u64 },
            Op::HugetlbFault {} => Resolved::HugetlbFault,
            Op::HugetlbFree { i } => pick(&self.sys.hugetlb_mapped(), i).map_or(Resolved::Skip("no hugetlb folio mapped"), |pfn| Resolved::HugetlbFree { pfn }),
            Op::Dissolve { target } => self.target(target).map_or(no, |pfn| Resolved::Dissolve { pfn }),
            _ => Resolved::Skip("not a hwpoison or hugetlb op"),
        }
    }

    fn note_poisoned(&self, pfn: Pfn) {
        let mut p = lock(&self.shared.poisoned);
        if !p.contains(&pfn) {
            p.push(pfn);
        }
    }

    /// Run this thread's soft offline in progress, if any, to its end.
    pub(super) fn finish_soft_offline(&mut self) -> Option<crate::Result<()>> {
        let (c, mut so) = self.soft.take()?;
        let r = loop {
            if let Some(r) = so.step(self.cpu(c)) {
                break r;
            }
        };
        if r.is_ok() {
            self.note_poisoned(so.pfn());
        }
        Some(r)
    }

    /// Run one of this module's resolved ops; like [`Actor::exec`].
    pub(super) fn exec_hw(&mut self, r: &Resolved) -> (OpResult, bool) {
        use OpResult as R;
        let sys = self.sys;
        let e = |x: crate::Error| R::Err(x.to_string());
        if matches!(r, Resolved::MemoryFailure { .. } | Resolved::SoftOffline { .. } | Resolved::Unpoison { .. } | Resolved::SoftOfflineBegin { .. }) {
            // mf_mutex is not reentrant.
            self.finish_soft_offline();
        }
        match *r {
            Resolved::MemoryFailure { cpu, pfn } => match sys.memory_failure(self.cpu(cpu), pfn) {
                Ok(res) => {
                    // Only contained pages: see the unpoison resolution.
                    if res == MfResult::Recovered {
                        self.note_poisoned(pfn);
                    }
                    (R::Text(format!("{res:?}")), false)
                }
                Err(x) => (e(x), false),
            },
            Resolved::SoftOffline { cpu, pfn } => match sys.soft_offline_page(self.cpu(cpu), pfn) {
                Ok(()) => {
                    self.note_poisoned(pfn);
                    (R::Ok, false)
                }
                Err(x) => (e(x), false),
            },
            Resolved::Unpoison { cpu, pfn } => match sys.unpoison_memory(self.cpu(cpu), pfn) {
                Ok(()) => {
                    lock(&self.shared.poisoned).retain(|&p| p != pfn);
                    (R::Ok, false)
                }
                Err(x) => (e(x), false),
            },
            Resolved::SoftOfflineBegin { cpu, pfn } => match sys.soft_offline_begin(pfn) {
                Ok(mut so) => match so.step(self.cpu(cpu)) {
                    Some(Ok(())) => {
                        self.note_poisoned(pfn);
                        (R::Text("done: ok".into()), false)
                    }
                    Some(Err(x)) => (R::Text(format!("done: {x}")), false),
                    None => {
                        self.soft = Some((cpu, so));
                        (R::Text("in progress".into()), false)
                    }
                },
                Err(x) => (e(x), false),
            },
            Resolved::SoftOfflineStep { cpu, .. } => {
                let Some((c, mut so)) = self.soft.take() else { return (R::Skip("no soft offline in progress"), false) };
                debug_assert_eq!(c, cpu);
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
            Resolved::HugetlbPool { cpu, n } => (sys.hugetlb_alloc_pool(self.cpu(cpu), n).map_or_else(e, |k| R::Count(k as u64)), false),
            Resolved::HugetlbReserve { n } => (sys.hugetlb_reserve(n).map_or_else(e, |()| R::Ok), false),
            Resolved::HugetlbUnreserve { n } => (sys.hugetlb_unreserve(n).map_or_else(e, |()| R::Ok), false),
            Resolved::HugetlbFault => (sys.hugetlb_fault().map_or_else(e, R::Pfn), false),
            Resolved::HugetlbFree { pfn } => (sys.hugetlb_free(pfn).map_or_else(e, |()| R::Ok), false),
            Resolved::Dissolve { pfn } => (sys.dissolve_free_hugetlb_folio(pfn).map_or_else(e, |()| R::Ok), false),
            _ => (R::Skip("not a hwpoison or hugetlb op"), false),
        }
    }
}
