//! The design under test of a fuzz campaign: the landed design, or the
//! variant of one registered bug (`PAGELAB_BUG`), and the violation ids a
//! campaign looks past (`PAGELAB_ALLOW`).
//!
//! Invariants: read once per process. Lock order: none.

use crate::harness::Outcome;
use mm::design::{Switch, FREE_PATHS};

/// The design under test of a fuzz campaign.
#[derive(Debug, Clone)]
pub struct Campaign {
    pub design: Vec<Switch>,
    pub free_path: &'static str,
    /// The bug selected by `PAGELAB_BUG`, if any.
    pub bug: Option<&'static crate::bugs::Bug>,
    /// Violation ids that are not findings (`PAGELAB_ALLOW=ID,ID`: known
    /// findings, so that a campaign can look past them).
    pub allow: Vec<String>,
}

impl Campaign {
    /// The landed design.
    pub fn fixed() -> Campaign {
        Campaign { design: Vec::new(), free_path: "landed", bug: None, allow: Vec::new() }
    }

    /// The design with bug `id`'s variant on.
    pub fn for_bug(id: &str) -> Result<Campaign, String> {
        if id.is_empty() || id.eq_ignore_ascii_case("fixed") {
            return Ok(Campaign::fixed());
        }
        let bug = crate::bugs::find(id).ok_or_else(|| {
            let ids: Vec<&str> = crate::bugs::registry().iter().map(|b| b.id).collect();
            format!("no bug `{id}` in the registry (known: {})", ids.join(", "))
        })?;
        if let Some(s) = Switch::from_name(bug.variant) {
            return Ok(Campaign { design: vec![s], free_path: "landed", bug: Some(bug), allow: Vec::new() });
        }
        let norm = |s: &str| s.replace('_', "").to_ascii_lowercase();
        let fp = FREE_PATHS
            .iter()
            .find(|(n, _)| norm(n) == norm(bug.variant))
            .ok_or_else(|| format!("bug {}: variant `{}` is neither a switch nor a free path", bug.id, bug.variant))?;
        Ok(Campaign { design: Vec::new(), free_path: fp.0, bug: Some(bug), allow: Vec::new() })
    }
}

/// The campaign from the environment: `PAGELAB_BUG` (the design) and
/// `PAGELAB_ALLOW` (read once). Panics on an unknown bug id, so a
/// misconfigured campaign stops at once.
pub fn campaign() -> &'static Campaign {
    static C: std::sync::OnceLock<Campaign> = std::sync::OnceLock::new();
    C.get_or_init(|| {
        let id = std::env::var("PAGELAB_BUG").unwrap_or_default();
        let mut c = Campaign::for_bug(&id).unwrap_or_else(|e| panic!("PAGELAB_BUG: {e}"));
        c.allow = std::env::var("PAGELAB_ALLOW")
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        c
    })
}

/// Is `out` a finding for campaign `c` (an error, or a violation whose id
/// the campaign does not allow)?
pub fn is_finding(out: &Outcome, c: &Campaign) -> bool {
    out.error.is_some() || out.violations.iter().any(|v| !c.allow.iter().any(|a| a == v.id))
}
