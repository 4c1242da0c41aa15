//! Every registered bug reproduces with its variant on and the landed
//! design is clean on the same scenario. Sequential reproducers run in both
//! builds; races (written-out preemption plans) run under
//! `--features shuttle`, twice, and must give identical outcomes.

use pagelab::bugs::{check_bug, registry};
use pagelab::design::{Switch, FREE_PATHS};

#[test]
fn ids_are_unique_and_variants_exist() {
    let mut ids = std::collections::BTreeSet::new();
    for b in registry() {
        assert!(ids.insert(b.id), "duplicate id {}", b.id);
        let known = Switch::from_name(b.variant).is_some()
            || FREE_PATHS.iter().any(|(n, _)| n.replace('_', "").eq_ignore_ascii_case(&b.variant.replace('_', "")));
        assert!(known, "{}: unknown variant {}", b.id, b.variant);
        assert!(b.source == "history" || b.source == "fuzz" || b.source.ends_with(".txt"), "{}: source {}", b.id, b.source);
    }
}

#[test]
fn every_sequential_bug_reproduces_and_its_fix_is_clean() {
    for b in registry().iter().filter(|b| !b.race) {
        let v = check_bug(b);
        assert!(v.reproduced(), "{}: buggy run did not report {}: {:?}", b.id, b.invariant, v.buggy);
        assert!(v.fixed_clean(), "{}: landed run not clean: {:?}", b.id, v.fixed);
        let again = check_bug(b);
        assert_eq!(format!("{:?}{:?}", v.buggy, v.fixed), format!("{:?}{:?}", again.buggy, again.fixed), "{}: not deterministic", b.id);
    }
}

#[cfg(feature = "shuttle")]
#[test]
fn every_race_reproduces_and_its_fix_is_clean_twice() {
    for b in registry().iter().filter(|b| b.race) {
        let v1 = check_bug(b);
        assert!(v1.reproduced(), "{}: buggy run did not report {}: {:?}", b.id, b.invariant, v1.buggy);
        assert!(v1.fixed_clean(), "{}: landed run not clean: {:?}", b.id, v1.fixed);
        let v2 = check_bug(b);
        assert_eq!(format!("{:?}{:?}", v1.buggy, v1.fixed), format!("{:?}{:?}", v2.buggy, v2.fixed), "{}: not deterministic", b.id);
    }
}

#[cfg(not(feature = "shuttle"))]
#[test]
fn races_say_they_need_the_shuttle_build() {
    for b in registry().iter().filter(|b| b.race) {
        let v = check_bug(b);
        assert!(matches!(&v.buggy, Err(m) if m.contains("shuttle")), "{}: {:?}", b.id, v.buggy);
        assert!(!v.pass());
    }
}
