//! Memory blocks: add, online, offline (with migration of in-use pages and
//! a full restore on failure), remove; memmap_on_memory; contents preserved.
#![cfg(not(feature = "shuttle"))]

use mm::hotplug::memory_block::BlockState;
use mm::hotplug::notifier::{MemAction, MemoryNotifier, MemoryNotify, NotifyCtx};
use mm::{Config, Error, Landed, System};
use std::sync::{Arc, Mutex};

mod common;
use common::{clean};
use mm::geometry::Geometry;
const X86: Geometry = Geometry::X86_64;

fn sys(boot: u64, max: usize) -> System<Landed> {
    System::new(Config {
        mem_bytes: boot * X86.section_size(),
        max_sections: max,
        nr_cpus: 2,
        frame_store: true,
        ..Config::default()
    })
    .unwrap()
}


struct Recorder(Mutex<Vec<MemAction>>, Option<MemAction>);
impl MemoryNotifier for Recorder {
    fn name(&self) -> &str {
        "recorder"
    }
    fn notify(&self, _: &dyn NotifyCtx, a: MemAction, _: &MemoryNotify) -> Result<(), String> {
        self.0.lock().unwrap().push(a);
        if Some(a) == self.1 {
            return Err("refused".into());
        }
        Ok(())
    }
}

#[test]
fn hot_add_online_offline_remove_roundtrip() {
    let s = sys(1, 3);
    let rec = Arc::new(Recorder(Mutex::new(vec![]), None));
    s.register_memory_notifier(rec.clone());
    s.add_memory(1, false).unwrap();
    assert_eq!(s.block_state(1).unwrap(), BlockState::Offline);
    clean(&s);
    s.online_memory_block(1).unwrap();
    assert_eq!(s.stats().nr_free_pages, 2 * X86.pages_per_section() as i64);
    clean(&s);
    let c = s.cpu(0).unwrap();
    s.offline_memory_block(&c, 1).unwrap();
    assert_eq!(s.block_state(1).unwrap(), BlockState::Offline);
    assert_eq!(s.stats().nr_free_pages, X86.pages_per_section() as i64);
    assert_eq!(s.stats().managed_pages, X86.pages_per_section() as i64);
    assert_eq!(s.zone().nr_isolate_pageblock(), 0);
    clean(&s);
    assert!(s.pfn_to_page(X86.pages_per_section()).unwrap().PagePoisoned(), "offline poisons the memmap");
    // Online again re-initializes the poisoned memmap.
    s.online_memory_block(1).unwrap();
    clean(&s);
    s.offline_memory_block(&c, 1).unwrap();
    s.remove_memory(1).unwrap();
    assert_eq!(s.block_state(1).unwrap(), BlockState::Removed);
    clean(&s);
    assert_eq!(
        *rec.0.lock().unwrap(),
        vec![
            MemAction::GoingOnline,
            MemAction::Online,
            MemAction::GoingOffline,
            MemAction::Offline,
            MemAction::GoingOnline,
            MemAction::Online,
            MemAction::GoingOffline,
            MemAction::Offline
        ]
    );
}

#[test]
fn offline_migrates_in_use_pages_and_keeps_their_bytes() {
    let s = sys(2, 2);
    let c = s.cpu(0).unwrap();
    // Fault 3000 user pages; they land in both blocks.
    let mut in_block1 = 0;
    for vpn in 0..3000 {
        let pfn = c.fault(vpn).unwrap();
        if pfn >= X86.pages_per_section() {
            in_block1 += 1;
        }
    }
    // Make sure block 1 really holds user pages: fault more until it does.
    let mut vpn = 3000;
    while in_block1 < 100 {
        if c.fault(vpn).unwrap() >= X86.pages_per_section() {
            in_block1 += 1;
        }
        vpn += 1;
    }
    // Leave room in block 0 for the migration targets: keep 2000 of its pages mapped.
    for (v, pfn) in s.user_mappings() {
        if pfn < X86.pages_per_section() && v >= 2000 {
            c.unmap(v).unwrap();
        }
    }
    clean(&s);
    let mapped = s.user_mappings().len();
    s.offline_memory_block(&c, 1).unwrap();
    for (v, pfn) in s.user_mappings() {
        assert!(pfn < X86.pages_per_section(), "vpn {v} still maps offline memory");
        assert_eq!(s.verify_user_page(v).unwrap(), Some(true), "vpn {v} lost its bytes");
    }
    assert_eq!(s.user_mappings().len(), mapped);
    clean(&s);
    for v in 0..vpn {
        c.unmap(v).unwrap();
    }
    c.drain_local_pages();
    clean(&s);
    assert_eq!(s.stats().nr_free_pages, X86.pages_per_section() as i64);
}

#[test]
fn unmovable_page_fails_offline_and_everything_is_restored() {
    let s = sys(2, 2);
    let rec = Arc::new(Recorder(Mutex::new(vec![]), None));
    s.register_memory_notifier(rec.clone());
    let c = s.cpu(0).unwrap();
    // Take the whole of block 0 so that a kernel (unmovable) page lands in block 1.
    let mut held = vec![];
    let kernel_page = loop {
        let p = c.alloc_page().unwrap();
        if p >= X86.pages_per_section() {
            break p;
        }
        held.push(p);
    };
    for p in held {
        c.put_page(p).unwrap();
    }
    let before = s.stats();
    let e = s.offline_memory_block(&c, 1).unwrap_err();
    assert!(matches!(&e, Error::OfflineFailed { block: 1, reason } if reason.contains("isolate")), "{e}");
    assert_eq!(s.block_state(1).unwrap(), BlockState::Online);
    assert_eq!(s.zone().nr_isolate_pageblock(), 0);
    assert_eq!(s.zone().pcp_high_batch(0), Some((mm::PCP_DEFAULT_HIGH, mm::PCP_DEFAULT_BATCH)), "pcp re-enabled");
    assert_eq!(s.stats().managed_pages, before.managed_pages);
    clean(&s);
    // Isolation failed before GOING_OFFLINE: no notification at all (O3).
    assert!(rec.0.lock().unwrap().iter().all(|a| !matches!(a, MemAction::GoingOffline | MemAction::CancelOffline)));
    c.put_page(kernel_page).unwrap();
    s.offline_memory_block(&c, 1).unwrap();
    clean(&s);
}

#[test]
fn notifier_refusal_cancels_exactly_once() {
    let s = sys(2, 2);
    let rec = Arc::new(Recorder(Mutex::new(vec![]), Some(MemAction::GoingOffline)));
    s.register_memory_notifier(rec.clone());
    let c = s.cpu(0).unwrap();
    let e = s.offline_memory_block(&c, 1).unwrap_err();
    assert!(e.to_string().contains("notifier"), "{e}");
    let log = rec.0.lock().unwrap().clone();
    assert_eq!(log.iter().filter(|a| **a == MemAction::CancelOffline).count(), 1, "{log:?}");
    assert_eq!(s.block_state(1).unwrap(), BlockState::Online);
    clean(&s);
}

#[test]
fn pinned_page_makes_offline_give_up_after_bounded_passes() {
    let s = System::<Landed>::new(Config {
        mem_bytes: 2 * X86.section_size(),
        max_sections: 2,
        nr_cpus: 2,
        offline_max_passes: 5,
        ..Config::default()
    })
    .unwrap();
    let c = s.cpu(0).unwrap();
    let mut v = 0;
    let pinned = loop {
        let p = c.fault(v).unwrap();
        v += 1;
        if p >= X86.pages_per_section() {
            break p;
        }
    };
    for u in 0..v - 1 {
        c.unmap(u).unwrap();
    }
    // A long-term extra reference (a pin): migration's freeze always fails.
    c.get_page(pinned).unwrap();
    let e = s.offline_memory_block(&c, 1).unwrap_err();
    assert!(e.to_string().contains("gave up"), "{e}");
    assert_eq!(s.block_state(1).unwrap(), BlockState::Online);
    clean(&s);
    c.put_page(pinned).unwrap();
    s.offline_memory_block(&c, 1).unwrap();
    clean(&s);
}

#[test]
fn memmap_on_memory_keeps_vmemmap_out_of_buddy() {
    let s = sys(1, 2);
    s.add_memory(1, true).unwrap();
    s.online_memory_block(1).unwrap();
    let vm = X86.nr_vmemmap_pages() as i64;
    assert_eq!(s.stats().nr_free_pages, 2 * X86.pages_per_section() as i64 - vm);
    assert_eq!(s.memory_block(1).unwrap().altmap_alloc() as i64, vm);
    let p = s.pfn_to_page(X86.pages_per_section()).unwrap();
    assert!(p.PageReserved());
    clean(&s);
    let c = s.cpu(0).unwrap();
    s.offline_memory_block(&c, 1).unwrap();
    clean(&s);
    s.remove_memory(1).unwrap();
    assert_eq!(s.memory_block(1).unwrap().altmap_alloc(), 0);
    clean(&s);
    // Removing twice is refused, not a double release.
    assert!(s.remove_memory(1).is_err());
}

#[test]
fn state_errors_are_clear() {
    let s = sys(1, 2);
    let c = s.cpu(0).unwrap();
    assert!(s.remove_memory(0).unwrap_err().to_string().contains("online"));
    assert!(s.online_memory_block(1).is_err(), "not present");
    assert!(s.offline_memory_block(&c, 1).is_err());
    assert!(s.online_memory_block(5).unwrap_err().to_string().contains("no such memory block"));
    assert!(matches!(c.fault(usize::MAX), Err(Error::BadRequest(_))));
}
