//! The SVG plots (plotters): bars for the put_page variants and alloc_free,
//! lines for scaling and offline, and the instruction counts.

use crate::*;
use std::collections::BTreeMap;
use std::path::Path;
use plotters::prelude::*;

pub(crate) type PlotResult = Result<(), Box<dyn std::error::Error>>;
/// A line of a line plot: label, points, drawn thin.
pub(crate) type Series = (String, Vec<(f64, f64)>, bool);

pub(crate) const PALETTE: [RGBColor; 6] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
];

/// Horizontal bars: (label, value, highlighted).
pub(crate) fn hbars(path: &Path, title: &str, x_label: &str, items: &[(String, f64, bool)]) -> PlotResult {
    let n = items.len().max(1);
    let height = 90 + 28 * n as u32;
    let root = SVGBackend::new(path, (900, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let max = items.iter().map(|i| i.1).fold(0.0f64, f64::max).max(f64::MIN_POSITIVE);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(10)
        .build_cartesian_2d(0.0..max * 1.6, 0.0..n as f64)?;
    chart.configure_mesh().disable_y_mesh().disable_y_axis().y_labels(0).x_desc(x_label).draw()?;
    for (i, (label, v, hi)) in items.iter().enumerate() {
        let y = (n - 1 - i) as f64;
        let color = if *hi { PALETTE[1] } else { PALETTE[0] };
        chart.draw_series(std::iter::once(Rectangle::new([(0.0, y + 0.15), (*v, y + 0.85)], color.filled())))?;
        chart.draw_series(std::iter::once(Text::new(
            format!("{label}  {}", fmt_num(*v)),
            (*v + max * 0.01, y + 0.7),
            ("sans-serif", 13).into_font(),
        )))?;
    }
    root.present()?;
    Ok(())
}

pub(crate) fn fmt_num(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Lines: (series label, points, dashed).
pub(crate) fn lines(path: &Path, title: &str, x_label: &str, y_label: &str, series: &[Series]) -> PlotResult {
    let root = SVGBackend::new(path, (900, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let pts = series.iter().flat_map(|s| s.1.iter());
    let (mut x0, mut x1, mut y1) = (f64::MAX, f64::MIN, 0.0f64);
    for &(x, y) in pts {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        (x0, x1) = (0.0, 1.0);
    }
    let pad = ((x1 - x0) * 0.05).max(0.1);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d((x0 - pad)..(x1 + pad), 0.0..(y1 * 1.15).max(f64::MIN_POSITIVE))?;
    let integer_x = series.iter().all(|s| s.1.iter().all(|p| p.0.fract() == 0.0)) && x1 - x0 <= 16.0;
    if integer_x {
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(y_label)
            .x_labels((x1 - x0) as usize + 1)
            .x_label_formatter(&|x| if x.fract().abs() < 1e-9 { format!("{x:.0}") } else { String::new() })
            .draw()?;
    } else {
        chart.configure_mesh().x_desc(x_label).y_desc(y_label).draw()?;
    }
    for (i, (label, points, dashed)) in series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let style = color.stroke_width(if *dashed { 1 } else { 2 });
        chart
            .draw_series(LineSeries::new(points.iter().copied(), style))?
            .label(label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        chart.draw_series(points.iter().map(|&(x, y)| Circle::new((x, y), 4, color.filled())))?;
        chart.draw_series(points.iter().map(|&(x, y)| Text::new(fmt_num(y), (x, y), ("sans-serif", 12).into_font())))?;
    }
    chart.configure_series_labels().position(SeriesLabelPosition::UpperLeft).background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    root.present()?;
    Ok(())
}

pub(crate) fn plot_group(spec: &Spec, cases: &[Bench], path: &Path) -> PlotResult {
    let refs: Vec<&Bench> = cases.iter().collect();
    match spec.plot {
        Plot::BarsNs => {
            let items: Vec<(String, f64, bool)> = cases
                .iter()
                .map(|b| (b.case(), b.median.point, (spec.reference)(b).is_none() || b.function.starts_with("global_lock")))
                .collect();
            hbars(path, &format!("{}: time per operation (median, ns)", spec.name), "ns per operation", &items)
        }
        Plot::BarsThroughput => {
            let items: Vec<(String, f64, bool)> = cases
                .iter()
                .filter_map(|b| Some((b.case(), b.per_sec()? / 1e6, b.function.starts_with("global_lock"))))
                .collect();
            hbars(path, &format!("{}: throughput (M {}/s)", spec.name, spec.unit), &format!("M {}/s", spec.unit), &items)
        }
        Plot::Scaling => {
            let mut by_fn: BTreeMap<(usize, String), Vec<(f64, f64)>> = BTreeMap::new();
            for b in &refs {
                let (Some(t), Some(r)) = (b.value.as_deref().and_then(|v| v.parse::<f64>().ok()), b.per_sec()) else { continue };
                let pos = spec.order.iter().position(|f| *f == b.function).unwrap_or(spec.order.len());
                by_fn.entry((pos, b.function.clone())).or_default().push((t, r / 1e6));
            }
            let series: Vec<_> = by_fn.into_iter().map(|((_, f), pts)| (f.clone(), pts, f.starts_with("global_lock"))).collect();
            lines(path, "scaling: aggregate throughput (median)", "threads", "M ops/s (all threads)", &series)
        }
        Plot::Offline => {
            let mut by_fn: BTreeMap<(usize, String), Vec<(f64, f64)>> = BTreeMap::new();
            for b in &refs {
                let Some(x) = b.value.as_deref().and_then(|v| v.parse::<f64>().ok()) else { continue };
                let pos = spec.order.iter().position(|f| *f == b.function).unwrap_or(spec.order.len());
                by_fn.entry((pos, b.function.clone())).or_default().push((x, b.median.point / 1e6));
            }
            let series: Vec<_> = by_fn.into_iter().map(|((_, f), pts)| (f.clone(), pts, f.starts_with("memcpy"))).collect();
            lines(path, "offline of one 128 MiB block (median)", "% of the block in use", "ms per block", &series)
        }
    }
}

pub(crate) fn plot_ir(ir: &[IrBench], path: &Path) -> PlotResult {
    let items: Vec<(String, f64, bool)> =
        ir.iter().map(|b| (b.function.clone(), b.per_op(), b.function == "bare_atomic" || b.function.starts_with("global_lock"))).collect();
    hbars(path, "instructions per operation (Callgrind)", "Ir per operation", &items)
}
