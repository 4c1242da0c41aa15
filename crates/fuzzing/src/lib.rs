//! pagelab's test half: everything that drives the model (`mm`) to find
//! its bugs.
//!
//! | module | what |
//! |---|---|
//! | [`ops`] | the op language: the op table, operands, results |
//! | [`scenario`] | `*.ops` scenario files: config, design, setup, threads, schedule, expectation |
//! | [`model`] | the sequential reference model the `seq` target compares with |
//! | [`harness`] | resolve and run ops; the sequential and the concurrent runner |
//! | [`input`] | the fuzz targets' byte formats and the `seq` mutator |
//! | `sched` | the shuttle schedulers (`--features shuttle`) |
//! | `explore` | schedule search: context bounding and PCT (`--features shuttle`) |
//! | [`bugs`] | the bug registry and its reproducers (scenario files) |
//! | [`campaign`], [`minimize`], [`targets`] | the design under test, shrinking findings, the libFuzzer entry points |
//! | [`stats`] | a campaign's throughput counters (exec/s, ops/exec, checker share, scheduling decisions) |
//! | [`rng`] | the one pseudo-random generator (splitmix64) |
//!
//! Layers: ops → scenario → model → harness (with sched under shuttle) →
//! input, campaign, minimize → explore, targets, bugs. Nothing here is on the
//! model's hot path.

pub mod bugs;
pub mod campaign;
#[cfg(feature = "shuttle")]
pub mod explore;
pub mod harness;
pub mod input;
pub mod minimize;
pub mod model;
pub mod ops;
pub mod rng;
pub mod scenario;
#[cfg(feature = "shuttle")]
pub mod sched;
pub mod stats;
pub mod targets;
