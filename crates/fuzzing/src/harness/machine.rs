//! The machines runs use: booted once per configuration and thread, then
//! reset to their booted state ([`mm::reset`]) before each later run with
//! the same configuration — the persistent mode of the fuzz targets, and of
//! every run of the harness (scenario replays, `cargo test`, the stable
//! mode), so the reset path is exercised by every scenario's verdict.
//!
//! Only small machines are kept (at most [`MAX_KEPT_PFNS`] pfns: the fuzz
//! geometry's; a machine of kernel geometry is booted per run, where a
//! reset would copy as much as a boot writes), at most [`MAX_KEPT`] of them
//! per thread, the least recently used given up first. A run that panics
//! never gives its machine back (its state is whatever the panic left);
//! the next run with that configuration boots.
//!
//! Invariants: a machine handed out is in its post-boot state (fresh, or
//! reset from the image taken right after its boot). Lock order: none (a
//! thread-local cache; no model lock is held while it is used).

use mm::check::CheckState;
use mm::page_alloc::FreePath;
use mm::reset::BootImage;
use mm::system::{Config, System};
use std::any::{Any, TypeId};
use std::cell::RefCell;

/// Largest machine (in pfns) the cache keeps.
pub const MAX_KEPT_PFNS: u64 = 1 << 14;
/// Machines kept per thread.
pub const MAX_KEPT: usize = 16;

/// How a run holds its machine: by value in the default build, shared by
/// the run's tasks under shuttle.
#[cfg(not(feature = "shuttle"))]
pub(super) type Held<F> = System<F>;
/// How a run holds its machine: by value in the default build, shared by
/// the run's tasks under shuttle.
#[cfg(feature = "shuttle")]
pub(super) type Held<F> = std::sync::Arc<System<F>>;

/// The machine itself, if nothing else holds it.
fn exclusive<F: FreePath>(h: &mut Held<F>) -> Option<&mut System<F>> {
    #[cfg(not(feature = "shuttle"))]
    return Some(h);
    #[cfg(feature = "shuttle")]
    return std::sync::Arc::get_mut(h);
}

/// What a kept machine comes with: the image its resets restore, and the
/// incremental checker's state of the booted machine (one full walk of it,
/// made at boot), so that a run's first check is incremental too.
pub(super) struct Booted {
    img: BootImage,
    pub(super) checked: CheckState,
}

/// A kept machine (a `Held<F>` behind `Any`).
struct Kept {
    free_path: TypeId,
    cfg: Config,
    sys: Box<dyn Any>,
    booted: Booted,
}

thread_local! {
    static KEPT: RefCell<Vec<Kept>> = const { RefCell::new(Vec::new()) };
}

/// Would the cache keep a machine of `cfg`?
pub fn keeps(cfg: &Config) -> bool {
    cfg.max_sections as u64 * cfg.geometry.pages_per_section() <= MAX_KEPT_PFNS
}

/// A kept machine of `cfg` for free path `F`, reset to its booted state;
/// None when there is none (or its reset failed). Under shuttle: called
/// between executions.
pub(super) fn take<F: FreePath>(cfg: &Config) -> Option<(Held<F>, Booted)> {
    let k = KEPT.with(|c| {
        let mut c = c.borrow_mut();
        let i = c.iter().position(|k| k.free_path == TypeId::of::<F>() && k.cfg == *cfg)?;
        Some(c.remove(i))
    })?;
    let mut sys = *k.sys.downcast::<Held<F>>().ok()?;
    // Still shared (a task of a failed run kept it) or an OS call failed:
    // the caller boots anew.
    exclusive(&mut sys)?.reset(&k.booted.img).ok()?;
    Some((sys, k.booted))
}

/// Boot a machine of `cfg`, with what a later reset needs when the cache
/// would keep it. Under shuttle: called inside an execution.
pub(super) fn boot<F: FreePath>(cfg: &Config) -> mm::Result<(Held<F>, Option<Booted>)> {
    let sys = System::<F>::new(cfg.clone())?;
    let booted = if keeps(cfg) {
        let img = sys.boot_image()?;
        let mut checked = CheckState::new();
        // Its findings, if a design breaks boot, are every later check's
        // too: the final full walk of a run reports them.
        let _ = sys.check_incremental(&mut checked, true, []);
        Some(Booted { img, checked })
    } else {
        None
    };
    #[cfg(feature = "shuttle")]
    let sys = std::sync::Arc::new(sys);
    Ok((sys, booted))
}

/// Give a machine back after a run that ended normally.
pub(super) fn give_back<F: FreePath>(cfg: &Config, sys: Held<F>, booted: Booted) {
    KEPT.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= MAX_KEPT {
            c.remove(0);
        }
        c.push(Kept { free_path: TypeId::of::<F>(), cfg: cfg.clone(), sys: Box::new(sys), booted });
    });
}

/// The first line where two state dumps differ, with its neighbours.
fn first_difference(a: &str, b: &str) -> Option<String> {
    let (la, lb): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let i = (0..la.len().max(lb.len())).find(|&i| la.get(i) != lb.get(i))?;
    let show = |l: &[&str]| l[i.saturating_sub(3)..(i + 3).min(l.len())].join("\n");
    Some(format!("line {i}:\n--- reset\n{}\n--- fresh boot\n{}", show(&la), show(&lb)))
}

/// Test support for the reset: boot a machine of `sc`'s configuration, run
/// `sc` on it, reset it (unless `reset` is false: the test that the
/// comparison sees a run's effects), and compare its whole state (`Debug`:
/// every descriptor, list, counter and lock-guarded value) with a fresh
/// boot's. Err names the first difference.
pub fn equals_boot_after(sc: &crate::scenario::Scenario, reset: bool) -> Result<(), String> {
    use mm::page_alloc::Landed;
    let cfg = sc.config.to_config(sc.design());
    if !keeps(&cfg) {
        return Err(format!("the cache does not keep machines of {} pfns", cfg.max_sections as u64 * cfg.geometry.pages_per_section()));
    }
    #[cfg(not(feature = "shuttle"))]
    let (reset, fresh) = {
        let (mut a, booted) = boot::<Landed>(&cfg).map_err(|e| e.to_string())?;
        let booted = booted.ok_or("no boot image")?;
        let trace = std::sync::Mutex::new(Vec::new());
        let mut run = super::seq::Run { trace: &trace, checking: super::Checking::default(), start: Some(&booted.checked), work: Default::default() };
        let _ = super::seq::body::<Landed>(sc, &a, &mut run);
        if reset {
            a.reset(&booted.img).map_err(|e| e.to_string())?;
        }
        let (b, _) = boot::<Landed>(&cfg).map_err(|e| e.to_string())?;
        (format!("{a:#?}"), format!("{b:#?}"))
    };
    #[cfg(feature = "shuttle")]
    let (reset, fresh) = {
        use std::sync::{Arc, Mutex};
        type Slot = Arc<Mutex<Option<Result<(Held<Landed>, Option<Booted>), String>>>>;
        let run = |sc: Option<crate::scenario::Scenario>, cfg: Config| -> Result<(Held<Landed>, Option<Booted>), String> {
            let slot: Slot = Arc::new(Mutex::new(None));
            let s2 = slot.clone();
            let sched = crate::sched::ReplayScheduler::new(&sc.as_ref().map(|s| s.schedule.clone()).unwrap_or_default(), None);
            shuttle::Runner::new(sched, crate::sched::config()).run(move || {
                let r = boot::<Landed>(&cfg).map_err(|e| e.to_string()).inspect(|(a, b)| {
                    if let Some(sc) = &sc {
                        let trace = std::sync::Mutex::new(Vec::new());
                        let mut run = super::seq::Run { trace: &trace, checking: super::Checking::default(), start: b.as_ref().map(|b| &b.checked), work: Default::default() };
                        let _ = super::conc::body::<Landed>(sc, a, &mut run);
                    }
                });
                *super::lock(&s2) = Some(r);
            });
            let r = super::lock(&slot).take();
            r.unwrap_or_else(|| Err("the execution ended without a machine".into()))
        };
        let (mut a, booted) = run(Some(sc.clone()), cfg.clone())?;
        let booted = booted.ok_or("no boot image")?;
        if reset {
            Arc::get_mut(&mut a).ok_or("the machine is still shared after the run")?.reset(&booted.img).map_err(|e| e.to_string())?;
        }
        let (b, _) = run(None, cfg)?;
        mm::sync::quiet_loads(|| (format!("{a:#?}"), format!("{b:#?}")))
    };
    match first_difference(&reset, &fresh) {
        None => Ok(()),
        Some(d) => Err(d),
    }
}
