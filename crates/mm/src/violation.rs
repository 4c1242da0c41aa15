//! A broken invariant, as every detector reports it: the checker's walk
//! ([`crate::check`]) and the run-time BUG_ON/WARN sites of the model
//! ([`Violations::record`], the kernel's `VM_BUG_ON_PAGE` / `WARN_ON`
//! places that pagelab turns into reports instead of crashes).
//!
//! Ids are the invariant catalogue's (A1, B3, H1, M3, ...); the list with
//! their meaning is in the checker's doc.
//!
//! Invariants: none of its own. Lock order: the recorder's mutex is a leaf.

use crate::sync::Mutex;
use crate::Pfn;
use std::fmt;

/// One broken invariant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Catalogue id (see [`crate::check`]), e.g. "B2".
    pub id: &'static str,
    /// The pfn involved, if one is.
    pub pfn: Option<Pfn>,
    /// What is wrong, in words.
    pub msg: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pfn {
            Some(p) => write!(f, "[{}] pfn {p:#x}: {}", self.id, self.msg),
            None => write!(f, "[{}] {}", self.id, self.msg),
        }
    }
}

/// The run-time detectors' reports, kept until the checker collects them.
#[derive(Debug, Default)]
pub struct Violations(Mutex<Vec<Violation>>);

impl Violations {
    /// Report a violation where it happens.
    pub fn record(&self, id: &'static str, pfn: Option<Pfn>, msg: String) {
        self.0.lock().push(Violation { id, pfn, msg });
    }

    /// Violations recorded in `v` (a reset's image, [`crate::reset`]).
    pub(crate) fn from_vec(v: Vec<Violation>) -> Self {
        Violations(Mutex::new(v))
    }

    /// What was recorded so far.
    pub fn snapshot(&self) -> Vec<Violation> {
        self.0.lock().clone()
    }
}
