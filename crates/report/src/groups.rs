//! What each criterion group is: its title, unit, references for the ratio
//! columns, plot kind and case order ([`spec_of`]).

use crate::*;

/// How a case's ratio to another case is taken.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Ratio {
    /// time per iteration ÷ the other's (1.9 = takes 1.9× as long).
    Time,
    /// throughput ÷ the other's (1.9 = does 1.9× the work per second).
    Throughput,
}

/// What the report knows about a group: its description, the order of its
/// cases, its reference and baseline, and its plot.
pub(crate) struct Spec {
    pub(crate) name: String,
    pub(crate) title: &'static str,
    pub(crate) about: &'static str,
    pub(crate) order: &'static [&'static str],
    /// Full id of a case's reference, if it has one.
    pub(crate) reference: fn(&Bench) -> Option<String>,
    pub(crate) ref_label: &'static str,
    /// Full id of a case's global-lock baseline, if it has one.
    pub(crate) baseline: fn(&Bench) -> Option<String>,
    pub(crate) ratio: Ratio,
    pub(crate) unit: &'static str,
    pub(crate) plot: Plot,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Plot {
    /// Horizontal bars of ns per operation.
    BarsNs,
    /// Horizontal bars of throughput.
    BarsThroughput,
    /// Aggregate throughput against the thread count, one line per workload.
    Scaling,
    /// ms per iteration against the parameter (% in use), one line per function.
    Offline,
}

/// The free-path designs in the order the reports list them.
pub(crate) const DESIGNS: [&str; 6] = [
    "no_hwpoison_check",
    "landed",
    "rfc_pageoffline_hook",
    "side_bitmap_hook",
    "free_mt_no_recheck",
    "merge_across_isolate",
];

pub(crate) fn none(_: &Bench) -> Option<String> {
    None
}

pub(crate) fn global_lock_of(b: &Bench) -> Option<String> {
    if b.function.starts_with("global_lock") {
        return None;
    }
    let f = format!("{}/global_lock_{}", b.group, b.function);
    Some(match &b.value {
        Some(v) => format!("{f}/{v}"),
        None => f,
    })
}

pub(crate) fn spec_of(group: &str) -> Spec {
    let generic = Spec {
        name: group.to_string(),
        title: "",
        about: "",
        order: &[],
        reference: none,
        ref_label: "",
        baseline: none,
        ratio: Ratio::Time,
        unit: "elem",
        plot: Plot::BarsNs,
    };
    match group {
        "put_page" => Spec {
            title: "put_page: the final put and its hooks",
            about: "All cases run in one process, one after the other, on the same machine state, so their \
                    ratios mean something. `bare_atomic_fetch_sub` is the reference: the one `lock xadd` \
                    every put is built on, on a stand-in 64-byte descriptor. `nonfinal_put` drops a \
                    reference without freeing. `final_put_to_pcp/<design>` is the last put of an order-0 page \
                    onto the pcp list (no spill), `alloc_free_pair/<design>` an `alloc_page` + final \
                    `put_page` pair that stays on the pcp. Designs: `no_hwpoison_check` (no hook), `landed` \
                    (PageHWPoison test in free_pages_prepare, today's kernel), `rfc_pageoffline_hook` \
                    (+ PageOffline test in the put path, same cache line), `side_bitmap_hook` (+ a bit in a \
                    side bitmap, a second cache line). `global_lock_alloc_free_pair` is the pair on the \
                    naive baseline (one `Mutex<Vec<u32>>` free stack over the same descriptors).",
            order: &["bare_atomic_fetch_sub", "nonfinal_put", "final_put_to_pcp", "alloc_free_pair", "global_lock_alloc_free_pair"],
            reference: |b| (b.function != "bare_atomic_fetch_sub").then(|| "put_page/bare_atomic_fetch_sub".to_string()),
            ref_label: "÷ bare atomic (time)",
            baseline: |b| {
                (b.function.contains("pair") && !b.function.starts_with("global_lock"))
                    .then(|| "put_page/global_lock_alloc_free_pair".to_string())
            },
            unit: "ops",
            plot: Plot::BarsNs,
            ..generic
        },
        "alloc_free" => Spec {
            title: "alloc_free: one CPU, through the pcp and through buddy",
            about: "Landed design, one CPU slot, 1 GiB machine, warmed up. `pair`: alloc + final put staying \
                    on the pcp. `burst/N`: N allocations then N frees (pcp high 252, batch 63: both sizes \
                    refill from and spill to buddy under zone->lock); one operation = one page allocated \
                    and freed. `order_pair/K`: alloc_pages(K) + free_pages of a compound block (orders 1, \
                    3 and 9 are cached on the pcp, 10 is buddy only); one operation = one block, \
                    throughput in pages. `global_lock_*`: the same workloads on the naive baseline, one \
                    `Mutex<Vec<u32>>` free stack over the same descriptors; each model case is compared \
                    with the baseline case of the same workload.",
            order: &["pair", "burst", "order_pair", "global_lock_pair", "global_lock_burst"],
            baseline: global_lock_of,
            unit: "pages",
            plot: Plot::BarsThroughput,
            ..generic
        },
        "scaling" => Spec {
            title: "scaling: aggregate throughput with 1..N threads",
            about: "Each thread count gets a rayon pool of exactly that many workers, each pinned to one host \
                    CPU and acting for its own CPU slot; each worker runs one long loop (no task per page), \
                    all starting at a barrier, and the slowest worker's time counts. One iteration is one \
                    operation on every thread, so throughput is the aggregate. `pair`: alloc + free inside \
                    the pcp; `burst_128`: bursts of 128, inside the pcp high mark (252); `burst_4096`: bursts \
                    of 4096, refilling from and spilling to the shared buddy every 63 pages. \
                    `global_lock_*`: the naive baseline (one `Mutex<Vec<u32>>`). Ratios are throughput \
                    ratios: to the same workload on 1 thread (the scaling factor) and to the baseline at the \
                    same thread count.",
            order: &["pair", "burst_128", "burst_4096", "global_lock_pair", "global_lock_burst_128", "global_lock_burst_4096"],
            reference: |b| (b.value.as_deref() != Some("1")).then(|| format!("{}/{}/1", b.group, b.function)),
            ref_label: "÷ 1 thread (throughput)",
            baseline: global_lock_of,
            ratio: Ratio::Throughput,
            unit: "ops",
            plot: Plot::Scaling,
            ..generic
        },
        "offline" => Spec {
            title: "offline: one 128 MiB block",
            about: "A 3-section machine with the frame store on; block 0 is offlined, blocks 1-2 hold the \
                    migration targets. `offline/P`: `offline_memory_block` with P % of the block's 32768 \
                    pages in use (scattered at random), each migrated with a 4 KiB copy; faulting the \
                    pages in and onlining the block again are outside the timed region. Throughput: pages \
                    of the block per second. `memcpy/P`: the reference, the same number of 4 KiB copies \
                    between two pre-faulted 128 MiB buffers (scattered source pages, consecutive \
                    destination pages). `memcpy_scattered/P`: the same copies to scattered destination pages \
                    as well (where the migration's targets are). `online`: onlining the block after an offline with nothing in use. \
                    `offline_balloon/P`: offline of a virtio-mem device block with P % of its 64 subblocks \
                    unplugged (PageOffline pages the driver holds and lets go of at MEM_GOING_OFFLINE), \
                    nothing in use; its reference is `offline/0`, the same offline with no PageOffline page.",
            order: &["offline", "online", "memcpy", "memcpy_scattered", "offline_balloon", "soft_offline"],
            reference: |b| match b.function.as_str() {
                "offline" => Some(format!("{}/memcpy/{}", b.group, b.value.as_deref().unwrap_or(""))),
                "offline_balloon" => Some(format!("{}/offline/0", b.group)),
                _ => None,
            },
            ref_label: "÷ reference (time): memcpy/P for offline/P, offline/0 for balloon",
            unit: "pages",
            plot: Plot::Offline,
            ..generic
        },
        _ => generic,
    }
}

pub(crate) fn value_key(v: &Option<String>) -> (usize, u64, String) {
    match v {
        None => (0, 0, String::new()),
        Some(s) => match s.parse::<u64>() {
            Ok(n) => (1, n, String::new()),
            Err(_) => (2, DESIGNS.iter().position(|d| d == s).unwrap_or(DESIGNS.len()) as u64, s.clone()),
        },
    }
}

pub(crate) fn sort_cases(spec: &Spec, cases: &mut [Bench]) {
    cases.sort_by_key(|b| {
        let pos = spec.order.iter().position(|f| *f == b.function).unwrap_or(spec.order.len());
        (pos, b.function.clone(), value_key(&b.value))
    });
}
