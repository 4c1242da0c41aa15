//! User memory (`mm/memory.c`, `mm/vmscan.c`, `mm/migrate.c`,
//! `mm/huge_memory.c`, `mm/gup.c`, `mm/swap_state.c`): `fault`, `unmap`,
//! `isolate_lru`, `migrate`, `putback`, `thp_fault`, `thp_split_pmd`,
//! `thp_zap`, `pin`, `unpin`, `swapcache_add`, `swapcache_del`,
//! `split_folio`, `set_pmd`.
//!
//! `vpn` is taken modulo the address space, `slot` indexes its PMD-aligned
//! ranges, `m` the present mappings in vpn order, `i` the thread's held
//! LRU-isolated pages, pins or swap-cache entries. GUP pins and the swap
//! cache reach pages through page tables: `pin` and `swapcache_add` of a
//! page that is not a user page (mapped at the vpn its owner tag names) are
//! skipped.

use super::{err, skip, Answer, Step};
use crate::harness::actor::{pick, Actor};
use crate::ops::{Op, OpError, OpResult as R, Resolved};
use mm::migrate::MigrateReason;
use mm::page_alloc::FreePath;

const NO_PMD: &str = "the address space is smaller than a PMD";

impl<F: FreePath> Actor<'_, F> {
    pub(super) fn user(&mut self, op: &Op, cpu: usize, st: &mut Step) -> Answer {
        let sys = self.sys;
        Some(match *op {
            Op::Fault { vpn, .. } => {
                let vpn = vpn as usize % sys.config().nr_vpages.max(1);
                st.resolved(Resolved::Fault { cpu, vpn });
                match self.cpu(cpu).fault(vpn) {
                    Ok(p) => (R::Pfn(p), false),
                    Err(x) => (err(x), false),
                }
            }
            Op::Unmap { m, .. } => {
                let Some((vpn, pfn)) = pick(&sys.user_mappings(), m) else { return skip("nothing mapped") };
                st.resolved(Resolved::Unmap { cpu, vpn, pfn });
                match self.cpu(cpu).unmap(vpn) {
                    Ok(Some(p)) => {
                        self.shared.note_freed(p);
                        (R::Pfn(p), false)
                    }
                    Ok(None) => (R::None, false),
                    Err(x) => (err(x), false),
                }
            }
            Op::IsolateLru { m, .. } => {
                let Some((vpn, pfn)) = pick(&sys.user_mappings(), m) else { return skip("nothing mapped") };
                st.resolved(Resolved::IsolateLru { cpu, vpn, pfn });
                // isolate_lru_page under a speculative reference, as
                // do_migrate_range takes it.
                let c = self.cpu(cpu);
                match c.get_page_unless_zero(pfn) {
                    Ok(true) => {
                        let isolated = c.isolate_lru_page(pfn);
                        let put = c.put_page(pfn);
                        if isolated {
                            self.h.lru.push(pfn);
                        }
                        match put {
                            Ok(()) => (R::Bool(isolated), false),
                            Err(x) => (err(x), true),
                        }
                    }
                    Ok(false) => (R::Bool(false), false),
                    Err(x) => (err(x), false),
                }
            }
            Op::Migrate { i, .. } => {
                let Some(pfn) = pick(&self.h.lru, i) else { return skip("no LRU-isolated page held") };
                st.resolved(Resolved::Migrate { cpu, pfn });
                match self.cpu(cpu).migrate_page(pfn, MigrateReason::Compaction) {
                    Ok(dst) => {
                        self.h.lru.retain(|&p| p != pfn);
                        if dst.is_some() {
                            self.shared.note_freed(pfn);
                        }
                        (dst.map_or(R::None, R::Pfn), false)
                    }
                    Err(x) => (R::Err(OpError::Migrate(x)), false),
                }
            }
            Op::Putback { i, .. } => {
                let Some(pfn) = pick(&self.h.lru, i) else { return skip("no LRU-isolated page held") };
                st.resolved(Resolved::Putback { cpu, pfn });
                self.h.lru.retain(|&p| p != pfn);
                match self.cpu(cpu).putback_lru_page(pfn) {
                    Ok(()) => (R::Ok, false),
                    Err(x) => (err(x), true),
                }
            }
            Op::ThpFault { slot, .. } => {
                let Some(vpn) = self.pmd_slot(slot) else { return skip(NO_PMD) };
                st.resolved(Resolved::ThpFault { cpu, vpn });
                (self.cpu(cpu).fault_thp(vpn).map_or_else(err, R::Pfn), false)
            }
            Op::ThpSplitPmd { slot, .. } => {
                let Some(vpn) = self.pmd_slot(slot) else { return skip(NO_PMD) };
                st.resolved(Resolved::ThpSplitPmd { cpu, vpn });
                (self.cpu(cpu).split_huge_pmd(vpn).map_or_else(err, R::Bool), false)
            }
            Op::ThpZap { slot, .. } => {
                let Some(vpn) = self.pmd_slot(slot) else { return skip(NO_PMD) };
                st.resolved(Resolved::ThpZap { cpu, vpn });
                (self.cpu(cpu).zap_huge_pmd(vpn).map_or_else(err, |p| p.map_or(R::None, R::Pfn)), false)
            }
            Op::Pin { target, .. } => {
                let Some(pfn) = self.target(target) else { return skip("no target page") };
                st.resolved(Resolved::Pin { cpu, pfn });
                if !self.user_page(pfn) {
                    return skip("not a user page");
                }
                match self.cpu(cpu).pin(pfn) {
                    Ok(()) => {
                        self.h.pins.push(pfn);
                        (R::Ok, false)
                    }
                    Err(x) => (err(x), false),
                }
            }
            Op::Unpin { i, .. } => {
                let Some(pfn) = pick(&self.h.pins, i) else { return skip("no pin held") };
                st.resolved(Resolved::Unpin { cpu, pfn });
                if let Some(i) = self.h.pins.iter().position(|&p| p == pfn) {
                    self.h.pins.remove(i);
                }
                (self.cpu(cpu).unpin(pfn).map_or_else(err, |()| R::Ok), false)
            }
            Op::SwapcacheAdd { target, .. } => {
                let Some(pfn) = self.target(target) else { return skip("no target page") };
                st.resolved(Resolved::SwapcacheAdd { cpu, pfn });
                if !self.user_page(pfn) {
                    return skip("not a user page");
                }
                match self.cpu(cpu).add_to_swap_cache(pfn) {
                    Ok(()) => {
                        self.h.swap.push(pfn);
                        (R::Ok, false)
                    }
                    Err(x) => (err(x), false),
                }
            }
            Op::SwapcacheDel { i, .. } => {
                let Some(pfn) = pick(&self.h.swap, i) else { return skip("no swap-cache entry held") };
                st.resolved(Resolved::SwapcacheDel { cpu, pfn });
                if let Some(i) = self.h.swap.iter().position(|&p| p == pfn) {
                    self.h.swap.remove(i);
                }
                (self.cpu(cpu).delete_from_swap_cache(pfn).map_or_else(err, |()| R::Ok), false)
            }
            Op::SplitFolio { target, .. } => {
                let Some(pfn) = self.target(target) else { return skip("no target page") };
                st.resolved(Resolved::SplitFolio { cpu, pfn });
                // split_huge_page: the caller holds a reference on the page.
                let c = self.cpu(cpu);
                match c.get_page_unless_zero(pfn) {
                    Ok(true) => {
                        let r = c.split_folio(pfn).map_or_else(err, |()| R::Ok);
                        match c.put_page(pfn) {
                            Ok(()) => (r, false),
                            Err(x) => (err(x), true),
                        }
                    }
                    Ok(false) => (R::Skip("the page has no reference to split under"), false),
                    Err(x) => (err(x), false),
                }
            }
            Op::SetPmd { i, .. } => {
                let Some(head) = pick(&self.h.swap, i) else { return skip("no swap-cache entry held") };
                let Some(vpn) = sys.pfn_to_page(head).ok().and_then(|p| mm::pgtable::owner_vpn(p.owner())) else {
                    return skip("the folio belongs at no address");
                };
                st.resolved(Resolved::SetPmd { cpu, vpn, pfn: head });
                (self.cpu(cpu).map_folio_pmd(vpn, head).map_or_else(err, R::Bool), false)
            }
            _ => return None,
        })
    }
}
