//! Design variants and historical-bug switches.
//!
//! Two kinds of choices, as DESIGN.md section 3 asks:
//! * **hot-path** choices (anything on put_page or the free path) are
//!   types implementing [`crate::FreePath`]: separate monomorphized code, so
//!   a benchmark measures the code and not a runtime branch. They live in
//!   [`crate::page_alloc::free`] and are listed by [`FREE_PATHS`].
//! * **off-hot-path** switches are values of [`Switch`] collected in a
//!   [`Design`], chosen by a scenario, a test or a campaign's configuration
//!   — never by the fuzz bytes of a run meant to test the fixed design.
//!
//! Every switch reproduces the historical *mechanism* (the missing check,
//! the wrong order) in the path that had it; none fakes a symptom.
//! Not here: liveness bugs (C3, free_pcppages_bulk looping on empty lists
//! when not capped at pcp->count; C14, offline retrying forever from a
//! kernel thread). They hang rather than break an invariant the checker
//! can name; the model bounds offline retries with
//! `Config::offline_max_passes` instead.
//!
//! Invariants: a `Design` with no switch on is the landed kernel, with one
//! deliberate exception: offline leaves behind only the hwpoisoned pages
//! memory failure contained, where the kernel skips every one
//! ([`Switch::OfflineSkipsHeldHwpoison`], C22: the kernel's rule is the
//! switch).
//! Lock order: none.

use std::collections::BTreeSet;
use std::fmt;

macro_rules! switches {
    ($($(#[doc = $doc:literal])* $name:ident = $text:literal,)*) => {
        /// An off-hot-path design switch: one historical mechanism each.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Switch {
            $($(#[doc = $doc])* $name,)*
        }
        impl Switch {
            /// Every switch.
            pub const ALL: &'static [Switch] = &[$(Switch::$name,)*];
            /// The switch's name in scenarios and on the command line.
            pub fn name(self) -> &'static str {
                match self { $(Switch::$name => $text,)* }
            }
        }
    };
}

switches! {
    /// B1 (RFC v3): unplugged PageOffline pages sit at refcount 0, so a
    /// speculative reference's put frees them (the RFC's put_page hook is
    /// the FreePath variant `OfflineHookInPutPage`).
    PageOfflineRefcountZero = "pageoffline_refcount_zero",
    /// B1-CMM: the CMM balloon frees its loaned pages to buddy at
    /// MEM_GOING_OFFLINE and does not re-take them on MEM_CANCEL_OFFLINE.
    CmmFreeOnGoingOffline = "cmm_free_on_going_offline",
    /// B2(a,b): soft offline frees the migrated source normally and then
    /// flags it PG_hwpoison if found in buddy (pre-5.10).
    SoftOfflinePoisonInBuddy = "soft_offline_poison_in_buddy",
    /// B2(c): soft offline flips the pageblock to ISOLATE with a raw
    /// set_pageblock_migratetype, without accounting or moving free pages.
    SoftOfflineIsolateDance = "soft_offline_isolate_dance",
    /// B3: soft offline of a free hugetlb page sets PG_hwpoison before
    /// dissolving it (flag first, as hard offline does).
    SoftOfflineFlagFirst = "soft_offline_flag_first",
    /// B4/C10: walkers and memory_failure use pfn_valid instead of
    /// pfn_to_online_page and read the memmap of offline memory.
    MemmapReadsOffline = "memmap_reads_offline",
    /// B4(iii): offline the whole block, vmemmap (altmap) pages included.
    VmemmapInOfflineRange = "vmemmap_in_offline_range",
    /// B5: the compaction walker compares the refcount with the head's
    /// mapcount instead of the total mapcount.
    IsolateUsesHeadMapcount = "isolate_uses_head_mapcount",
    /// B5 secondary: the racy refcount/mapping check runs before
    /// get_page_unless_zero.
    IsolateCheckBeforeRef = "isolate_check_before_ref",
    /// C1: offline drains pcp once at isolation and leaves it enabled.
    OfflineDrainOnce = "offline_drain_once",
    /// C2: drain_pages_zone reads pcp->count outside the pcp lock.
    DrainRacyCount = "drain_racy_count",
    /// C6: dissolve takes a refcount-0 hugetlb folio that is not yet on the
    /// freelist (no hugetlb_freed check).
    DissolveNoFreedCheck = "dissolve_no_freed_check",
    /// C7: memory_failure takes a speculative reference on a hugetlb folio
    /// that is still being prepared.
    HwpoisonSpecRefHugetlb = "hwpoison_spec_ref_hugetlb",
    /// C8: dissolve ignores reservations (free == resv).
    DissolveIgnoresResv = "dissolve_ignores_resv",
    /// C9: no per-block hwpoison counter: online re-initializes a poisoned
    /// page into buddy.
    OnlineForgetsHwpoison = "online_forgets_hwpoison",
    /// C11: offline treats hwpoisoned pages as unmovable.
    HwpoisonOfflineUnmovable = "hwpoison_offline_unmovable",
    /// C22: offline skips every hwpoisoned page, also one its owner still
    /// holds (the kernel since b15c87263a69).
    OfflineSkipsHeldHwpoison = "offline_skips_held_hwpoison",
    /// C12: the add_memory error path removes the memory without its
    /// altmap, freeing vmemmap pages to buddy.
    AltmapErrorPathNull = "altmap_error_path_null",
    /// C16: a PMD mapping ignores PageHasHWPoisoned.
    ThpPmdMapPoisoned = "thp_pmd_map_poisoned",
    /// C17: memory_failure does not drain / disable pcp for a free page
    /// that sits on a pcp list.
    HwpoisonIgnorePcpFree = "hwpoison_ignore_pcp_free",
    /// C15: a high-order free whose block holds a PG_hwpoison subpage (a
    /// tail memory_failure could not handle: MF_MSG_KERNEL_HIGH_ORDER)
    /// goes to buddy whole; only order-0 frees test the flag.
    FreePrepareHwpoisonOrder0Only = "free_prepare_hwpoison_order0_only",
    /// C19: compaction clears PG_lru before taking its reference.
    ClearLruBeforeRef = "clear_lru_before_ref",
}

/// The hot-path designs (types implementing [`crate::FreePath`]): name and
/// what they change on the final put.
pub const FREE_PATHS: &[(&str, &str)] = &[
    ("landed", "PageHWPoison test on order-0 frees; PageOffline pages keep a driver reference"),
    ("rfc_pageoffline_hook", "seed 000 RFC: put_page refuses to free PageOffline pages (extra test, same cache line)"),
    ("no_hwpoison_check", "pre-5.10: no PageHWPoison test at free"),
    ("side_bitmap_hook", "a hook that reads a per-pfn bitmap on another cache line"),
    ("free_mt_no_recheck", "C4: no re-read of the pageblock migratetype under zone->lock"),
    ("merge_across_isolate", "C4-merge: buddy merging ignores the isolate boundary"),
];

impl Switch {
    /// Look a switch up by name.
    pub fn from_name(s: &str) -> Option<Switch> {
        Switch::ALL.iter().copied().find(|w| w.name() == s)
    }
}

impl fmt::Display for Switch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The off-hot-path design of a system: which historical bugs are on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Design {
    on: BTreeSet<Switch>,
}

impl Design {
    /// The landed kernel: every switch off.
    pub fn fixed() -> Design {
        Design::default()
    }

    /// A design with the given switches on.
    pub fn with(switches: &[Switch]) -> Design {
        Design { on: switches.iter().copied().collect() }
    }

    /// Is `s` on?
    #[inline]
    pub fn has(&self, s: Switch) -> bool {
        !self.on.is_empty() && self.on.contains(&s)
    }

    /// Turn `s` on.
    pub fn enable(&mut self, s: Switch) {
        self.on.insert(s);
    }

    /// The switches that are on.
    pub fn switches(&self) -> impl Iterator<Item = Switch> + '_ {
        self.on.iter().copied()
    }

    /// Is this the landed design?
    pub fn is_fixed(&self) -> bool {
        self.on.is_empty()
    }
}

impl fmt::Display for Design {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.on.is_empty() {
            return f.write_str("fixed");
        }
        let v: Vec<&str> = self.on.iter().map(|s| s.name()).collect();
        f.write_str(&v.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_roundtrip_and_are_unique() {
        let mut seen = BTreeSet::new();
        for &s in Switch::ALL {
            assert_eq!(Switch::from_name(s.name()), Some(s));
            assert!(seen.insert(s.name()), "duplicate name {}", s.name());
        }
        assert_eq!(Switch::from_name("no_such_switch"), None);
    }

    #[test]
    fn fixed_design_has_nothing_on() {
        let d = Design::fixed();
        assert!(Switch::ALL.iter().all(|&s| !d.has(s)));
        assert_eq!(d.to_string(), "fixed");
        let d = Design::with(&[Switch::OfflineDrainOnce]);
        assert!(d.has(Switch::OfflineDrainOnce) && !d.is_fixed());
        assert_eq!(d.to_string(), "offline_drain_once");
    }
}
