//! The book: every include resolves to a non-empty region, and the built book
//! (experiments in quick mode, in a scratch copy) has rendered math, figures,
//! working internal links and nothing loaded from the network.

use pg_tests::{anchored_region, includes, root};
use std::collections::BTreeSet;
use std::path::PathBuf;

fn chapters() -> Vec<PathBuf> {
    let src = root().join("book/src");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_include_resolves_to_a_non_empty_region() {
    let src = root().join("book/src");
    let mut checked = 0;
    for chapter in chapters() {
        let text = std::fs::read_to_string(&chapter).unwrap();
        for (path, anchor) in includes(&text) {
            let where_ = format!("{} includes {path}", chapter.display());
            if let Some(name) = path.strip_prefix("generated/") {
                assert!(pg_lab::book::is_generated(name), "{where_}: `pg book` does not generate it");
                assert!(anchor.is_none(), "{where_}: generated files have no anchors");
            } else {
                let file = src.join(&path);
                let source = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{where_}: {e}"));
                let region = match &anchor {
                    Some(a) => {
                        anchored_region(&source, a).unwrap_or_else(|| panic!("{where_}: no anchor {a}"))
                    }
                    None => source,
                };
                assert!(!region.trim().is_empty(), "{where_}: the region is empty");
            }
            checked += 1;
        }
    }
    assert!(checked >= 8, "only {checked} includes found");
}

#[test]
fn every_check_marker_names_a_test_that_exists() {
    let mut cited = 0;
    for chapter in chapters() {
        let text = std::fs::read_to_string(&chapter).unwrap();
        for (_, krate, name) in pg_lab::checks::markers(&text) {
            if let Err(e) = pg_lab::checks::resolve(&root(), &krate, &name) {
                panic!("{}: {e}", chapter.display());
            }
            cited += 1;
        }
    }
    assert!(cited >= 5, "only {cited} claims cite a test");
}

#[test]
fn every_mutant_left_alive_has_a_stated_reason() {
    let record = pg_lab::mutants::load(&root()).unwrap();
    let (missing, stray) = record.unexplained();
    assert!(
        missing.is_empty(),
        "mutants that survive their crate's tests, with no reason in mutants/equivalent.json: {missing:#?}"
    );
    assert!(
        stray.is_empty(),
        "mutants/equivalent.json gives reasons for mutants no run left alive: {stray:#?}"
    );
}

/// The lines of a chapter that sit inside a `<details>` block.
fn folded_lines(markdown: &str) -> Vec<bool> {
    let mut depth = 0usize;
    markdown
        .lines()
        .map(|line| {
            depth += line.matches("<details").count();
            let inside = depth > 0;
            depth = depth.saturating_sub(line.matches("</details>").count());
            inside
        })
        .collect()
}

/// The most lines a listing may have in the flow of a chapter; longer ones fold.
const LONGEST_LISTING: usize = 30;

#[test]
fn listings_in_the_flow_are_short_and_whole_loops_tests_and_experiments_fold() {
    let src = root().join("book/src");
    let mut problems = Vec::new();
    for chapter in chapters() {
        let text = std::fs::read_to_string(&chapter).unwrap();
        let name = chapter.file_name().unwrap().to_string_lossy().into_owned();
        for ((i, line), folded) in text.lines().enumerate().zip(folded_lines(&text)) {
            let Some((path, anchor)) = includes(line).into_iter().next() else { continue };
            let at = format!("{name}:{}", i + 1);
            if line.starts_with([' ', '\t']) {
                problems
                    .push(format!("{at}: an indented include (its later lines would leave the list item)"));
            }
            if path.starts_with("generated/") || folded {
                continue;
            }
            if path.contains("/tests/") || path.contains("experiments") {
                problems.push(format!("{at}: a test or experiment in the flow; fold it under <details>"));
            }
            let source = std::fs::read_to_string(src.join(&path)).unwrap_or_default();
            let lines = anchor.and_then(|a| anchored_region(&source, &a)).map_or(0, |r| r.lines().count());
            if lines > LONGEST_LISTING {
                problems
                    .push(format!("{at}: {lines} lines in the flow (at most {LONGEST_LISTING}); fold it"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_listing_check_sees_folds_and_indentation() {
    let md = "a\n<details>\n<summary>s</summary>\n\ncode\n\n</details>\nb\n";
    assert_eq!(folded_lines(md), [false, true, true, true, true, true, true, false]);
}

/// Cells of a Markdown table row. Escaped bars, and bars inside `$…$` math
/// (rendered to HTML before Markdown sees the row), stay inside their cell.
fn cells(row: &str) -> usize {
    let row = row.trim().trim_start_matches('|').trim_end_matches('|');
    let (mut n, mut escaped, mut math) = (1, false, false);
    for c in row.chars() {
        math ^= c == '$' && !escaped;
        n += usize::from(c == '|' && !escaped && !math);
        escaped = c == '\\' && !escaped;
    }
    n
}

/// Rows of the Markdown tables in `files` whose cell count differs from their header's.
fn ragged_rows(files: &[PathBuf]) -> Vec<String> {
    let mut problems = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let mut header: Option<usize> = None;
        for (i, line) in lines.iter().enumerate() {
            let is_row = line.trim_start().starts_with('|');
            match header {
                Some(n) if is_row && cells(line) != n => problems.push(format!(
                    "{}:{}: {} cells, header has {n}",
                    file.display(),
                    i + 1,
                    cells(line)
                )),
                Some(_) if is_row => {}
                _ if is_row && lines.get(i + 1).is_some_and(|next| next.contains("---")) => {
                    header = Some(cells(line))
                }
                _ => header = None,
            }
        }
    }
    problems
}

#[test]
fn every_table_row_of_the_chapters_has_as_many_cells_as_its_header() {
    let problems = ragged_rows(&chapters());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_table_check_counts_escaped_bars_as_text() {
    assert_eq!(cells("| a | b \\| c |"), 2);
    assert_eq!(cells("| a | b | c |"), 3);
    assert_eq!(cells("| a | $\\lvert x | y$ |"), 2);
}

#[test]
fn the_checker_catches_a_misspelt_anchor() {
    let source = "// ANCHOR: good\nfn f() {}\n// ANCHOR_END: good\n// ANCHOR: empty\n// ANCHOR_END: empty\n";
    assert_eq!(anchored_region(source, "good").as_deref(), Some("fn f() {}"));
    assert_eq!(anchored_region(source, "goood"), None);
    assert_eq!(anchored_region(source, "empty").as_deref(), Some(""));
}

#[test]
fn summary_lists_every_chapter_file() {
    let summary = std::fs::read_to_string(root().join("book/src/SUMMARY.md")).unwrap();
    for chapter in chapters() {
        let name = chapter.file_name().unwrap().to_str().unwrap();
        if name != "SUMMARY.md" {
            assert!(summary.contains(&format!("({name})")), "SUMMARY.md does not list {name}");
        }
    }
}

fn attribute_values<'a>(html: &'a str, attr: &str) -> Vec<&'a str> {
    let needle = format!(" {attr}=\"");
    html.match_indices(&needle)
        .map(|(i, _)| {
            let rest = &html[i + needle.len()..];
            &rest[..rest.find('"').unwrap()]
        })
        .collect()
}

#[test]
fn built_book_renders_offline_with_math_figures_and_working_links() {
    let dir = tempfile::tempdir().unwrap();
    let book = pg_lab::book::scratch_copy(dir.path()).unwrap();
    let args = pg_lab::cli::BookArgs { book_dir: Some(book.clone()), quick: true, fresh: false };
    let first = pg_lab::book::run(&args).unwrap();
    assert!(
        first.iter().all(|o| *o == pg_lab::book::Outcome::Ran),
        "a fresh copy runs every chapter: {first:?}"
    );
    // Nothing changed since: every chapter's results are reused.
    let again = pg_lab::book::run(&args).unwrap();
    assert!(again.iter().all(|o| *o == pg_lab::book::Outcome::Reused), "a rebuild reuses: {again:?}");
    let build = book.join("build");
    let generated: Vec<PathBuf> = std::fs::read_dir(book.join("src/generated"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    let problems = ragged_rows(&generated);
    assert!(problems.is_empty(), "generated tables: {}", problems.join("\n"));

    let chapter = std::fs::read_to_string(build.join("01-likelihood-ratio.html")).unwrap();
    assert!(chapter.contains("class=\"katex\"") && chapter.contains("katex-display"), "math is rendered");
    assert!(!chapter.contains("$$") && !chapter.contains("{{#include"), "no raw math or includes remain");
    assert_eq!(chapter.matches("class=\"plotly-graph-div\"").count(), 3, "three figures");
    assert!(chapter.contains("pub trait Estimator"), "the included code is shown");

    let chapter = std::fs::read_to_string(build.join("02-causality.html")).unwrap();
    assert!(chapter.contains("katex-display") && !chapter.contains("$$"), "chapter 2's math is rendered");
    assert_eq!(chapter.matches("class=\"plotly-graph-div\"").count(), 2, "chapter 2's two figures");
    assert!(chapter.contains("pub fn reward_to_go"), "chapter 2's code is shown");
    assert!(!chapter.contains("{{#check"), "every claim marker is replaced");
    let checks = std::fs::read_to_string(build.join("how-we-know.html")).unwrap();
    for (i, _) in chapter.match_indices("<a class=\"check\" href=\"how-we-know.html#") {
        let id = &chapter[i..].split('#').nth(1).unwrap().split('"').next().unwrap();
        assert!(
            checks.contains(&format!("id=\"{id}\"")),
            "the ✓ links to {id}, which how-we-know.html lacks"
        );
    }
    assert!(chapter.matches("class=\"check\"").count() >= 3, "chapter 2's claims link to their tests");

    let chapter = std::fs::read_to_string(build.join("03-baselines.html")).unwrap();
    assert!(chapter.contains("katex-display") && !chapter.contains("$$"), "chapter 3's math is rendered");
    assert_eq!(chapter.matches("class=\"plotly-graph-div\"").count(), 3, "chapter 3's three figures");
    assert!(
        chapter.contains("pub struct MeanBaseline") && chapter.contains("pub fn gae"),
        "chapter 3's code is shown"
    );

    let chapter = std::fs::read_to_string(build.join("04-surrogate-loss.html")).unwrap();
    assert!(chapter.contains("katex-display") && !chapter.contains("$$"), "chapter 4's math is rendered");
    assert_eq!(chapter.matches("class=\"plotly-graph-div\"").count(), 2, "chapter 4's two figures");
    assert!(chapter.contains("pub fn forward_batch") && chapter.contains("impl BatchedPolicy for Gaussian"));

    let chapter = std::fs::read_to_string(build.join("05-importance-sampling.html")).unwrap();
    assert!(chapter.contains("katex-display") && !chapter.contains("$$"), "chapter 5's math is rendered");
    assert_eq!(chapter.matches("class=\"plotly-graph-div\"").count(), 4, "chapter 5's four figures");
    assert!(chapter.contains("pub struct PerDecision") && chapter.contains("pub fn log_ratios"));

    let chapter = std::fs::read_to_string(build.join("06-kl-constraint.html")).unwrap();
    assert!(chapter.contains("katex-display") && !chapter.contains("$$"), "chapter 6's math is rendered");
    assert_eq!(chapter.matches("class=\"plotly-graph-div\"").count(), 6, "chapter 6's six figures");
    assert!(chapter.contains("pub fn conjugate_gradient") && chapter.contains("pub fn jvp_batch"));

    let chapter = std::fs::read_to_string(build.join("07-how-fast.html")).unwrap();
    assert!(chapter.contains("katex-display") && !chapter.contains("$$"), "chapter 7's math is rendered");
    assert_eq!(chapter.matches("class=\"plotly-graph-div\"").count(), 3, "chapter 7's three figures");
    assert!(chapter.contains("pub struct CartPoles") && chapter.contains("pub fn forward_append_few"));

    let mut pages = 0;
    let mut targets = BTreeSet::new();
    for entry in std::fs::read_dir(&build).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        // mdBook's 404 page resolves links against the site root, not its own folder.
        if !name.ends_with(".html") || name == "404.html" {
            continue;
        }
        pages += 1;
        let html = std::fs::read_to_string(&path).unwrap();
        for tag in ["<script", "<link"] {
            for (i, _) in html.match_indices(tag) {
                let element = &html[i..i + html[i..].find('>').unwrap()];
                assert!(
                    !element.contains("http:") && !element.contains("https:") && !element.contains("//cdn"),
                    "{name} loads from the network: {element}"
                );
            }
        }
        for url in attribute_values(&html, "href").into_iter().chain(attribute_values(&html, "src")) {
            if url.starts_with("http")
                || url.starts_with("mailto:")
                || url.starts_with('#')
                || url.contains("{{")
            {
                continue;
            }
            let file = url.split(['#', '?']).next().unwrap();
            if file.is_empty() {
                continue;
            }
            let target = build.join(file);
            assert!(target.exists(), "{name} links to {url}, which is missing");
            targets.insert(file.to_string());
        }
    }
    assert!(pages >= 4, "pages built: {pages}");
    assert!(targets.contains("assets/plotly.min.js") && targets.contains("assets/katex/katex.min.css"));
    let css = std::fs::read_to_string(build.join("assets/katex/katex.min.css")).unwrap();
    for font in attribute_urls(&css) {
        assert!(build.join("assets/katex").join(font).exists(), "KaTeX font {font} is missing");
    }
}

fn attribute_urls(css: &str) -> Vec<&str> {
    css.match_indices("url(").map(|(i, _)| &css[i + 4..i + 4 + css[i + 4..].find(')').unwrap()]).collect()
}
