//! The concurrency shim: every atomic, lock, barrier and thread spawn in the
//! core goes through this module.
//!
//! * Default build: `std` atomics and mutexes, OS threads, and the
//!   `membarrier(2)` system call for the asymmetric barrier of the pcp lock.
//! * `--features shuttle`: the same names resolve to shuttle's types, so the
//!   whole core runs as shuttle coroutines under a controlled scheduler
//!   (the schedulers live in the fuzzing crate). Page storage switches from mmap to vectors there,
//!   because model atomics cannot live in raw mmap memory.
//!
//! Two kinds of atomics are exported:
//! * [`atomic`]: *protocol* words, accessed without a lock by design (the
//!   refcount, the flags word, the mapcount/type word, the pcp lock flags).
//!   Under shuttle every access is a scheduling point.
//! * [`plain`]: words that are only ever written under a lock (buddy order,
//!   list links, counters). They are atomics only so that `&Page` is `Sync`
//!   and a racy reader (the checker, a pfn walker) is not undefined
//!   behaviour; all accesses use `Relaxed`, which compiles to plain moves.
//!   Under shuttle they stay std atomics: they add no scheduling points,
//!   because the lock that protects them already provides one.
//!
//! [`quiet_loads`] lets the checker read protocol atomics without a
//! scheduling point each (shuttle's `raw_load`) while it holds the locks
//! that make the walk see one instant.
//!
//! Scheduling points under shuttle, and what a scheduler learns of each
//! (the explorer in the fuzzing crate preempts only at the first two kinds):
//! * every access to a protocol atomic outside [`quiet_loads`]: a point on
//!   *shared lock-free data* (refcounts, page flags, the mapcount/type
//!   word, pcp counts and lock flags, pageblock migratetypes); the access
//!   marks itself ([`shared_point::take`]) right before shuttle decides;
//! * every [`preempt_point`]: a *named* point ([`preempt_label::take`]);
//! * every lock, unlock, spawn, join and [`yield_point`]: a point a
//!   scheduler sees without a mark. Another thread cannot observe the
//!   difference between preempting there and preempting at the next
//!   marked point of the same thread, except through the lock itself,
//!   which serializes whatever it protects.
//! * [`plain`] words and quiet loads: no point at all.
//!
//! Invariants: none of its own. Lock order: none of its own.

/// Protocol atomics (see the module doc).
pub mod atomic {
    #[cfg(feature = "shuttle")]
    pub use super::quiet_atomic::{AtomicBool, AtomicI32, AtomicI64, AtomicU32, AtomicU64, AtomicU8};
    #[cfg(feature = "shuttle")]
    pub use shuttle::sync::atomic::fence;
    #[cfg(not(feature = "shuttle"))]
    pub use std::sync::atomic::{fence, AtomicBool, AtomicI32, AtomicI64, AtomicU32, AtomicU64, AtomicU8};
    pub use std::sync::atomic::Ordering;
}

/// Run `f` with the protocol atomics' loads *quiet*: under shuttle they
/// read the value without a scheduling point (shuttle's `raw_load`), so a
/// walk of the whole memmap does not hand the scheduler hundreds of
/// thousands of decisions. For the checker only, between taking and
/// dropping the locks that make the state quiescent: no other task runs
/// while it reads (nothing in `f` may block or yield), so the loads see
/// one instant — what the walk means anyway. Stores, read-modify-writes
/// and locks keep their scheduling points. Default build: just `f()`.
#[inline]
pub fn quiet_loads<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(feature = "shuttle")]
    {
        /// Restores the flag also when `f` unwinds (the harness catches a
        /// panic and goes on with the next run on this thread).
        struct Restore(bool);
        impl Drop for Restore {
            fn drop(&mut self) {
                quiet_atomic::QUIET.with(|q| q.set(self.0));
            }
        }
        let _restore = Restore(quiet_atomic::QUIET.with(|q| q.replace(true)));
        f()
    }
    #[cfg(not(feature = "shuttle"))]
    f()
}

/// Shuttle's atomics behind a switch for quiet loads ([`quiet_loads`]).
#[cfg(feature = "shuttle")]
mod quiet_atomic {
    use std::cell::Cell;
    use std::sync::atomic::Ordering;

    thread_local! {
        /// Set by [`super::quiet_loads`]. Shuttle runs every task on the
        /// test's OS thread, so this is one flag per shuttle run.
        pub(super) static QUIET: Cell<bool> = const { Cell::new(false) };
    }

    fn quiet() -> bool {
        QUIET.with(|q| q.get())
    }

    /// A scheduling point on shared lock-free data: mark it for the
    /// scheduler, which decides right after (shuttle's atomics switch
    /// before they access).
    #[inline]
    fn shared() {
        super::shared_point::note();
    }

    macro_rules! quiet_atomic {
        ($name:ident, $t:ty, $($rmw:ident),*) => {
            /// A shuttle atomic whose loads can be made quiet.
            #[derive(Debug, Default)]
            pub struct $name(shuttle::sync::atomic::$name);

            impl $name {
                /// As the shuttle atomic's (a scheduling point, unless quiet for a load).
                pub const fn new(v: $t) -> Self {
                    $name(shuttle::sync::atomic::$name::new(v))
                }
                /// As the shuttle atomic's, but without a scheduling point inside
                /// [`super::quiet_loads`].
                #[inline]
                pub fn load(&self, order: Ordering) -> $t {
                    if quiet() {
                        // SAFETY: shuttle's raw_load only skips the
                        // scheduling point; every shuttle task runs on this
                        // OS thread, and inside quiet_loads no other task
                        // runs, so no interleaving is lost that the walk
                        // could have meant to see.
                        unsafe { self.0.raw_load() }
                    } else {
                        shared();
                        self.0.load(order)
                    }
                }
                /// As the shuttle atomic's (a scheduling point, unless quiet for a load).
                #[inline]
                pub fn store(&self, v: $t, order: Ordering) {
                    shared();
                    self.0.store(v, order)
                }
                /// As the shuttle atomic's (a scheduling point, unless quiet for a load).
                #[inline]
                pub fn swap(&self, v: $t, order: Ordering) -> $t {
                    shared();
                    self.0.swap(v, order)
                }
                /// As the shuttle atomic's (a scheduling point, unless quiet for a load).
                #[inline]
                pub fn compare_exchange(&self, current: $t, new: $t, success: Ordering, failure: Ordering) -> Result<$t, $t> {
                    shared();
                    self.0.compare_exchange(current, new, success, failure)
                }
                /// As the shuttle atomic's (a scheduling point, unless quiet for a load).
                #[inline]
                pub fn compare_exchange_weak(&self, current: $t, new: $t, success: Ordering, failure: Ordering) -> Result<$t, $t> {
                    shared();
                    self.0.compare_exchange_weak(current, new, success, failure)
                }
                /// As the shuttle atomic's (a scheduling point, unless quiet for a load).
                #[inline]
                pub fn fetch_update(&self, set: Ordering, fetch: Ordering, f: impl FnMut($t) -> Option<$t>) -> Result<$t, $t> {
                    shared();
                    self.0.fetch_update(set, fetch, f)
                }
                /// shuttle's `raw_load`: the value, without a scheduling point.
                ///
                /// # Safety
                /// As for shuttle's: the caller does not need this read
                /// interleaved with other tasks (a dump for a report).
                #[inline]
                pub unsafe fn raw_load(&self) -> $t {
                    // SAFETY: forwarded contract.
                    unsafe { self.0.raw_load() }
                }
                $(
                    /// As the shuttle atomic's (a scheduling point, unless quiet for a load).
                    #[inline]
                    pub fn $rmw(&self, v: $t, order: Ordering) -> $t {
                        shared();
                        self.0.$rmw(v, order)
                    }
                )*
            }
        };
    }

    quiet_atomic!(AtomicBool, bool, fetch_and, fetch_or);
    quiet_atomic!(AtomicI32, i32, fetch_add, fetch_sub, fetch_and, fetch_or);
    quiet_atomic!(AtomicI64, i64, fetch_add, fetch_sub, fetch_and, fetch_or);
    quiet_atomic!(AtomicU32, u32, fetch_add, fetch_sub, fetch_and, fetch_or);
    quiet_atomic!(AtomicU64, u64, fetch_add, fetch_sub, fetch_and, fetch_or);
    quiet_atomic!(AtomicU8, u8, fetch_add, fetch_sub, fetch_and, fetch_or);
}

/// Lock-protected words that are atomics only for `Sync` (see the module doc).
pub mod plain {
    pub use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, AtomicU8, Ordering};
}

pub use std::sync::Arc;

#[cfg(feature = "shuttle")]
use shuttle::sync as imp;
#[cfg(not(feature = "shuttle"))]
use std::sync as imp;

/// A sleeping lock (the kernel's `mutex` / `spinlock_t`, both modeled alike).
///
/// Poisoning is ignored: the kernel has no notion of it, and a panic while a
/// lock is held is already a bug that the panic itself reports.
#[derive(Debug, Default)]
pub struct Mutex<T>(imp::Mutex<T>);

/// Guard of a [`Mutex`].
pub type MutexGuard<'a, T> = imp::MutexGuard<'a, T>;

impl<T> Mutex<T> {
    /// A new unlocked mutex.
    pub fn new(v: T) -> Self {
        Mutex(imp::Mutex::new(v))
    }
    /// Acquire the lock.
    pub fn lock(&self) -> MutexGuard<'_, T> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
    /// Try to acquire the lock without blocking.
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        match self.0.try_lock() {
            Ok(g) => Some(g),
            Err(imp::TryLockError::Poisoned(e)) => Some(e.into_inner()),
            Err(imp::TryLockError::WouldBlock) => None,
        }
    }
    /// Mutable access without locking (requires exclusive ownership).
    pub fn get_mut(&mut self) -> &mut T {
        self.0.get_mut().unwrap_or_else(|e| e.into_inner())
    }
}

/// Thread spawn and yield.
pub mod thread {
    #[cfg(feature = "shuttle")]
    pub use shuttle::thread::{spawn, yield_now, JoinHandle};
    #[cfg(not(feature = "shuttle"))]
    pub use std::thread::{spawn, yield_now, JoinHandle};
}

/// One step of a busy-wait loop. Under shuttle a spin must yield, or the
/// scheduler would never run the thread being waited for.
#[inline]
pub fn spin_wait(spins: &mut u32) {
    #[cfg(feature = "shuttle")]
    {
        let _ = spins;
        thread::yield_now();
    }
    #[cfg(not(feature = "shuttle"))]
    {
        *spins += 1;
        if *spins < 64 {
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
}

/// A preemption point at a place where the kernel has a race window (each
/// caller says which commit closed or documented it). Under shuttle the
/// scheduler may switch threads here; in the default build it is nothing.
#[inline(always)]
pub fn yield_point() {
    #[cfg(feature = "shuttle")]
    thread::yield_now();
}

/// A *named* preemption point: like [`yield_point`], and the name is what
/// a schedule refers to ("preempt the thread at its 2nd
/// `free_unref_page:mt_read`"). Compiled out of the default build, so it
/// may sit on the hot path.
#[inline(always)]
pub fn preempt_point(label: &'static str) {
    #[cfg(feature = "shuttle")]
    {
        for _ in 0..shared_point::extra() {
            let _ = atomic::AtomicU8::new(0).load(atomic::Ordering::Relaxed);
        }
        preempt_label::note(label);
        thread::yield_now();
    }
    #[cfg(not(feature = "shuttle"))]
    let _ = label;
}

/// The name of the preemption point the running task stands at, for a
/// scheduler that reads named points (`--features shuttle` only).
///
/// [`preempt_point`] notes its label right before it yields; the
/// scheduler takes it once, in the decision that yield asks for. Per OS
/// thread: all tasks of one shuttle execution share the OS thread, while
/// executions on other threads (parallel tests) do not.
#[cfg(feature = "shuttle")]
pub mod preempt_label {
    use std::cell::Cell;

    thread_local! {
        static LAST: Cell<Option<&'static str>> = const { Cell::new(None) };
    }

    /// Called by [`super::preempt_point`] right before it yields.
    pub(super) fn note(label: &'static str) {
        LAST.with(|l| l.set(Some(label)));
    }

    /// Take (and clear) the label noted by the last preemption point.
    pub fn take() -> Option<&'static str> {
        LAST.with(|l| l.take())
    }
}

/// Whether the scheduling point the running task stands at is an access to
/// shared lock-free data (a protocol atomic, see the module doc)
/// (`--features shuttle` only). Like [`preempt_label`]: the access marks
/// itself right before shuttle's switch, the scheduler takes the mark once
/// in the decision that switch asks for.
#[cfg(feature = "shuttle")]
pub mod shared_point {
    use std::cell::Cell;

    thread_local! {
        static AT: Cell<bool> = const { Cell::new(false) };
        static EXTRA: Cell<u32> = const { Cell::new(0) };
    }

    /// Called by a protocol atomic right before it switches.
    #[inline]
    pub(super) fn note() {
        AT.with(|a| a.set(true));
    }

    /// Take (and clear) the mark.
    #[inline]
    pub fn take() -> bool {
        AT.with(|a| a.replace(false))
    }

    /// Make every named preemption point pass `n` more scheduling points on
    /// shared data first (loads of a fresh atomic), as a code change that
    /// adds atomics would, on this OS thread until set back to 0. For the
    /// test that a schedule anchored at named points survives such a change.
    pub fn set_extra(n: u32) {
        EXTRA.with(|e| e.set(n));
    }

    pub(super) fn extra() -> u32 {
        EXTRA.with(|e| e.get())
    }
}

/// The cheap half of an asymmetric Dekker barrier, run on the fast path.
///
/// It only stops the compiler from moving the owner's flag store after its
/// flag load; the CPU-level ordering is supplied by the remote side's
/// [`asymmetric_heavy_barrier`], which forces a full barrier on every CPU
/// that runs a thread of this process (membarrier(2) semantics: "as if each
/// running thread executed a SeqCst fence"). Under shuttle every execution
/// is sequentially consistent, so nothing is needed.
#[inline(always)]
pub fn asymmetric_light_barrier() {
    std::sync::atomic::compiler_fence(atomic::Ordering::SeqCst);
}

/// The expensive half of the asymmetric barrier, run by the rare remote
/// accessor (drain_all_pages, zone_pcp_disable, the checker).
pub fn asymmetric_heavy_barrier() {
    #[cfg(not(feature = "shuttle"))]
    membarrier::heavy();
    #[cfg(feature = "shuttle")]
    atomic::fence(atomic::Ordering::SeqCst);
}

/// Make sure the heavy barrier is usable; called once when a system is built.
pub fn init_barriers() -> crate::Result<()> {
    #[cfg(not(feature = "shuttle"))]
    return membarrier::init();
    #[cfg(feature = "shuttle")]
    Ok(())
}

#[cfg(not(feature = "shuttle"))]
mod membarrier {
    use std::sync::atomic::{AtomicU8, Ordering};
    use std::sync::Once;

    const CMD_QUERY: libc::c_int = 0;
    const CMD_GLOBAL: libc::c_int = 1 << 0;
    const CMD_PRIVATE_EXPEDITED: libc::c_int = 1 << 3;
    const CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_int = 1 << 4;

    /// 0: not probed, 1: private expedited, 2: global (slow, no registration), 3: none.
    static MODE: AtomicU8 = AtomicU8::new(0);
    static INIT: Once = Once::new();

    fn sys(cmd: libc::c_int) -> libc::c_long {
        // SAFETY: membarrier takes (cmd, flags, cpu_id) integers and touches no
        // user memory; any cmd the kernel does not know returns -EINVAL.
        unsafe { libc::syscall(libc::SYS_membarrier, cmd, 0 as libc::c_uint, 0 as libc::c_int) }
    }

    pub fn init() -> crate::Result<()> {
        INIT.call_once(|| {
            let supported = sys(CMD_QUERY);
            let mode = if supported > 0
                && supported & CMD_PRIVATE_EXPEDITED as libc::c_long != 0
                && sys(CMD_REGISTER_PRIVATE_EXPEDITED) == 0
            {
                1
            } else if supported > 0 && supported & CMD_GLOBAL as libc::c_long != 0 {
                2
            } else {
                3
            };
            MODE.store(mode, Ordering::Release);
        });
        match MODE.load(Ordering::Acquire) {
            1 | 2 => Ok(()),
            _ => Err(crate::Error::Os(
                "membarrier(2) is not available: the lock-free pcp fast path needs it".into(),
            )),
        }
    }

    pub fn heavy() {
        let cmd = match MODE.load(Ordering::Acquire) {
            1 => CMD_PRIVATE_EXPEDITED,
            2 => CMD_GLOBAL,
            // init() refused to build a system without a barrier, so no pcp
            // can exist; a SeqCst fence keeps this path at least sound for
            // the caller's own accesses.
            _ => {
                std::sync::atomic::fence(Ordering::SeqCst);
                return;
            }
        };
        let r = sys(cmd);
        assert_eq!(r, 0, "membarrier({cmd}) failed after a successful probe");
    }
}

#[cfg(all(test, feature = "shuttle"))]
mod tests {
    use super::atomic::{AtomicU64, Ordering};

    #[test]
    fn quiet_loads_read_the_current_value_and_end_quiet() {
        shuttle::check_random(
            || {
                let a = AtomicU64::new(7);
                a.store(9, Ordering::Relaxed);
                assert_eq!(super::quiet_loads(|| a.load(Ordering::Relaxed)), 9);
                assert!(!super::quiet_atomic::QUIET.with(|q| q.get()), "the quiet flag outlived quiet_loads");
                assert_eq!(a.load(Ordering::Relaxed), 9);
            },
            1,
        );
    }
}
