//! Reference counts (`include/linux/page_ref.h`): lock-free atomics on the
//! descriptor's `refcount` word.
//!
//! Invariants (`include/linux/page_ref.h`, `include/linux/mm.h`
//! `put_page_testzero` / `get_page_unless_zero` / `folio_ref_freeze`):
//! * R1: only [`get_page_unless_zero`] and [`page_ref_freeze`] take a
//!   reference without already holding one; a speculative get never turns
//!   0 into 1.
//! * R2: [`get_page`] needs an existing reference; on a page at 0 it is
//!   refused with [`Error::GetOnZeroRef`] and the count is left untouched.
//! * R3: a frozen page (count 0 after a freeze) is unfrozen by its freezer.
//! * R4: exactly one party observes the 1 -> 0 drop of [`put_page_testzero`]
//!   and inherits the obligation to free. A put on a count <= 0 is reported
//!   ([`Error::PutOnZeroRef`]) and leaves the count negative, where the
//!   checker flags it (R4) — the model does not try to repair a double free.
//!
//! Memory ordering, in one place:
//! * Drops are `Release` and the party that sees 1 -> 0 issues an `Acquire`
//!   fence: everything every holder did to the page happens-before the free
//!   (the `Arc` protocol). On x86 the fence is free.
//! * A speculative get (`get_page_unless_zero`) is an `Acquire` CAS, pairing
//!   with the `Release` store that published the page
//!   ([`set_page_refcounted`], [`page_ref_unfreeze`]), so the getter sees the
//!   descriptor state its new owner wrote before handing out references.
//! * `get_page` with a reference already held is `Relaxed`, like `Arc::clone`:
//!   the caller's own reference already orders it.
//! * Freeze is an `Acquire` CAS (the freezer must see all holders' writes;
//!   their drops are `Release` RMWs in the same release sequence);
//!   unfreeze is a `Release` store.
//!
//! Lock order: none; these never take a lock.

use crate::error::{Error, Result};
use crate::page::Page;
use crate::sync::atomic::{fence, Ordering};
use crate::Pfn;

/// `page_ref_count` / `page_count`.
#[inline(always)]
pub fn page_count(page: &Page) -> i32 {
    page.refcount.load(Ordering::Relaxed)
}

/// `set_page_count`: only for a page the caller owns exclusively (refcount
/// 0 and on no list).
#[inline(always)]
pub fn set_page_count(page: &Page, v: i32) {
    page.refcount.store(v, Ordering::Relaxed);
}

/// `set_page_refcounted`: publish a freshly allocated page with one
/// reference. `Release` pairs with the `Acquire` of a speculative get.
#[inline(always)]
pub fn set_page_refcounted(page: &Page) {
    page.refcount.store(1, Ordering::Release);
}

/// `get_page`: take another reference; the caller must hold one already.
#[inline]
pub fn get_page(page: &Page, pfn: Pfn) -> Result<()> {
    // A CAS loop rather than fetch_add so that a refused get leaves the count
    // untouched: a transient 0 -> 1 would be visible to speculative getters.
    page.refcount
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| (c > 0).then_some(c + 1))
        .map(|_| ())
        .map_err(|count| Error::GetOnZeroRef { pfn, count })
}

/// `get_page_unless_zero` (= `folio_try_get`): a speculative reference,
/// valid on any pfn. Returns false when the count is 0 (free or frozen).
/// The caller must re-check the page's identity after it succeeds.
#[inline]
pub fn get_page_unless_zero(page: &Page) -> bool {
    let mut c = page.refcount.load(Ordering::Relaxed);
    loop {
        if c <= 0 {
            return false;
        }
        match page.refcount.compare_exchange_weak(c, c + 1, Ordering::Acquire, Ordering::Relaxed) {
            Ok(_) => return true,
            Err(now) => c = now,
        }
    }
}

/// `put_page_testzero`: drop one reference; `Ok(true)` means this call saw
/// 1 -> 0 and must free the page.
#[inline(always)]
pub fn put_page_testzero(page: &Page, pfn: Pfn) -> Result<bool> {
    let old = page.refcount.fetch_sub(1, Ordering::Release);
    if old == 1 {
        // Pairs with the Release decrements of every other holder.
        fence(Ordering::Acquire);
        Ok(true)
    } else if old > 1 {
        Ok(false)
    } else {
        Err(Error::PutOnZeroRef { pfn, count: old })
    }
}

/// `page_ref_freeze`: take exclusive ownership if exactly `count`
/// references exist (the count becomes 0).
#[inline]
pub fn page_ref_freeze(page: &Page, count: i32) -> bool {
    page.refcount.compare_exchange(count, 0, Ordering::Acquire, Ordering::Relaxed).is_ok()
}

/// `page_ref_unfreeze`: give back `count` references to a page the caller
/// froze. Refuses (R3) if the page is not at 0 or `count` is not positive.
#[inline]
pub fn page_ref_unfreeze(page: &Page, pfn: Pfn, count: i32) -> Result<()> {
    let now = page.refcount.load(Ordering::Relaxed);
    if now != 0 || count <= 0 {
        return Err(Error::BadUnfreeze { pfn, count: now, to: count });
    }
    page.refcount.store(count, Ordering::Release);
    Ok(())
}

/// `page_ref_add`: `n` more references on a page whose references the
/// caller accounts for itself (a THP's mappings, the swap cache's
/// references). `Relaxed`: the caller holds a reference already, which
/// orders it (as `get_page`).
#[inline]
pub fn page_ref_add(page: &Page, n: i32) {
    page.refcount.fetch_add(n, Ordering::Relaxed);
}

/// `page_ref_inc`: one more reference without [`get_page`]'s refusal on
/// zero. Only for a page the caller owns (a driver re-taking the reference
/// it dropped itself, memory failure on a page it holds, a migration
/// giving back the reference it dropped before a failed freeze).
#[inline]
pub fn page_ref_inc(page: &Page) {
    page_ref_add(page, 1);
}

/// `page_ref_sub`: drop `n` references that the caller knows are not the
/// last (nothing is freed). `Release`, as every drop: what the dropper did
/// to the page happens-before whoever sees the count reach zero.
#[inline]
pub fn page_ref_sub(page: &Page, n: i32) {
    page.refcount.fetch_sub(n, Ordering::Release);
}

/// `page_ref_dec`: [`page_ref_sub`] of one (the RFC's unplug, which leaves
/// the page at 0 on purpose; a migration dropping the mapping's reference
/// before it freezes the page).
#[inline]
pub fn page_ref_dec(page: &Page) {
    page_ref_sub(page, 1);
}

/// `page_ref_dec_and_test`: drop a reference; true if it was the last one
/// (with the `Acquire` fence of [`put_page_testzero`]). Nothing is freed:
/// the caller decides what a zero means.
#[inline]
pub fn page_ref_dec_and_test(page: &Page) -> bool {
    if page.refcount.fetch_sub(1, Ordering::Release) == 1 {
        fence(Ordering::Acquire);
        true
    } else {
        false
    }
}

#[cfg(all(test, not(feature = "shuttle")))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicU64};
    use std::sync::Arc;

    #[test]
    fn get_put_roundtrip() {
        let p = Page::new();
        set_page_refcounted(&p);
        get_page(&p, 7).unwrap();
        assert_eq!(page_count(&p), 2);
        assert_eq!(put_page_testzero(&p, 7), Ok(false));
        assert_eq!(put_page_testzero(&p, 7), Ok(true));
        assert_eq!(page_count(&p), 0);
    }

    #[test]
    fn get_page_on_zero_is_refused_and_harmless() {
        let p = Page::new();
        assert_eq!(get_page(&p, 9), Err(Error::GetOnZeroRef { pfn: 9, count: 0 }));
        assert_eq!(page_count(&p), 0);
        assert!(!get_page_unless_zero(&p));
        assert_eq!(page_count(&p), 0);
    }

    #[test]
    fn put_on_zero_is_an_error_and_leaves_evidence() {
        let p = Page::new();
        assert_eq!(put_page_testzero(&p, 3), Err(Error::PutOnZeroRef { pfn: 3, count: 0 }));
        assert_eq!(page_count(&p), -1, "the checker sees the negative count (R4)");
    }

    #[test]
    fn freeze_needs_exact_count_and_unfreeze_restores() {
        let p = Page::new();
        set_page_count(&p, 2);
        assert!(!page_ref_freeze(&p, 1));
        assert!(page_ref_freeze(&p, 2));
        assert_eq!(page_count(&p), 0);
        assert!(!get_page_unless_zero(&p), "frozen pages refuse speculative refs");
        assert!(page_ref_unfreeze(&p, 1, 0).is_err());
        page_ref_unfreeze(&p, 1, 2).unwrap();
        assert_eq!(page_count(&p), 2);
        assert!(page_ref_unfreeze(&p, 1, 2).is_err(), "not frozen any more");
    }

    /// Freeze/unfreeze against concurrent speculative getters: while the
    /// page is frozen no getter may succeed, and every successful get is
    /// balanced, so the final count is exactly what the freezer restored.
    #[test]
    fn freeze_unfreeze_against_concurrent_get_unless_zero() {
        let p = Arc::new(Page::new());
        set_page_count(&p, 1);
        let frozen = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let violations = Arc::new(AtomicU64::new(0));
        let mut hs = vec![];
        for _ in 0..3 {
            let (p, frozen, stop, violations) = (p.clone(), frozen.clone(), stop.clone(), violations.clone());
            hs.push(std::thread::spawn(move || {
                let mut got = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    if get_page_unless_zero(&p) {
                        // The freezer only unfreezes after clearing `frozen`,
                        // so a successful get while `frozen` is set means a
                        // speculative get raced past a freeze.
                        if frozen.load(Ordering::SeqCst) {
                            violations.fetch_add(1, Ordering::Relaxed);
                        }
                        got += 1;
                        assert_eq!(put_page_testzero(&p, 0), Ok(false));
                    }
                }
                got
            }));
        }
        let mut freezes = 0;
        let deadline = std::time::Instant::now() + std::time::Duration::from_millis(300);
        while std::time::Instant::now() < deadline {
            if page_ref_freeze(&p, 1) {
                frozen.store(true, Ordering::SeqCst);
                assert_eq!(page_count(&p), 0);
                std::hint::spin_loop();
                assert_eq!(page_count(&p), 0, "a getter turned a frozen 0 into 1 (R1)");
                frozen.store(false, Ordering::SeqCst);
                page_ref_unfreeze(&p, 0, 1).unwrap();
                freezes += 1;
            }
        }
        stop.store(true, Ordering::Relaxed);
        let gets: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(violations.load(Ordering::Relaxed), 0);
        assert_eq!(page_count(&p), 1);
        assert!(freezes > 0 && gets > 0, "both sides made progress: {freezes} freezes, {gets} gets");
    }
}
