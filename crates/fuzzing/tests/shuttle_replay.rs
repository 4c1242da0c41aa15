//! Replay of a concurrent workload of the model under shuttle with
//! [`ReplayScheduler`] (`cargo test -p pagelab-fuzzing --features shuttle`):
//! a schedule of step preemptions fully decides the run.
//!
//! Two spawned threads act for CPUs 1 and 2: they allocate, take extra
//! references, speculatively reference each other's pages
//! (get_page_unless_zero on pfns shared through a mutex), free, and drain
//! their pcp lists, while the main thread drains every CPU remotely
//! (drain_all_pages). Every op result is logged; at the end the whole
//! section's descriptors, the zone counters and the op log are hashed into
//! a fingerprint.
#![cfg(feature = "shuttle")]

use fuzzing::rng::SplitMix64;
use fuzzing::scenario::{Schedule, StepPreempt};
use fuzzing::sched::{self, ReplayScheduler, RunStats};
use mm::sync::{thread, Mutex};
use mm::{Config, System};
use std::collections::hash_map::DefaultHasher;
use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};
use mm::geometry::Geometry;
const X86: Geometry = Geometry::X86_64;

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

fn res(r: mm::Result<()>) -> i64 {
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
        let sys = Arc::new(System::<mm::Landed>::new(cfg()).expect("boot"));
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
        for pfn in 0..X86.pages_per_section() {
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

/// A schedule of `n` step preemptions at random choice points (among the
/// first `within`) to random tasks (0..3), from `seed`.
fn random_steps(seed: u64, n: usize, within: u32) -> Schedule {
    let mut rng = SplitMix64(seed);
    let mut steps: Vec<StepPreempt> = (0..n).map(|_| StepPreempt { step: (rng.next_u64() % within.max(1) as u64) as u32, then: (rng.next_u64() % 3) as usize }).collect();
    steps.sort_by_key(|s| s.step);
    Schedule { steps, ..Default::default() }
}

/// Run the workload once under `schedule`; returns what the scheduler did
/// and the outcome.
fn run(schedule: &Schedule) -> (RunStats, Outcome) {
    let out = Arc::new(StdMutex::new(Vec::new()));
    let s = ReplayScheduler::new(schedule, None);
    let h = s.stats_handle();
    let n = shuttle::Runner::new(s, sched::config()).run(workload(out.clone()));
    assert_eq!(n, 1, "one execution per scheduler");
    let o = out.lock().unwrap().pop().expect("the execution finished");
    let st = h.lock().unwrap().clone();
    (st, o)
}

fn same(a: &Outcome, b: &Outcome) -> bool {
    // Everything but the wall-clock boot time.
    Outcome { boot: Duration::ZERO, ..a.clone() } == Outcome { boot: Duration::ZERO, ..b.clone() }
}

#[test]
fn a_schedule_replays_bit_for_bit() {
    // The choice points of a run without preemption bound where the
    // preemptions go.
    let within = run(&Schedule::default()).0.choice_points;
    let t0 = Instant::now();
    let schedule = random_steps(1, 60, within);
    let (st, o) = run(&schedule);
    let once = t0.elapsed();
    eprintln!("one execution: {once:?} (System::new {:?}), {} decisions, {} choice points, {} preemptions taken, {} ops logged", o.boot, st.decisions, st.choice_points, st.taken.len(), o.log.len());
    o.assert_clean();
    // The schedule really interleaved the workers.
    let switches = st.taken.iter().filter(|t| t.from != Some(t.to)).count();
    assert!(switches > 10, "only {switches} context switches");
    let (s1, o1) = run(&schedule);
    let (s2, o2) = run(&schedule);
    for (s, oo) in [(&s1, &o1), (&s2, &o2)] {
        assert_eq!(s, &st, "the replay made other decisions");
        assert!(same(oo, &o), "replay outcome differs:\n{oo:#?}\nvs first run\n{o:#?}");
    }
    assert_eq!(o1.fingerprint, o.fingerprint);
}

#[test]
fn b_the_schedule_controls_the_run() {
    let mut fingerprints = BTreeSet::new();
    let mut logs = BTreeSet::new();
    let within = run(&Schedule::default()).0.choice_points;
    for seed in 1..20 {
        let (_, o) = run(&random_steps(seed, 60, within));
        o.assert_clean();
        fingerprints.insert(o.fingerprint);
        logs.insert(format!("{:?}", o.log));
    }
    eprintln!("19 schedules: {} fingerprints, {} op logs", fingerprints.len(), logs.len());
    assert!(fingerprints.len() > 1, "every schedule produced the same end state");
}

#[test]
fn b2_no_preemption_and_preemptions_to_no_task() {
    // An empty schedule: no preemption at all beyond blocking and yields.
    let (s1, o1) = run(&Schedule::default());
    let (s2, o2) = run(&Schedule::default());
    o1.assert_clean();
    assert!(s1.taken.is_empty());
    assert_eq!(s1, s2);
    assert!(same(&o1, &o2));
    // Without preemption, worker 1 runs its whole script before worker 2
    // starts: the first logged op of CPU 2 comes after CPU 1's last.
    let first2 = o1.log.iter().position(|e| e.0 == 2).expect("CPU 2 ran");
    assert!(o1.log[..first2].iter().all(|e| e.0 == 1) && o1.log[first2..].iter().all(|e| e.0 == 2));
    // Task 9 never exists: no preemption is taken, and the run equals the
    // empty schedule.
    let none = Schedule { steps: (0..100).map(|i| StepPreempt { step: i * 3, then: 9 }).collect(), ..Default::default() };
    let (s3, o3) = run(&none);
    assert!(s3.taken.is_empty());
    assert_eq!(s3.decisions, s1.decisions);
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
    shuttle::Runner::new(shuttle::scheduler::PctScheduler::new(3, 100), sched::config()).run(move || {
        f();
        o3.lock().unwrap().last().expect("outcome").assert_clean();
    });
    let all = out.lock().unwrap();
    assert_eq!(all.len(), 200);
    let distinct: BTreeSet<u64> = all.iter().map(|o| o.fingerprint).collect();
    eprintln!("200 random/PCT executions: {} distinct end states", distinct.len());
    assert!(distinct.len() > 1);
}
