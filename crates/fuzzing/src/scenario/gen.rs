//! Generators of valid scenarios from `arbitrary` bytes (for the
//! round-trip property test and the `scenario` fuzz target's seeds).

use super::{NamedPreempt, PointPreempt, ScConfig, Scenario, Schedule, StepPreempt, Verdict};
use crate::ops::Op;
use mm::design::{Switch, FREE_PATHS};
use mm::Geometry;
use arbitrary::{Arbitrary, Result, Unstructured};

const LABELS: &[&str] = &["op:alloc", "free_unref_page:mt_read", "rmqueue_pcplist:refilled", "x", "a:b:c_9"];

/// Any valid scenario.
pub fn scenario(u: &mut Unstructured<'_>) -> Result<Scenario> {
    let max_sections = u.int_in_range(1..=ScConfig::MAX_SECTIONS)?;
    let config = ScConfig {
        geometry: *u.choose(&Geometry::ALL)?,
        boot_sections: u.int_in_range(1..=max_sections as u64)?,
        max_sections,
        cpus: u.int_in_range(1..=ScConfig::MAX_CPUS)?,
        frame_store: u.arbitrary()?,
        memmap_on_memory: u.arbitrary()?,
        pcp_high: u.int_in_range(0..=300)?,
        pcp_batch: u.int_in_range(1..=64)?,
        offline_passes: u.int_in_range(1..=64)?,
        vpages: u.int_in_range(1..=ScConfig::MAX_VPAGES)?,
        virtio_mem: u.arbitrary()?,
        cmm: u.arbitrary()?,
        hv_balloon: u.arbitrary()?,
    };
    let mut design: Vec<Switch> = Vec::new();
    for &s in Switch::ALL {
        if u.ratio(1, 8)? {
            design.push(s);
        }
    }
    let free_path = u.choose(FREE_PATHS)?.0.to_string();
    let setup: Vec<Op> = (0..u.int_in_range(0..=6)?).map(|_| Op::arbitrary(u)).collect::<Result<_>>()?;
    let nthreads = if u.arbitrary()? { 0 } else { u.int_in_range(2..=config.cpus.max(2))? };
    let mut config = config;
    config.cpus = config.cpus.max(nthreads);
    let threads: Vec<Vec<Op>> =
        (0..nthreads).map(|_| (0..u.int_in_range(0..=4)?).map(|_| Op::arbitrary(u)).collect::<Result<Vec<_>>>()).collect::<Result<_>>()?;
    let mut schedule = Schedule::default();
    if nthreads > 0 {
        for _ in 0..u.int_in_range(0..=3)? {
            schedule.named.push(NamedPreempt {
                task: u.int_in_range(0..=nthreads - 1)?,
                label: u.choose(LABELS)?.to_string(),
                nth: u.int_in_range(1..=9)?,
                then: u.int_in_range(0..=nthreads - 1)?,
            });
        }
        let mut step = 0u32;
        for _ in 0..u.int_in_range(0..=3)? {
            step += u.int_in_range(0..=50)?;
            schedule.steps.push(StepPreempt { step, then: u.int_in_range(0..=nthreads - 1)? });
        }
        let mut point = 0u32;
        for _ in 0..u.int_in_range(0..=2)? {
            point += u.int_in_range(0..=40)?;
            schedule.points.push(PointPreempt { point, then: u.int_in_range(0..=nthreads - 1)? });
        }
    }
    let expect = if u.arbitrary()? { Verdict::Ok } else { Verdict::Violation(u.choose(&["A1", "B3", "MODEL", "O1"])?.to_string()) };
    let notes = if u.ratio(1, 3)? { vec!["a note".into(), String::new(), "# more".into()] } else { Vec::new() };
    Ok(Scenario { notes, config, design, free_path, setup, threads, schedule, expect })
}
