//! `pagelab replay` and `pagelab fmt` end to end, on the corpus.

use std::process::Command;

fn pagelab(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pagelab"))
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .args(args)
        .env_remove("PAGELAB_BUG")
        .output()
        .unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn replay_passes_a_reproducer_and_prints_the_trace() {
    let (code, out, err) = pagelab(&["replay", "corpus/scenarios/c4-free-mt-no-recheck.ops"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("setup #1   put"), "{out}");
    assert!(out.contains("[B3]"), "{out}");
    assert!(out.contains("page: pfn 0x"), "the pages involved are dumped: {out}");
    assert!(out.trim_end().ends_with("PASS corpus/scenarios/c4-free-mt-no-recheck.ops"), "{out}");
}

#[test]
fn replay_fails_when_the_verdict_differs() {
    let dir = std::env::temp_dir().join(format!("pagelab-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../corpus/scenarios/c4-free-mt-no-recheck.ops")).unwrap();
    let f = dir.join("wrong.ops");
    std::fs::write(&f, text.replace("expect: violation B3", "expect: ok")).unwrap();
    let (code, out, _) = pagelab(&["replay", "-q", f.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("expected: ok, got: violation B3"), "{out}");
    assert!(out.contains("FAIL "), "{out}");
    let bad = dir.join("bad.ops");
    std::fs::write(&bad, "pagelab-scenario v1\nsetup:\n  alloc order=99\nexpect: ok\n").unwrap();
    let (code, out, _) = pagelab(&["replay", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(out.contains("bad.ops:3:15: expected for `order`"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn fmt_prints_raw_inputs_as_scenarios_and_back() {
    let (code, out, err) = pagelab(&["fmt", "corpus/seq/user-migrate"]);
    assert_eq!(code, 0, "{err}");
    let sc = fuzzing::scenario::parse("fmt", &out).unwrap();
    assert!(!sc.setup.is_empty() && !sc.is_concurrent());
    let (code, out2, _) = pagelab(&["fmt", "corpus/scenarios/seed-seq-user-migrate.ops"]);
    assert_eq!(code, 0);
    assert_eq!(out, out2.lines().filter(|l| !l.starts_with('#')).map(|l| format!("{l}\n")).collect::<String>());
    let (code, out, _) = pagelab(&["replay", "-q", "corpus/seq", "corpus/scenario"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(" passed, 0 failed"), "{out}");
}
