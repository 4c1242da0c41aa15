//! Fuzz inputs: the byte formats of the `seq` and `conc` targets, decoded
//! into scenarios, their inverse (a scenario to fuzz bytes), and the
//! targets' op-level mutators. Raw bytes are not a stable format (they
//! follow the op table's order); scenarios are.
//!
//! Invariants: decoding is total. Lock order: none (plain data).

use crate::campaign::Campaign;
use crate::scenario::Scenario;

mod conc;
mod mutate;
mod seq;

pub use conc::{conc_bytes, conc_input, conc_scenario, ConcInput, POINT_RANGE};
pub use mutate::{mutate_conc, mutate_seq};
pub use seq::{seq_bytes, seq_input, seq_scenario, SeqInput};

/// Largest op counts a fuzz input is cut to.
pub const MAX_SEQ_OPS: usize = 64;
/// Largest setup of a `conc` input.
pub const MAX_SETUP_OPS: usize = 12;
/// Largest op list of one `conc` thread.
pub const MAX_THREAD_OPS: usize = 6;
/// Most point preemptions of a `conc` input.
pub const MAX_PREEMPTIONS: usize = 6;

/// The campaign's design on an input's machine (the design under test
/// comes from the campaign, never from the bytes).
fn with_campaign(mut sc: Scenario, c: &Campaign) -> Scenario {
    sc.design = c.design.clone();
    sc.free_path = c.free_path.to_string();
    sc
}
