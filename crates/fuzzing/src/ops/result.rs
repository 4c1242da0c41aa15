//! What applying an op gives: its [`OpResult`] and the operands it resolved
//! to ([`Applied`]), both printable for traces.
//!
//! Invariants: none. Lock order: none (plain data).

use super::Resolved;
use std::fmt;

/// What an op returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpResult {
    /// Success with nothing to report.
    Ok,
    /// Success: this pfn (an allocation, a fault, a migration target).
    Pfn(mm::Pfn),
    /// A yes/no answer (get_unless_zero, isolate_lru).
    Bool(bool),
    /// Success with no page (unmap of a hole, a migration that found the
    /// page already unmapped).
    None,
    /// A count (free_contig: pages still in use; kpageflags; balloon pages).
    Count(u64),
    /// A value in words (a walker's read, a compaction's result).
    Text(String),
    /// The core returned an error (its message).
    Err(String),
    /// Nothing to act on (no live allocation, no mapping, ...): no call made.
    Skip(&'static str),
}

impl OpResult {
    /// Did the core succeed?
    pub fn is_ok(&self) -> bool {
        !matches!(self, OpResult::Err(_) | OpResult::Skip(_))
    }
    /// Did the core return an error?
    pub fn is_err(&self) -> bool {
        matches!(self, OpResult::Err(_))
    }
}

impl fmt::Display for OpResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpResult::Ok => f.write_str("ok"),
            OpResult::Pfn(p) => write!(f, "pfn {p:#x}"),
            OpResult::Bool(b) => write!(f, "{b}"),
            OpResult::None => f.write_str("none"),
            OpResult::Count(n) => write!(f, "{n}"),
            OpResult::Text(t) if t.len() > 120 => write!(f, "{}... ({} chars)", &t[..t.char_indices().nth(100).map_or(t.len(), |(i, _)| i)], t.len()),
            OpResult::Text(t) => f.write_str(t),
            OpResult::Err(e) => write!(f, "error: {e}"),
            OpResult::Skip(why) => write!(f, "skipped ({why})"),
        }
    }
}

/// One applied op: what its operands resolved to and what it returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// What the operands resolved to (None: the op had nothing to act on).
    pub resolved: Option<Resolved>,
    pub result: OpResult,
}

impl fmt::Display for Applied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.resolved {
            Some(r) if !r.to_string().is_empty() => write!(f, "[{r}] -> {}", self.result),
            _ => write!(f, "-> {}", self.result),
        }
    }
}

