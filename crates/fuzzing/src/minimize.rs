//! Findings: a failing scenario cut to its failing op, shrunk by delta
//! debugging ([`minimize`]), and the text a fuzz target panics with
//! ([`report`]).
//!
//! Invariants: a minimized scenario still reports the id it started with.
//! Lock order: none.

use crate::harness::{run, Outcome};
use crate::scenario::{Scenario, Verdict};

/// A finding: the scenario (its expectation set to what was found) and
/// the trace, as the text a fuzz target panics with.
pub fn report(sc: &Scenario, out: &Outcome) -> String {
    let sc = minimal_scenario(sc, out);
    format!(
        "pagelab harness finding: {}\n---- scenario (save as a .ops file; `pagelab replay` runs it) ----\n{sc}---- trace ----\n{out}",
        out.violations.first().map(|v| v.to_string()).unwrap_or_default()
    )
}

/// `sc` cut after the op that failed (a sequential failure makes the
/// later ops and the threads irrelevant), expecting what `out` found.
pub fn minimal_scenario(sc: &Scenario, out: &Outcome) -> Scenario {
    let mut sc = sc.clone();
    if let Some(i) = out.fail_step {
        sc.setup.truncate(i + 1);
        sc.threads.clear();
        sc.schedule = Default::default();
    }
    sc.expect = out.verdict();
    sc
}

/// Shrink a failing scenario: delete ops (setup and threads) and
/// preemptions while the run still reports a violation with the same id as
/// the first one now (delta debugging, one element at a time, to a fixed
/// point). Returns the smaller scenario (its expectation set to that id)
/// and how many runs it took.
pub fn minimize(sc: &Scenario, max_runs: usize) -> (Scenario, usize) {
    let first = run(sc);
    let Some(id) = first.violations.first().map(|v| v.id) else { return (sc.clone(), 1) };
    let mut cur = minimal_scenario(sc, &first);
    let mut runs = 1;
    let still = |c: &Scenario, runs: &mut usize| {
        *runs += 1;
        run(c).violations.iter().any(|v| v.id == id)
    };
    loop {
        let mut progress = false;
        // Lists to shrink: the setup, each thread, the step, named and point preemptions.
        let nlists = 1 + cur.threads.len() + 3;
        for l in 0..nlists {
            let mut i = 0;
            loop {
                if runs >= max_runs {
                    cur.expect = Verdict::Violation(id.to_string());
                    return (cur, runs);
                }
                let mut c = cur.clone();
                let removed = match l {
                    0 if i < c.setup.len() => {
                        c.setup.remove(i);
                        true
                    }
                    l if l >= 1 && l <= c.threads.len() && i < c.threads[l - 1].len() => {
                        c.threads[l - 1].remove(i);
                        true
                    }
                    l if l == c.threads.len() + 1 && i < c.schedule.steps.len() => {
                        c.schedule.steps.remove(i);
                        true
                    }
                    l if l == c.threads.len() + 2 && i < c.schedule.named.len() => {
                        c.schedule.named.remove(i);
                        true
                    }
                    l if l == c.threads.len() + 3 && i < c.schedule.points.len() => {
                        c.schedule.points.remove(i);
                        true
                    }
                    _ => false,
                };
                if !removed {
                    break;
                }
                if still(&c, &mut runs) {
                    cur = c;
                    progress = true;
                } else {
                    i += 1;
                }
            }
        }
        if !progress {
            break;
        }
    }
    cur.expect = Verdict::Violation(id.to_string());
    (cur, runs)
}

