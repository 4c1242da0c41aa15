//! memory_failure's state under `mf_mutex` (the kernel's `static bool
//! hw_memory_failure` beside `static DEFINE_MUTEX(mf_mutex)` in
//! `mm/memory-failure.c`).
//!
//! Invariants: `hw_memory_failure` never goes back to false. Lock order:
//! `mf_mutex` is taken before any other lock of memory failure's paths.

/// State guarded by `mf_mutex`.
#[derive(Debug, Default, Clone)]
pub(crate) struct MfState {
    /// A hardware (not software-injected) memory failure happened:
    /// unpoison is refused from then on.
    pub(crate) hw_memory_failure: bool,
}
