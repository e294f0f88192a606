//! Plot helpers returning `plotly` figures, shown in notebooks with
//! `evcxr_display` and embedded in the book with `to_inline_html`.

use plotly::common::{Fill, Line, Mode, Title};
use plotly::layout::{Axis, AxisType, Layout};
use plotly::{Histogram, Plot, Scatter};

fn layout(title: &str, x: &str, y: &str) -> Layout {
    Layout::new()
        .title(Title::with_text(title))
        .x_axis(Axis::new().title(Title::with_text(x)))
        .y_axis(Axis::new().title(Title::with_text(y)))
}

/// Summary of several runs at shared x positions: mean and the min-max band.
#[derive(Debug, Clone, PartialEq)]
pub struct Spread {
    /// The x positions.
    pub x: Vec<f64>,
    /// Mean over runs.
    pub mean: Vec<f64>,
    /// Smallest value over runs.
    pub min: Vec<f64>,
    /// Largest value over runs.
    pub max: Vec<f64>,
}

impl Spread {
    /// Summarises `runs[r][i]`, the value of run `r` at `x[i]`; runs are cut to the shortest.
    pub fn new(x: &[f64], runs: &[Vec<f64>]) -> Self {
        let n = runs.iter().map(Vec::len).min().unwrap_or(0).min(x.len());
        let column = |i: usize| runs.iter().map(move |r| r[i]);
        Self {
            x: x[..n].to_vec(),
            mean: (0..n).map(|i| column(i).sum::<f64>() / runs.len() as f64).collect(),
            min: (0..n).map(|i| column(i).fold(f64::INFINITY, f64::min)).collect(),
            max: (0..n).map(|i| column(i).fold(f64::NEG_INFINITY, f64::max)).collect(),
        }
    }
}

/// A learning curve: one mean line per labelled group, with its min-max band shaded.
pub fn learning_curves(title: &str, x_label: &str, y_label: &str, groups: &[(&str, Spread)]) -> Plot {
    let mut plot = Plot::new();
    for (name, s) in groups {
        // The band: the minimum, then the maximum filled down to it.
        plot.add_trace(
            Scatter::new(s.x.clone(), s.min.clone())
                .mode(Mode::Lines)
                .line(Line::new().width(0.0))
                .name(format!("{name} (min)"))
                .legend_group(*name)
                .show_legend(false),
        );
        plot.add_trace(
            Scatter::new(s.x.clone(), s.max.clone())
                .mode(Mode::Lines)
                .fill(Fill::ToNextY)
                .opacity(0.3)
                .line(Line::new().width(0.0))
                .name(format!("{name} (min to max)"))
                .legend_group(*name),
        );
        plot.add_trace(
            Scatter::new(s.x.clone(), s.mean.clone())
                .mode(Mode::Lines)
                .name(format!("{name} (mean)"))
                .legend_group(*name),
        );
    }
    plot.set_layout(layout(title, x_label, y_label));
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
fn series_trace(name: &str, x: &[f64], y: &[f64]) -> Box<Scatter<f64, f64>> {
    let trace = Scatter::new(x.to_vec(), y.to_vec()).name(name);
    if name.starts_with("reference") {
        trace.mode(Mode::Lines).line(Line::new().dash(plotly::common::DashType::Dash))
    } else {
        trace.mode(Mode::LinesMarkers)
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

/// Lines through named series `(x, y)` (dashed for names starting with
/// "reference"), on linear or logarithmic axes.
pub fn lines(
    title: &str,
    x_label: &str,
    y_label: &str,
    axes: Axes,
    series: &[(&str, Vec<f64>, Vec<f64>)],
) -> Plot {
    let mut plot = Plot::new();
    for (name, x, y) in series {
        plot.add_trace(series_trace(name, x, y));
    }
    let (mut x_axis, mut y_axis) =
        (Axis::new().title(Title::with_text(x_label)), Axis::new().title(Title::with_text(y_label)));
    if matches!(axes, Axes::LogX | Axes::LogLog) {
        x_axis = x_axis.type_(AxisType::Log);
    }
    if matches!(axes, Axes::LogY | Axes::LogLog) {
        y_axis = y_axis.type_(AxisType::Log);
    }
    plot.set_layout(Layout::new().title(Title::with_text(title)).x_axis(x_axis).y_axis(y_axis));
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
        let s = Spread::new(&[1.0, 2.0, 3.0], &[vec![1.0, 4.0, 9.0], vec![3.0, 0.0]]);
        assert_eq!(s.x, vec![1.0, 2.0]);
        assert_eq!(s.mean, vec![2.0, 2.0]);
        assert_eq!((s.min.clone(), s.max.clone()), (vec![1.0, 0.0], vec![3.0, 4.0]));
    }

    #[test]
    fn figures_carry_their_data() {
        let spread = Spread::new(&[1.0, 2.0], &[vec![5.0, 6.0]]);
        let json = learning_curves("t", "x", "y", &[("run", spread)]).to_json();
        assert!(json.contains("run (mean)") && json.contains("tonexty"), "{json}");
        let json = histogram("h", "estimate", &[0.25, 0.5, 0.75], Some(("exact", 0.5))).to_json();
        assert!(json.contains("0.25") && json.contains("\"histogram\"") && json.contains("line"), "{json}");
        let json = log_log("l", "n", "e", &[("reference: slope", vec![1.0, 10.0], vec![1.0, 0.1])]).to_json();
        assert!(json.contains("\"log\"") && json.contains("dash"), "{json}");
    }
}
