use super::*;
use crate::rng::SplitMix64;


#[test]
fn print_parse_roundtrip_over_arbitrary_scenarios() {
    let mut n = 0;
    for seed in 0..600 {
        let data = SplitMix64(seed).bytes(1024);
        let mut u = arbitrary::Unstructured::new(&data);
        let Ok(sc) = gen::scenario(&mut u) else { continue };
        sc.validate().unwrap_or_else(|e| panic!("seed {seed}: generated an invalid scenario ({e}):\n{sc}"));
        let text = sc.print();
        let back = parse("gen.ops", &text).unwrap_or_else(|e| panic!("seed {seed}: {e}\n{text}"));
        assert_eq!(back, sc, "seed {seed}:\n{text}");
        assert_eq!(back.print(), text);
        n += 1;
    }
    assert!(n > 500, "only {n} scenarios generated");
}

#[test]
fn malformed_input_never_panics_and_errors_point_somewhere() {
    let good = "pagelab-scenario v1\nconfig mem=128M cpus=2\nsetup:\n  alloc order=1\nthread T0:\n  drain_all\nthread T1:\n  fault vpn=3\nschedule:\n  preempt T0 at op:drain_all #1 -> T1\n  at step 3 switch to T0\n  at point 7 switch to T1\nexpect: violation A1\n";
    let g = parse("good.ops", good).unwrap();
    assert_eq!(g.schedule.points, vec![PointPreempt { point: 7, then: 1 }]);
    for seed in 0..3000u64 {
        let mut data = good.as_bytes().to_vec();
        let r = SplitMix64(seed).bytes(8);
        for k in 0..(r[0] % 4 + 1) as usize {
            let pos = (r[1 + k] as usize * 7 + seed as usize) % data.len();
            match r[5] % 3 {
                0 => data[pos] = r[6 + (k % 2)],
                1 => {
                    data.remove(pos);
                }
                _ => data.insert(pos, r[7]),
            }
        }
        let text = String::from_utf8_lossy(&data);
        if let Err(e) = parse("m.ops", &text) {
            assert!(e.line >= 1 && e.col >= 1 && !e.expected.is_empty());
            let lines: Vec<&str> = text.split('\n').collect();
            assert!(e.line <= lines.len().max(1), "{e}");
        }
    }
    for junk in ["", "\n\n", "#", "pagelab-scenario", "pagelab-scenario v2\n", "pagelab-scenario v1\nexpect: maybe\n", "\u{feff}x"] {
        assert!(parse("j.ops", junk).is_err());
    }
}

#[test]
fn error_positions() {
    let e = parse("f.ops", "pagelab-scenario v1\nsetup:\n  alloc order=12\nexpect: ok\n").unwrap_err();
    assert_eq!((e.line, e.col), (3, 15), "{e}");
    assert!(e.to_string().starts_with("f.ops:3:15: expected for `order`"), "{e}");
    let e = parse("f.ops", "pagelab-scenario v1\nthread T1:\nexpect: ok\n").unwrap_err();
    assert_eq!((e.line, e.col), (2, 8), "{e}");
    let e = parse("f.ops", "pagelab-scenario v1\nsetup:\n").unwrap_err();
    assert!(e.expected.contains("expect"), "{e}");
    let e = parse("f.ops", "pagelab-scenario v1\ndesign fixed,nope\nexpect: ok\n").unwrap_err();
    assert_eq!((e.line, e.col), (2, 8), "{e}");
}
