//! Scenario files (`*.ops`): the stable, versioned, human-readable form of
//! a fuzz input — the machine, the design, a sequential setup, per-thread
//! op lists, the schedule, and the expected verdict.
//!
//! ```text
//! # C1: a free whose migratetype was read before isolation lands on a pcp list
//! pagelab-scenario v1
//! config mem=128M max_sections=2 cpus=2 frame_store=on memmap_on_memory=off pcp_high=6 pcp_batch=2 offline_passes=4 vpages=64
//! design offline_drain_once
//! free_path landed
//! setup:
//!   add_memory block=1
//!   online
//! thread T0:
//!   offline block=1
//! thread T1:
//!   fault
//!   unmap
//!   alloc
//! schedule:
//!   preempt T0 at op:offline #1 -> T1
//!   preempt T1 at free_unref_page:mt_read #1 -> T0
//!   at step 17 switch to T1
//!   at point 40 switch to T0
//! expect: violation A1
//! ```
//!
//! * Lines: `#` starts a comment when it begins a line or follows a space
//!   and is followed by a space or the line end (so `#1` in a preemption
//!   is not one). Comment lines before the version line are kept as the
//!   scenario's notes and printed back.
//! * `config` keys (any order, all optional): `mem` (boot memory, a
//!   multiple of 128M), `max_sections`, `cpus`, `frame_store`,
//!   `memmap_on_memory` (the module parameter: an `add_memory
//!   memmap_on_memory=on` only gets an altmap when it is on), `pcp_high`,
//!   `pcp_batch`, `offline_passes`, `vpages`, `drivers` (`none` or a comma
//!   list of `virtio_mem` — a device over the hot-pluggable blocks —,
//!   `cmm`, `hv_balloon`: registered on the notifier chain at boot).
//! * `design` is `fixed` or a comma list of [`mm::Switch`] names;
//!   `free_path` a name from [`mm::design::FREE_PATHS`].
//! * `setup:` runs sequentially on the main thread (CPU operands honoured),
//!   checked by the model and the checker after every op. `thread Tn:`
//!   lists (T0, T1, ... in order) run concurrently under shuttle; thread
//!   Tn acts for CPU n, T0 is the main task that ran the setup.
//! * `schedule:` sparse preemptions over the default policy (run the
//!   current thread until it blocks or finishes, then the lowest runnable):
//!   `preempt Ta at LABEL #n -> Tb` (when Ta reaches its n-th pass through
//!   the named preemption point LABEL, run Tb; taken in order) and
//!   `at step N switch to Tb` (at the N-th scheduling decision that has a
//!   choice, run Tb) and `at point N switch to Tb` (at the N-th
//!   preemptible point — a named point or an access to shared lock-free
//!   data where another thread could run, counted from 0 — run Tb). Named
//!   preemptions survive code changes that add scheduling points; point
//!   preemptions survive added locks; step indices survive neither. Each
//!   thread passes `op:<name>` before each of its ops.
//! * `expect: ok` or `expect: violation ID` (an invariant id, or one of
//!   the harness's: `MODEL` the reference model disagrees, `OPERR` an
//!   operation on a held handle failed, `PANIC` the core panicked).
//!
//! A parse error names the file, line and column and what was expected;
//! no input makes the parser panic.
//!
//! Invariants: `print(parse(print(s))) == print(s)` and `parse(print(s)) ==
//! s` for every valid scenario. Lock order: none (plain data).
//!
//! Files: `print` (the text form), `parse` (the parser and its errors),
//! `gen` (scenario generators for tests).

use crate::ops::Op;
use mm::design::{Switch, FREE_PATHS};
use mm::Geometry;
use std::fmt;

pub mod gen;
mod parse;
mod print;
#[cfg(test)]
mod tests;

pub use parse::{parse, ParseError};

/// The current format version.
pub const VERSION: u32 = 1;

/// The machine of a scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScConfig {
    /// The machine's geometry (`geometry=`; absent: x86-64).
    pub geometry: Geometry,
    /// Boot sections (`mem` / the geometry's section size).
    pub boot_sections: u64,
    pub max_sections: usize,
    pub cpus: usize,
    pub frame_store: bool,
    /// The `memory_hotplug.memmap_on_memory` module parameter.
    pub memmap_on_memory: bool,
    pub pcp_high: u32,
    pub pcp_batch: u32,
    pub offline_passes: u32,
    pub vpages: usize,
    /// Balloon / memory-device drivers registered at boot (`drivers=`):
    /// virtio-mem over the hot-pluggable blocks, CMM, Hyper-V balloon.
    pub virtio_mem: bool,
    pub cmm: bool,
    pub hv_balloon: bool,
}

impl Default for ScConfig {
    fn default() -> Self {
        ScConfig {
            geometry: Geometry::X86_64,
            boot_sections: 1,
            max_sections: 2,
            cpus: 2,
            frame_store: true,
            memmap_on_memory: true,
            pcp_high: 6,
            pcp_batch: 2,
            offline_passes: 4,
            vpages: 64,
            virtio_mem: false,
            cmm: false,
            hv_balloon: false,
        }
    }
}

impl ScConfig {
    /// Largest accepted values (a scenario is a test case, not a workload).
    pub const MAX_SECTIONS: usize = 8;
    pub const MAX_CPUS: usize = 8;
    pub const MAX_VPAGES: usize = 4096;

    /// Any driver configured?
    pub fn has_drivers(&self) -> bool {
        self.virtio_mem || self.cmm || self.hv_balloon
    }

    fn drivers_text(&self) -> String {
        let mut v = Vec::new();
        if self.virtio_mem {
            v.push("virtio_mem");
        }
        if self.cmm {
            v.push("cmm");
        }
        if self.hv_balloon {
            v.push("hv_balloon");
        }
        v.join(",")
    }

    /// The core's configuration for `design`.
    pub fn to_config(&self, design: mm::Design) -> mm::Config {
        mm::Config {
            mem_bytes: self.boot_sections * self.geometry.section_size(),
            max_sections: self.max_sections,
            nr_cpus: self.cpus,
            pcp_high: self.pcp_high,
            pcp_batch: self.pcp_batch,
            frame_store: self.frame_store,
            design,
            nr_vpages: self.vpages,
            offline_max_passes: self.offline_passes,
            geometry: self.geometry,
        }
    }

    fn validate(&self) -> Result<(), String> {
        if self.boot_sections == 0 || self.boot_sections as usize > self.max_sections {
            return Err(format!("mem of 1..=max_sections sections (max_sections is {})", self.max_sections));
        }
        if self.max_sections > Self::MAX_SECTIONS {
            return Err(format!("max_sections at most {}", Self::MAX_SECTIONS));
        }
        if self.cpus == 0 || self.cpus > Self::MAX_CPUS {
            return Err(format!("cpus in 1..={}", Self::MAX_CPUS));
        }
        if self.vpages == 0 || self.vpages > Self::MAX_VPAGES {
            return Err(format!("vpages in 1..={}", Self::MAX_VPAGES));
        }
        if self.pcp_batch == 0 {
            return Err("pcp_batch of at least 1".into());
        }
        if self.offline_passes == 0 || self.offline_passes > 64 {
            return Err("offline_passes in 1..=64".into());
        }
        Ok(())
    }
}

/// A named preemption: when thread `task` reaches its `nth` pass through
/// `label`, run thread `then`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedPreempt {
    pub task: usize,
    pub label: String,
    pub nth: u32,
    pub then: usize,
}

/// A step preemption: at choice point `step` (0-based count of scheduling
/// decisions with more than one runnable thread), run thread `then`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepPreempt {
    pub step: u32,
    pub then: usize,
}

/// A point preemption: at preemptible point `point` (0-based count of the
/// decisions where the running thread stands at a named point or at an
/// access to shared lock-free data and another thread is runnable), run
/// thread `then`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PointPreempt {
    pub point: u32,
    pub then: usize,
}

/// The schedule of a concurrent scenario.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Schedule {
    pub named: Vec<NamedPreempt>,
    /// Sorted by step.
    pub steps: Vec<StepPreempt>,
    /// Sorted by point.
    pub points: Vec<PointPreempt>,
}

impl Schedule {
    pub fn is_empty(&self) -> bool {
        self.named.is_empty() && self.steps.is_empty() && self.points.is_empty()
    }

    /// How many preemptions it asks for.
    pub fn len(&self) -> usize {
        self.named.len() + self.steps.len() + self.points.len()
    }
}

/// The expected verdict.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Verdict {
    #[default]
    Ok,
    /// A violation with this id is reported.
    Violation(String),
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Ok => f.write_str("ok"),
            Verdict::Violation(id) => write!(f, "violation {id}"),
        }
    }
}

/// One scenario.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scenario {
    /// Comment lines before the version line (without the `# `).
    pub notes: Vec<String>,
    pub config: ScConfig,
    pub design: Vec<Switch>,
    pub free_path: String,
    pub setup: Vec<Op>,
    pub threads: Vec<Vec<Op>>,
    pub schedule: Schedule,
    pub expect: Verdict,
}

impl Scenario {
    /// A sequential scenario on the default machine, landed design.
    pub fn sequential(setup: Vec<Op>) -> Scenario {
        Scenario { free_path: "landed".into(), setup, ..Scenario::default() }
    }

    /// Does it need the shuttle build (it has threads)?
    pub fn is_concurrent(&self) -> bool {
        !self.threads.is_empty()
    }

    /// The design switches as a [`mm::Design`].
    pub fn design(&self) -> mm::Design {
        mm::Design::with(&self.design)
    }

    /// Is this the landed design (no switch, landed free path)?
    pub fn is_fixed(&self) -> bool {
        self.design.is_empty() && self.free_path == "landed"
    }

    /// The text form.
    pub fn print(&self) -> String {
        self.to_string()
    }

    /// Check cross-field rules (threads vs cpus, schedule thread ids).
    pub fn validate(&self) -> Result<(), String> {
        self.config.validate()?;
        if !FREE_PATHS.iter().any(|(n, _)| *n == self.free_path) {
            return Err(format!("free_path one of {}", FREE_PATHS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")));
        }
        if self.threads.len() > self.config.cpus {
            return Err(format!("at most one thread per cpu ({} threads, {} cpus)", self.threads.len(), self.config.cpus));
        }
        if self.threads.len() == 1 {
            return Err("no thread sections, or at least two".into());
        }
        let n = self.threads.len();
        for p in &self.schedule.named {
            if p.task >= n || p.then >= n {
                return Err(format!("thread ids below {n} in the schedule"));
            }
        }
        if self.schedule.steps.iter().map(|p| p.then).chain(self.schedule.points.iter().map(|p| p.then)).any(|t| t >= n) {
            return Err(format!("thread ids below {n} in the schedule"));
        }
        if !self.schedule.is_empty() && n == 0 {
            return Err("thread sections before a schedule".into());
        }
        if self.schedule.steps.windows(2).any(|w| w[0].step > w[1].step) {
            return Err("step preemptions in increasing step order".into());
        }
        if self.schedule.points.windows(2).any(|w| w[0].point > w[1].point) {
            return Err("point preemptions in increasing point order".into());
        }
        Ok(())
    }
}

/// Read and parse a scenario file.
pub fn load(path: &std::path::Path) -> Result<Scenario, String> {
    let text = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let text = String::from_utf8(text).map_err(|e| format!("{}: not UTF-8 text ({e})", path.display()))?;
    parse(&path.display().to_string(), &text).map_err(|e| e.to_string())
}

/// Pages of the memory a scenario boots (for messages).
pub fn boot_pages(sc: &Scenario) -> u64 {
    sc.config.boot_sections * sc.config.geometry.pages_per_section()
}
