//! The `pagelab` binary end to end: help, `info --json`, a bad size, and a
//! short stress run that must come out clean.

// The binary refuses to run when built with the shuttle feature.
#![cfg(not(feature = "shuttle"))]

use std::collections::BTreeMap;
use std::process::{Command, Output};
use mm::geometry::Geometry;
const X86: Geometry = Geometry::X86_64;

fn pagelab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pagelab")).args(args).output().expect("the pagelab binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn help_and_version() {
    let o = pagelab(&["--help"]);
    assert!(o.status.success(), "--help failed: {}", text(&o.stderr));
    let out = text(&o.stdout);
    for word in ["Usage: pagelab", "info", "stress"] {
        assert!(out.contains(word), "--help lacks {word:?}:\n{out}");
    }
    let o = pagelab(&["--version"]);
    assert!(o.status.success());
    assert_eq!(text(&o.stdout).trim(), format!("pagelab {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn info_json_parses_and_reports_the_geometry() {
    let o = pagelab(&["info", "--json", "--mem", "256M", "--cpus", "2"]);
    assert!(o.status.success(), "info --json failed: {}", text(&o.stderr));
    let out = text(&o.stdout);
    let v = Json::parse(&out).unwrap_or_else(|e| panic!("info --json is not JSON ({e}):\n{out}"));
    let Json::Obj(m) = v else { panic!("info --json is not an object:\n{out}") };
    let num = |k: &str| match m.get(k) {
        Some(Json::Num(n)) => *n,
        other => panic!("{k}: expected a number, got {other:?}\n{out}"),
    };
    assert_eq!(num("descriptor_size"), 64.0);
    assert_eq!(num("descriptor_size"), std::mem::size_of::<mm::Page>() as f64);
    assert_eq!(num("pages_per_section"), X86.pages_per_section() as f64);
    assert_eq!(num("pages_per_section"), 32768.0);
    assert_eq!(num("page_size"), 4096.0);
    assert_eq!(num("section_size"), (128u64 << 20) as f64);
    assert_eq!(num("mem_bytes"), (256u64 << 20) as f64);
    assert_eq!(num("pages"), 65536.0);
    assert_eq!(num("memmap_bytes"), 65536.0 * 64.0);
    assert_eq!(num("cpus"), 2.0);
    assert_eq!(num("managed_pages"), 65536.0);
    assert_eq!(num("nr_free_pages"), 65536.0);
    assert!(num("boot_ms") >= 0.0);
    assert_eq!(m.get("version"), Some(&Json::Str(env!("CARGO_PKG_VERSION").into())));
    match m.get("nr_free") {
        Some(Json::Arr(a)) => {
            assert_eq!(a.len(), X86.max_order as usize + 1);
            assert_eq!(a.last(), Some(&Json::Num(64.0)), "256M boots as 64 order-10 blocks");
        }
        other => panic!("nr_free: {other:?}"),
    }
}

#[test]
fn a_size_that_is_not_a_section_multiple_is_refused() {
    let o = pagelab(&["info", "--mem", "100M"]);
    assert_eq!(o.status.code(), Some(2), "stderr: {}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.starts_with("pagelab: "), "{err}");
    assert!(err.contains("100M"), "the error names the bad size: {err}");
    assert!(!err.contains("panicked") && !err.contains("RUST_BACKTRACE"), "{err}");
    assert!(o.stdout.is_empty());

    let o = pagelab(&["stress", "--mem", "12Q"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("12Q"));
}

#[test]
fn short_stress_run_is_clean() {
    let o = pagelab(&["stress", "--secs", "1", "--threads", "2", "--mem", "256M"]);
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(0), "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("checker: 0 violations"), "{out}");
    assert!(out.contains("every page accounted for"), "{out}");
    assert!(out.contains("result: clean"), "{out}");
    let total: u64 = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("total"))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no total line:\n{out}"));
    assert!(total > 1000, "the workload ran: {total} ops\n{out}");
}

/// Just enough JSON to read `info --json` (no serde in this crate).
#[derive(Debug, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(BTreeMap<String, Json>),
}

impl Json {
    fn parse(s: &str) -> Result<Json, String> {
        let mut p = P { b: s.as_bytes(), i: 0 };
        let v = p.value()?;
        p.ws();
        if p.i != p.b.len() {
            return Err(format!("trailing data at byte {}", p.i));
        }
        Ok(v)
    }
}

struct P<'a> {
    b: &'a [u8],
    i: usize,
}

impl P<'_> {
    fn ws(&mut self) {
        while self.i < self.b.len() && self.b[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn eat(&mut self, c: u8) -> Result<(), String> {
        self.ws();
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!("expected '{}' at byte {}", c as char, self.i))
        }
    }
    fn lit(&mut self, w: &str, v: Json) -> Result<Json, String> {
        if self.b[self.i..].starts_with(w.as_bytes()) {
            self.i += w.len();
            Ok(v)
        } else {
            Err(format!("bad literal at byte {}", self.i))
        }
    }
    fn value(&mut self) -> Result<Json, String> {
        self.ws();
        match self.b.get(self.i).copied() {
            Some(b'{') => {
                self.i += 1;
                let mut m = BTreeMap::new();
                self.ws();
                if self.b.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(Json::Obj(m));
                }
                loop {
                    self.ws();
                    let Json::Str(k) = self.string()? else { unreachable!() };
                    self.eat(b':')?;
                    let v = self.value()?;
                    if m.insert(k.clone(), v).is_some() {
                        return Err(format!("duplicate key {k}"));
                    }
                    self.ws();
                    match self.b.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Json::Obj(m));
                        }
                        _ => return Err(format!("expected ',' or '}}' at byte {}", self.i)),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut a = Vec::new();
                self.ws();
                if self.b.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(Json::Arr(a));
                }
                loop {
                    a.push(self.value()?);
                    self.ws();
                    match self.b.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Json::Arr(a));
                        }
                        _ => return Err(format!("expected ',' or ']' at byte {}", self.i)),
                    }
                }
            }
            Some(b'"') => self.string(),
            Some(b't') => self.lit("true", Json::Bool(true)),
            Some(b'f') => self.lit("false", Json::Bool(false)),
            Some(b'n') => self.lit("null", Json::Null),
            Some(c) if c == b'-' || c.is_ascii_digit() => {
                let start = self.i;
                while self.i < self.b.len() && matches!(self.b[self.i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    self.i += 1;
                }
                let t = std::str::from_utf8(&self.b[start..self.i]).unwrap();
                t.parse().map(Json::Num).map_err(|_| format!("bad number {t:?}"))
            }
            _ => Err(format!("unexpected input at byte {}", self.i)),
        }
    }
    fn string(&mut self) -> Result<Json, String> {
        self.eat(b'"')?;
        let mut s = String::new();
        loop {
            let Some(&c) = self.b.get(self.i) else { return Err("unterminated string".into()) };
            self.i += 1;
            match c {
                b'"' => return Ok(Json::Str(s)),
                b'\\' => {
                    let e = *self.b.get(self.i).ok_or("unterminated escape")?;
                    self.i += 1;
                    match e {
                        b'"' | b'\\' | b'/' => s.push(e as char),
                        b'n' => s.push('\n'),
                        b't' => s.push('\t'),
                        b'u' => {
                            let h = std::str::from_utf8(self.b.get(self.i..self.i + 4).ok_or("short \\u")?).unwrap();
                            let cp = u32::from_str_radix(h, 16).map_err(|_| "bad \\u")?;
                            s.push(char::from_u32(cp).ok_or("bad code point")?);
                            self.i += 4;
                        }
                        _ => return Err(format!("bad escape at byte {}", self.i)),
                    }
                }
                _ if c < 0x20 => return Err("control character in string".into()),
                _ => {
                    // Copy one UTF-8 sequence.
                    let start = self.i - 1;
                    let mut end = self.i;
                    while end < self.b.len() && (self.b[end] & 0xC0) == 0x80 {
                        end += 1;
                    }
                    s.push_str(std::str::from_utf8(&self.b[start..end]).map_err(|_| "bad UTF-8")?);
                    self.i = end;
                }
            }
        }
    }
}

#[test]
fn bugs_lists_the_registry_and_checks_a_sequential_bug() {
    let o = pagelab(&["bugs", "--json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let s = text(&o.stdout);
    for key in ["\"id\"", "\"title\"", "\"fix_commit\"", "\"invariant\"", "\"source\""] {
        assert!(s.contains(key), "missing {key} in {s}");
    }
    assert_eq!(s.matches("\"id\"").count(), fuzzing::bugs::registry().len());
    let o = pagelab(&["bugs", "--check", "--only", "C4"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("PASS"), "{}", text(&o.stdout));
    let o = pagelab(&["bugs", "--only", "NOPE"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("NOPE"));
}
