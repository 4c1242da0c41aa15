//! What the model's integration tests share: a small machine with a chosen
//! design, and the checker's verdicts in words.
#![allow(dead_code)] // each test file uses its own subset

use mm::page_alloc::FreePath;
use mm::violation::Violation;
use mm::{Config, Design, Switch, System};
use mm::geometry::Geometry;
const X86: Geometry = Geometry::X86_64;

/// Two boot sections, room for `max_sections`, two CPUs, the frame store
/// on, `switches` on.
pub fn machine<F: FreePath>(max_sections: usize, switches: &[Switch]) -> System<F> {
    System::new(Config {
        mem_bytes: 2 * X86.section_size(),
        max_sections,
        nr_cpus: 2,
        frame_store: true,
        design: Design::with(switches),
        ..Config::default()
    })
    .unwrap()
}

/// [`machine`] of two sections on the landed free path.
pub fn sys(switches: &[Switch]) -> System {
    machine(2, switches)
}

/// The violations, one per line.
pub fn show(v: &[Violation]) -> String {
    v.iter().map(|v| v.to_string()).collect::<Vec<_>>().join("\n")
}

/// The checker finds nothing.
pub fn clean<F: FreePath>(s: &System<F>) {
    let v = s.check();
    assert!(v.is_empty(), "{}", show(&v));
}

/// `v` has a violation `id` (at `pfn`, when given).
pub fn has(v: &[Violation], id: &str, pfn: Option<u64>) -> bool {
    v.iter().any(|x| x.id == id && (pfn.is_none() || x.pfn == pfn))
}
