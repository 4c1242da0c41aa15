//! The sequential reference model of the `seq` fuzz target: a small,
//! obviously-correct account of what the harness has done to the machine,
//! compared with the real core after every operation.
//!
//! The model does not simulate the buddy allocator. It keeps only what is
//! *exactly predictable* from the operations the harness performed:
//!
//! * every page the harness knows to be in use (an allocation's head, a
//!   mapped user page, a page of a contiguous range), with its size and the
//!   number of references the harness holds on it (allocation, `get`,
//!   speculative `get_unless_zero`, mapping, LRU isolation) — so the
//!   refcount of each of them is known exactly;
//! * the page table (vpn → pfn), which pages are LRU-isolated;
//! * each memory block's state and its vmemmap (altmap) pages;
//! * the pageblocks the harness isolated;
//! * whether every pcp list is known to be empty (after a drain).
//!
//! From that it predicts the outcome of each operation where the landed
//! kernel's behaviour is determined (a `get_unless_zero` succeeds exactly
//! on a page with a reference; isolating a range fails exactly when a
//! pageblock is already isolated or an in-use non-LRU page is inside;
//! offline succeeds exactly when nothing unmovable is in the block, no
//! mapped page carries an extra reference and enough free memory is
//! outside; an order-0 allocation with empty pcp lists succeeds exactly
//! when a free page lies in a non-isolated pageblock; ...), and it compares
//! after every operation: the refcount of every page it tracks, the free
//! page total (buddy + pcp), present and managed pages, the number of
//! isolated pageblocks, the block states and the page table.
//!
//! Where the outcome depends on what the model does not track (free-list
//! fragmentation, the contents of a pcp list) it predicts nothing
//! ([`Expect::Any`]) and learns the result (the pfn returned) from the
//! core, after checking that the pfn was free, online and not isolated.
//!
//! The model describes the landed design: the harness only compares when
//! the design under test is the fixed one.
//!
//! Invariants: `pages` never overlap; every tracked page has refs >= 1 and
//! lies in an online block. Lock order: none (plain data; it reads the
//! core through its public, locking accessors between operations).

use crate::ops::Resolved;
use mm::hotplug::memory_block::BlockState;
use mm::page_alloc::FreePath;
use mm::page_ref::page_count;
use mm::system::{Config, System};
use mm::{Geometry, Pfn};
use std::collections::{BTreeMap, BTreeSet};

/// The model's prediction for one operation's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// Not determined by what the model tracks.
    Any,
    /// The core must succeed.
    Ok,
    /// The core must fail.
    Err,
    /// The core must return exactly this.
    Exactly(crate::ops::OpResult),
}

/// A page the harness knows to be in use.
#[derive(Debug, Clone, PartialEq, Eq)]
struct MPage {
    /// Pages covered (2^order for an allocation, 1 otherwise).
    npages: u64,
    /// References the harness holds (= the page's refcount).
    refs: i32,
    /// The vpn mapping it (a user page), while mapped.
    vpn: Option<usize>,
    /// Taken off the LRU by `isolate_lru` (the harness holds that reference).
    lru_isolated: bool,
    /// A user page (LRU when mapped or unmapped-but-isolated).
    user: bool,
}

impl MPage {
    /// PG_lru: a user page keeps it from its fault until its final put,
    /// except while LRU-isolated. Movable to has_unmovable_pages.
    fn lru(&self) -> bool {
        self.user && !self.lru_isolated
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct MBlock {
    state: BlockState,
    /// vmemmap pages at the block start.
    vm: u64,
}

/// The reference model (see the module doc).
#[derive(Debug, Clone)]
pub struct Model {
    blocks: Vec<MBlock>,
    pages: BTreeMap<Pfn, MPage>,
    ptes: BTreeMap<usize, Pfn>,
    isolated: BTreeSet<Pfn>,
    pcp_clean: bool,
    memmap_on_memory: bool,
    nr_vpages: usize,
    geo: Geometry,
    /// Set by the first extended op (or drivers at boot): from then on the
    /// model predicts nothing and compares nothing.
    retired: bool,
}

/// Pages of a pageblock range [start, end) that overlap [s, e).
fn overlap(s: Pfn, e: Pfn, start: Pfn, end: Pfn) -> u64 {
    e.min(end).saturating_sub(s.max(start))
}

impl Model {
    /// The model of a freshly booted machine: boot blocks online, nothing
    /// in use, every pcp empty. `memmap_on_memory` is the module parameter
    /// (an `add_memory` asking for it only gets it when this is on).
    pub fn new(cfg: &Config, memmap_on_memory: bool) -> Model {
        let boot = cfg.boot_sections();
        let blocks = (0..cfg.max_sections as u64)
            .map(|nr| MBlock { state: if nr < boot { BlockState::Online } else { BlockState::Removed }, vm: 0 })
            .collect();
        Model {
            blocks,
            pages: BTreeMap::new(),
            ptes: BTreeMap::new(),
            isolated: BTreeSet::new(),
            pcp_clean: true,
            memmap_on_memory,
            nr_vpages: cfg.nr_vpages,
            geo: cfg.geometry,
            retired: false,
        }
    }

    /// Stop predicting and comparing (an op or a driver the model does not
    /// follow has changed the machine).
    pub fn retire(&mut self) {
        self.retired = true;
    }

    /// Has the model retired?
    pub fn is_retired(&self) -> bool {
        self.retired
    }

    fn block_of(&self, pfn: Pfn) -> usize {
        (pfn / self.geo.pages_per_section()) as usize
    }

    fn online(&self, pfn: Pfn) -> bool {
        self.blocks.get(self.block_of(pfn)).is_some_and(|b| b.state == BlockState::Online)
    }

    fn vmemmap(&self, pfn: Pfn) -> bool {
        let b = self.block_of(pfn);
        self.blocks.get(b).is_some_and(|blk| pfn - b as u64 * self.geo.pages_per_section() < blk.vm)
    }

    /// The tracked page covering `pfn` (its head and entry).
    fn covering(&self, pfn: Pfn) -> Option<(Pfn, &MPage)> {
        let (&h, p) = self.pages.range(..=pfn).next_back()?;
        (pfn < h + p.npages).then_some((h, p))
    }

    /// The exact refcount of `pfn` as far as the model knows: a tracked
    /// head's refs, 1 for a vmemmap page, 0 otherwise (free, or a tail).
    pub fn refcount(&self, pfn: Pfn) -> i32 {
        if self.vmemmap(pfn) && self.online_or_offline(pfn) {
            return 1;
        }
        self.pages.get(&pfn).map_or(0, |p| p.refs)
    }

    fn online_or_offline(&self, pfn: Pfn) -> bool {
        self.blocks.get(self.block_of(pfn)).is_some_and(|b| matches!(b.state, BlockState::Online | BlockState::Offline))
    }

    /// Free pages of the machine: online pages less vmemmap less in use.
    pub fn free_total(&self) -> u64 {
        let online: u64 = self.blocks.iter().filter(|b| b.state == BlockState::Online).map(|b| self.geo.pages_per_section() - b.vm).sum();
        online - self.pages.values().map(|p| p.npages).sum::<u64>()
    }

    /// Free pages in online, non-isolated pageblocks outside [ex_s, ex_e).
    fn free_allocatable(&self, ex_s: Pfn, ex_e: Pfn) -> u64 {
        let mut total = 0;
        for (nr, b) in self.blocks.iter().enumerate() {
            if b.state != BlockState::Online {
                continue;
            }
            let base = nr as u64 * self.geo.pages_per_section();
            let mut pb = base;
            while pb < base + self.geo.pages_per_section() {
                let pe = pb + self.geo.pageblock_nr_pages();
                if !self.isolated.contains(&pb) && (pe <= ex_s || pb >= ex_e) {
                    let vm = overlap(base, base + b.vm, pb, pe);
                    total += self.geo.pageblock_nr_pages() - vm - self.in_use(pb, pe);
                }
                pb = pe;
            }
        }
        total
    }

    /// Pages in use inside [s, e).
    fn in_use(&self, s: Pfn, e: Pfn) -> u64 {
        let mut n = 0;
        if let Some((h, p)) = self.covering(s) {
            if h < s {
                n += overlap(h, h + p.npages, s, e);
            }
        }
        for (&h, p) in self.pages.range(s..e) {
            n += overlap(h, h + p.npages, s, e);
        }
        n
    }

    /// Tracked pages overlapping [s, e).
    fn pages_in(&self, s: Pfn, e: Pfn) -> Vec<(Pfn, &MPage)> {
        let mut v = Vec::new();
        if let Some((h, p)) = self.covering(s) {
            if h < s {
                v.push((h, p));
            }
        }
        v.extend(self.pages.range(s..e).map(|(&h, p)| (h, p)));
        v
    }

    fn any_isolated(&self, s: Pfn, e: Pfn) -> bool {
        self.isolated.range(s & !(self.geo.pageblock_nr_pages() - 1)..e).next().is_some()
    }

    /// Would start_isolate_page_range over [s, e) find something unmovable
    /// (an in-use non-LRU page, a vmemmap page)?
    fn unmovable_in(&self, s: Pfn, e: Pfn) -> bool {
        let b = self.block_of(s);
        let base = b as u64 * self.geo.pages_per_section();
        let vm = self.blocks.get(b).map_or(0, |x| x.vm);
        overlap(base, base + vm, s, e) > 0 || self.pages_in(s, e).iter().any(|(_, p)| !p.lru())
    }

    /// Migrating the user pages out of [s, e): Ok if every one can move,
    /// Err if one never can (an extra reference), Any if it depends.
    fn migrate_out(&self, s: Pfn, e: Pfn) -> Expect {
        let user: Vec<&MPage> = self.pages_in(s, e).into_iter().map(|(_, p)| p).filter(|p| p.lru()).collect();
        // An unmapped user page (kept alive by a speculative reference)
        // or a mapped one with an extra reference never migrates.
        if user.iter().any(|p| p.vpn.is_none() || p.refs != 1) {
            return Expect::Err;
        }
        if self.free_allocatable(s, e) >= user.len() as u64 {
            Expect::Ok
        } else {
            Expect::Err
        }
    }

    /// The model's prediction for `r`.
    pub fn predict(&self, r: &Resolved) -> Expect {
        use crate::ops::OpResult as R;
        if self.retired || !r.model_follows() {
            return Expect::Any;
        }
        match *r {
            Resolved::Alloc { order, .. } => {
                if self.free_total() < 1 << order || (self.pcp_clean && self.free_allocatable(0, 0) < 1 << order) {
                    Expect::Err
                } else if self.pcp_clean && order == 0 {
                    Expect::Ok
                } else {
                    Expect::Any
                }
            }
            Resolved::Fault { vpn, .. } => match self.ptes.get(&vpn) {
                Some(&p) => Expect::Exactly(R::Pfn(p)),
                None if self.free_total() == 0 || (self.pcp_clean && self.free_allocatable(0, 0) == 0) => Expect::Err,
                None if self.pcp_clean => Expect::Ok,
                None => Expect::Any,
            },
            Resolved::Free { .. } | Resolved::Get { .. } | Resolved::Put { .. } | Resolved::PutSpec { .. } | Resolved::Putback { .. } => {
                Expect::Exactly(R::Ok)
            }
            Resolved::DrainLocal { .. } | Resolved::DrainAll {} | Resolved::UndoIsolate { .. } => Expect::Exactly(R::Ok),
            Resolved::GetUnlessZero { pfn, .. } => Expect::Exactly(R::Bool(self.refcount(pfn) > 0)),
            Resolved::Unmap { vpn, .. } => match self.ptes.get(&vpn) {
                Some(&p) => Expect::Exactly(R::Pfn(p)),
                None => Expect::Exactly(R::None),
            },
            Resolved::IsolateLru { pfn, .. } => Expect::Exactly(R::Bool(self.pages.get(&pfn).is_some_and(|p| p.lru()))),
            Resolved::Migrate { pfn, .. } => match self.pages.get(&pfn) {
                None => Expect::Any,
                Some(p) if p.vpn.is_some() && p.refs == 2 => {
                    if self.pcp_clean && self.free_allocatable(0, 0) >= 1 {
                        Expect::Ok
                    } else {
                        Expect::Any
                    }
                }
                Some(p) if p.vpn.is_some() => Expect::Err,
                Some(p) if p.refs == 1 => Expect::Exactly(R::None),
                Some(_) => Expect::Err,
            },
            Resolved::IsolateRange { start, end } => {
                if self.any_isolated(start, end) || self.unmovable_in(start, end) {
                    Expect::Err
                } else {
                    Expect::Ok
                }
            }
            Resolved::TestIsolated { start, end } => {
                if self.in_use(start, end) > 0 {
                    Expect::Err
                } else {
                    Expect::Exactly(R::Ok)
                }
            }
            Resolved::Online { block: nr } => match self.blocks.get(nr as usize) {
                Some(b) if b.state == BlockState::Offline => Expect::Exactly(R::Ok),
                _ => Expect::Err,
            },
            Resolved::Offline { block: nr, .. } => {
                let Some(b) = self.blocks.get(nr as usize) else { return Expect::Err };
                if b.state != BlockState::Online {
                    return Expect::Err;
                }
                let base = nr * self.geo.pages_per_section();
                let (s, e) = (base + b.vm, base + self.geo.pages_per_section());
                if self.any_isolated(s, e) || self.unmovable_in(s, e) {
                    return Expect::Err;
                }
                self.migrate_out(s, e)
            }
            Resolved::AddMemory { block: nr, .. } => match self.blocks.get(nr as usize) {
                Some(b) if b.state == BlockState::Removed => Expect::Exactly(R::Ok),
                _ => Expect::Err,
            },
            Resolved::AddMemoryFailing { .. } => Expect::Err,
            Resolved::RemoveMemory { block: nr } => match self.blocks.get(nr as usize) {
                Some(b) if b.state == BlockState::Offline => Expect::Exactly(R::Ok),
                _ => Expect::Err,
            },
            Resolved::AllocContig { start, end, .. } => {
                if !self.online(start) || self.any_isolated(start, end) || self.unmovable_in(start, end) {
                    return Expect::Err;
                }
                self.migrate_out(start, end)
            }
            Resolved::FreeContig { start, end, .. } => {
                let busy = (start..end).filter(|p| self.pages.get(p).is_some_and(|x| x.refs > 1)).count();
                Expect::Exactly(R::Count(busy as u64))
            }
            _ => Expect::Any,
        }
    }

    /// Check that a pfn the core handed out was free in the model.
    fn check_new(&self, pfn: Pfn, npages: u64) -> Result<(), String> {
        if !self.online(pfn) {
            return Err(format!("the core handed out pfn {pfn:#x}, which is not online"));
        }
        if self.vmemmap(pfn) {
            return Err(format!("the core handed out vmemmap pfn {pfn:#x}"));
        }
        if self.isolated.contains(&(pfn & !(self.geo.pageblock_nr_pages() - 1))) {
            return Err(format!("the core handed out pfn {pfn:#x} from an isolated pageblock"));
        }
        if self.in_use(pfn, pfn + npages) > 0 {
            return Err(format!("the core handed out pfn {pfn:#x} (+{npages}) which the model has in use"));
        }
        Ok(())
    }

    fn drop_ref(&mut self, pfn: Pfn) -> Result<(), String> {
        let p = self.pages.get_mut(&pfn).ok_or_else(|| format!("model: no reference held on {pfn:#x}"))?;
        p.refs -= 1;
        if p.refs == 0 {
            if let Some(v) = p.vpn {
                self.ptes.remove(&v);
            }
            self.pages.remove(&pfn);
        }
        self.pcp_clean = false;
        Ok(())
    }

    /// Learn where the user pages mapped in [s, e) are now (after offline
    /// or a contiguous allocation migrated some), from the core's page
    /// table, checking each new home.
    fn resync_moved<F: FreePath>(&mut self, sys: &System<F>, s: Pfn, e: Pfn) -> Result<(), String> {
        let moved: Vec<(usize, Pfn)> = self.ptes.iter().filter(|(_, &p)| p >= s && p < e).map(|(&v, &p)| (v, p)).collect();
        for (vpn, old) in moved {
            let now = match sys.pte(vpn) {
                Ok(mm::pgtable::Pte::Present(p)) => p,
                other => return Err(format!("vpn {vpn} was mapped to {old:#x}; the core now has {other:?}")),
            };
            if now == old {
                continue;
            }
            if now >= s && now < e {
                return Err(format!("vpn {vpn} migrated from {old:#x} into the range being emptied ({now:#x})"));
            }
            let mut page = self.pages.remove(&old).ok_or("model: mapped page not tracked")?;
            self.check_new(now, 1)?;
            page.refs = 1;
            self.pages.insert(now, page);
            self.ptes.insert(vpn, now);
        }
        Ok(())
    }

    /// Update the model with what `r` did (the core returned `res`). An
    /// error means the core did something the model cannot account for.
    pub fn apply<F: FreePath>(&mut self, r: &Resolved, res: &crate::ops::OpResult, sys: &System<F>) -> Result<(), String> {
        use crate::ops::OpResult as R;
        if !r.model_follows() {
            self.retired = true;
        }
        if self.retired {
            return Ok(());
        }
        match (r, res) {
            (Resolved::Alloc { order, .. }, R::Pfn(p)) => {
                self.pcp_clean = false;
                let n = 1u64 << order;
                if p % n != 0 {
                    return Err(format!("order-{order} block at unaligned pfn {p:#x}"));
                }
                self.check_new(*p, n)?;
                self.pages.insert(*p, MPage { npages: n, refs: 1, vpn: None, lru_isolated: false, user: false });
            }
            (Resolved::Alloc { .. }, _) => self.pcp_clean = false,
            (Resolved::Free { pfn, .. } | Resolved::Put { pfn, .. } | Resolved::PutSpec { pfn, .. }, R::Ok) => self.drop_ref(*pfn)?,
            (Resolved::Get { pfn, .. }, R::Ok) | (Resolved::GetUnlessZero { pfn, .. }, R::Bool(true)) => {
                self.pages.get_mut(pfn).ok_or_else(|| format!("a reference was taken on {pfn:#x}, which the model has free"))?.refs += 1;
            }
            (Resolved::Fault { vpn, .. }, R::Pfn(p))
                if self.ptes.get(vpn) != Some(p) => {
                    self.pcp_clean = false;
                    self.check_new(*p, 1)?;
                    self.pages.insert(*p, MPage { npages: 1, refs: 1, vpn: Some(*vpn), lru_isolated: false, user: true });
                    self.ptes.insert(*vpn, *p);
                }
            (Resolved::Fault { .. }, _) => self.pcp_clean = false,
            (Resolved::Unmap { vpn, pfn, .. }, R::Pfn(_)) => {
                self.ptes.remove(vpn);
                if let Some(p) = self.pages.get_mut(pfn) {
                    p.vpn = None;
                }
                self.drop_ref(*pfn)?;
            }
            (Resolved::IsolateLru { pfn, .. }, R::Bool(true)) => {
                let p = self.pages.get_mut(pfn).ok_or("model: isolated page not tracked")?;
                p.lru_isolated = true;
                p.refs += 1;
            }
            (Resolved::Migrate { pfn, .. }, R::Pfn(dst)) => {
                self.pcp_clean = false;
                let mut page = self.pages.remove(pfn).ok_or("model: migrated page not tracked")?;
                self.check_new(*dst, 1)?;
                let vpn = page.vpn.ok_or("model: migrated an unmapped page")?;
                page.refs -= 1;
                page.lru_isolated = false;
                self.pages.insert(*dst, page);
                self.ptes.insert(vpn, *dst);
            }
            (Resolved::Migrate { pfn, .. }, R::None) => {
                if let Some(p) = self.pages.get_mut(pfn) {
                    p.lru_isolated = false;
                }
                self.drop_ref(*pfn)?;
            }
            (Resolved::Migrate { .. }, _) => self.pcp_clean = false,
            (Resolved::Putback { pfn, .. }, R::Ok) => {
                if let Some(p) = self.pages.get_mut(pfn) {
                    p.lru_isolated = false;
                }
                self.drop_ref(*pfn)?;
            }
            (Resolved::DrainAll {}, _) => self.pcp_clean = true,
            (Resolved::IsolateRange { start, end }, R::Ok) => {
                let mut pb = *start;
                while pb < *end {
                    self.isolated.insert(pb);
                    pb += self.geo.pageblock_nr_pages();
                }
                self.pcp_clean = true;
            }
            (Resolved::UndoIsolate { start, end }, _) => {
                let pbs: Vec<Pfn> = self.isolated.range(*start..*end).copied().collect();
                for pb in pbs {
                    self.isolated.remove(&pb);
                }
            }
            (Resolved::Online { block: nr }, R::Ok) => self.blocks[*nr as usize].state = BlockState::Online,
            (Resolved::Offline { block: nr, .. }, res) => {
                let nr = *nr;
                let Some(b) = self.blocks.get(nr as usize).copied() else { return Ok(()) };
                if b.state != BlockState::Online {
                    return Ok(());
                }
                self.pcp_clean = false;
                let base = nr * self.geo.pages_per_section();
                self.resync_moved(sys, base, base + self.geo.pages_per_section())?;
                if res.is_ok() {
                    self.blocks[nr as usize].state = BlockState::Offline;
                }
            }
            (Resolved::AddMemory { block: nr, memmap_on_memory }, R::Ok) => {
                let vm = if *memmap_on_memory && self.memmap_on_memory { self.geo.nr_vmemmap_pages() } else { 0 };
                self.blocks[*nr as usize] = MBlock { state: BlockState::Offline, vm };
            }
            (Resolved::RemoveMemory { block: nr }, R::Ok) => self.blocks[*nr as usize] = MBlock { state: BlockState::Removed, vm: 0 },
            (Resolved::AllocContig { start, end, .. }, res) => {
                self.pcp_clean = false;
                self.resync_moved(sys, *start, *end)?;
                if res.is_ok() {
                    for p in *start..*end {
                        self.check_new(p, 1)?;
                        self.pages.insert(p, MPage { npages: 1, refs: 1, vpn: None, lru_isolated: false, user: false });
                    }
                }
            }
            (Resolved::FreeContig { start, end, .. }, _) => {
                for p in *start..*end {
                    self.drop_ref(p)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Compare the model with the core; each mismatch in words.
    pub fn compare<F: FreePath>(&self, sys: &System<F>) -> Vec<(Option<Pfn>, String)> {
        let mut out = Vec::new();
        if self.retired {
            return out;
        }
        for (&pfn, p) in &self.pages {
            match sys.pfn_to_page(pfn) {
                Ok(pg) if page_count(pg) == p.refs => {}
                Ok(pg) => out.push((Some(pfn), format!("refcount is {} but the harness holds {} references", page_count(pg), p.refs))),
                Err(e) => out.push((Some(pfn), format!("tracked page unreadable: {e}"))),
            }
        }
        let st = sys.stats();
        let free = st.buddy_pages() + st.pcp_pages();
        if free != self.free_total() {
            out.push((None, format!("free pages (buddy {} + pcp {}) = {free}, the model counts {}", st.buddy_pages(), st.pcp_pages(), self.free_total())));
        }
        let online = self.blocks.iter().filter(|b| b.state == BlockState::Online).count() as i64;
        if st.present_pages != online * self.geo.pages_per_section() as i64 {
            out.push((None, format!("present_pages {} but {online} blocks are online", st.present_pages)));
        }
        let managed: u64 = self.blocks.iter().filter(|b| b.state == BlockState::Online).map(|b| self.geo.pages_per_section() - b.vm).sum();
        if st.managed_pages != managed as i64 {
            out.push((None, format!("managed_pages {} but the model counts {managed}", st.managed_pages)));
        }
        if st.nr_isolate_pageblock != self.isolated.len() as u64 {
            out.push((None, format!("nr_isolate_pageblock {} but the harness holds {}", st.nr_isolate_pageblock, self.isolated.len())));
        }
        for (nr, b) in self.blocks.iter().enumerate() {
            match sys.memory_block(nr as u64) {
                Ok(blk) if blk.state() == b.state && blk.nr_vmemmap_pages() as u64 == b.vm => {}
                Ok(blk) => out.push((
                    Some(nr as u64 * self.geo.pages_per_section()),
                    format!("block {nr} is {:?} with {} vmemmap pages, the model has {:?} with {}", blk.state(), blk.nr_vmemmap_pages(), b.state, b.vm),
                )),
                Err(e) => out.push((None, format!("block {nr}: {e}"))),
            }
        }
        let maps: BTreeMap<usize, Pfn> = sys.user_mappings().into_iter().collect();
        if maps != self.ptes {
            let extra: Vec<_> = maps.iter().filter(|(v, p)| self.ptes.get(v) != Some(p)).take(4).collect();
            let missing: Vec<_> = self.ptes.iter().filter(|(v, p)| maps.get(v) != Some(p)).take(4).collect();
            out.push((None, format!("page table differs: core has {extra:?}, model has {missing:?}")));
        }
        let _ = self.nr_vpages;
        out
    }
}
