//! The scenario format: parse errors that name file, line and column, and
//! malformed input that never panics (the print/parse round trip over
//! arbitrary scenarios is a unit test of the module).

use fuzzing::rng::SplitMix64;
use fuzzing::scenario::{self, Verdict};



#[test]
fn parse_errors_name_file_line_column_and_what_was_expected() {
    let cases: &[(&str, (usize, usize), &str)] = &[
        ("pagelab-scenario v1\nsetup:\n  alloc ordr=1\nexpect: ok\n", (3, 9), "a field of `alloc`"),
        ("pagelab-scenario v1\nsetup:\n  fault vpn=300\nexpect: ok\n", (3, 13), "at most 255"),
        ("pagelab-scenario v1\nconfig mem=100M\nexpect: ok\n", (2, 12), "multiple of 128M"),
        ("pagelab-scenario v1\nthread T0:\nthread T1:\nschedule:\n  preempt T1 at x 1 -> T0\nexpect: ok\n", (5, 19), "`#n`"),
        ("pagelab-scenario v1\nthread T0:\nthread T1:\nschedule:\n  at step 3 switch to T9\nexpect: ok\n", (1, 1), "thread ids below 2"),
        ("pagelab-scenario v3\n", (1, 18), "format version v1"),
        ("pagelab-scenario v1\nexpect: violation\n", (2, 9), "`ok` or `violation ID`"),
        ("pagelab-scenario v1\nexpect: ok\nsetup:\n", (3, 1), "nothing after"),
    ];
    for (text, (line, col), want) in cases {
        let e = scenario::parse("bad.ops", text).unwrap_err();
        assert_eq!((e.line, e.col), (*line, *col), "{e}");
        assert!(e.expected.contains(want), "{e}");
        assert!(e.to_string().starts_with(&format!("bad.ops:{line}:{col}: expected ")), "{e}");
    }
}

#[test]
fn mutated_scenarios_never_panic_the_parser() {
    let base = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../corpus/scenarios/c1-offline-drain-once.ops")).unwrap();
    let sc = scenario::parse("c1.ops", &base).unwrap();
    assert_eq!(sc.expect, Verdict::Violation("A1".into()));
    for seed in 0..2000u64 {
        let r = SplitMix64(seed).bytes(16);
        let mut b = base.clone().into_bytes();
        for k in 0..(r[0] % 6 + 1) as usize {
            if b.is_empty() {
                break;
            }
            let at = (u16::from_le_bytes([r[1 + k], r[2 + k]]) as usize) % b.len();
            match r[8] % 4 {
                0 => b[at] = r[9 + k % 4],
                1 => {
                    b.remove(at);
                }
                2 => b.insert(at, b"#:=-> \n0T9"[r[10] as usize % 10]),
                _ => b.truncate(at),
            }
        }
        let text = String::from_utf8_lossy(&b);
        if let Ok(sc) = scenario::parse("m.ops", &text) {
            assert_eq!(scenario::parse("p.ops", &sc.print()).unwrap(), sc);
        }
    }
}
