//! Balloon and memory-device drivers across online / offline / cancel:
//! virtio-mem (Sub-Block Mode), the powerpc CMM balloon and a Hyper-V
//! style balloon, with the B1 race written out as explicit step orders.
//! Every switch is run both ways: on, the named invariant is reported;
//! off, the checker is clean.
#![cfg(not(feature = "shuttle"))]

use mm::drivers::cmm::Cmm;
use mm::drivers::hv_balloon::HvBalloon;
use mm::drivers::virtio_mem::{HotplugHolder, VirtioMem};
use mm::drivers::{walker_get, walker_put};
use mm::hotplug::memory_block::BlockState;
use mm::hotplug::notifier::{MemAction, MemoryNotifier, MemoryNotify, NotifyCtx};
use mm::page_ref::page_count;
use mm::{Config, Cpu, Design, Error, FreePath, Landed, MigrateType, Pfn, RfcOfflineHook, Switch, System};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

mod common;
use common::{clean, has, show};
use mm::geometry::Geometry;
const X86: Geometry = Geometry::X86_64;

const S: u64 = X86.pages_per_section();

fn sys<F: FreePath>(switches: &[Switch]) -> System<F> {
    System::new(Config {
        mem_bytes: 2 * X86.section_size(),
        max_sections: 3,
        nr_cpus: 2,
        frame_store: true,
        design: Design::with(switches),
        offline_max_passes: 4,
        ..Config::default()
    })
    .unwrap()
}




/// Allocate 4 MiB chunks until one lands at or above `limit`; that one is
/// given back. Everything below `limit` is now in use, so the next
/// allocations come from above it.
fn hog_below<F: FreePath>(c: &Cpu<'_, F>, limit: Pfn) -> Vec<Pfn> {
    let mut hog = vec![];
    loop {
        let p = c.alloc_pages(X86.max_order, MigrateType::Movable).unwrap();
        if p >= limit {
            c.free_pages(p, X86.max_order).unwrap();
            return hog;
        }
        hog.push(p);
    }
}

fn unhog<F: FreePath>(c: &Cpu<'_, F>, hog: Vec<Pfn>) {
    for p in hog {
        c.free_pages(p, X86.max_order).unwrap();
    }
}

/// A step of a test, run from inside the notifier chain.
type Step = Box<dyn FnMut(&dyn NotifyCtx) + Send>;

/// A notifier that runs a step of the test at one action for one block,
/// and may refuse it.
struct StepHook {
    block: u64,
    at: MemAction,
    step: Mutex<Step>,
    refuse: bool,
}

impl MemoryNotifier for StepHook {
    fn name(&self) -> &str {
        "step_hook"
    }
    fn notify(&self, ctx: &dyn NotifyCtx, a: MemAction, arg: &MemoryNotify) -> Result<(), String> {
        if a == self.at && arg.start_pfn / S == self.block {
            (self.step.lock().unwrap())(ctx);
            if self.refuse {
                return Err("refused by the test".into());
            }
        }
        Ok(())
    }
}

fn hook(block: u64, at: MemAction, refuse: bool, step: impl FnMut(&dyn NotifyCtx) + Send + 'static) -> Arc<StepHook> {
    Arc::new(StepHook { block, at, step: Mutex::new(Box::new(step)), refuse })
}

/// Block 2 hot-added and onlined with a virtio-mem device over it; the
/// subblocks in `plugged` are plugged before the online.
fn virtio_setup<F: FreePath>(s: &System<F>, c: &Cpu<'_, F>, plugged: std::ops::Range<u64>) -> Arc<VirtioMem> {
    let vm = Arc::new(VirtioMem::new(&X86, 2, 1));
    s.register_memory_notifier(vm.clone());
    s.add_memory(2, false).unwrap();
    for sb in plugged {
        vm.plug(c, sb).unwrap();
    }
    s.online_memory_block(2).unwrap();
    vm
}

fn fake_offline_ok<F: FreePath>(s: &System<F>, vm: &VirtioMem, sb: u64, refs: i32, dirty: bool) {
    let start = vm.sb_start(sb).unwrap();
    for pfn in start..start + X86.pageblock_nr_pages() {
        let p = s.pfn_to_page(pfn).unwrap();
        assert!(p.PageOffline(), "pfn {pfn:#x}");
        assert_eq!(page_count(p), refs, "pfn {pfn:#x}");
        assert_eq!(p.PageDirty(), dirty, "pfn {pfn:#x}");
    }
}

// ---------------------------------------------------------------- virtio-mem

#[test]
fn virtio_mem_plug_unplug_on_an_online_block_keeps_the_checker_clean() {
    let s = sys::<Landed>(&[]);
    let c = s.cpu(0).unwrap();
    let vm = virtio_setup(&s, &c, 0..32);
    let base_managed = 2 * S as i64;
    assert_eq!(s.stats().managed_pages, base_managed + 32 * X86.pageblock_nr_pages() as i64);
    assert_eq!(vm.plugged_subblocks(), 32);
    // Never onlined: PageOffline + PG_dirty + the memmap-init reference.
    fake_offline_ok(&s, &vm, 40, 1, true);
    clean(&s);
    // Plug a never-onlined subblock: generic_online_page.
    vm.plug(&c, 40).unwrap();
    assert!(vm.is_plugged(40).unwrap());
    assert_eq!(s.stats().managed_pages, base_managed + 33 * X86.pageblock_nr_pages() as i64);
    clean(&s);
    // Unplug an onlined one: alloc_contig_range + set_fake_offline.
    vm.unplug(&c, 3).unwrap();
    fake_offline_ok(&s, &vm, 3, 1, false);
    assert_eq!(s.stats().managed_pages, base_managed + 32 * X86.pageblock_nr_pages() as i64);
    clean(&s);
    // Plug it back: free_contig_range.
    vm.plug(&c, 3).unwrap();
    clean(&s);
    assert!(vm.plug(&c, 3).is_err(), "double plug refused");
    assert!(vm.unplug(&c, 50).is_err(), "unplug of an unplugged subblock refused");
    assert_eq!(vm.hotplug_holder(), None);
    c.drain_local_pages();
    clean(&s);
}

#[test]
fn virtio_mem_unplug_migrates_user_pages_and_refuses_unmovable_ones() {
    let s = sys::<Landed>(&[]);
    let c = s.cpu(0).unwrap();
    let vm = virtio_setup(&s, &c, 0..X86.pageblocks_per_section());
    let hog = hog_below(&c, 2 * S);
    // User pages and one kernel page now land in block 2.
    let user: Vec<Pfn> = (0..16).map(|v| c.fault(v).unwrap()).collect();
    let kernel = c.alloc_pages(0, MigrateType::Unmovable).unwrap();
    assert!(user.iter().all(|&p| p >= 2 * S) && kernel >= 2 * S);
    unhog(&c, hog);
    let sb_user = (user[0] - 2 * S) / X86.pageblock_nr_pages();
    let sb_kernel = (kernel - 2 * S) / X86.pageblock_nr_pages();
    assert_ne!(sb_user, sb_kernel, "unmovable and movable pages share no pageblock");
    vm.unplug(&c, sb_user).unwrap();
    for (v, pfn) in s.user_mappings() {
        assert!(!(vm.sb_start(sb_user).unwrap()..vm.sb_start(sb_user).unwrap() + X86.pageblock_nr_pages()).contains(&pfn), "vpn {v}");
        assert_eq!(s.verify_user_page(v).unwrap(), Some(true), "vpn {v} lost its bytes");
    }
    clean(&s);
    let before = s.stats();
    let e = vm.unplug(&c, sb_kernel).unwrap_err();
    assert!(matches!(e, Error::Busy { .. }), "{e}");
    assert!(vm.is_plugged(sb_kernel).unwrap());
    assert_eq!(s.stats().managed_pages, before.managed_pages);
    assert_eq!(s.zone().nr_isolate_pageblock(), 0);
    assert_eq!(vm.hotplug_holder(), None);
    clean(&s);
}

#[test]
fn virtio_mem_offline_then_online_again_landed() {
    let s = sys::<Landed>(&[]);
    let c = s.cpu(0).unwrap();
    let vm = virtio_setup(&s, &c, 0..20);
    vm.unplug(&c, 7).unwrap();
    clean(&s);
    s.offline_memory_block(&c, 2).unwrap();
    assert_eq!(s.block_state(2).unwrap(), BlockState::Offline);
    assert_eq!(s.stats().managed_pages, 2 * S as i64);
    assert_eq!(vm.plugged_subblocks(), 19, "the device's bitmap survives the offline");
    assert_eq!(vm.hotplug_holder(), None);
    clean(&s);
    // Plug/unplug of an offline block only talk to the device.
    vm.plug(&c, 7).unwrap();
    vm.unplug(&c, 0).unwrap();
    s.online_memory_block(2).unwrap();
    assert_eq!(s.stats().managed_pages, 2 * S as i64 + 19 * X86.pageblock_nr_pages() as i64);
    fake_offline_ok(&s, &vm, 0, 1, true);
    assert!(!s.pfn_to_page(vm.sb_start(7).unwrap()).unwrap().PageOffline());
    clean(&s);
}

#[test]
fn virtio_mem_cancelled_offline_retakes_references_landed() {
    let s = sys::<Landed>(&[]);
    let c = s.cpu(0).unwrap();
    let vm = virtio_setup(&s, &c, 0..20);
    vm.unplug(&c, 5).unwrap();
    let seen = Arc::new(Mutex::new(vec![]));
    let (seen2, vm2) = (seen.clone(), vm.clone());
    // In the window: the mutex belongs to the offline and the references
    // are gone (V2, V5).
    let first = vm.sb_start(5).unwrap();
    s.register_memory_notifier(hook(2, MemAction::GoingOffline, true, move |ctx| {
        let p = ctx.memmap().pfn_to_page(first).unwrap();
        seen2.lock().unwrap().push((vm2.hotplug_holder(), page_count(p)));
    }));
    let before = s.stats();
    let e = s.offline_memory_block(&c, 2).unwrap_err();
    assert!(matches!(&e, Error::OfflineFailed { reason, .. } if reason.contains("refused")), "{e}");
    assert_eq!(*seen.lock().unwrap(), vec![(Some(HotplugHolder::Offline(2)), 0)]);
    assert_eq!(vm.hotplug_holder(), None, "released at MEM_CANCEL_OFFLINE");
    assert_eq!(s.block_state(2).unwrap(), BlockState::Online);
    assert_eq!(s.stats().managed_pages, before.managed_pages);
    fake_offline_ok(&s, &vm, 5, 1, false);
    fake_offline_ok(&s, &vm, 30, 1, true);
    clean(&s);
}

#[test]
fn virtio_mem_plug_waits_for_the_offline_window() {
    let s = sys::<Landed>(&[]);
    let c = s.cpu(0).unwrap();
    let vm = virtio_setup(&s, &c, 0..20);
    let (tx, rx) = mpsc::channel::<()>();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let blocked = Arc::new(Mutex::new(None));
    let blocked2 = blocked.clone();
    let done_rx = Mutex::new(done_rx);
    // At GOING_OFFLINE, ask the worker to plug and give it 100 ms: it must
    // still be waiting for hotplug_mutex when the window closes (V5).
    s.register_memory_notifier(hook(2, MemAction::GoingOffline, true, move |_| {
        tx.send(()).unwrap();
        let r = done_rx.lock().unwrap().recv_timeout(std::time::Duration::from_millis(100));
        *blocked2.lock().unwrap() = Some(r.is_err());
    }));
    let (sr, vmr) = (&s, &*vm);
    std::thread::scope(|sc| {
        let w = sc.spawn(move || {
            let (s, vm) = (sr, vmr);
            let c1 = s.cpu(1).unwrap();
            rx.recv().unwrap();
            let r = vm.plug(&c1, 25);
            let _ = done_tx.send(());
            r
        });
        assert!(s.offline_memory_block(&c, 2).is_err());
        w.join().unwrap().unwrap();
    });
    assert_eq!(*blocked.lock().unwrap(), Some(true), "plug ran inside the offline window");
    assert!(vm.is_plugged(25).unwrap());
    clean(&s);
}

/// B1 (RFC v3): the driver drops its reference at unplug while a walker
/// holds a speculative one; the walker's put is the last one.
fn rfc_unplug_race<F: FreePath>(switches: &[Switch]) -> (System<F>, Pfn) {
    let s = sys::<F>(switches);
    let pfn;
    {
        let c0 = s.cpu(0).unwrap();
        let c1 = s.cpu(1).unwrap();
        let vm = virtio_setup(&s, &c0, 0..X86.pageblocks_per_section());
        // Step 1 (T1, virtio-mem): alloc_contig_range; the driver holds 1.
        let prepared = vm.unplug_prepare(&c0, 9).unwrap();
        pfn = prepared.start_pfn() + 17;
        // Step 2 (T0, walker): get_page_unless_zero -> 2.
        assert!(walker_get(&c1, pfn).unwrap());
        assert_eq!(page_count(s.pfn_to_page(pfn).unwrap()), 2);
        // Step 3 (T1): __SetPageOffline, and under the RFC page_ref_dec -> 1.
        prepared.commit().unwrap();
        // Step 4 (T0): put_page.
        let r = walker_put(&c1, pfn);
        let p = s.pfn_to_page(pfn).unwrap();
        assert!(p.PageOffline());
        if switches.contains(&Switch::PageOfflineRefcountZero) {
            assert_eq!(page_count(p), 0);
            match F::NAME {
                "landed" => assert!(matches!(r, Err(Error::BadPage { pfn: b, .. }) if b == pfn), "{r:?}"),
                _ => r.unwrap(),
            }
        } else {
            r.unwrap();
            assert_eq!(page_count(p), 1, "the driver's reference is left");
        }
    }
    (s, pfn)
}

#[test]
fn rfc_refcount_zero_without_hook_frees_a_pageoffline_page_v4() {
    let (s, pfn) = rfc_unplug_race::<Landed>(&[Switch::PageOfflineRefcountZero]);
    let v = s.check();
    assert!(has(&v, "V4", Some(pfn)), "{}", show(&v));
}

#[test]
fn rfc_refcount_zero_with_put_page_hook_keeps_the_page_out() {
    let (s, _) = rfc_unplug_race::<RfcOfflineHook>(&[Switch::PageOfflineRefcountZero]);
    clean(&s);
    // The RFC design offlines its refcount-0 pages without any notifier work.
    let c = s.cpu(0).unwrap();
    s.offline_memory_block(&c, 2).unwrap();
    clean(&s);
}

#[test]
fn landed_design_walker_during_unplug_is_harmless() {
    let (s, _) = rfc_unplug_race::<Landed>(&[]);
    clean(&s);
    let c = s.cpu(0).unwrap();
    s.offline_memory_block(&c, 2).unwrap();
    clean(&s);
}

/// B1's residual window in the landed design: the walker took its
/// reference before the offline; virtio-mem's drop at GOING_OFFLINE does
/// not reach 0 (V2); the walker's put then sends the PageOffline page to
/// the free path (V4). `refuse`: the offline then fails elsewhere and
/// CANCEL re-takes the reference (step 4'); else it succeeds (step 4).
fn residual_window(refuse: bool) -> (System<Landed>, Pfn, Result<(), Error>, Result<(), Error>) {
    let s = sys::<Landed>(&[]);
    let (pfn, offline, put) = residual_window_steps(&s, refuse);
    (s, pfn, offline, put)
}

fn residual_window_steps(s: &System<Landed>, refuse: bool) -> (Pfn, Result<(), Error>, Result<(), Error>) {
    let c = s.cpu(0).unwrap();
    let vm = virtio_setup(s, &c, 0..20);
    vm.unplug(&c, 11).unwrap();
    let pfn = vm.sb_start(11).unwrap() + 3;
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let done_rx = Mutex::new(done_rx);
    // T1 at GOING_OFFLINE, after virtio-mem dropped its references: let T0
    // put, wait for it, then fail (or go on).
    s.register_memory_notifier(hook(2, MemAction::GoingOffline, refuse, move |_| {
        go_tx.send(()).unwrap();
        done_rx.lock().unwrap().recv().unwrap();
    }));
    let (got_tx, got_rx) = mpsc::channel::<()>();
    let (offline, put) = std::thread::scope(|sc| {
        let walker = sc.spawn(move || {
            let c1 = s.cpu(1).unwrap();
            // Step 1 (T0): get_page_unless_zero -> 2.
            assert!(walker_get(&c1, pfn).unwrap());
            got_tx.send(()).unwrap();
            go_rx.recv().unwrap();
            // Step 3 (T0): put_page -> 0 -> free path.
            let r = walker_put(&c1, pfn);
            done_tx.send(()).unwrap();
            r
        });
        got_rx.recv().unwrap();
        // Step 2 (T1): isolate, MEM_GOING_OFFLINE (virtio-mem: 2 -> 1, WARN).
        let offline = s.offline_memory_block(&c, 2);
        (offline, walker.join().unwrap())
    });
    (pfn, offline, put)
}

#[test]
fn residual_window_walker_put_then_cancel_v2_v4() {
    let (s, pfn, offline, put) = residual_window(true);
    assert!(offline.is_err());
    assert!(matches!(put, Err(Error::BadPage { .. })), "{put:?}");
    let v = s.check();
    assert!(has(&v, "V2", Some(pfn)) && has(&v, "V4", Some(pfn)), "{}", show(&v));
    // Step 4' in the model: the free path refused and leaked the page, so
    // CANCEL's page_ref_inc gives the driver its reference back.
    let p = s.pfn_to_page(pfn).unwrap();
    assert!(p.PageOffline() && page_count(p) == 1);
    assert!(v.iter().all(|x| x.id == "V2" || x.id == "V4"), "{}", show(&v));
}

#[test]
fn residual_window_walker_put_then_offline_succeeds_v2_v4() {
    let (s, pfn, offline, put) = residual_window(false);
    offline.unwrap();
    assert!(matches!(put, Err(Error::BadPage { .. })), "{put:?}");
    let v = s.check();
    assert!(has(&v, "V2", Some(pfn)) && has(&v, "V4", Some(pfn)), "{}", show(&v));
    assert!(v.iter().all(|x| x.id == "V2" || x.id == "V4"), "{}", show(&v));
}

#[test]
fn virtio_mem_checker_flags_unplugged_memory_in_use_and_leaked_references() {
    let s = sys::<Landed>(&[]);
    let c = s.cpu(0).unwrap();
    let vm = virtio_setup(&s, &c, 0..20);
    let pfn = vm.sb_start(40).unwrap();
    let p = s.pfn_to_page(pfn).unwrap();
    // The driver's reference vanishes (a put it did not make): the free
    // path refuses the typed page and put_page records V4 at once.
    c.put_page(pfn).unwrap_err();
    let v = s.check();
    assert!(has(&v, "V1", Some(pfn)) && has(&v, "V4", Some(pfn)), "{}", show(&v));
    mm::page_ref::set_page_count(p, 1);
    // From here on the recorded V4 stays; nothing else may be reported.
    let only_v4 = |v: &[mm::violation::Violation]| v.iter().all(|x| x.id == "V4" && x.pfn == Some(pfn));
    let v = s.check();
    assert!(only_v4(&v), "{}", show(&v));
    // The page is handed to the guest without plugging (A1).
    p.__ClearPageOffline();
    let v = s.check();
    assert!(has(&v, "A1", Some(pfn)), "{}", show(&v));
    p.__SetPageOffline();
    let v = s.check();
    assert!(only_v4(&v), "{}", show(&v));
    // A PageOffline page nobody owns (V1).
    let q = c.alloc_page().unwrap();
    s.pfn_to_page(q).unwrap().__SetPageOffline();
    assert!(has(&s.check(), "V1", Some(q)));
}

// ------------------------------------------------------------------- CMM

/// Block 0 in use, `n` loaned pages and one pinned user page in block 1,
/// then block 0 freed again.
fn cmm_setup<F: FreePath>(s: &System<F>, c: &Cpu<'_, F>, n: usize) -> (Arc<Cmm>, Pfn) {
    let cmm = Arc::new(Cmm::new());
    s.register_memory_notifier(cmm.clone());
    let hog = hog_below(c, S);
    assert_eq!(cmm.inflate(c, n).unwrap(), n);
    let user = c.fault(0).unwrap();
    assert!(user >= S && cmm.pages().iter().all(|&p| (S..2 * S).contains(&p)), "{:?}", cmm.pages());
    unhog(c, hog);
    (cmm, user)
}

#[test]
fn cmm_landed_offline_migrates_loans_and_a_failed_offline_keeps_them() {
    let s = sys::<Landed>(&[]);
    let c = s.cpu(0).unwrap();
    let (cmm, user) = cmm_setup(&s, &c, 8);
    clean(&s);
    // Pin the user page: migration fails until the offline gives up.
    c.get_page(user).unwrap();
    let e = s.offline_memory_block(&c, 1).unwrap_err();
    assert!(matches!(&e, Error::OfflineFailed { reason, .. } if reason.contains("passes")), "{e}");
    assert_eq!(cmm.loaned_pages(), 8);
    assert!(cmm.pages().iter().all(|&p| !(S..2 * S).contains(&p)), "loans migrated out of the range");
    clean(&s);
    c.put_page(user).unwrap();
    s.offline_memory_block(&c, 1).unwrap();
    assert_eq!(cmm.loaned_pages(), 8);
    clean(&s);
    assert_eq!(cmm.deflate(&c, 8).unwrap(), 8);
    clean(&s);
}

#[test]
fn cmm_free_on_going_offline_then_cancel_breaks_the_loan_cmm1() {
    let s = sys::<Landed>(&[Switch::CmmFreeOnGoingOffline]);
    let c = s.cpu(0).unwrap();
    let (cmm, user) = cmm_setup(&s, &c, 8);
    let loaned = cmm.pages();
    clean(&s);
    // T1: offline; GOING_OFFLINE frees the loans; the pinned page makes it fail.
    c.get_page(user).unwrap();
    assert!(s.offline_memory_block(&c, 1).is_err());
    assert_eq!(cmm.loaned_pages(), 0, "the balloon silently deflated");
    assert_eq!(cmm.target(), 8);
    let v = s.check();
    assert!(has(&v, "CMM1", None), "{}", show(&v));
    assert!(v.iter().all(|x| x.id == "CMM1"), "{}", show(&v));
    // T2: the guest allocates one of the pages it had loaned.
    let mut got = vec![];
    let hit = loop {
        let p = c.alloc_page().unwrap();
        got.push(p);
        if loaned.contains(&p) {
            break p;
        }
        assert!(got.len() < 3 * S as usize, "no loaned page was handed out");
    };
    let v = s.check();
    assert!(v.iter().any(|x| x.id == "CMM1" && x.msg.contains(&format!("{hit:#x} in use by the guest"))), "{}", show(&v));
}

#[test]
fn cmm_free_on_going_offline_successful_offline_is_clean() {
    let s = sys::<Landed>(&[Switch::CmmFreeOnGoingOffline]);
    let c = s.cpu(0).unwrap();
    let (cmm, user) = cmm_setup(&s, &c, 8);
    c.unmap(0).unwrap();
    assert_eq!(page_count(s.pfn_to_page(user).unwrap()), 0);
    s.offline_memory_block(&c, 1).unwrap();
    assert_eq!((cmm.loaned_pages(), cmm.target()), (0, 0), "the loans left with the memory");
    clean(&s);
}

// ------------------------------------------------------------ hv_balloon

#[test]
fn hv_balloon_pages_make_offline_fail_and_everything_is_restored() {
    let s = sys::<Landed>(&[]);
    let c = s.cpu(0).unwrap();
    let hv = Arc::new(HvBalloon::new());
    s.register_memory_notifier(hv.clone());
    let hog = hog_below(&c, S);
    assert_eq!(hv.inflate(&c, 4).unwrap(), 4);
    assert!(hv.pages().iter().all(|&p| (S..2 * S).contains(&p)));
    unhog(&c, hog);
    s.drain_all_pages();
    clean(&s);
    let before = s.stats();
    let e = s.offline_memory_block(&c, 1).unwrap_err();
    assert!(matches!(&e, Error::OfflineFailed { reason, .. } if reason.contains("unmovable")), "{e}");
    // O3.
    assert_eq!(s.block_state(1).unwrap(), BlockState::Online);
    assert_eq!(s.zone().nr_isolate_pageblock(), 0);
    assert_eq!(s.zone().pcp_high_batch(0), Some((mm::PCP_DEFAULT_HIGH, mm::PCP_DEFAULT_BATCH)));
    assert_eq!(s.stats().managed_pages, before.managed_pages);
    assert_eq!(s.stats().nr_free_pages, before.nr_free_pages);
    for p in hv.pages() {
        let d = s.pfn_to_page(p).unwrap();
        assert!(d.PageOffline() && page_count(d) == 1);
    }
    clean(&s);
    assert_eq!(hv.deflate(&c, 4).unwrap(), 4);
    s.offline_memory_block(&c, 1).unwrap();
    clean(&s);
}
