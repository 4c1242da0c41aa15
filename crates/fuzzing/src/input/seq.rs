//! The `seq` target's input: a machine knobs byte, then ops back to back
//! (see [`ops_back_to_back`]). Also the machines the knobs describe and the
//! inverse encoding (a scenario to fuzz bytes, for corpus seeds).
//!
//! Invariants: [`seq_input`] is total (any bytes decode) and
//! `seq_input(seq_bytes(sc)) == sc` for a scenario the knobs can describe.
//! Lock order: none (plain data).

use super::{with_campaign, MAX_SEQ_OPS};
use crate::campaign::Campaign;
use crate::ops::{Encode, Op};
use crate::scenario::{ScConfig, Scenario};
use arbitrary::{Arbitrary, Unstructured};

/// The `seq` target's input.
#[derive(Debug, Clone)]
pub struct SeqInput {
    /// Machine knobs: bit 0 max_sections 2/3, bit 1 cpus 2/4, bits 2-3 the
    /// pcp (high, batch) pair, bit 4 memmap_on_memory, bits 5-6 the driver
    /// (none, virtio_mem, cmm, hv_balloon), bit 7 unused.
    pub knobs: u8,
    pub ops: Vec<Op>,
}

const PCP_CHOICES: [(u32, u32); 4] = [(6, 2), (0, 1), (252, 63), (12, 31)];

pub(super) fn base_config(knobs: u8) -> ScConfig {
    let (pcp_high, pcp_batch) = PCP_CHOICES[(knobs as usize >> 2) & 3];
    ScConfig {
        // The fuzz targets run the small geometry (see mm::geometry): a
        // walk of its memmap is 64 times shorter than x86-64's.
        geometry: mm::Geometry::SMALL,
        boot_sections: 1,
        max_sections: if knobs & 1 != 0 { 3 } else { 2 },
        cpus: if knobs & 2 != 0 { 4 } else { 2 },
        frame_store: true,
        memmap_on_memory: knobs & 16 != 0,
        pcp_high,
        pcp_batch,
        offline_passes: 4,
        vpages: 1024,
        // One driver at most: they model different hypervisors' devices
        // and never share a machine (a CMM balloon page inside a virtio-mem
        // range breaks virtio-mem's V1 rule without any bug).
        virtio_mem: (knobs >> 5) & 3 == 1,
        cmm: (knobs >> 5) & 3 == 2,
        hv_balloon: (knobs >> 5) & 3 == 3,
    }
}

/// A `seq` input as a scenario (design from `c`).
pub fn seq_scenario(input: &SeqInput, c: &Campaign) -> Scenario {
    let mut ops = input.ops.clone();
    ops.truncate(MAX_SEQ_OPS);
    let sc = Scenario { config: base_config(input.knobs), setup: ops, ..Scenario::sequential(Vec::new()) };
    with_campaign(sc, c)
}

/// Decode `seq` fuzz bytes as a scenario.
pub fn seq_input(data: &[u8], c: &Campaign) -> Scenario {
    let mut u = Unstructured::new(data);
    let knobs = u8::arbitrary(&mut u).unwrap_or(0);
    let ops = ops_back_to_back(&mut u, MAX_SEQ_OPS);
    seq_scenario(&SeqInput { knobs, ops }, c)
}

/// Up to `max` ops decoded one after the other until the bytes run out.
///
/// The fuzz byte format, for `seq`: a knobs byte, then ops back to back;
/// for `conc`: a knobs byte, a byte each for the setup's op count
/// (mod [`MAX_SETUP_OPS`] + 1), the thread count (2 + mod 3) and each
/// thread's op count (mod [`MAX_THREAD_OPS`] + 1), the ops back to back,
/// then (choice point u16, thread u8) step preemptions until the end.
/// Not `arbitrary`'s own collection form, which puts a "go on" byte before
/// each element: random or mutated bytes then stop after one or two ops
/// on average, and the seed bugs need sequences of three to seven.
pub(super) fn ops_back_to_back(u: &mut Unstructured<'_>, max: usize) -> Vec<Op> {
    let mut ops = Vec::new();
    while ops.len() < max && !u.is_empty() {
        match Op::arbitrary(u) {
            Ok(op) => ops.push(op),
            Err(_) => break,
        }
    }
    ops
}

/// The knobs byte whose machine is `c` (cpus ignored for `conc`).
pub(super) fn knobs_for(c: &ScConfig, conc: bool) -> Option<u8> {
    (0..=255u8).find(|&k| {
        let mut b = base_config(k);
        if conc {
            b.cpus = c.cpus;
        }
        b == *c
    })
}

/// Fuzz bytes of the `seq` target that decode to `sc`'s setup and
/// machine (the design is the campaign's, not the bytes'). Fails when the
/// machine is not one the knobs can describe.
pub fn seq_bytes(sc: &Scenario) -> Result<Vec<u8>, String> {
    if sc.is_concurrent() {
        return Err("a concurrent scenario is a conc input".into());
    }
    let knobs = knobs_for(&sc.config, false).ok_or("the machine is not one of the seq target's knob settings")?;
    let mut out = vec![knobs];
    for op in sc.setup.iter().take(MAX_SEQ_OPS) {
        op.encode(&mut out);
    }
    Ok(out)
}

