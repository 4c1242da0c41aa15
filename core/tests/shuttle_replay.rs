//! Record / replay of a concurrent pagelab workload under shuttle
//! (`cargo test -p pagelab --features shuttle`).
//!
//! Two spawned threads act for CPUs 1 and 2: they allocate, take extra
//! references, speculatively reference each other's pages
//! (get_page_unless_zero on pfns shared through a mutex), free, and drain
//! their pcp lists, while the main thread drains every CPU remotely
//! (drain_all_pages). Every op result is logged; at the end the whole
//! section's descriptors, the zone counters and the op log are hashed into
//! a fingerprint.
#![cfg(feature = "shuttle")]

use pagelab::sched::{self, RecordingScheduler, ReplayScheduler, Trace, Traced};
use shuttle::scheduler::Scheduler;
use pagelab::sync::{thread, Mutex};
use pagelab::{Config, System, PAGES_PER_SECTION};
use std::collections::hash_map::DefaultHasher;
use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

fn cfg() -> Config {
    Config {
        mem_bytes: 128 << 20,
        max_sections: 1,
        nr_cpus: 3,
        // Small pcp: refills, spills and drains all happen within a few ops.
        pcp_high: 6,
        pcp_batch: 2,
        ..Default::default()
    }
}

/// One logged operation: (cpu, op, pfn, result).
type Log = Vec<(u8, &'static str, u64, i64)>;

fn res(r: pagelab::Result<()>) -> i64 {
    match r {
        Ok(()) => 0,
        Err(_) => -1,
    }
}

/// The fixed script of the thread acting for CPU `me`. `shared[i]` holds the
/// pfns CPU i currently owns a reference on.
fn script(sys: &System, me: usize, shared: &[Mutex<Vec<u64>>; 3]) -> Log {
    let cpu = sys.cpu(me).expect("slot is free");
    let other = 3 - me;
    let m = me as u8;
    let mut log = Log::new();
    for round in 0..2u64 {
        let mut mine = Vec::new();
        for _ in 0..3 {
            match cpu.alloc_page() {
                Ok(pfn) => {
                    log.push((m, "alloc", pfn, 0));
                    mine.push(pfn);
                    shared[me].lock().push(pfn);
                }
                Err(_) => log.push((m, "alloc", 0, -1)),
            }
        }
        // An extra reference on a page we hold.
        let extra = mine[round as usize];
        log.push((m, "get", extra, res(cpu.get_page(extra))));
        // Speculative references on whatever the other CPU published.
        let theirs: Vec<u64> = shared[other].lock().clone();
        for pfn in theirs {
            let got = cpu.get_page_unless_zero(pfn).expect("valid pfn");
            log.push((m, "get_unless_zero", pfn, got as i64));
            if got {
                log.push((m, "put(spec)", pfn, res(cpu.put_page(pfn))));
            }
        }
        // Unpublish and drop our references (the extra one last).
        for &pfn in &mine {
            shared[me].lock().retain(|&p| p != pfn);
            log.push((m, "put", pfn, res(cpu.put_page(pfn))));
        }
        log.push((m, "put(extra)", extra, res(cpu.put_page(extra))));
        if round == 0 {
            cpu.drain_local_pages();
            log.push((m, "drain_local", 0, cpu.pcp_count() as i64));
        }
    }
    log
}

/// What one execution of the workload produced.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    /// Hash of every descriptor of the section, the zone counters and the log.
    fingerprint: u64,
    log: Log,
    /// The checker's report after the final drain.
    violations: Vec<String>,
    nr_free_pages: i64,
    pcp_pages: u64,
    managed_pages: i64,
    /// Pages whose refcount is not 0 after everything was freed.
    referenced_pages: u64,
    /// Wall time of System::new inside the execution.
    boot: Duration,
}

impl Outcome {
    /// The end state every interleaving must reach.
    fn assert_clean(&self) {
        assert!(self.violations.is_empty(), "checker: {:#?}", self.violations);
        assert_eq!(self.pcp_pages, 0, "drain_all_pages left pages on pcp lists");
        assert_eq!(
            self.nr_free_pages as u64 + self.pcp_pages,
            self.managed_pages as u64,
            "free + pcp != managed: a page leaked"
        );
        assert_eq!(self.referenced_pages, 0, "some allocation was never freed");
        let allocs = self.log.iter().filter(|e| e.1 == "alloc").count();
        assert_eq!(allocs, 12, "2 CPUs x 2 rounds x 3 allocs");
        for e in &self.log {
            match e.1 {
                "alloc" | "put" | "put(spec)" | "put(extra)" | "get" => assert_eq!(e.3, 0, "op failed: {e:?}"),
                _ => {}
            }
        }
    }
}

/// The workload; every execution pushes its outcome to `out`.
fn workload(out: Arc<StdMutex<Vec<Outcome>>>) -> impl Fn() + Send + Sync + 'static {
    move || {
        let t = Instant::now();
        let sys = Arc::new(System::<pagelab::Landed>::new(cfg()).expect("boot"));
        let boot = t.elapsed();
        let shared: Arc<[Mutex<Vec<u64>>; 3]> = Arc::new(std::array::from_fn(|_| Mutex::new(Vec::new())));
        let handles: Vec<_> = (1..=2)
            .map(|me| {
                let (sys, shared) = (sys.clone(), shared.clone());
                thread::spawn(move || script(&sys, me, &shared))
            })
            .collect();
        let cpu0 = sys.cpu(0).expect("main claims CPU 0");
        sys.drain_all_pages();
        thread::yield_now();
        sys.drain_all_pages();
        let mut log = Log::new();
        for h in handles {
            log.extend(h.join().expect("worker panicked"));
        }
        sys.drain_all_pages();
        drop(cpu0);

        let st = sys.stats();
        let violations: Vec<String> = sys.check().iter().map(|v| v.to_string()).collect();
        let mut h = DefaultHasher::new();
        let mut referenced_pages = 0;
        for pfn in 0..PAGES_PER_SECTION {
            let w = sys.pfn_to_page(pfn).expect("present").raw_words();
            referenced_pages += (w[1] != 0) as u64;
            w.hash(&mut h);
        }
        format!("{st:?}").hash(&mut h);
        log.hash(&mut h);
        out.lock().unwrap().push(Outcome {
            fingerprint: h.finish(),
            log,
            violations,
            nr_free_pages: st.nr_free_pages,
            pcp_pages: st.pcp_pages(),
            managed_pages: st.managed_pages,
            referenced_pages,
            boot,
        });
    }
}

/// Run the workload once under `s`; returns the trace and the outcome.
fn run<S: Scheduler + Traced + 'static>(s: S) -> (Trace, Outcome) {
    let out = Arc::new(StdMutex::new(Vec::new()));
    let h = s.trace_handle();
    let n = sched::run_with(s, workload(out.clone()));
    assert_eq!(n, 1, "one execution per scheduler");
    let o = out.lock().unwrap().pop().expect("the execution finished");
    (h.take().expect("trace published"), o)
}

fn same(a: &Outcome, b: &Outcome) -> bool {
    // Everything but the wall-clock boot time.
    Outcome { boot: Duration::ZERO, ..a.clone() } == Outcome { boot: Duration::ZERO, ..b.clone() }
}

#[test]
fn a_recorded_interleaving_replays_bit_for_bit() {
    let t0 = Instant::now();
    let (rec, o) = run(RecordingScheduler::new(1));
    let once = t0.elapsed();
    eprintln!(
        "one execution: {once:?} (System::new {:?}), {} scheduling points, {} ops logged",
        o.boot,
        rec.decisions.len(),
        o.log.len()
    );
    o.assert_clean();
    assert!(rec.decisions.contains(&1) && rec.decisions.contains(&2), "both workers ran");
    // The recorded run really interleaved: the decisions switch task inside
    // the workers' lifetime, not only at spawn/join.
    let switches = rec.decisions.windows(2).filter(|w| w[0] != w[1]).count();
    assert!(switches > 10, "only {switches} context switches");

    let (r1, o1) = run(ReplayScheduler::from_trace(&rec));
    let (r2, o2) = run(ReplayScheduler::from_trace(&rec));
    for (r, oo) in [(&r1, &o1), (&r2, &o2)] {
        assert_eq!(r.fallbacks, 0, "a recorded schedule never names a blocked task");
        assert_eq!(r.beyond_schedule, 0, "the replay took exactly as many steps as the recording");
        assert!(r.decisions == rec.decisions, "replay decisions differ from the recording");
        assert_eq!(r.randoms, rec.randoms);
        assert!(same(oo, &o), "replay outcome differs:\n{oo:#?}\nvs recorded\n{o:#?}");
    }
    assert_eq!(o1.fingerprint, o2.fingerprint);
    assert_eq!(o1.fingerprint, o.fingerprint);
}

#[test]
fn b_the_schedule_controls_the_run() {
    let mut traces = BTreeSet::new();
    let mut fingerprints = BTreeSet::new();
    let mut logs = BTreeSet::new();
    for seed in 1..20 {
        let (t, o) = run(RecordingScheduler::new(seed));
        o.assert_clean();
        traces.insert(t.decisions);
        fingerprints.insert(o.fingerprint);
        logs.insert(format!("{:?}", o.log));
    }
    eprintln!("19 seeds: {} traces, {} fingerprints, {} op logs", traces.len(), fingerprints.len(), logs.len());
    assert!(traces.len() > 1, "every seed produced the same interleaving");
    assert!(fingerprints.len() > 1, "every interleaving produced the same end state");
}

#[test]
fn b2_explicit_schedules_no_preemption_and_fallbacks() {
    // An empty schedule: no preemption at all beyond blocking and yields.
    let (t1, o1) = run(ReplayScheduler::new(vec![]));
    let (t2, o2) = run(ReplayScheduler::new(vec![]));
    o1.assert_clean();
    assert_eq!(t1.fallbacks, 0);
    assert_eq!(t1.beyond_schedule, t1.decisions.len());
    assert_eq!(t1.decisions, t2.decisions);
    assert!(same(&o1, &o2));
    // Without preemption, worker 1 runs its whole script before worker 2
    // starts: the first logged op of CPU 2 comes after CPU 1's last.
    let first2 = o1.log.iter().position(|e| e.0 == 2).expect("CPU 2 ran");
    assert!(o1.log[..first2].iter().all(|e| e.0 == 1) && o1.log[first2..].iter().all(|e| e.0 == 2));
    // Task 9 never exists: every listed point falls back, and the fallback
    // is the no-preemption choice, so the run equals the empty schedule.
    let (t3, o3) = run(ReplayScheduler::new(vec![9; 100]));
    assert_eq!(t3.fallbacks, 100);
    assert_eq!(t3.decisions, t1.decisions);
    assert!(same(&o3, &o1));
}

#[test]
fn c_shuttle_random_and_pct_find_no_violation() {
    let out = Arc::new(StdMutex::new(Vec::new()));
    let o2 = out.clone();
    let f = workload(out.clone());
    let body = move || {
        f();
        // Assert inside the execution so that shuttle reports the failing
        // schedule.
        o2.lock().unwrap().last().expect("outcome").assert_clean();
    };
    shuttle::check_random(body, 100);
    assert_eq!(out.lock().unwrap().len(), 100);
    let f = workload(out.clone());
    let o3 = out.clone();
    sched::run_with(shuttle::scheduler::PctScheduler::new(3, 100), move || {
        f();
        o3.lock().unwrap().last().expect("outcome").assert_clean();
    });
    let all = out.lock().unwrap();
    assert_eq!(all.len(), 200);
    let distinct: BTreeSet<u64> = all.iter().map(|o| o.fingerprint).collect();
    eprintln!("200 random/PCT executions: {} distinct end states", distinct.len());
    assert!(distinct.len() > 1);
}
