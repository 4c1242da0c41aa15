//! Every registered bug reproduces with its variant on and the landed
//! design is clean on the same scenario. Sequential reproducers run in both
//! builds; races (concurrent scenarios with named preemptions) run under
//! `--features shuttle`, twice, and must give identical outcomes.

use fuzzing::bugs::{check_bug, registry};
use fuzzing::campaign::Campaign;
use fuzzing::scenario::Verdict;
use mm::design::{Switch, FREE_PATHS};

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
fn every_reproducer_is_the_bugs_design_and_its_twin_the_landed_one() {
    for b in registry() {
        let (sc, twin) = (b.scenario.buggy().unwrap(), b.scenario.fixed().unwrap());
        let c = Campaign::for_bug(b.id).unwrap();
        let stem = b.scenario.stem;
        assert_eq!((&sc.design, sc.free_path.as_str()), (&c.design, c.free_path), "{stem}.ops: not {}'s design", b.id);
        assert_eq!(sc.expect, Verdict::Violation(b.invariant.to_string()), "{stem}.ops: does not expect {}", b.invariant);
        assert!(twin.is_fixed() && twin.expect == Verdict::Ok, "{stem}.fixed.ops: not the landed design expecting ok");
        assert_eq!((&twin.config, &twin.setup, &twin.threads, &twin.schedule), (&sc.config, &sc.setup, &sc.threads, &sc.schedule), "{stem}.fixed.ops: not the machine, ops and schedule of {stem}.ops");
    }
}

#[test]
fn every_sequential_bug_reproduces_and_its_fix_is_clean() {
    for b in registry().iter().filter(|b| !b.is_race()) {
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
    for b in registry().iter().filter(|b| b.is_race()) {
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
    for b in registry().iter().filter(|b| b.is_race()) {
        let v = check_bug(b);
        assert!(matches!(&v.buggy, Err(m) if m.contains("shuttle")), "{}: {:?}", b.id, v.buggy);
        assert!(!v.pass());
    }
}
