//! What a chapter's experiments hand to the book: named files (tables,
//! numbers, figures) that the chapter's Markdown includes. Each chapter crate
//! has one entry point that writes them through a [`Report`]; `pg book`
//! supplies one that writes into `book/src/generated`, tests one that keeps
//! them in memory.

use plotly::Plot;
use plotly::configuration::{Configuration, DisplayModeBar};
use std::collections::BTreeMap;

/// The lines between `ANCHOR: name` and `ANCHOR_END: name` (the markers of
/// mdBook's `{{#include file:name}}`), or `None` if the anchor is missing.
pub fn anchored_region(source: &str, name: &str) -> Option<String> {
    let lines: Vec<&str> = source.lines().collect();
    let is_marker = |l: &str, kind: &str| {
        l.trim_start().trim_start_matches("//").trim().strip_prefix(kind).is_some_and(|n| n.trim() == name)
    };
    let start = lines.iter().position(|l| is_marker(l, "ANCHOR:"))?;
    let end = lines[start..].iter().position(|l| is_marker(l, "ANCHOR_END:"))? + start;
    Some(lines[start + 1..end].join("\n"))
}

/// Where a chapter writes its generated files.
pub trait Report {
    /// Smaller experiments (for tests): the same pipeline, fewer samples.
    fn quick(&self) -> bool;

    /// Announces the next experiment, so that the builder can show progress and time it.
    fn start(&mut self, what: &str);

    /// Writes the generated file `name` (e.g. `02-variance.md`).
    fn write(&mut self, name: &str, contents: &str) -> Result<(), String>;

    /// Writes a figure as an HTML fragment; `name` ends in `.html`. In the
    /// book a figure follows the width of the page and has no tool bar, which
    /// would cover its title on a narrow screen.
    fn figure(&mut self, name: &str, plot: &Plot) -> Result<(), String> {
        let id = format!("fig-{}", name.trim_end_matches(".html"));
        let mut plot = plot.clone();
        plot.set_configuration(Configuration::new().responsive(true).display_mode_bar(DisplayModeBar::False));
        self.write(name, &format!("<div class=\"figure\">\n{}\n</div>\n", plot.to_inline_html(Some(&id))))
    }
}

/// A report kept in memory: for tests and notebooks.
#[derive(Debug, Clone, Default)]
pub struct MemoryReport {
    /// Run the quick variant of every experiment.
    pub quick: bool,
    /// Every file written, by name.
    pub files: BTreeMap<String, String>,
}

impl Report for MemoryReport {
    fn quick(&self) -> bool {
        self.quick
    }

    fn start(&mut self, _what: &str) {}

    fn write(&mut self, name: &str, contents: &str) -> Result<(), String> {
        self.files.insert(name.to_string(), contents.to_string());
        Ok(())
    }
}

/// Runs a chapter's entry point in quick mode and checks that it writes
/// exactly the files it lists, none of them empty; returns what it wrote.
pub fn quick_run(
    write: fn(&mut dyn Report) -> Result<(), String>,
    generated: &[&str],
) -> Result<MemoryReport, String> {
    let mut report = MemoryReport { quick: true, ..Default::default() };
    write(&mut report)?;
    let written: Vec<&str> = report.files.keys().map(String::as_str).collect();
    let mut listed = generated.to_vec();
    listed.sort_unstable();
    if written != listed {
        return Err(format!("wrote {written:?}, but lists {listed:?}"));
    }
    if let Some((name, _)) = report.files.iter().find(|(_, c)| c.trim().is_empty()) {
        return Err(format!("{name} is empty"));
    }
    Ok(report)
}

/// A Markdown table: the first column left-aligned, the others right-aligned.
/// A `|` inside a cell (outside `$…$` math, which the book renders before
/// Markdown sees it) is escaped, so it cannot split the row.
pub fn markdown_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let row = |cells: &mut dyn Iterator<Item = &str>| {
        let cells: Vec<String> = cells.map(escape_cell).collect();
        format!("| {} |\n", cells.join(" | "))
    };
    let mut out = row(&mut headers.iter().copied());
    out += "|---|";
    out += &"---:|".repeat(headers.len().saturating_sub(1));
    out.push('\n');
    for cells in rows {
        out += &row(&mut cells.iter().map(String::as_str));
    }
    out
}

/// `body` folded under a `<details>` block headed by `summary`: the book shows
/// the summary line and the reader opens the rest.
pub fn folded(summary: &str, body: &str) -> String {
    format!("\n<details>\n<summary>{summary}</summary>\n\n{}\n\n</details>\n", body.trim_end())
}

/// `cell` with every `|` outside `$…$` written `\|`.
fn escape_cell(cell: &str) -> String {
    let mut out = String::with_capacity(cell.len());
    let mut in_math = false;
    for c in cell.chars() {
        match c {
            '$' => in_math = !in_math,
            '|' if !in_math => out.push('\\'),
            _ => {}
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::markdown_table;

    #[test]
    fn a_bar_in_a_cell_cannot_split_its_row() {
        let table = markdown_table(&["check", "value"], &[vec!["max |∇D̄|".into(), "$\\lvert x|$".into()]]);
        assert_eq!(table, "| check | value |\n|---|---:|\n| max \\|∇D̄\\| | $\\lvert x|$ |\n");
    }
}
