//! Plot helpers returning `plotly` figures, shown in notebooks with
//! `evcxr_display` and embedded in the book with `to_inline_html`.
//!
//! Every figure has its legend below the plot (a phone keeps the whole width
//! for the data), at most [`MAX_SERIES`] series per panel (more become small
//! multiples), and bands in the colour of their line.

use plotly::common::{Anchor, ExponentFormat, Fill, Line, Mode, Orientation, Title};
use plotly::layout::{Annotation, Axis, AxisType, GridPattern, Layout, LayoutGrid, Legend, Margin};
use plotly::{Histogram, Plot, Scatter};

/// A named series of points `(name, x, y)`.
pub type Series<'a> = (&'a str, Vec<f64>, Vec<f64>);

/// The most series one panel shows; a comparison of more is split into panels.
pub const MAX_SERIES: usize = 4;

/// The colours of the series, in order (plotly's defaults): a name keeps its
/// colour across the panels of a figure, so a figure of small multiples may
/// use all ten.
const COLOURS: [(u8, u8, u8); 10] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
];

fn colour(i: usize) -> String {
    let (r, g, b) = COLOURS[i % COLOURS.len()];
    format!("rgb({r},{g},{b})")
}

fn translucent(i: usize) -> String {
    let (r, g, b) = COLOURS[i % COLOURS.len()];
    format!("rgba({r},{g},{b},0.2)")
}

/// The book's look: legend in rows below the plot, room for it, a size that
/// follows the page.
fn styled(layout: Layout) -> Layout {
    layout
        .legend(Legend::new().orientation(Orientation::Horizontal).x(0.0).y(-0.22).y_anchor(Anchor::Top))
        .margin(Margin::new().left(80).right(20).top(60).bottom(40))
        .height(480)
        .auto_size(true)
}

fn layout(title: &str, x: &str, y: &str) -> Layout {
    styled(
        Layout::new()
            .title(Title::with_text(title))
            .x_axis(Axis::new().title(Title::with_text(x)))
            .y_axis(Axis::new().title(Title::with_text(y))),
    )
}

/// A logarithmic axis, its decades labelled as powers of ten.
fn log_axis(axis: Axis) -> Axis {
    axis.type_(AxisType::Log).exponent_format(ExponentFormat::Power)
}

/// Summary of several runs at shared x positions: the median and the
/// interquartile range (25th to 75th percentile) over runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Spread {
    /// The x positions.
    pub x: Vec<f64>,
    /// Median over runs.
    pub median: Vec<f64>,
    /// 25th percentile over runs.
    pub lower: Vec<f64>,
    /// 75th percentile over runs.
    pub upper: Vec<f64>,
}

/// The `q`-quantile of `values` (0 ≤ q ≤ 1), interpolating linearly between
/// order statistics (numpy's default); NaN for no values.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n => {
            let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
            let (i, frac) = (pos.floor() as usize, pos.fract());
            if i + 1 < n && frac > 0.0 { v[i] + frac * (v[i + 1] - v[i]) } else { v[i] }
        }
    }
}

impl Spread {
    /// Summarises `runs[r][i]`, the value of run `r` at `x[i]`; runs are cut to the shortest.
    pub fn new(x: &[f64], runs: &[Vec<f64>]) -> Self {
        let n = runs.iter().map(Vec::len).min().unwrap_or(0).min(x.len());
        let column = |i: usize| runs.iter().map(|r| r[i]).collect::<Vec<f64>>();
        let at = |q: f64| (0..n).map(|i| quantile(&column(i), q)).collect();
        Self { x: x[..n].to_vec(), median: at(0.5), lower: at(0.25), upper: at(0.75) }
    }
}

/// Adds a median line with its interquartile band, in colour `i`, on axes `axes` ("" for the first).
fn add_spread(plot: &mut Plot, name: &str, s: &Spread, i: usize, axes: usize, legend: bool) {
    let on = |t| on_panel(t, axes);
    plot.add_trace(on(Scatter::new(s.x.clone(), s.lower.clone())
        .mode(Mode::Lines)
        .line(Line::new().width(0.0).color(colour(i)))
        .name(format!("{name}: 25th percentile"))
        .legend_group(name)
        .show_legend(false)));
    plot.add_trace(on(Scatter::new(s.x.clone(), s.upper.clone())
        .mode(Mode::Lines)
        .fill(Fill::ToNextY)
        .fill_color(translucent(i))
        .line(Line::new().width(0.0).color(colour(i)))
        .name(format!("{name}: 75th percentile"))
        .legend_group(name)
        .show_legend(false)));
    plot.add_trace(on(Scatter::new(s.x.clone(), s.median.clone())
        .mode(Mode::Lines)
        .line(Line::new().color(colour(i)))
        .name(name)
        .legend_group(name)
        .show_legend(legend)));
}

/// Learning curves: per labelled group, the median over runs as a line and
/// the interquartile range as a band of the same colour. At most
/// [`MAX_SERIES`] groups: more belong in [`learning_curve_panels`].
pub fn learning_curves(title: &str, x_label: &str, y_label: &str, groups: &[(&str, Spread)]) -> Plot {
    assert!(
        groups.len() <= MAX_SERIES,
        "{title}: {} series in one panel; split them into panels",
        groups.len()
    );
    let mut plot = Plot::new();
    for (i, (name, s)) in groups.iter().enumerate() {
        add_spread(&mut plot, name, s, i, 0, true);
    }
    plot.set_layout(layout(
        &format!("{title}<br><sub>median over runs, band: interquartile range</sub>"),
        x_label,
        y_label,
    ));
    plot
}

/// Learning curves of any number of groups: one panel when they fit
/// ([`MAX_SERIES`]), otherwise small multiples in which the first group, the
/// reference, appears in every panel beside up to three others.
pub fn compare_curves(title: &str, x_label: &str, y_label: &str, groups: &[(&str, Spread)]) -> Plot {
    match groups.split_first() {
        Some((reference, others)) if groups.len() > MAX_SERIES => {
            let panels: Vec<(&str, Vec<(&str, Spread)>)> = others
                .chunks(MAX_SERIES - 1)
                .map(|chunk| ("", std::iter::once(reference).chain(chunk).cloned().collect()))
                .collect();
            learning_curve_panels(title, x_label, y_label, Axes::Linear, &panels)
        }
        _ => learning_curves(title, x_label, y_label, groups),
    }
}

/// Lines through named series `(x, y)` (dashed for names starting with
/// "reference"), on linear or logarithmic axes: one panel when they fit
/// ([`MAX_SERIES`]), otherwise small multiples in which the first series and
/// any reference line appear in every panel beside the others.
pub fn lines(
    title: &str,
    x_label: &str,
    y_label: &str,
    axes: Axes,
    series: &[(&str, Vec<f64>, Vec<f64>)],
) -> Plot {
    if series.len() <= MAX_SERIES {
        return one_panel(title, x_label, y_label, axes, series);
    }
    let (fixed, others): (Vec<_>, Vec<_>) =
        series.iter().enumerate().partition(|(i, (name, _, _))| *i == 0 || name.starts_with("reference"));
    let room = MAX_SERIES.saturating_sub(fixed.len()).max(1);
    let panels: Vec<LinePanel> = others
        .chunks(room)
        .map(|chunk| ("", y_label, fixed.iter().chain(chunk).map(|(_, s)| (*s).clone()).collect()))
        .collect();
    line_panels(title, x_label, axes, &panels)
}

/// Small multiples: one panel per `(panel title, groups)`, stacked on a
/// shared x-axis, each with at most [`MAX_SERIES`] groups; a group name keeps
/// its colour in every panel, and the legend lists each name once. The
/// y-axes are logarithmic when `axes` says so.
pub fn learning_curve_panels(
    title: &str,
    x_label: &str,
    y_label: &str,
    axes: Axes,
    panels: &[(&str, Vec<(&str, Spread)>)],
) -> Plot {
    assert!((1..=MAX_SERIES).contains(&panels.len()), "{title}: {} panels", panels.len());
    let mut plot = Plot::new();
    let mut names: Vec<&str> = Vec::new();
    for (k, (_, groups)) in panels.iter().enumerate() {
        assert!(groups.len() <= MAX_SERIES, "{title}: panel {k} has {} series", groups.len());
        for (name, s) in groups {
            if !names.contains(name) {
                names.push(name);
            }
            let i = names.iter().position(|n| n == name).unwrap_or(0);
            let first = !panels[..k].iter().any(|(_, g)| g.iter().any(|(n, _)| n == name));
            add_spread(&mut plot, name, s, i, k, first);
        }
    }
    let titles: Vec<(&str, &str)> = panels.iter().map(|(text, _)| (*text, y_label)).collect();
    plot.set_layout(panel_layout(
        &format!("{title}<br><sub>median over runs, band: interquartile range</sub>"),
        x_label,
        axes,
        &titles,
    ));
    plot
}

/// Puts a trace on the axes of panel `k` (0 is the first).
fn on_panel(trace: Box<Scatter<f64, f64>>, k: usize) -> Box<Scatter<f64, f64>> {
    match k {
        0 => trace,
        k => trace.x_axis(format!("x{}", k + 1)).y_axis(format!("y{}", k + 1)),
    }
}

/// Panels stacked on a shared x-axis, each `(heading, y-axis title)`; the
/// heading (if any) is written above its panel.
fn panel_layout(title: &str, x_label: &str, axes: Axes, panels: &[(&str, &str)]) -> Layout {
    assert!((1..=MAX_SERIES).contains(&panels.len()), "{title}: {} panels", panels.len());
    // Room above the first panel for every line of the title and for the
    // panel's heading, which would otherwise run into the title's last line.
    let top = 60 + 22 * title.matches("<br>").count() + 24;
    let mut lay = layout(title, "", "")
        .grid(LayoutGrid::new().rows(panels.len()).columns(1).pattern(GridPattern::Independent))
        .margin(Margin::new().left(80).right(20).top(top).bottom(40))
        .height(220 + 230 * panels.len() + top);
    let mut notes = Vec::new();
    // One title for every panel's y-axis, written once down the left edge:
    // repeated on short panels, long titles would run into each other.
    let shared = panels.len() > 1 && panels.iter().all(|(_, t)| *t == panels[0].1);
    if shared {
        notes.push(
            Annotation::new()
                .text(panels[0].1)
                .text_angle(-90.0)
                .x_ref("paper")
                .y_ref("paper")
                .x(-0.09)
                .y(0.5)
                .x_anchor(Anchor::Right)
                .y_anchor(Anchor::Middle)
                .show_arrow(false),
        );
    }
    for (k, (heading, y_title)) in panels.iter().enumerate() {
        let last = k + 1 == panels.len();
        let mut x =
            Axis::new().show_tick_labels(last).title(Title::with_text(if last { x_label } else { "" }));
        if k > 0 {
            x = x.matches("x");
        }
        if matches!(axes, Axes::LogX | Axes::LogLog) {
            x = log_axis(x);
        }
        let mut y = Axis::new().title(Title::with_text(if shared { "" } else { *y_title }));
        if matches!(axes, Axes::LogY | Axes::LogLog) {
            y = log_axis(y);
        }
        lay = match k {
            0 => lay.x_axis(x).y_axis(y),
            1 => lay.x_axis2(x).y_axis2(y),
            2 => lay.x_axis3(x).y_axis3(y),
            _ => lay.x_axis4(x).y_axis4(y),
        };
        if !heading.is_empty() {
            let axis = if k == 0 { String::new() } else { (k + 1).to_string() };
            notes.push(
                Annotation::new()
                    .text(format!("<b>{heading}</b>"))
                    .x_ref(format!("x{axis} domain"))
                    .y_ref(format!("y{axis} domain"))
                    .x(0.0)
                    .y(1.0)
                    .x_anchor(Anchor::Left)
                    .y_anchor(Anchor::Bottom)
                    .show_arrow(false),
            );
        }
    }
    lay.annotations(notes)
}

/// A panel of lines: its heading (may be empty), its y-axis title and its series.
pub type LinePanel<'a> = (&'a str, &'a str, Vec<Series<'a>>);

/// Small multiples of lines: each panel (as in [`lines`]) stacked on a
/// shared x-axis. A series name keeps its colour across panels and is listed
/// once in the legend.
pub fn line_panels(title: &str, x_label: &str, axes: Axes, panels: &[LinePanel]) -> Plot {
    let mut plot = Plot::new();
    let mut names: Vec<&str> = Vec::new();
    for (k, (_, _, series)) in panels.iter().enumerate() {
        assert!(series.len() <= MAX_SERIES, "{title}: panel {k} has {} series", series.len());
        for (name, x, y) in series {
            let first = !names.contains(name);
            if first {
                names.push(name);
            }
            let i = names.iter().position(|n| n == name).unwrap_or(0);
            let trace = series_trace(name, x, y, Some(colour(i))).legend_group(*name).show_legend(first);
            plot.add_trace(on_panel(trace, k));
        }
    }
    let titles: Vec<(&str, &str)> = panels.iter().map(|(heading, y_title, _)| (*heading, *y_title)).collect();
    plot.set_layout(panel_layout(title, x_label, axes, &titles));
    plot
}

/// A histogram of `values`, with a vertical marker at `reference` if given.
pub fn histogram(title: &str, x_label: &str, values: &[f64], reference: Option<(&str, f64)>) -> Plot {
    let mut plot = Plot::new();
    plot.add_trace(Histogram::new(values.to_vec()).name("estimates").opacity(0.75));
    let mut lay = layout(title, x_label, "count");
    if let Some((label, x)) = reference {
        lay = lay.shapes(vec![
            plotly::layout::Shape::new()
                .shape_type(plotly::layout::ShapeType::Line)
                .x_ref("x")
                .y_ref("paper")
                .x0(x)
                .x1(x)
                .y0(0)
                .y1(1)
                .name(label)
                .line(plotly::layout::ShapeLine::new().width(2.0)),
        ]);
    }
    plot.set_layout(lay);
    plot
}

/// A line through `(x, y)`: dashed and without markers when its name starts
/// with "reference", solid with markers otherwise.
fn series_trace(name: &str, x: &[f64], y: &[f64], colour: Option<String>) -> Box<Scatter<f64, f64>> {
    let trace = Scatter::new(x.to_vec(), y.to_vec()).name(name);
    let (mut line, mut marker) = (Line::new(), plotly::common::Marker::new());
    if let Some(c) = colour {
        (line, marker) = (line.color(c.clone()), marker.color(c));
    }
    if name.starts_with("reference") {
        trace.mode(Mode::Lines).line(line.dash(plotly::common::DashType::Dash))
    } else {
        trace.mode(Mode::LinesMarkers).line(line).marker(marker)
    }
}

/// A log-log plot of named series `(x, y)`, optionally with dashed reference lines.
pub fn log_log(title: &str, x_label: &str, y_label: &str, series: &[(&str, Vec<f64>, Vec<f64>)]) -> Plot {
    lines(title, x_label, y_label, Axes::LogLog, series)
}

/// A scatter plot of named point sets `(x, y)`.
pub fn scatter(title: &str, x_label: &str, y_label: &str, series: &[(&str, Vec<f64>, Vec<f64>)]) -> Plot {
    let mut plot = Plot::new();
    for (name, x, y) in series {
        plot.add_trace(Scatter::new(x.clone(), y.clone()).mode(Mode::Markers).name(*name));
    }
    plot.set_layout(layout(title, x_label, y_label));
    plot
}

/// Which axes of a line plot are logarithmic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axes {
    /// Both linear.
    Linear,
    /// A logarithmic x-axis.
    LogX,
    /// A logarithmic y-axis.
    LogY,
    /// Both logarithmic.
    LogLog,
}

/// The lines of [`lines`] in one panel.
fn one_panel(
    title: &str,
    x_label: &str,
    y_label: &str,
    axes: Axes,
    series: &[(&str, Vec<f64>, Vec<f64>)],
) -> Plot {
    assert!(series.len() <= MAX_SERIES, "{title}: {} series in one panel; use line_panels", series.len());
    let mut plot = Plot::new();
    for (name, x, y) in series {
        plot.add_trace(series_trace(name, x, y, None));
    }
    let (mut x_axis, mut y_axis) =
        (Axis::new().title(Title::with_text(x_label)), Axis::new().title(Title::with_text(y_label)));
    if matches!(axes, Axes::LogX | Axes::LogLog) {
        x_axis = log_axis(x_axis);
    }
    if matches!(axes, Axes::LogY | Axes::LogLog) {
        y_axis = log_axis(y_axis);
    }
    plot.set_layout(styled(Layout::new().title(Title::with_text(title)).x_axis(x_axis).y_axis(y_axis)));
    plot
}

/// A scatter plot of `(x, y)` points with the line y = x, for comparing two estimates.
pub fn parity(title: &str, x_label: &str, y_label: &str, x: &[f64], y: &[f64]) -> Plot {
    let mut plot = Plot::new();
    let lo = x.iter().chain(y).copied().fold(f64::INFINITY, f64::min);
    let hi = x.iter().chain(y).copied().fold(f64::NEG_INFINITY, f64::max);
    plot.add_trace(Scatter::new(x.to_vec(), y.to_vec()).mode(Mode::Markers).name("components"));
    plot.add_trace(
        Scatter::new(vec![lo, hi], vec![lo, hi])
            .mode(Mode::Lines)
            .line(Line::new().dash(plotly::common::DashType::Dash))
            .name("y = x"),
    );
    plot.set_layout(layout(title, x_label, y_label));
    plot
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_summarises_runs_cut_to_the_shortest() {
        let s = Spread::new(&[1.0, 2.0, 3.0], &[vec![1.0, 4.0, 9.0], vec![3.0, 0.0], vec![5.0, 8.0]]);
        assert_eq!(s.x, vec![1.0, 2.0]);
        assert_eq!(s.median, vec![3.0, 4.0]);
        assert_eq!((s.lower.clone(), s.upper.clone()), (vec![2.0, 2.0], vec![4.0, 6.0]));
    }

    #[test]
    fn quantiles_interpolate_like_numpy() {
        let v = [4.0, 1.0, 3.0, 2.0];
        assert_eq!(
            [quantile(&v, 0.0), quantile(&v, 0.25), quantile(&v, 0.5), quantile(&v, 1.0)],
            [1.0, 1.75, 2.5, 4.0]
        );
        assert!(quantile(&[], 0.5).is_nan());
        assert_eq!(quantile(&[1.0, f64::INFINITY, 3.0], 0.5), 3.0, "infinity only where it belongs");
    }

    #[test]
    #[should_panic(expected = "split them into panels")]
    fn five_series_do_not_share_a_panel() {
        let s = Spread::new(&[1.0], &[vec![1.0]]);
        let groups: Vec<(&str, Spread)> = ["a", "b", "c", "d", "e"].iter().map(|n| (*n, s.clone())).collect();
        learning_curves("t", "x", "y", &groups);
    }

    #[test]
    fn figures_carry_their_data() {
        let spread = Spread::new(&[1.0, 2.0], &[vec![5.0, 6.0]]);
        let json = learning_curves("t", "x", "y", &[("run", spread.clone())]).to_json();
        assert!(json.contains("\"run\"") && json.contains("tonexty"), "{json}");
        assert!(
            json.contains("rgba(31,119,180,0.2)") && json.contains("rgb(31,119,180)"),
            "band in the line's colour"
        );
        let panels = [("a", vec![("run", spread.clone())]), ("b", vec![("run", spread.clone())])];
        let json = learning_curve_panels("t", "x", "y", Axes::Linear, &panels).to_json();
        assert!(json.contains("\"y2\"") && json.contains("x2 domain"), "{json}");
        let groups: Vec<(&str, Spread)> =
            ["a", "b", "c", "d", "e"].iter().map(|n| (*n, spread.clone())).collect();
        let json = compare_curves("t", "x", "y", &groups).to_json();
        assert!(json.contains("\"y2\"") && !json.contains("\"y3\""), "five groups make two panels: {json}");
        let series: Vec<(&str, Vec<f64>, Vec<f64>)> =
            ["a", "b", "c", "d", "reference: e", "f"].iter().map(|n| (*n, vec![1.0], vec![2.0])).collect();
        let plot = lines("t", "x", "y", Axes::Linear, &series);
        let json = plot.to_json();
        assert!(
            json.contains("\"y2\"") && !json.contains("\"y3\""),
            "a and the reference twice, b to f beside them: {json}"
        );
        let json = histogram("h", "estimate", &[0.25, 0.5, 0.75], Some(("exact", 0.5))).to_json();
        assert!(json.contains("0.25") && json.contains("\"histogram\"") && json.contains("line"), "{json}");
        let json = log_log("l", "n", "e", &[("reference: slope", vec![1.0, 10.0], vec![1.0, 0.1])]).to_json();
        assert!(json.contains("\"log\"") && json.contains("dash"), "{json}");
    }
}
