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
    /// A value in words.
    Text(String),
    /// What the dump tool read (printed as its `Debug`, formatted only when
    /// printed: a frame is 4 KiB).
    Dump(mm::walkers::DumpRead),
    /// What a compaction did (printed as its `Debug`).
    Compact(mm::compaction::CompactResult),
    /// The core returned an error.
    Err(OpError),
    /// Nothing to act on (no live allocation, no mapping, ...): no call made.
    Skip(&'static str),
}

/// An error the core returned, kept as its value and formatted only when
/// printed (most fuzz ops fail, and most results are never printed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpError {
    /// An [`mm::Error`] (printed as its message).
    Mm(mm::Error),
    /// Migration refused (printed as its variant).
    Migrate(mm::migrate::MigrateError),
    /// Isolation refused (printed as its variant).
    Isolate(mm::page_isolation::IsolateError),
    /// test_pages_isolated found this pfn not isolated.
    NotIsolated(mm::Pfn),
}

impl fmt::Display for OpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpError::Mm(e) => write!(f, "{e}"),
            OpError::Migrate(e) => write!(f, "{e:?}"),
            OpError::Isolate(e) => write!(f, "{e:?}"),
            OpError::NotIsolated(p) => write!(f, "pfn {p:#x} is not isolated"),
        }
    }
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
            OpResult::Text(t) => show_text(f, t),
            OpResult::Dump(d) => show_text(f, &format!("{d:?}")),
            OpResult::Compact(c) => show_text(f, &format!("{c:?}")),
            OpResult::Err(e) => write!(f, "error: {e}"),
            OpResult::Skip(why) => write!(f, "skipped ({why})"),
        }
    }
}

/// A text result, cut after 100 characters when longer than 120.
fn show_text(f: &mut fmt::Formatter<'_>, t: &str) -> fmt::Result {
    if t.len() > 120 {
        write!(f, "{}... ({} chars)", &t[..t.char_indices().nth(100).map_or(t.len(), |(i, _)| i)], t.len())
    } else {
        f.write_str(t)
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

