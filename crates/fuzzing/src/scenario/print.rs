//! The text form of a scenario: what `pagelab fmt` prints and what a
//! finding is saved as; [`super::parse`] reads it back to the same value.

use super::{Scenario, VERSION};
use mm::Geometry;
use std::fmt;

pub(super) fn fmt_mem(geo: &Geometry, sections: u64) -> String {
    let mib = sections * (geo.section_size() >> 20);
    if mib.is_multiple_of(1024) {
        format!("{}G", mib / 1024)
    } else {
        format!("{mib}M")
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for n in &self.notes {
            if n.is_empty() {
                writeln!(f, "#")?;
            } else {
                writeln!(f, "# {n}")?;
            }
        }
        writeln!(f, "pagelab-scenario v{VERSION}")?;
        let c = &self.config;
        let onoff = |b: bool| if b { "on" } else { "off" };
        writeln!(
            f,
            "config {}mem={} max_sections={} cpus={} frame_store={} memmap_on_memory={} pcp_high={} pcp_batch={} offline_passes={} vpages={}{}",
            if c.geometry == Geometry::X86_64 { String::new() } else { format!("geometry={} ", c.geometry.name) },
            fmt_mem(&c.geometry, c.boot_sections),
            c.max_sections,
            c.cpus,
            onoff(c.frame_store),
            onoff(c.memmap_on_memory),
            c.pcp_high,
            c.pcp_batch,
            c.offline_passes,
            c.vpages,
            if c.has_drivers() { format!(" drivers={}", c.drivers_text()) } else { String::new() }
        )?;
        if self.design.is_empty() {
            writeln!(f, "design fixed")?;
        } else {
            let v: Vec<&str> = self.design.iter().map(|s| s.name()).collect();
            writeln!(f, "design {}", v.join(","))?;
        }
        writeln!(f, "free_path {}", self.free_path)?;
        writeln!(f, "setup:")?;
        for op in &self.setup {
            writeln!(f, "  {op}")?;
        }
        for (i, t) in self.threads.iter().enumerate() {
            writeln!(f, "thread T{i}:")?;
            for op in t {
                writeln!(f, "  {op}")?;
            }
        }
        if !self.schedule.is_empty() {
            writeln!(f, "schedule:")?;
            for p in &self.schedule.named {
                writeln!(f, "  preempt T{} at {} #{} -> T{}", p.task, p.label, p.nth, p.then)?;
            }
            for p in &self.schedule.steps {
                writeln!(f, "  at step {} switch to T{}", p.step, p.then)?;
            }
            for p in &self.schedule.points {
                writeln!(f, "  at point {} switch to T{}", p.point, p.then)?;
            }
        }
        writeln!(f, "expect: {}", self.expect)
    }
}
