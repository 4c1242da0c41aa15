//! The operation language of the fuzz targets and scenarios: one [`Op`] per
//! path the core models, each with operands that *resolve against the
//! current state* (an index into the live allocations, the mapped pages,
//! the blocks in the right state, modulo their count), so that nearly every
//! input does something meaningful and a shrunk input keeps its meaning.
//!
//! * [`Op`] derives `arbitrary::Arbitrary` (the fuzz targets decode their
//!   bytes into it) and has a stable text form ([`Op::to_text`] /
//!   [`Op::parse`]): `alloc cpu=1 order=2 mt=movable`. Fields at their
//!   default (0, off, movable) are left out of the text.
//! * Applying an op (in [`crate::harness`]) yields an [`Applied`]: what the
//!   operands resolved to and an [`OpResult`], both printable.
//!
//! Variant order matters to `arbitrary` (the variant is chosen by
//! `(u32 * count) >> 32`): new variants are appended at the end, and raw
//! corpus bytes are *not* a stable format; scenarios (`*.ops`) are.
//!
//! Invariants: every field value that decodes is valid (orders are
//! 0..=MAX_PAGE_ORDER, counts 1..=4); operand *indices* may exceed the
//! current population, they are reduced modulo it at resolution time.
//! Lock order: none (plain data).

use arbitrary::{Arbitrary, Unstructured};
use std::fmt;

/// A buddy order, 0..=MAX_PAGE_ORDER, biased towards the small orders the
/// pcp caches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Order(pub u8);

impl<'a> Arbitrary<'a> for Order {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let b = u8::arbitrary(u)?;
        Ok(Order(if b < 192 { b % 4 } else { b % (crate::MAX_PAGE_ORDER as u8 + 1) }))
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
    pub fn migratetype(self) -> crate::MigrateType {
        match self {
            Mt::Unmovable => crate::MigrateType::Unmovable,
            Mt::Movable => crate::MigrateType::Movable,
            Mt::Reclaimable => crate::MigrateType::Reclaimable,
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
/// picks another target kind (see [`Op`]'s impl).
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
    (((v << 32) + n - 1) / n) as u32
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
        let n = crate::MAX_PAGE_ORDER as u8 + 1;
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
            Ok(v) if v <= crate::MAX_PAGE_ORDER as u64 => Ok(Order(v as u8)),
            _ => Err(format!("an order 0..={}, found `{s}`", crate::MAX_PAGE_ORDER)),
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

macro_rules! ops {
    ($($(#[doc = $doc:literal])* $var:ident $name:literal { $($f:ident : $t:ty),* },)*) => {
        /// One operation of the fuzz language (see the module doc; the
        /// resolution rule of each operand is in [`crate::harness`]).
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Op {
            $($(#[doc = $doc])* $var { $($f: $t),* },)*
        }

        /// One byte picks the op (mod the number of ops), then its fields
        /// in order. Not the derive's u32 discriminant: there the op
        /// depends on the top byte of four, so most byte mutations a
        /// fuzzer makes keep the op, and runs of equal bytes (which
        /// libFuzzer inserts often) all decode to the same one.
        impl<'a> Arbitrary<'a> for Op {
            fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
                let i = u8::arbitrary(u)? as usize % Op::NAMES.len();
                let mut _k = 0usize;
                $(
                    if i == _k {
                        return Ok(Op::$var { $($f: <$t as Arbitrary>::arbitrary(u)?),* });
                    }
                    _k += 1;
                )*
                Err(arbitrary::Error::IncorrectFormat)
            }
        }

        impl Encode for Op {
            fn encode(&self, out: &mut Vec<u8>) {
                let mut _i = 0u8;
                $(
                    if let Op::$var { $($f),* } = self {
                        _i.encode(out);
                        $(Encode::encode($f, out);)*
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
                                s.push_str(&Field::fmt_value($f));
                            }
                        )*
                    })*
                }
                s
            }

            /// Parse `name key=value ...` (the tokens after the name).
            /// Errors carry the byte offset in `text` they refer to.
            pub fn parse(text: &str) -> Result<Op, (usize, String)> {
                let mut toks = tokens(text);
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
                                    $f = <$t as Field>::parse_value(v).map_err(|e| (at + k.len() + 1, format!("for `{k}`: {e}")))?;
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
    };
}

/// Whitespace-separated tokens with their byte offsets.
fn tokens(s: &str) -> impl Iterator<Item = (usize, &str)> {
    s.split_ascii_whitespace().map(move |t| (t.as_ptr() as usize - s.as_ptr() as usize, t))
}

ops! {
    /// `alloc_pages(order, mt)` on CPU `cpu`; the block becomes a live
    /// allocation holding one reference.
    Alloc "alloc" { cpu: u8, order: Order, mt: Mt },
    /// `__free_pages` of live allocation `a`: drops one of its references.
    Free "free" { cpu: u8, a: u8 },
    /// `get_page` on live allocation `a`: one more reference.
    Get "get" { cpu: u8, a: u8 },
    /// `put_page` on live allocation `a`: one reference fewer.
    Put "put" { cpu: u8, a: u8 },
    /// `get_page_unless_zero` on a target (speculative, like a pfn walker);
    /// a reference taken is held until `put_spec`.
    GetUnlessZero "get_unless_zero" { cpu: u8, target: Target },
    /// `put_page` of held speculative reference `s`.
    PutSpec "put_spec" { cpu: u8, s: u8 },
    /// A page fault on vpn `vpn` (modulo the address space): maps a fresh
    /// movable LRU page.
    Fault "fault" { cpu: u8, vpn: u8 },
    /// Unmap the `m`-th present mapping (`zap_pte_range`).
    Unmap "unmap" { cpu: u8, m: u8 },
    /// `isolate_lru_page` on the `m`-th mapped page (under a speculative
    /// reference, as `do_migrate_range` does); held until `migrate` or
    /// `putback`.
    IsolateLru "isolate_lru" { cpu: u8, m: u8 },
    /// `migrate_page` of held LRU-isolated page `i` (MR_COMPACTION).
    Migrate "migrate" { cpu: u8, i: u8 },
    /// `putback_lru_page` of held LRU-isolated page `i`.
    Putback "putback" { cpu: u8, i: u8 },
    /// `drain_local_pages` on CPU `cpu`.
    DrainLocal "drain_local" { cpu: u8 },
    /// `drain_all_pages`.
    DrainAll "drain_all" {},
    /// `start_isolate_page_range` over pageblocks `pb..pb+n` of an online
    /// block, then `drain_all_pages` (as every caller does); held until
    /// `undo_isolate`.
    IsolateRange "isolate_range" { block: u8, pb: u8, n: Count },
    /// `undo_isolate_page_range` of held isolation `i`.
    UndoIsolate "undo_isolate" { i: u8 },
    /// `test_pages_isolated` over held isolation `i`.
    TestIsolated "test_isolated" { i: u8 },
    /// Online an offline block.
    Online "online" { block: u8 },
    /// Offline an online block (migrating with CPU `cpu`).
    Offline "offline" { cpu: u8, block: u8 },
    /// `add_memory` of an absent block, optionally with memmap_on_memory.
    AddMemory "add_memory" { block: u8, memmap_on_memory: bool },
    /// `add_memory` whose block-device step fails (fault injection, C12).
    AddMemoryFailing "add_memory_failing" { block: u8, memmap_on_memory: bool },
    /// `remove_memory` of an offline block.
    RemoveMemory "remove_memory" { block: u8 },
    /// `alloc_contig_range` over pageblocks `pb..pb+n` of an online block;
    /// held until `free_contig`.
    AllocContig "alloc_contig" { cpu: u8, block: u8, pb: u8, n: Count },
    /// `free_contig_range` of held contiguous range `i`.
    FreeContig "free_contig" { cpu: u8, i: u8 },
    // ---- Extended ops (THP, compaction, walkers, balloon drivers): the
    // reference model does not follow them; after the first one only the
    // checker judges the run.
    /// `do_huge_pmd_anonymous_page`: a THP at the `slot`-th PMD-aligned
    /// range of the address space.
    ThpFault "thp_fault" { cpu: u8, slot: u8 },
    /// `split_huge_pmd` of the PMD at slot `slot`.
    ThpSplitPmd "thp_split_pmd" { cpu: u8, slot: u8 },
    /// `zap_huge_pmd` of the PMD at slot `slot`.
    ThpZap "thp_zap" { cpu: u8, slot: u8 },
    /// FOLL_PIN a page (held until `unpin`).
    Pin "pin" { cpu: u8, target: Target },
    /// Unpin held pin `i`.
    Unpin "unpin" { cpu: u8, i: u8 },
    /// `add_to_swap_cache` of a page's folio (held until `swapcache_del`).
    SwapcacheAdd "swapcache_add" { cpu: u8, target: Target },
    /// `delete_from_swap_cache` of held entry `i`.
    SwapcacheDel "swapcache_del" { cpu: u8, i: u8 },
    /// `split_huge_page` of the folio of a page.
    SplitFolio "split_folio" { cpu: u8, target: Target },
    /// `compact_zone` over pageblocks `pb..pb+n` of an online block.
    Compact "compact" { cpu: u8, block: u8, pb: u8, n: Count },
    /// A pfn walker's speculative reference (`drivers::walker_get`), held
    /// with the `get_unless_zero` ones (`put_spec` / `walk_put` drop it).
    WalkGet "walk_get" { cpu: u8, target: Target },
    /// `drivers::walker_put` of held speculative reference `s` (records V4
    /// when it frees a PageOffline page).
    WalkPut "walk_put" { cpu: u8, s: u8 },
    /// `/proc/kpageflags` of any pfn the memmap can describe (`pfn` modulo
    /// them: online, offline or absent).
    Kpageflags "kpageflags" { pfn: u32 },
    /// A dump tool's (`/proc/kcore`, makedumpfile) read of any pfn.
    DumpRead "dump_read" { pfn: u32 },
    /// sysfs `valid_zones` of any block.
    ValidZones "valid_zones" { block: u8 },
    /// virtio-mem: plug subblock `sb` of the device (config `drivers=virtio_mem`).
    VmemPlug "vmem_plug" { cpu: u8, sb: u16 },
    /// virtio-mem: unplug subblock `sb`.
    VmemUnplug "vmem_unplug" { cpu: u8, sb: u16 },
    /// CMM balloon: inflate by `n` pages (config `drivers=cmm`).
    CmmInflate "cmm_inflate" { cpu: u8, n: u8 },
    /// CMM balloon: deflate by `n` pages.
    CmmDeflate "cmm_deflate" { cpu: u8, n: u8 },
    /// Hyper-V balloon: inflate by `n` pages (config `drivers=hv_balloon`).
    HvInflate "hv_inflate" { cpu: u8, n: u8 },
    /// Hyper-V balloon: deflate by `n` pages.
    HvDeflate "hv_deflate" { cpu: u8, n: u8 },
    // ---- hwpoison and hugetlb (extended ops too).
    /// `memory_failure(pfn, MF_SW_SIMULATED)`: hard offline of a page.
    MemoryFailure "memory_failure" { cpu: u8, target: Target },
    /// `soft_offline_page` run to its end (a `soft_offline:step`
    /// preemption point between its steps).
    SoftOffline "soft_offline" { cpu: u8, target: Target },
    /// `unpoison_memory` of a page (software-injected poison only).
    Unpoison "unpoison" { cpu: u8, target: Target },
    /// `hugetlb_alloc_pool`: grow the hugetlb pool by up to `n` folios
    /// (`hugetlb_prep:before_testzero` between preparing and enqueueing).
    HugetlbPool "hugetlb_pool" { cpu: u8, n: Count },
    /// `hugetlb_reserve_pages` of `n` huge pages.
    HugetlbReserve "hugetlb_reserve" { n: Count },
    /// `hugetlb_unreserve_pages` of `n` huge pages.
    HugetlbUnreserve "hugetlb_unreserve" { n: Count },
    /// A fault in the hugetlbfs mapping (maps a folio of the pool).
    HugetlbFault "hugetlb_fault" {},
    /// munmap of the `i`-th mapped hugetlb folio (`free_huge_folio` on the
    /// last reference, `free_huge_folio:refcount_zero` in its window).
    HugetlbFree "hugetlb_free" { i: u8 },
    /// `dissolve_free_hugetlb_folio` of a page's folio.
    Dissolve "dissolve" { target: Target },
    /// The first step of a soft offline (`soft_offline_begin` + one
    /// step): it holds `mf_mutex` until `soft_offline_step` finishes it
    /// (an op of the same thread that needs `mf_mutex` finishes it first;
    /// the end of the thread does too).
    SoftOfflineBegin "soft_offline_begin" { cpu: u8, target: Target },
    /// The next step of this thread's soft offline in progress (on the
    /// CPU it began on).
    SoftOfflineStep "soft_offline_step" {},
    /// `compact_zone` over the pageblock holding a target page (a mapped
    /// page, an allocation, ...): what the compaction scanner meets when
    /// it walks a range with something in it. `compact` names pageblocks
    /// by number, which a fuzzer seldom points at an occupied one.
    CompactAt "compact_at" { cpu: u8, target: Target },
    /// virtio-mem: the first half of unplugging subblock `sb`
    /// (`alloc_contig_range`: the driver now holds every page), left
    /// pending in the device with its `hotplug_mutex` held: the window in
    /// which seed 000's walkers take their references (B1). The next op
    /// that could need that mutex finishes it first.
    VmemUnplugBegin "vmem_unplug_begin" { cpu: u8, sb: u16 },
    /// virtio-mem: the second half of the pending unplug (PageOffline set;
    /// under the RFC the driver's reference is dropped).
    VmemUnplugFinish "vmem_unplug_finish" {},
}

// The op byte indexes `Op::NAMES`.
const _: () = assert!(Op::NAMES.len() <= 256);

impl Op {
    /// Is this one of the extended ops the reference model does not follow?
    pub fn is_extended(&self) -> bool {
        Op::NAMES.iter().position(|n| *n == self.name()).is_some_and(|i| i >= Op::NAMES.iter().position(|n| *n == "thp_fault").unwrap_or(usize::MAX))
    }

    /// The CPU operand (0 for ops that name none).
    pub fn cpu(&self) -> u8 {
        self.clone().cpu_mut().map_or(0, |c| *c)
    }

    /// The CPU operand, for ops that have one.
    fn cpu_mut(&mut self) -> Option<&mut u8> {
        match self {
            Op::Alloc { cpu, .. }
            | Op::Free { cpu, .. }
            | Op::Get { cpu, .. }
            | Op::Put { cpu, .. }
            | Op::GetUnlessZero { cpu, .. }
            | Op::PutSpec { cpu, .. }
            | Op::Fault { cpu, .. }
            | Op::Unmap { cpu, .. }
            | Op::IsolateLru { cpu, .. }
            | Op::Migrate { cpu, .. }
            | Op::Putback { cpu, .. }
            | Op::DrainLocal { cpu }
            | Op::Offline { cpu, .. }
            | Op::AllocContig { cpu, .. }
            | Op::FreeContig { cpu, .. }
            | Op::ThpFault { cpu, .. }
            | Op::ThpSplitPmd { cpu, .. }
            | Op::ThpZap { cpu, .. }
            | Op::Pin { cpu, .. }
            | Op::Unpin { cpu, .. }
            | Op::SwapcacheAdd { cpu, .. }
            | Op::SwapcacheDel { cpu, .. }
            | Op::SplitFolio { cpu, .. }
            | Op::Compact { cpu, .. }
            | Op::WalkGet { cpu, .. }
            | Op::WalkPut { cpu, .. }
            | Op::VmemPlug { cpu, .. }
            | Op::VmemUnplug { cpu, .. }
            | Op::CmmInflate { cpu, .. }
            | Op::CmmDeflate { cpu, .. }
            | Op::HvInflate { cpu, .. }
            | Op::HvDeflate { cpu, .. }
            | Op::MemoryFailure { cpu, .. }
            | Op::SoftOffline { cpu, .. }
            | Op::Unpoison { cpu, .. }
            | Op::HugetlbPool { cpu, .. }
            | Op::SoftOfflineBegin { cpu, .. }
            | Op::CompactAt { cpu, .. }
            | Op::VmemUnplugBegin { cpu, .. } => Some(cpu),
            _ => None,
        }
    }

    /// The same op with its CPU operand cleared (a thread of a concurrent
    /// scenario always acts for its own CPU).
    pub fn without_cpu(&self) -> Op {
        let mut o = self.clone();
        if let Some(cpu) = o.cpu_mut() {
            *cpu = 0;
        }
        o
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

/// What an op returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpResult {
    /// Success with nothing to report.
    Ok,
    /// Success: this pfn (an allocation, a fault, a migration target).
    Pfn(crate::Pfn),
    /// A yes/no answer (get_unless_zero, isolate_lru).
    Bool(bool),
    /// Success with no page (unmap of a hole, a migration that found the
    /// page already unmapped).
    None,
    /// A count (free_contig: pages still in use; kpageflags; balloon pages).
    Count(u64),
    /// A value in words (a walker's read, a compaction's result).
    Text(String),
    /// The core returned an error (its message).
    Err(String),
    /// Nothing to act on (no live allocation, no mapping, ...): no call made.
    Skip(&'static str),
}

impl OpResult {
    /// Did the core succeed?
    pub fn is_ok(&self) -> bool {
        !matches!(self, OpResult::Err(_) | OpResult::Skip(_))
    }
    /// Did the core return an error?
    pub fn is_err(&self) -> bool {
        matches!(self, OpResult::Err(_))
    }
}

impl fmt::Display for OpResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpResult::Ok => f.write_str("ok"),
            OpResult::Pfn(p) => write!(f, "pfn {p:#x}"),
            OpResult::Bool(b) => write!(f, "{b}"),
            OpResult::None => f.write_str("none"),
            OpResult::Count(n) => write!(f, "{n}"),
            OpResult::Text(t) if t.len() > 120 => write!(f, "{}... ({} chars)", &t[..t.char_indices().nth(100).map_or(t.len(), |(i, _)| i)], t.len()),
            OpResult::Text(t) => f.write_str(t),
            OpResult::Err(e) => write!(f, "error: {e}"),
            OpResult::Skip(why) => write!(f, "skipped ({why})"),
        }
    }
}

/// One applied op: what its operands resolved to and what it returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The resolved operands in words (`pfn 0x8000 order 2`), or empty.
    pub resolved: String,
    pub result: OpResult,
}

impl fmt::Display for Applied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.resolved.is_empty() {
            write!(f, "-> {}", self.result)
        } else {
            write!(f, "[{}] -> {}", self.resolved, self.result)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_roundtrips_and_defaults_are_omitted() {
        let ops = [
            Op::Alloc { cpu: 1, order: Order(3), mt: Mt::Reclaimable },
            Op::Alloc { cpu: 0, order: Order(0), mt: Mt::Movable },
            Op::DrainAll {},
            Op::GetUnlessZero { cpu: 0, target: Target::Pfn { pfn: 0x1234 } },
            Op::GetUnlessZero { cpu: 2, target: Target::Alloc { a: 3, off: 7 } },
            Op::IsolateRange { block: 1, pb: 5, n: Count(4) },
            Op::AddMemory { block: 2, memmap_on_memory: true },
            Op::MemoryFailure { cpu: 1, target: Target::Huge { h: 2, off: 17 } },
            Op::Unpoison { cpu: 0, target: Target::Poisoned { p: 3 } },
            Op::SoftOffline { cpu: 0, target: Target::Freed { f: 1 } },
            Op::HugetlbPool { cpu: 1, n: Count(3) },
            Op::HugetlbFault {},
            Op::SoftOfflineStep {},
            Op::SoftOfflineBegin { cpu: 1, target: Target::Mapped { m: 2 } },
        ];
        for op in ops {
            let t = op.to_text();
            assert_eq!(Op::parse(&t), Ok(op.clone()), "{t}");
        }
        assert_eq!(Op::Alloc { cpu: 0, order: Order(0), mt: Mt::Movable }.to_text(), "alloc");
        assert_eq!(Op::DrainAll {}.to_text(), "drain_all");
    }

    #[test]
    fn encode_is_the_inverse_of_arbitrary() {
        let mut seed = 3u64;
        let mut n = 0;
        for _ in 0..3000 {
            let data: Vec<u8> = (0..24)
                .map(|_| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    (seed >> 33) as u8
                })
                .collect();
            let mut u = Unstructured::new(&data);
            let Ok(op) = Op::arbitrary(&mut u) else { continue };
            let mut bytes = Vec::new();
            op.encode(&mut bytes);
            let back = Op::arbitrary(&mut Unstructured::new(&bytes)).unwrap();
            assert_eq!(back, op, "{bytes:?}");
            n += 1;
        }
        assert!(n > 2000);
        for o in 0..=crate::MAX_PAGE_ORDER as u8 {
            let mut b = Vec::new();
            Order(o).encode(&mut b);
            assert_eq!(Order::arbitrary(&mut Unstructured::new(&b)).unwrap(), Order(o));
        }
    }

    #[test]
    fn parse_errors_say_what_was_expected_and_where() {
        let (at, msg) = Op::parse("alloc order=11").unwrap_err();
        assert_eq!(at, "alloc order=".len());
        assert!(msg.contains("order 0..=10"), "{msg}");
        let (at, msg) = Op::parse("allocate").unwrap_err();
        assert_eq!(at, 0);
        assert!(msg.contains("operation name"), "{msg}");
        let (at, msg) = Op::parse("free  bogus=1").unwrap_err();
        assert_eq!(at, 6);
        assert!(msg.contains("one of cpu, a"), "{msg}");
        assert!(Op::parse("drain_all cpu=1").is_err());
        assert!(Op::parse("free a").is_err());
        assert!(Op::parse("").is_err());
    }
}
