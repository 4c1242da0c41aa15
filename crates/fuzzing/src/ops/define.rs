//! The macro behind the op table ([`super::table`]): one declaration per op
//! generates everything the op language knows about it.
//!
//! An entry reads
//!
//! ```text
//! /// doc
//! Free "free" model { cpu: u8, a: u8 } => { cpu: usize, pfn: Pfn, order: u32 },
//! ```
//!
//! — the variant, its scenario name, whether the reference model follows
//! it (`model`) or not (`extended`), its operands as written, and its
//! *resolved* form (what the operands name in the current state). From it
//! come: the [`super::Op`] and [`super::Resolved`] enums, the names and the
//! `op:<name>` preemption labels, the text form (print and parse), the byte
//! form (`arbitrary` decoding and its inverse [`super::Encode`]), the CPU
//! operand (a field named `cpu`), and the printed resolved form. What an op
//! *does* is its one arm in `crate::harness::exec`.
//!
//! Invariants: variant order is the byte form's (one byte picks the op,
//! modulo the count), so new ops go at the end of the table; text forms
//! omit fields at their default. Lock order: none (plain data).

/// A field that may be the CPU operand: only a `u8` named `cpu` is.
pub(super) trait CpuField {
    /// `Some(self)` if this is the CPU operand.
    fn as_cpu(&mut self, name: &str) -> Option<&mut u8>;
}

impl CpuField for u8 {
    fn as_cpu(&mut self, name: &str) -> Option<&mut u8> {
        (name == "cpu").then_some(self)
    }
}

macro_rules! not_cpu {
    ($($t:ty),*) => {$(
        impl CpuField for $t {
            fn as_cpu(&mut self, _: &str) -> Option<&mut u8> {
                None
            }
        }
    )*};
}
not_cpu!(u16, u32, bool, super::Order, super::Count, super::Mt, super::Target);

/// How a resolved operand prints in a trace: `cpu1`, `pfn 0x8000`,
/// `order 2`, `memmap_on_memory` (a flag, when set), `movable`.
pub(super) trait ShowResolved {
    /// Append ` <key> <value>` (or nothing) to `out`.
    fn show(&self, key: &str, out: &mut String);
}

fn sep(out: &mut String) {
    if !out.is_empty() {
        out.push(' ');
    }
}

impl ShowResolved for u64 {
    fn show(&self, key: &str, out: &mut String) {
        sep(out);
        match key {
            "pfn" | "start" | "end" => out.push_str(&format!("{key} {self:#x}")),
            _ => out.push_str(&format!("{key} {self}")),
        }
    }
}

impl ShowResolved for usize {
    fn show(&self, key: &str, out: &mut String) {
        sep(out);
        match key {
            "cpu" => out.push_str(&format!("cpu{self}")),
            _ => out.push_str(&format!("{key} {self}")),
        }
    }
}

impl ShowResolved for u32 {
    fn show(&self, key: &str, out: &mut String) {
        sep(out);
        out.push_str(&format!("{key} {self}"));
    }
}

impl ShowResolved for bool {
    fn show(&self, key: &str, out: &mut String) {
        if *self {
            sep(out);
            out.push_str(key);
        }
    }
}

impl ShowResolved for mm::MigrateType {
    fn show(&self, _: &str, out: &mut String) {
        sep(out);
        out.push_str(self.name());
    }
}

macro_rules! define_ops {
    ($(
        $(#[doc = $doc:literal])*
        $var:ident $name:literal $follow:ident { $($f:ident : $t:ty),* } => { $($rf:ident : $rt:ty),* },
    )*) => {
        /// One operation of the op language (see the module doc; what each
        /// one does is its arm in `crate::harness::exec`).
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Op {
            $($(#[doc = $doc])* $var { $(#[allow(missing_docs)] $f: $t),* },)*
        }

        /// An op with its operands resolved against the current state: what
        /// the harness acted on, and what the reference model predicts from.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Resolved {
            $($(#[doc = $doc])* $var { $(#[allow(missing_docs)] $rf: $rt),* },)*
        }

        /// One byte picks the op (mod the number of ops), then its fields
        /// in order. Not the derive's u32 discriminant: there the op
        /// depends on the top byte of four, so most byte mutations a
        /// fuzzer makes keep the op, and runs of equal bytes (which
        /// libFuzzer inserts often) all decode to the same one.
        impl<'a> arbitrary::Arbitrary<'a> for Op {
            fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
                let i = <u8 as arbitrary::Arbitrary>::arbitrary(u)? as usize % Op::NAMES.len();
                let mut _k = 0usize;
                $(
                    if i == _k {
                        return Ok(Op::$var { $($f: <$t as arbitrary::Arbitrary>::arbitrary(u)?),* });
                    }
                    _k += 1;
                )*
                Err(arbitrary::Error::IncorrectFormat)
            }
        }

        impl super::Encode for Op {
            fn encode(&self, out: &mut Vec<u8>) {
                let mut _i = 0u8;
                $(
                    if let Op::$var { $($f),* } = self {
                        super::Encode::encode(&_i, out);
                        $(super::Encode::encode($f, out);)*
                        return;
                    }
                    _i += 1;
                )*
            }
        }

        impl Op {
            /// Every op name, in variant order.
            pub const NAMES: &'static [&'static str] = &[$($name),*];

            /// The op's name in scenarios.
            pub fn name(&self) -> &'static str {
                match self { $(Op::$var { .. } => $name,)* }
            }

            /// The preemption-point label a thread passes right before it
            /// starts this op (`op:<name>`).
            pub fn label(&self) -> &'static str {
                match self { $(Op::$var { .. } => concat!("op:", $name),)* }
            }

            /// Does the reference model follow this op? (After the first op
            /// it does not follow, only the checker judges the run.)
            pub fn model_follows(&self) -> bool {
                match self { $(Op::$var { .. } => stringify!($follow) == "model",)* }
            }

            /// The CPU operand, for ops that have one.
            pub(crate) fn cpu_mut(&mut self) -> Option<&mut u8> {
                match self {
                    $(Op::$var { $($f),* } => {
                        $(
                            if let Some(c) = super::define::CpuField::as_cpu($f, stringify!($f)) {
                                return Some(c);
                            }
                        )*
                        None
                    })*
                }
            }

            /// The text form: the name, then `key=value` for every field
            /// that is not at its default.
            pub fn to_text(&self) -> String {
                #[allow(unused_mut)]
                let mut s = String::from(self.name());
                match self {
                    $(Op::$var { $($f),* } => {
                        $(
                            if *$f != <$t as Default>::default() {
                                s.push(' ');
                                s.push_str(stringify!($f));
                                s.push('=');
                                s.push_str(&super::Field::fmt_value($f));
                            }
                        )*
                    })*
                }
                s
            }

            /// Parse `name key=value ...`. Errors carry the byte offset in
            /// `text` they refer to.
            pub fn parse(text: &str) -> Result<Op, (usize, String)> {
                let mut toks = super::operand::tokens(text);
                let Some((name_at, name)) = toks.next() else {
                    return Err((0, "an operation name".into()));
                };
                let kv: Vec<(usize, &str)> = toks.collect();
                match name {
                    $($name => {
                        $(let mut $f = <$t as Default>::default();)*
                        for &(at, tok) in &kv {
                            let Some((k, v)) = tok.split_once('=') else {
                                return Err((at, format!("`key=value` after `{}`, found `{tok}`", $name)));
                            };
                            let _ = v;
                            match k {
                                $(stringify!($f) => {
                                    $f = <$t as super::Field>::parse_value(v).map_err(|e| (at + k.len() + 1, format!("for `{k}`: {e}")))?;
                                })*
                                _ => {
                                    let fields: &[&str] = &[$(stringify!($f)),*];
                                    let want = if fields.is_empty() { "no fields".to_string() } else { format!("one of {}", fields.join(", ")) };
                                    return Err((at, format!("a field of `{}` ({want}), found `{k}`", $name)));
                                }
                            }
                        }
                        Ok(Op::$var { $($f),* })
                    })*
                    _ => Err((name_at, format!("an operation name (one of {}), found `{name}`", Op::NAMES.join(", ")))),
                }
            }
        }

        impl Resolved {
            /// The op's name.
            pub fn name(&self) -> &'static str {
                match self { $(Resolved::$var { .. } => $name,)* }
            }

            /// Does the reference model follow this op?
            pub fn model_follows(&self) -> bool {
                match self { $(Resolved::$var { .. } => stringify!($follow) == "model",)* }
            }
        }

        impl std::fmt::Display for Resolved {
            /// The resolved operands in words: `cpu0 pfn 0x8000 order 2`.
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                #[allow(unused_mut)]
                let mut s = String::new();
                match self {
                    $(Resolved::$var { $($rf),* } => {
                        $(super::define::ShowResolved::show($rf, stringify!($rf), &mut s);)*
                    })*
                }
                f.write_str(&s)
            }
        }
    };
}
pub(super) use define_ops;
