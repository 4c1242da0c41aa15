//! Allocation, references and pcp drains (`mm/page_alloc.c`,
//! `include/linux/mm.h`): `alloc`, `free`, `get`, `put`,
//! `get_unless_zero`, `put_spec`, `drain_local`, `drain_all`.
//!
//! `a` indexes the acting thread's live allocations; `get_unless_zero`
//! takes any target, and a reference it gets on a PageOffline or
//! PG_hwpoison page is dropped at once (a pfn walker checks what it got and
//! lets go of pages that are not its business: a PageOffline page belongs
//! to its driver, a PG_hwpoison one to memory_failure, which keeps it at
//! refcount 1, H2).

use super::{err, skip, Answer, Step};
use crate::harness::actor::{pick, Actor, Alloc};
use crate::harness::lock;
use crate::ops::{Op, OpResult as R, Order, Resolved};
use mm::page_alloc::FreePath;

impl<F: FreePath> Actor<'_, F> {
    fn alloc_of(&self, a: u8) -> Option<(mm::Pfn, u32)> {
        pick(&self.h.allocs.iter().map(|x| (x.pfn, x.order)).collect::<Vec<_>>(), a)
    }

    pub(super) fn refs(&mut self, op: &Op, cpu: usize, st: &mut Step) -> Answer {
        Some(match *op {
            Op::Alloc { order: Order(o), mt, .. } => {
                let (order, mt) = (o as u32, mt.migratetype());
                st.resolved(Resolved::Alloc { cpu, order, mt });
                match self.cpu(cpu).alloc_pages(order, mt) {
                    Ok(pfn) => {
                        self.h.allocs.push(Alloc { pfn, order, refs: 1 });
                        lock(&self.shared.allocs).push((pfn, order));
                        (R::Pfn(pfn), false)
                    }
                    Err(x) => (err(x), false),
                }
            }
            Op::Free { a, .. } => {
                let Some((pfn, order)) = self.alloc_of(a) else { return skip("no live allocation") };
                st.resolved(Resolved::Free { cpu, pfn, order });
                match self.cpu(cpu).free_pages(pfn, order) {
                    Ok(()) => {
                        self.drop_alloc_ref(pfn);
                        (R::Ok, false)
                    }
                    Err(x) => (err(x), true),
                }
            }
            Op::Get { a, .. } => {
                let Some((pfn, _)) = self.alloc_of(a) else { return skip("no live allocation") };
                st.resolved(Resolved::Get { cpu, pfn });
                match self.cpu(cpu).get_page(pfn) {
                    Ok(()) => {
                        if let Some(a) = self.h.allocs.iter_mut().find(|a| a.pfn == pfn) {
                            a.refs += 1;
                        }
                        (R::Ok, false)
                    }
                    Err(x) => (err(x), true),
                }
            }
            Op::Put { a, .. } => {
                let Some((pfn, _)) = self.alloc_of(a) else { return skip("no live allocation") };
                st.resolved(Resolved::Put { cpu, pfn });
                match self.cpu(cpu).put_page(pfn) {
                    Ok(()) => {
                        self.drop_alloc_ref(pfn);
                        (R::Ok, false)
                    }
                    Err(x) => (err(x), true),
                }
            }
            Op::GetUnlessZero { target, .. } => {
                let Some(pfn) = self.target(target) else { return skip("no target page") };
                st.resolved(Resolved::GetUnlessZero { cpu, pfn });
                match self.cpu(cpu).get_page_unless_zero(pfn) {
                    Ok(true) if self.offline_page(pfn) || self.poisoned_page(pfn) => match self.cpu(cpu).put_page(pfn) {
                        Ok(()) => (R::Text("true, dropped at once (PageOffline or PG_hwpoison)".into()), false),
                        Err(x) => (err(x), true),
                    },
                    Ok(true) => {
                        self.h.specs.push(pfn);
                        (R::Bool(true), false)
                    }
                    Ok(false) => (R::Bool(false), false),
                    Err(x) => (err(x), false),
                }
            }
            Op::PutSpec { s, .. } => {
                let Some(pfn) = pick(&self.h.specs, s) else { return skip("no speculative reference held") };
                st.resolved(Resolved::PutSpec { cpu, pfn });
                if let Some(i) = self.h.specs.iter().position(|&p| p == pfn) {
                    self.h.specs.remove(i);
                }
                match self.cpu(cpu).put_page(pfn) {
                    Ok(()) => (R::Ok, false),
                    Err(x) => (err(x), true),
                }
            }
            Op::DrainLocal { .. } => {
                st.resolved(Resolved::DrainLocal { cpu });
                self.cpu(cpu).drain_local_pages();
                (R::Ok, false)
            }
            Op::DrainAll {} => {
                st.resolved(Resolved::DrainAll {});
                self.sys.drain_all_pages();
                (R::Ok, false)
            }
            _ => return None,
        })
    }
}
