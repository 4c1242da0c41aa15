//! Memory sizes on the command line: `128M`, `512M`, `1G`, `4G`.
//!
//! Binary units, as the kernel's `memparse` (`mem=`) reads them: K, M, G, T
//! are powers of 1024, optionally followed by `B` or `iB`; a bare number is
//! bytes. A machine's memory is a positive multiple of its section (the
//! smallest, the small geometry's 2 MiB; `info` and `stress` check theirs).

use mm::Geometry;

/// Parse a byte size with an optional binary suffix.
pub(crate) fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, suffix) = t.split_at(split);
    if num.is_empty() {
        return Err("expected a number with an optional K, M, G or T suffix (e.g. 512M, 4G)".into());
    }
    let shift = match suffix.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        other => return Err(format!("unknown suffix '{other}' (use K, M, G or T, e.g. 512M, 4G)")),
    };
    let n: u64 = num.parse().map_err(|_| "number too large".to_string())?;
    n.checked_mul(1u64 << shift).ok_or_else(|| "size too large".to_string())
}

/// Parse the memory of a machine: a positive multiple of the smallest
/// section size. Used as a clap value parser, so the message need not
/// repeat the value.
pub(crate) fn parse_mem(s: &str) -> Result<u64, String> {
    let bytes = parse_bytes(s)?;
    let section = Geometry::SMALL.section_size();
    if bytes == 0 || !bytes.is_multiple_of(section) {
        return Err(format!("memory must be a positive multiple of {} (e.g. 128M, 512M, 1G, 4G)", human_bytes(section)));
    }
    Ok(bytes)
}

/// `1 GiB`, `128 MiB`, `1.5 MiB`, `4096 B`.
pub(crate) fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut i = 0;
    let mut v = b as f64;
    while v >= 1024.0 && i + 1 < UNITS.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{b} B")
    } else if v.fract() == 0.0 {
        format!("{v:.0} {}", UNITS[i])
    } else {
        format!("{v:.1} {}", UNITS[i])
    }
}

/// The size as the CLI would accept it back: `1G`, `384M`.
pub(crate) fn short_size(b: u64) -> String {
    for (shift, suf) in [(40, "T"), (30, "G"), (20, "M"), (10, "K")] {
        if b >= 1 << shift && b.is_multiple_of(1 << shift) {
            return format!("{}{suf}", b >> shift);
        }
    }
    b.to_string()
}

/// `12.3M`, `4.1k`, `17`.
pub(crate) fn human_count(n: f64) -> String {
    if n >= 1e9 {
        format!("{:.2}G", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.2}M", n / 1e6)
    } else if n >= 1e4 {
        format!("{:.1}k", n / 1e3)
    } else {
        format!("{n:.0}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_mem("128M"), Ok(128 << 20));
        assert_eq!(parse_mem("512m"), Ok(512 << 20));
        assert_eq!(parse_mem("1G"), Ok(1 << 30));
        assert_eq!(parse_mem("4GiB"), Ok(4 << 30));
        assert_eq!(parse_mem("134217728"), Ok(128 << 20));
        assert_eq!(parse_mem("100M"), Ok(100 << 20), "a whole number of small-geometry sections");
        assert!(parse_mem("101M").is_err());
        assert!(parse_mem("0").is_err());
        assert!(parse_mem("").is_err());
        assert!(parse_mem("1X").is_err());
        assert!(parse_mem("-1G").is_err());
        assert!(parse_mem("99999999999999999999G").is_err());
        assert!(parse_mem("16777216T").is_err());
        assert_eq!(short_size(384 << 20), "384M");
        assert_eq!(human_bytes(1 << 30), "1 GiB");
        assert_eq!(human_bytes(1536 << 10), "1.5 MiB");
    }
}
