//! SVG line charts for `dspgd demo` and `dspgd bias`, drawn with `plotters`.
//!
//! plotters is built without its `ttf` feature: no font is loaded at run
//! time (text extents are estimated), and every label is written as an SVG
//! `<text>` element that the viewer renders with its own fonts. The output
//! starts with an XML declaration and is a standalone SVG document.

use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;

/// Colours of the series, in order (the "tab10" palette).
const COLORS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// One named curve.
#[derive(Debug, Clone)]
pub struct Series {
    /// The legend entry.
    pub label: String,
    /// (x, y) points, in drawing order. Points that a log axis cannot show
    /// (≤ 0 or not finite) are left out.
    pub points: Vec<(f64, f64)>,
}

/// One chart: axes, scales and curves.
#[derive(Debug, Clone)]
pub struct Panel {
    /// Title above the chart.
    pub title: String,
    /// Label of the x axis.
    pub x_desc: String,
    /// Label of the y axis.
    pub y_desc: String,
    /// Logarithmic x axis.
    pub x_log: bool,
    /// Logarithmic y axis.
    pub y_log: bool,
    /// Draw a marker at every point (for short series such as a step-size grid).
    pub markers: bool,
    /// Where the legend goes (inside the plotting area).
    pub legend: SeriesLabelPosition,
    /// The curves.
    pub series: Vec<Series>,
}

/// Renders the panels side by side into one SVG document of the given size.
///
/// # Errors
/// A message when plotters fails to lay out or draw the chart.
pub fn render(panels: &[Panel], size: (u32, u32)) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| format!("plot: {e}"))?;
        let areas = root.split_evenly((1, panels.len().max(1)));
        for (area, p) in areas.iter().zip(panels) {
            draw_panel(area, p)?;
        }
        root.present().map_err(|e| format!("plot: {e}"))?;
    }
    Ok(format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{}\n", svg.trim_end()))
}

/// The visible points of a series on the given scales.
fn visible(p: &Panel, s: &Series) -> Vec<(f64, f64)> {
    let ok = |v: f64, log: bool| v.is_finite() && (!log || v > 0.0);
    s.points.iter().copied().filter(|&(x, y)| ok(x, p.x_log) && ok(y, p.y_log)).collect()
}

/// The data range of one axis, widened so that it is never empty and, on a
/// log axis, extended to whole decades.
fn range(values: impl Iterator<Item = f64>, log: bool) -> (f64, f64) {
    let (mut lo, mut hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if !lo.is_finite() || !hi.is_finite() {
        return if log { (0.1, 10.0) } else { (0.0, 1.0) };
    }
    if log {
        lo = 10f64.powf(lo.log10().floor());
        hi = 10f64.powf(hi.log10().ceil());
        if hi <= lo {
            hi = lo * 10.0;
        }
    } else {
        let span = hi - lo;
        let pad = if span > 0.0 { 0.05 * span } else { 0.05 * lo.abs().max(1.0) };
        lo -= pad;
        hi += pad;
    }
    (lo, hi)
}

/// Tick labels: powers of ten as `1e-6`, other values in a short form.
fn tick(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let e = v.abs().log10();
    if (e - e.round()).abs() < 1e-9 && e.abs() >= 3.0 {
        return format!("{}1e{}", if v < 0.0 { "-" } else { "" }, e.round() as i32);
    }
    let a = v.abs();
    if (1e-3..1e5).contains(&a) {
        let s = format!("{v:.4}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    } else {
        format!("{v:.0e}")
    }
}

fn draw_panel<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, p: &Panel) -> Result<(), String> {
    let pts: Vec<Vec<(f64, f64)>> = p.series.iter().map(|s| visible(p, s)).collect();
    let (x0, x1) = range(pts.iter().flatten().map(|q| q.0), p.x_log);
    let (y0, y1) = range(pts.iter().flatten().map(|q| q.1), p.y_log);
    match (p.x_log, p.y_log) {
        (false, false) => chart(area, p, &pts, x0..x1, y0..y1),
        (true, false) => chart(area, p, &pts, (x0..x1).log_scale(), y0..y1),
        (false, true) => chart(area, p, &pts, x0..x1, (y0..y1).log_scale()),
        (true, true) => chart(area, p, &pts, (x0..x1).log_scale(), (y0..y1).log_scale()),
    }
}

fn chart<DB, X, Y>(area: &DrawingArea<DB, Shift>, p: &Panel, pts: &[Vec<(f64, f64)>], x: X, y: Y) -> Result<(), String>
where
    DB: DrawingBackend,
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| format!("plot '{}': {e}", p.title);
    let mut c = ChartBuilder::on(area)
        .caption(&p.title, ("sans-serif", 17))
        .margin(14)
        .x_label_area_size(42)
        .y_label_area_size(64)
        .build_cartesian_2d(x, y)
        .map_err(err)?;
    c.configure_mesh()
        .x_desc(p.x_desc.as_str())
        .y_desc(p.y_desc.as_str())
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .label_style(("sans-serif", 12))
        .axis_desc_style(("sans-serif", 14))
        .light_line_style(RGBColor(238, 238, 238))
        .bold_line_style(RGBColor(210, 210, 210))
        .draw()
        .map_err(err)?;
    for (i, (s, q)) in p.series.iter().zip(pts).enumerate() {
        let color = COLORS[i % COLORS.len()];
        let style = ShapeStyle { color: color.to_rgba(), filled: false, stroke_width: 2 };
        c.draw_series(LineSeries::new(q.iter().copied(), style))
            .map_err(err)?
            .label(s.label.as_str())
            .legend(move |(lx, ly)| PathElement::new(vec![(lx, ly), (lx + 22, ly)], ShapeStyle { color: color.to_rgba(), filled: false, stroke_width: 3 }));
        if p.markers {
            c.draw_series(q.iter().map(|&pt| Circle::new(pt, 3, color.filled()))).map_err(err)?;
        }
    }
    c.configure_series_labels()
        .position(p.legend.clone())
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(160, 160, 160))
        .label_font(("sans-serif", 13))
        .draw()
        .map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_text_labels_without_fonts() {
        let p = Panel {
            title: "t & <title>".into(),
            x_desc: "iteration".into(),
            y_desc: "relative residual".into(),
            x_log: true,
            y_log: true,
            markers: true,
            legend: SeriesLabelPosition::LowerLeft,
            series: vec![
                Series { label: "gd".into(), points: vec![(1.0, 1.0), (10.0, 1e-3), (100.0, 1e-10)] },
                Series { label: "adam:1e-2".into(), points: vec![(0.0, 1.0), (1.0, 0.5), (50.0, 0.0), (60.0, 1e-9)] },
            ],
        };
        let svg = render(&[p.clone(), Panel { x_log: false, y_log: false, ..p }], (900, 400)).unwrap();
        assert!(svg.starts_with("<?xml"));
        assert!(svg.contains("<svg"));
        // The contents of the <text> elements, trimmed.
        let texts: Vec<&str> = svg.split("<text").skip(1).filter_map(|t| Some(t.split_once('>')?.1.split_once("</text>")?.0.trim())).collect();
        for want in ["gd", "adam:1e-2", "relative residual", "iteration", "t &amp; &lt;title&gt;", "1e-10"] {
            assert!(texts.contains(&want), "no <text> '{want}' in {texts:?}");
        }
    }

    #[test]
    fn ticks() {
        assert_eq!(tick(1e-6), "1e-6");
        assert_eq!(tick(0.25), "0.25");
        assert_eq!(tick(10.0), "10");
        assert_eq!(tick(1.0), "1");
    }
}
