//! Errors returned for bad input and for states the model refuses to enter.
//!
//! Every error names the pfn (or CPU, order) it is about, so a caller can
//! report "pfn 0x1234: put on a page with refcount 0" rather than panic.

use crate::Pfn;
use std::fmt;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
// Each variant is documented; its fields are the operands its message
// names (the pfn, the count, the order, ...).
#[allow(missing_docs)]
pub enum Error {
    /// The pfn lies beyond the last section the memmap can describe.
    PfnOutOfRange { pfn: Pfn, max_pfn: Pfn },
    /// The pfn's section has no memmap (never added, or removed).
    PfnNotPresent { pfn: Pfn },
    /// The pfn's section is present but offline (`pfn_to_online_page` is NULL).
    PfnOffline { pfn: Pfn },
    /// put_page / page_ref_dec on a page whose refcount was already <= 0:
    /// a double free or a put without a reference (R4).
    PutOnZeroRef { pfn: Pfn, count: i32 },
    /// get_page on a page with refcount <= 0 (R2): a reference may only be
    /// taken from nothing with get_page_unless_zero.
    GetOnZeroRef { pfn: Pfn, count: i32 },
    /// page_ref_unfreeze on a page that is not frozen, or to a count of 0 (R3).
    BadUnfreeze { pfn: Pfn, count: i32, to: i32 },
    /// The free path found a page in a state that must not be freed
    /// (the kernel's bad_page): mapped, typed, or a tail page.
    BadPage { pfn: Pfn, reason: &'static str },
    /// free_pages on a pfn not aligned to the order, or order out of range.
    BadOrder { pfn: Pfn, order: u32 },
    /// No free block of the order in the zone.
    NoMemory { order: u32 },
    /// A CPU slot index beyond the configured CPUs.
    CpuOutOfRange { cpu: usize, nr_cpus: usize },
    /// The CPU slot is already claimed by another context.
    CpuBusy { cpu: usize },
    /// A section operation that does not fit the section's current state.
    SectionState { section: u64, what: &'static str },
    /// A request that does not fit the model (bad vpn, bad migratetype...).
    BadRequest(String),
    /// An access to a vpn whose page was poisoned and unmapped.
    Sigbus { vpn: usize },
    /// online refused: the block holds hwpoisoned pages (-EHWPOISON).
    HwPoisoned { block: u64, pages: i64 },
    /// A hugetlb fault found no usable huge page: SIGBUS (`reserved`: the
    /// mapping held a reservation that should have guaranteed one).
    HugetlbSigbus { reserved: bool },
    /// A notifier refused a transition.
    Notifier(String),
    /// offline_pages failed and rolled back.
    OfflineFailed { block: u64, reason: String },
    /// A range could not be isolated or emptied (-EBUSY): another isolator
    /// owns a pageblock, or a page in it cannot be moved
    /// (`alloc_contig_range`, balloon drivers).
    Busy { pfn: Pfn, reason: String },
    /// A configuration value that cannot describe a machine.
    BadConfig(String),
    /// The operating system refused a mapping or a barrier.
    Os(String),
    /// A folio holds references beyond its mappings, swap cache and the
    /// caller's (pinned, or referenced by someone else): it cannot be split
    /// or moved now (-EAGAIN / -EBUSY).
    ExtraRefs { pfn: Pfn, refcount: i32, expected: i32 },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::PfnOutOfRange { pfn, max_pfn } => {
                write!(f, "pfn {pfn:#x}: out of range (the memmap ends at pfn {max_pfn:#x})")
            }
            Error::PfnNotPresent { pfn } => write!(f, "pfn {pfn:#x}: section not present (no memmap)"),
            Error::PfnOffline { pfn } => write!(f, "pfn {pfn:#x}: section is offline"),
            Error::PutOnZeroRef { pfn, count } => write!(
                f,
                "pfn {pfn:#x}: put on a page whose refcount was {count} (double free or put without a reference, R4)"
            ),
            Error::GetOnZeroRef { pfn, count } => write!(
                f,
                "pfn {pfn:#x}: get_page on a page whose refcount is {count} (use get_page_unless_zero, R2)"
            ),
            Error::BadUnfreeze { pfn, count, to } => write!(
                f,
                "pfn {pfn:#x}: page_ref_unfreeze to {to} while the refcount is {count} (R3)"
            ),
            Error::BadPage { pfn, reason } => write!(f, "pfn {pfn:#x}: bad page state on free: {reason}"),
            Error::BadOrder { pfn, order } => {
                write!(f, "pfn {pfn:#x}: order {order} is out of range or the pfn is not aligned to it")
            }
            Error::NoMemory { order } => write!(f, "no free block of order {order}"),
            Error::CpuOutOfRange { cpu, nr_cpus } => {
                write!(f, "cpu {cpu}: out of range (the system has {nr_cpus} cpus)")
            }
            Error::CpuBusy { cpu } => write!(f, "cpu {cpu}: slot already claimed by another context"),
            Error::SectionState { section, what } => write!(f, "section {section}: {what}"),
            Error::BadRequest(s) => write!(f, "bad request: {s}"),
            Error::Sigbus { vpn } => write!(f, "vpn {vpn}: SIGBUS (page was hwpoisoned)"),
            Error::HwPoisoned { block, pages } => {
                write!(f, "memory block {block}: {pages} hwpoisoned pages, cannot online (-EHWPOISON)")
            }
            Error::HugetlbSigbus { reserved } => write!(
                f,
                "hugetlb fault: no usable huge page{} (SIGBUS)",
                if *reserved { " although the mapping holds a reservation" } else { "" }
            ),
            Error::Notifier(s) => write!(f, "notifier refused: {s}"),
            Error::OfflineFailed { block, reason } => write!(f, "offline of memory block {block} failed: {reason}"),
            Error::Busy { pfn, reason } => write!(f, "pfn {pfn:#x}: busy (-EBUSY): {reason}"),
            Error::BadConfig(s) => write!(f, "bad configuration: {s}"),
            Error::Os(s) => write!(f, "operating system: {s}"),
            Error::ExtraRefs { pfn, refcount, expected } => write!(
                f,
                "pfn {pfn:#x}: folio has {refcount} references where {expected} are expected (pinned or in use, -EAGAIN)"
            ),
        }
    }
}

impl std::error::Error for Error {}
