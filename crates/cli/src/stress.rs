//! `pagelab stress`: real OS threads, each acting for one CPU slot, run a
//! seeded random mix of the allocator's fast-path operations for a while;
//! the main thread drains every CPU's pcp lists every 10 ms from the side
//! (as `drain_all_pages` does for offlining) and prints progress each second.
//! At the end every page is freed and drained, the invariant checker walks
//! the system, and the zone counters must account for every page.
//!
//! Each thread's choice of operations is deterministic for a seed (a
//! xorshift64 stream per thread); the interleaving of the threads is not.

use crate::out::emit;
use crate::size::{human_bytes, human_count, parse_mem, short_size};
use crate::Failure;
use mm::{Config, Cpu, Landed, MigrateType, System, PAGE_SIZE, PCP_DEFAULT_BATCH, PCP_DEFAULT_HIGH};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use mm::geometry::Geometry;
const X86: Geometry = Geometry::X86_64;

#[derive(clap::Args, Debug)]
pub(crate) struct StressArgs {
    /// How long to run, in seconds.
    #[arg(long, value_name = "N", default_value_t = 5.0, value_parser = parse_secs)]
    secs: f64,
    /// Worker threads; each claims one CPU slot.
    #[arg(long, value_name = "T", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1024))]
    threads: u32,
    /// Memory of the machine (SIZE: a multiple of 128M, e.g. 256M, 1G).
    #[arg(long, value_name = "SIZE", default_value = "1G", value_parser = parse_mem)]
    mem: u64,
    /// Seed of the per-thread operation streams (decimal or 0x hex).
    #[arg(long, value_name = "S", default_value = "1", value_parser = parse_seed)]
    seed: u64,
}

fn parse_secs(s: &str) -> Result<f64, String> {
    let v: f64 = s.trim().parse().map_err(|_| "expected a number of seconds (e.g. 5 or 0.5)".to_string())?;
    if !(v.is_finite() && v > 0.0 && v <= 7.0 * 24.0 * 3600.0) {
        return Err("expected a number of seconds in (0, 604800]".into());
    }
    Ok(v)
}

fn parse_seed(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let r = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16),
        None => t.parse(),
    };
    r.map_err(|_| "expected an unsigned 64-bit integer (decimal or 0x hex)".to_string())
}

/// Pages one thread holds at most.
const HOLD_MAX_PAGES: u64 = 2000;
/// Period of the remote drain.
const DRAIN_PERIOD: Duration = Duration::from_millis(10);
/// Operations between two looks at the stop flag / progress publication.
const PUBLISH_EVERY: u64 = 256;

/// Operation kinds counted by the workers.
#[derive(Clone, Copy)]
#[repr(usize)]
enum Op {
    Alloc0,
    Alloc1,
    Alloc2,
    Alloc3,
    AllocFailed,
    Put,
    SpecGet,
    SpecPut,
    DrainLocal,
}
const NR_OPS: usize = 9;



/// What a worker publishes for the progress line (one cache line each).
#[repr(align(128))]
#[derive(Default)]
struct Progress {
    ops: AtomicU64,
    held: AtomicU64,
}

struct Shared {
    stop: AtomicBool,
    progress: Vec<Progress>,
    /// The first error a worker hit (a model error other than NoMemory).
    error: Mutex<Option<String>>,
}

impl Shared {
    fn fail(&self, msg: String) {
        let mut e = self.error.lock().unwrap_or_else(|p| p.into_inner());
        e.get_or_insert(msg);
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// One worker's result: its counts per op.
type Counts = [u64; NR_OPS];

fn worker(cpu: Cpu<'_, Landed>, nr_pages: u64, seed: u64, sh: &Shared) -> Counts {
    let id = cpu.id();
    // One stream per thread: splitmix64 gives nearby seeds unrelated streams.
    let mut rng = fuzzing::rng::SplitMix64(seed ^ (id as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut c: Counts = [0; NR_OPS];
    let mut held: Vec<(u64, u32)> = Vec::with_capacity(HOLD_MAX_PAGES as usize);
    let mut held_pages = 0u64;
    let mut n = 0u64;
    let mut err: Option<String> = None;

    'run: loop {
        if n.is_multiple_of(PUBLISH_EVERY) {
            let p = &sh.progress[id];
            p.ops.store(n, Ordering::Relaxed);
            p.held.store(held_pages, Ordering::Relaxed);
            if sh.stop.load(Ordering::Relaxed) {
                break;
            }
        }
        n += 1;
        let r = rng.next_u64();
        let kind = r & 127;
        // Orders: 0 mostly; 1, 2, 3 now and then.
        let order = match (r >> 8) & 31 {
            0..=1 => 3,
            2..=3 => 2,
            4..=6 => 1,
            _ => 0,
        };
        // ~40% alloc, ~40% put (each turning into the other at the hold
        // limit / with nothing held), ~20% speculative get, 1 in 8192 local drain.
        let fits = held_pages + (1 << order) <= HOLD_MAX_PAGES;
        if (kind < 52 && fits) || (kind < 104 && held.is_empty()) {
            // alloc_pages: 1 in 8 Unmovable, to mix pageblock migratetypes.
            let mt = if (r >> 16) & 7 == 0 { MigrateType::Unmovable } else { MigrateType::Movable };
            match cpu.alloc_pages(order, mt) {
                Ok(pfn) => {
                    held.push((pfn, order));
                    held_pages += 1 << order;
                    // Op::Alloc0..=Alloc3 are indices 0..=3.
                    c[Op::Alloc0 as usize + order as usize] += 1;
                }
                Err(mm::Error::NoMemory { .. }) => c[Op::AllocFailed as usize] += 1,
                Err(e) => {
                    err = Some(format!("cpu {id}: alloc_pages(order {order}, {}): {e}", mt.name()));
                    break 'run;
                }
            }
        } else if kind < 104 {
            // put_page of a held block (the head: frees the whole compound).
            let i = (r >> 20) as usize % held.len();
            let (pfn, order) = held.swap_remove(i);
            held_pages -= 1 << order;
            c[Op::Put as usize] += 1;
            if let Err(e) = cpu.put_page(pfn) {
                err = Some(format!("cpu {id}: put_page(pfn {pfn:#x}, order {order}): {e}"));
                break 'run;
            }
        } else if kind < 127 || (r >> 20) & 63 != 0 {
            // A speculative reference on any pfn, as a pfn walker
            // (compaction, memory_failure, offlining) takes it.
            let pfn = (r >> 24) % nr_pages;
            c[Op::SpecGet as usize] += 1;
            match cpu.get_page_unless_zero(pfn) {
                Ok(true) => {
                    c[Op::SpecPut as usize] += 1;
                    if let Err(e) = cpu.put_page(pfn) {
                        err = Some(format!("cpu {id}: put_page(pfn {pfn:#x}) after get_page_unless_zero: {e}"));
                        break 'run;
                    }
                }
                Ok(false) => {}
                Err(e) => {
                    err = Some(format!("cpu {id}: get_page_unless_zero(pfn {pfn:#x}): {e}"));
                    break 'run;
                }
            }
        } else {
            c[Op::DrainLocal as usize] += 1;
            cpu.drain_local_pages();
        }
    }
    if let Some(e) = err {
        sh.fail(e);
    }
    // Free what is still held, still acting for this CPU. After an error the
    // state may be corrupt: keep going so the checker sees all of it.
    for (pfn, order) in held.drain(..) {
        if let Err(e) = cpu.put_page(pfn) {
            sh.fail(format!("cpu {id}: final put_page(pfn {pfn:#x}, order {order}): {e}"));
        }
    }
    sh.progress[id].held.store(0, Ordering::Relaxed);
    c
}

pub(crate) fn run(a: &StressArgs) -> Result<(), Failure> {
    let threads = a.threads as usize;
    let cfg = Config {
        mem_bytes: a.mem,
        max_sections: (a.mem / X86.section_size()) as usize,
        nr_cpus: threads,
        pcp_high: PCP_DEFAULT_HIGH,
        pcp_batch: PCP_DEFAULT_BATCH,
        frame_store: false,
        ..Config::default()
    };
    let sys: System<Landed> = System::new(cfg)?;
    let nr_pages = a.mem / PAGE_SIZE as u64;
    let sh = Shared {
        stop: AtomicBool::new(false),
        progress: (0..threads).map(|_| Progress::default()).collect(),
        error: Mutex::new(None),
    };
    let cpus = (0..threads).map(|id| sys.cpu(id)).collect::<Result<Vec<_>, _>>()?;
    let dur = Duration::from_secs_f64(a.secs);
    eprintln!(
        "pagelab stress: {threads} threads, {} ({nr_pages} pages), {} s, seed {:#x}",
        human_bytes(a.mem),
        a.secs,
        a.seed
    );

    let mut drains = 0u64;
    let start = Instant::now();
    let (counts, elapsed) = std::thread::scope(|s| {
        let handles: Vec<_> = cpus
            .into_iter()
            .map(|cpu| {
                let (sh, seed) = (&sh, a.seed);
                s.spawn(move || worker(cpu, nr_pages, seed, sh))
            })
            .collect();

        // The main thread: remote drains every 10 ms, progress every second.
        let deadline = start + dur;
        let mut next_drain = start + DRAIN_PERIOD;
        let mut next_report = start + Duration::from_secs(1);
        let mut last_ops = 0u64;
        let mut last_t = start;
        loop {
            let now = Instant::now();
            if now >= deadline || sh.stop.load(Ordering::Relaxed) {
                break;
            }
            if now >= next_drain {
                sys.drain_all_pages();
                drains += 1;
                next_drain = (next_drain + DRAIN_PERIOD).max(now);
            }
            if now >= next_report {
                let ops: u64 = sh.progress.iter().map(|p| p.ops.load(Ordering::Relaxed)).sum::<u64>() + drains;
                let held: u64 = sh.progress.iter().map(|p| p.held.load(Ordering::Relaxed)).sum();
                let st = sys.stats();
                let rate = (ops - last_ops) as f64 / now.duration_since(last_t).as_secs_f64();
                eprintln!(
                    "[{:>5.1}/{} s] {} ops, {} ops/s, held {held} pages, pcp {} pages, free {} pages",
                    now.duration_since(start).as_secs_f64(),
                    a.secs,
                    human_count(ops as f64),
                    human_count(rate),
                    st.pcp_pages(),
                    st.nr_free_pages
                );
                (last_ops, last_t) = (ops, now);
                next_report += Duration::from_secs(1);
            }
            let wake = next_drain.min(deadline);
            std::thread::sleep(wake.saturating_duration_since(Instant::now()));
        }
        sh.stop.store(true, Ordering::Relaxed);
        let elapsed = start.elapsed();
        let mut total: Counts = [0; NR_OPS];
        for h in handles {
            // A panicking worker has already ended the process (panic hook).
            let c = h.join().unwrap_or([0; NR_OPS]);
            for (t, x) in total.iter_mut().zip(c) {
                *t += x;
            }
        }
        (total, elapsed)
    });

    // Quiescent now: drain, check, audit.
    sys.drain_all_pages();
    let violations = sys.check();
    let st = sys.stats();
    let secs = elapsed.as_secs_f64();

    let mut s = String::new();
    s.push_str(&format!(
        "pagelab stress: {threads} threads, --mem {} ({nr_pages} pages), {secs:.2} s, seed {:#x}\n",
        short_size(a.mem),
        a.seed
    ));
    s.push_str(&format!("  {:<34}{:>14}{:>14}\n", "operation", "count", "ops/s"));
    let mut row = |name: &str, n: u64| {
        s.push_str(&format!("  {name:<34}{n:>14}{:>14}\n", human_count(n as f64 / secs)));
    };
    row("alloc_pages order 0", counts[Op::Alloc0 as usize]);
    row("alloc_pages order 1", counts[Op::Alloc1 as usize]);
    row("alloc_pages order 2", counts[Op::Alloc2 as usize]);
    row("alloc_pages order 3", counts[Op::Alloc3 as usize]);
    row("alloc_pages failed (no memory)", counts[Op::AllocFailed as usize]);
    row("put_page (held block)", counts[Op::Put as usize]);
    row("get_page_unless_zero (random pfn)", counts[Op::SpecGet as usize]);
    row("  succeeded, then put_page", counts[Op::SpecPut as usize]);
    row("drain_local_pages", counts[Op::DrainLocal as usize]);
    row("drain_all_pages (main thread)", drains);
    let total: u64 = counts.iter().sum::<u64>() + drains;
    row("total", total);

    s.push_str(&format!("checker: {} violations\n", violations.len()));
    for v in &violations {
        s.push_str(&format!("  {v}\n"));
    }
    let accounted =
        st.nr_free_pages == st.managed_pages && st.pcp_pages() == 0 && st.buddy_pages() as i64 == st.nr_free_pages;
    s.push_str(&format!(
        "accounting: nr_free_pages {} / managed_pages {}, buddy {} pages, pcp {} pages: {}\n",
        st.nr_free_pages,
        st.managed_pages,
        st.buddy_pages(),
        st.pcp_pages(),
        if accounted { "every page accounted for" } else { "PAGES UNACCOUNTED FOR" }
    ));
    let max = X86.max_order as usize;
    s.push_str(&format!("merging: {} of {} order-{max} blocks whole again\n", st.nr_free[max], nr_pages >> max));
    let error = sh.error.into_inner().unwrap_or_else(|p| p.into_inner());
    if let Some(e) = &error {
        s.push_str(&format!("error: {e}\n"));
    }
    let clean = violations.is_empty() && accounted && error.is_none();
    s.push_str(if clean { "result: clean\n" } else { "result: FAILED\n" });
    emit(&s)?;
    if clean {
        Ok(())
    } else {
        let mut why = Vec::new();
        if !violations.is_empty() {
            why.push(format!("{} violations", violations.len()));
        }
        if !accounted {
            why.push("pages unaccounted for".to_string());
        }
        if let Some(e) = error {
            why.push(e);
        }
        Err(Failure::run(format!("stress failed: {}", why.join("; "))))
    }
}
