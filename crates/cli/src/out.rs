//! Output helpers: stdout that tolerates a closed pipe, a tiny JSON object
//! writer (the crate has no serde), and the process's resident set size.

use crate::Failure;
use std::fmt::Display;
use std::io::Write;

/// Write a finished report to stdout. A closed pipe (`pagelab info | head`)
/// is not an error.
pub(crate) fn emit(text: &str) -> Result<(), Failure> {
    let mut so = std::io::stdout().lock();
    match so.write_all(text.as_bytes()).and_then(|_| so.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::run(format!("writing to stdout: {e}"))),
    }
}

/// A flat JSON object built key by key.
pub(crate) struct JsonObject {
    s: String,
}

impl JsonObject {
    pub(crate) fn new() -> JsonObject {
        JsonObject { s: String::from("{") }
    }

    fn key(&mut self, k: &str) {
        if self.s.len() > 1 {
            self.s.push(',');
        }
        self.s.push_str("\n  ");
        self.s.push_str(&quote(k));
        self.s.push_str(": ");
    }

    /// A number (integer or already-formatted finite float).
    pub(crate) fn num(&mut self, k: &str, v: impl Display) -> &mut Self {
        self.key(k);
        self.s.push_str(&v.to_string());
        self
    }

    /// A float with `prec` decimals.
    pub(crate) fn float(&mut self, k: &str, v: f64, prec: usize) -> &mut Self {
        self.key(k);
        if v.is_finite() {
            self.s.push_str(&format!("{v:.prec$}"));
        } else {
            self.s.push_str("null");
        }
        self
    }

    /// A number or null.
    pub(crate) fn opt(&mut self, k: &str, v: Option<impl Display>) -> &mut Self {
        match v {
            Some(v) => self.num(k, v),
            None => {
                self.key(k);
                self.s.push_str("null");
                self
            }
        }
    }

    pub(crate) fn str(&mut self, k: &str, v: &str) -> &mut Self {
        self.key(k);
        self.s.push_str(&quote(v));
        self
    }

    /// An array of numbers.
    pub(crate) fn nums<T: Display>(&mut self, k: &str, v: impl IntoIterator<Item = T>) -> &mut Self {
        self.key(k);
        let items: Vec<String> = v.into_iter().map(|x| x.to_string()).collect();
        self.s.push('[');
        self.s.push_str(&items.join(", "));
        self.s.push(']');
        self
    }

    pub(crate) fn finish(&mut self) -> String {
        let mut s = std::mem::take(&mut self.s);
        s.push_str("\n}\n");
        s
    }
}

fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            c if (c as u32) < 0x20 => q.push_str(&format!("\\u{:04x}", c as u32)),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

/// Resident set size of this process in bytes (`/proc/self/statm`), or
/// None where there is no procfs.
pub(crate) fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let resident: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf reads a constant; no memory is passed.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(resident * u64::try_from(page).ok().filter(|&p| p > 0)?)
}
