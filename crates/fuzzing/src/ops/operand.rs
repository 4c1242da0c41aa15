//! The operand types of the op language — orders, counts, migratetypes,
//! page targets — with their text form ([`Field`]) and their byte form
//! ([`Encode`], the inverse of `arbitrary`'s decoding).
//!
//! Invariants: every value that decodes is valid (orders are
//! 0..=MAX_PAGE_ORDER_LIMIT, counts 1..=4); operand *indices* may exceed the
//! current population, they are reduced modulo it at resolution time.
//! Lock order: none (plain data).

use arbitrary::{Arbitrary, Unstructured};

/// A buddy order, 0..=MAX_PAGE_ORDER_LIMIT, biased towards the small orders the
/// pcp caches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Order(pub u8);

impl<'a> Arbitrary<'a> for Order {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let b = u8::arbitrary(u)?;
        Ok(Order(if b < 192 { b % 4 } else { b % (mm::geometry::MAX_PAGE_ORDER_LIMIT as u8 + 1) }))
    }
    fn size_hint(_: usize) -> (usize, Option<usize>) {
        (1, Some(1))
    }
}

/// A small count, 1..=4 (pageblocks of a range).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count(pub u8);

impl Default for Count {
    fn default() -> Self {
        Count(1)
    }
}

impl<'a> Arbitrary<'a> for Count {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(Count(u8::arbitrary(u)? % 4 + 1))
    }
    fn size_hint(_: usize) -> (usize, Option<usize>) {
        (1, Some(1))
    }
}

/// The migratetypes an allocation may ask for (the pcp types).
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mt {
    Unmovable,
    #[default]
    Movable,
    Reclaimable,
}

impl Mt {
    /// The core's migratetype.
    pub fn migratetype(self) -> mm::MigrateType {
        match self {
            Mt::Unmovable => mm::MigrateType::Unmovable,
            Mt::Movable => mm::MigrateType::Movable,
            Mt::Reclaimable => mm::MigrateType::Reclaimable,
        }
    }
}

/// What a speculative reference (`get_page_unless_zero`) is taken on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Page `off` (mod the block size) of live allocation `a` (any thread's).
    Alloc { a: u8, off: u16 },
    /// The page mapped at the `m`-th present mapping.
    Mapped { m: u8 },
    /// A pfn of online memory: `pfn` modulo the online pages, in block order.
    Pfn { pfn: u32 },
    /// Page `off` (mod 512) of the `h`-th hugetlb folio of online memory,
    /// in pfn order (free, mapped, being prepared or freed).
    Huge { h: u8, off: u16 },
    /// The `p`-th page the harness poisoned and saw contained
    /// (memory_failure that recovered it, soft_offline) and has not
    /// unpoisoned.
    Poisoned { p: u8 },
    /// The `f`-th most recently freed page (the last 16 frees, unmaps and
    /// migration sources: most sit on a pcp list or in buddy).
    Freed { f: u8 },
    /// Page `off` (mod the subblock) of the subblock a virtio-mem unplug
    /// begun by `vmem_unplug_begin` holds (none when no unplug is pending).
    Unplugging { off: u16 },
}

/// One byte picks the variant (mod 7), so that any mutation of that byte
/// picks another target kind (see [`super::Op`]'s impl).
impl<'a> Arbitrary<'a> for Target {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(match u8::arbitrary(u)? % 7 {
            0 => Target::Alloc { a: u.arbitrary()?, off: u.arbitrary()? },
            1 => Target::Mapped { m: u.arbitrary()? },
            2 => Target::Pfn { pfn: u.arbitrary()? },
            3 => Target::Huge { h: u.arbitrary()?, off: u.arbitrary()? },
            4 => Target::Poisoned { p: u.arbitrary()? },
            5 => Target::Freed { f: u.arbitrary()? },
            _ => Target::Unplugging { off: u.arbitrary()? },
        })
    }
}

impl Default for Target {
    fn default() -> Self {
        Target::Alloc { a: 0, off: 0 }
    }
}

/// The inverse of `arbitrary`'s decoding for the op language: bytes that
/// decode to exactly this value (used to turn scenarios into fuzz seeds;
/// `harness` tests that decode(encode(x)) == x). Integers are little
/// endian; an `Op` or a `Target` is its variant index as one byte, other
/// enums (the derive's form) the u32 `ceil(v * 2^32 / n)`.
pub trait Encode {
    fn encode(&self, out: &mut Vec<u8>);
}

/// The u32 that `arbitrary`'s derive maps to variant `v` of `n`.
pub fn variant_u32(v: u64, n: u64) -> u32 {
    (v << 32).div_ceil(n) as u32
}

impl Encode for u8 {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(*self);
    }
}
impl Encode for u16 {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}
impl Encode for u32 {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}
impl Encode for bool {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(*self as u8);
    }
}
impl Encode for Order {
    fn encode(&self, out: &mut Vec<u8>) {
        let o = self.0;
        let n = mm::geometry::MAX_PAGE_ORDER_LIMIT as u8 + 1;
        out.push(if o < 4 { o } else { 192 + (o + n - 192 % n) % n });
    }
}
impl Encode for Count {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.0 - 1);
    }
}
impl Encode for Mt {
    fn encode(&self, out: &mut Vec<u8>) {
        variant_u32(*self as u64, 3).encode(out);
    }
}
impl Encode for Target {
    fn encode(&self, out: &mut Vec<u8>) {
        match *self {
            Target::Alloc { a, off } => {
                (0u8).encode(out);
                a.encode(out);
                off.encode(out);
            }
            Target::Mapped { m } => {
                (1u8).encode(out);
                m.encode(out);
            }
            Target::Pfn { pfn } => {
                (2u8).encode(out);
                pfn.encode(out);
            }
            Target::Huge { h, off } => {
                (3u8).encode(out);
                h.encode(out);
                off.encode(out);
            }
            Target::Poisoned { p } => {
                (4u8).encode(out);
                p.encode(out);
            }
            Target::Freed { f } => {
                (5u8).encode(out);
                f.encode(out);
            }
            Target::Unplugging { off } => {
                (6u8).encode(out);
                off.encode(out);
            }
        }
    }
}
impl<T: Encode> Encode for Vec<T> {
    /// `arbitrary`'s collection form: a "keep going" byte before each
    /// element, a 0 byte at the end.
    fn encode(&self, out: &mut Vec<u8>) {
        for x in self {
            out.push(1);
            x.encode(out);
        }
        out.push(0);
    }
}

/// A field of an op: how it is printed and parsed.
pub trait Field: Sized + Default + PartialEq {
    /// The text of the value.
    fn fmt_value(&self) -> String;
    /// Parse a value; the error says what was expected.
    fn parse_value(s: &str) -> Result<Self, String>;
}

fn parse_int(s: &str) -> Result<u64, String> {
    let r = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(h, 16)
    } else {
        s.parse::<u64>()
    };
    r.map_err(|_| format!("a number (decimal or 0x-hex), found `{s}`"))
}

macro_rules! int_field {
    ($($t:ty),*) => {$(
        impl Field for $t {
            fn fmt_value(&self) -> String {
                self.to_string()
            }
            fn parse_value(s: &str) -> Result<Self, String> {
                let v = parse_int(s)?;
                <$t>::try_from(v).map_err(|_| format!("a number at most {}, found {v}", <$t>::MAX))
            }
        }
    )*};
}
int_field!(u8, u16, u32);

impl Field for bool {
    fn fmt_value(&self) -> String {
        if *self { "on" } else { "off" }.into()
    }
    fn parse_value(s: &str) -> Result<Self, String> {
        match s {
            "on" | "true" | "yes" | "1" => Ok(true),
            "off" | "false" | "no" | "0" => Ok(false),
            _ => Err(format!("on or off, found `{s}`")),
        }
    }
}

impl Field for Order {
    fn fmt_value(&self) -> String {
        self.0.to_string()
    }
    fn parse_value(s: &str) -> Result<Self, String> {
        match parse_int(s) {
            Ok(v) if v <= mm::geometry::MAX_PAGE_ORDER_LIMIT as u64 => Ok(Order(v as u8)),
            _ => Err(format!("an order 0..={}, found `{s}`", mm::geometry::MAX_PAGE_ORDER_LIMIT)),
        }
    }
}

impl Field for Count {
    fn fmt_value(&self) -> String {
        self.0.to_string()
    }
    fn parse_value(s: &str) -> Result<Self, String> {
        match parse_int(s) {
            Ok(v @ 1..=4) => Ok(Count(v as u8)),
            _ => Err(format!("a count 1..=4, found `{s}`")),
        }
    }
}

impl Field for Mt {
    fn fmt_value(&self) -> String {
        match self {
            Mt::Unmovable => "unmovable",
            Mt::Movable => "movable",
            Mt::Reclaimable => "reclaimable",
        }
        .into()
    }
    fn parse_value(s: &str) -> Result<Self, String> {
        match s {
            "unmovable" => Ok(Mt::Unmovable),
            "movable" => Ok(Mt::Movable),
            "reclaimable" => Ok(Mt::Reclaimable),
            _ => Err(format!("unmovable, movable or reclaimable, found `{s}`")),
        }
    }
}

impl Field for Target {
    fn fmt_value(&self) -> String {
        match *self {
            Target::Alloc { a, off } => format!("alloc:{a}+{off}"),
            Target::Mapped { m } => format!("mapped:{m}"),
            Target::Pfn { pfn } => format!("pfn:{pfn:#x}"),
            Target::Huge { h, off } => format!("huge:{h}+{off}"),
            Target::Poisoned { p } => format!("poisoned:{p}"),
            Target::Freed { f } => format!("freed:{f}"),
            Target::Unplugging { off } => format!("unplugging:{off}"),
        }
    }
    fn parse_value(s: &str) -> Result<Self, String> {
        let want = || format!("alloc:A+OFF, mapped:M, pfn:N, huge:H+OFF, poisoned:P, freed:F or unplugging:OFF, found `{s}`");
        let (kind, rest) = s.split_once(':').ok_or_else(want)?;
        match kind {
            "alloc" => {
                let (a, off) = rest.split_once('+').unwrap_or((rest, "0"));
                Ok(Target::Alloc { a: u8::parse_value(a).map_err(|_| want())?, off: u16::parse_value(off).map_err(|_| want())? })
            }
            "mapped" => Ok(Target::Mapped { m: u8::parse_value(rest).map_err(|_| want())? }),
            "pfn" => Ok(Target::Pfn { pfn: u32::parse_value(rest).map_err(|_| want())? }),
            "huge" => {
                let (h, off) = rest.split_once('+').unwrap_or((rest, "0"));
                Ok(Target::Huge { h: u8::parse_value(h).map_err(|_| want())?, off: u16::parse_value(off).map_err(|_| want())? })
            }
            "poisoned" => Ok(Target::Poisoned { p: u8::parse_value(rest).map_err(|_| want())? }),
            "freed" => Ok(Target::Freed { f: u8::parse_value(rest).map_err(|_| want())? }),
            "unplugging" => Ok(Target::Unplugging { off: u16::parse_value(rest).map_err(|_| want())? }),
            _ => Err(want()),
        }
    }
}


/// Whitespace-separated tokens with their byte offsets.
pub(super) fn tokens(s: &str) -> impl Iterator<Item = (usize, &str)> {
    s.split_ascii_whitespace().map(move |t| (t.as_ptr() as usize - s.as_ptr() as usize, t))
}

