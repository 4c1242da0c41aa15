//! `pagelab info`: the model's geometry and what a machine of a given size
//! costs, measured by booting one (System::new) in this process.

use crate::out::{emit, rss_bytes, JsonObject};
use crate::size::{human_bytes, parse_mem, short_size};
use crate::Failure;
use mm::page_alloc::pcp::NR_PCP_LISTS;
use mm::{Config, Landed, Page, System, PAGE_SIZE, PCP_DEFAULT_BATCH, PCP_DEFAULT_HIGH};
use mm::Geometry;
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub(crate) struct InfoArgs {
    /// Memory of the machine to boot (SIZE: a multiple of 128M, e.g. 512M, 1G, 4G).
    #[arg(long, value_name = "SIZE", default_value = "1G", value_parser = parse_mem)]
    mem: u64,
    /// CPU slots of the machine.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1024))]
    cpus: u32,
    /// The geometry (x86_64: 128M sections, order-9 pageblocks, max order
    /// 10; small: the fuzz targets' 2M sections, order-5 pageblocks, max
    /// order 6).
    #[arg(long, value_name = "NAME", default_value = "x86_64", value_parser = parse_geometry)]
    geometry: Geometry,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

fn parse_geometry(s: &str) -> Result<Geometry, String> {
    Geometry::by_name(s).ok_or_else(|| format!("one of {}", Geometry::ALL.map(|g| g.name).join(", ")))
}

pub(crate) fn run(a: &InfoArgs) -> Result<(), Failure> {
    let g = a.geometry;
    if !a.mem.is_multiple_of(g.section_size()) {
        return Err(Failure::usage(format!("--mem {}: not a multiple of the {} geometry's {} section", short_size(a.mem), g.name, human_bytes(g.section_size()))));
    }
    let desc = std::mem::size_of::<Page>() as u64;
    let pages = a.mem / PAGE_SIZE as u64;
    let sections = a.mem / g.section_size();
    let memmap_bytes = pages * desc;
    let cfg = Config {
        mem_bytes: a.mem,
        max_sections: sections as usize,
        nr_cpus: a.cpus as usize,
        pcp_high: PCP_DEFAULT_HIGH,
        pcp_batch: PCP_DEFAULT_BATCH,
        frame_store: false,
        geometry: g,
        ..Config::default()
    };

    // The measurement: one boot, timed, with the resident set before and after.
    let rss_before = rss_bytes();
    let t0 = Instant::now();
    let sys: System<Landed> = System::new(cfg)?;
    let boot = t0.elapsed();
    let rss_after = rss_bytes();
    let rss_growth = rss_before.zip(rss_after).map(|(b, a)| a.saturating_sub(b));

    let st = sys.stats();
    let (pcp_high, pcp_batch) = sys.zone().pcp_high_batch(0).unwrap_or((PCP_DEFAULT_HIGH, PCP_DEFAULT_BATCH));
    let boot_ms = boot.as_secs_f64() * 1e3;
    let max_block_pages = 1u64 << g.max_order;

    if a.json {
        let mut j = JsonObject::new();
        j.str("version", env!("CARGO_PKG_VERSION"))
            .str("free_path", sys.design_name())
            .num("page_size", PAGE_SIZE)
            .num("section_size", g.section_size())
            .num("pages_per_section", g.pages_per_section())
            .num("memory_block_size", g.section_size())
            .num("descriptor_size", desc)
            .num("pageblock_order", g.pageblock_order)
            .num("pageblock_pages", g.pageblock_nr_pages())
            .num("max_page_order", g.max_order)
            .num("max_block_pages", max_block_pages)
            .num("pcp_lists", NR_PCP_LISTS)
            .num("pcp_batch", pcp_batch)
            .num("pcp_high", pcp_high)
            .num("mem_bytes", a.mem)
            .num("cpus", a.cpus)
            .num("sections", sections)
            .num("pages", pages)
            .num("memmap_bytes", memmap_bytes)
            .float("boot_ms", boot_ms, 3)
            .opt("rss_before_bytes", rss_before)
            .opt("rss_after_bytes", rss_after)
            .opt("rss_growth_bytes", rss_growth)
            .num("managed_pages", st.managed_pages)
            .num("nr_free_pages", st.nr_free_pages)
            .nums("nr_free", st.nr_free);
        return emit(&j.finish());
    }

    let mut s = String::new();
    let mut line = |k: &str, v: String| s.push_str(&format!("  {k:<24}{v}\n"));
    let hdr = format!("pagelab {} (free path: {})\ngeometry\n", env!("CARGO_PKG_VERSION"), sys.design_name());
    line("geometry", g.name.to_string());
    line("page size", format!("{PAGE_SIZE} B"));
    line("section", format!("{} = {} pages", human_bytes(g.section_size()), g.pages_per_section()));
    line("memory block", format!("1 section ({})", human_bytes(g.section_size())));
    line("page descriptor", format!("{desc} B (struct page)"));
    line(
        "pageblock",
        format!(
            "order {} = {} pages ({})",
            g.pageblock_order,
            g.pageblock_nr_pages(),
            human_bytes(g.pageblock_nr_pages() * PAGE_SIZE as u64)
        ),
    );
    line(
        "max page order",
        format!(
            "{} (largest block {max_block_pages} pages, {})",
            g.max_order,
            human_bytes(max_block_pages * PAGE_SIZE as u64)
        ),
    );
    line("pcp lists per cpu", format!("{NR_PCP_LISTS} (3 migratetypes x orders 0..=3, + pageblock order)"));
    line("pcp batch / high", format!("{pcp_batch} / {pcp_high}"));
    let mut m = String::new();
    m.push_str(&format!("machine (--mem {} --cpus {})\n", short_size(a.mem), a.cpus));
    let mut mline = |k: &str, v: String| m.push_str(&format!("  {k:<24}{v}\n"));
    mline("memory", format!("{} = {pages} pages in {sections} sections", human_bytes(a.mem)));
    mline("memmap (reserved)", format!("{} ({pages} x {desc} B descriptors)", human_bytes(memmap_bytes)));
    mline("boot (measured)", format!("{boot_ms:.3} ms"));
    mline(
        "RSS growth (measured)",
        match rss_growth {
            Some(g) => format!("{} ({:.1}% of the memmap)", human_bytes(g), 100.0 * g as f64 / memmap_bytes as f64),
            None => "unknown (no /proc/self/statm)".into(),
        },
    );
    mline(
        "free after boot",
        format!(
            "{} of {} managed pages, {} blocks of order {}",
            st.nr_free_pages,
            st.managed_pages,
            st.nr_free[g.max_order as usize],
            g.max_order
        ),
    );
    emit(&format!("{hdr}{s}{m}"))
}
