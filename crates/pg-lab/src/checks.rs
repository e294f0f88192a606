//! Claims tied to the checks that back them.
//!
//! A sentence of the book that states a result and is not generated from
//! data carries a marker `{{#check <crate> <test>}}`, which names a test of
//! that crate (`pg-tests` for the workspace's `tests/`). The preprocessor
//! turns it into a small ✓ linking to the test's source on the page "How we
//! know", where `{{#checks}}` lists every cited test, chapter by chapter.
//! A marker that names no test, or a test name found twice, fails the build
//! (and `pg-tests`). The page's `{{#mutants}}` becomes the mutation-testing
//! table of [`crate::mutants`].

use mdbook_preprocessor::book::{Book, BookItem};
use mdbook_preprocessor::errors::Result;
use mdbook_preprocessor::{Preprocessor, PreprocessorContext};
use std::path::{Path, PathBuf};

/// A test a marker cites, with its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The crate (a folder of `crates/`, or `pg-tests`).
    pub krate: String,
    /// The test function's name.
    pub name: String,
    /// The file that defines it, relative to the workspace root.
    pub file: PathBuf,
    /// The test's source: its attributes, doc comments and body.
    pub source: String,
}

impl Check {
    /// The id of the test's entry on the "How we know" page.
    pub fn id(&self) -> String {
        format!("check-{}-{}", self.krate, self.name)
    }

    fn link(&self) -> String {
        format!(
            "<a class=\"check\" href=\"{PAGE_HTML}#{}\" title=\"checked by the test {} in {}\">✓</a>",
            self.id(),
            self.name,
            self.file.display()
        )
    }
}

/// The page that lists every cited test.
pub const PAGE: &str = "how-we-know.md";
const PAGE_HTML: &str = "how-we-know.html";
const LIST: &str = "{{#checks}}";
const MUTANTS: &str = "{{#mutants}}";
const OPEN: &str = "{{#check ";

/// Every marker of a chapter: (byte range, crate, test name).
pub fn markers(markdown: &str) -> Vec<(std::ops::Range<usize>, String, String)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(start) = markdown[from..].find(OPEN).map(|i| i + from) {
        let Some(len) = markdown[start..].find("}}") else { break };
        let end = start + len + 2;
        let words: Vec<&str> = markdown[start + OPEN.len()..start + len].split_whitespace().collect();
        let (krate, name) = match words.as_slice() {
            [k, n] => (k.to_string(), n.to_string()),
            _ => (String::new(), markdown[start..end].to_string()),
        };
        out.push((start..end, krate, name));
        from = end;
    }
    out
}

/// The folder of a crate's sources.
fn crate_dir(root: &Path, krate: &str) -> PathBuf {
    if krate == "pg-tests" { root.join("tests") } else { root.join("crates").join(krate) }
}

/// Every `.rs` file under `dir`, sorted, into `out`.
pub(crate) fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The source of test `name` in `text`, if it defines one: the function
/// with the attributes and comments above it, one of them `#[test]`.
fn test_source(text: &str, name: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let head = lines.iter().position(|l| {
        let t = l.trim_start();
        t.starts_with(&format!("fn {name}(")) || t.starts_with(&format!("pub fn {name}("))
    })?;
    let indent = &lines[head][..lines[head].len() - lines[head].trim_start().len()];
    let mut first = head;
    while first > 0 {
        let t = lines[first - 1].trim_start();
        if t.starts_with("#[") || t.starts_with("//") {
            first -= 1;
        } else {
            break;
        }
    }
    if !lines[first..head].iter().any(|l| l.trim() == "#[test]") {
        return None;
    }
    let close = format!("{indent}}}");
    let last = (head..lines.len()).find(|&i| lines[i] == close)?;
    let body: Vec<&str> = lines[first..=last]
        .iter()
        .filter(|l| !l.trim_start().starts_with("// ANCHOR"))
        .map(|l| l.strip_prefix(indent).unwrap_or(l))
        .collect();
    Some(body.join("\n"))
}

/// Finds the test a marker cites.
pub fn resolve(root: &Path, krate: &str, name: &str) -> std::result::Result<Check, String> {
    if krate.is_empty() {
        return Err(format!("`{name}` is not a marker of the form {{{{#check <crate> <test>}}}}"));
    }
    let dir = crate_dir(root, krate);
    if !dir.join("Cargo.toml").is_file() {
        return Err(format!("{{{{#check {krate} {name}}}}}: there is no crate {krate}"));
    }
    let mut files = Vec::new();
    for sub in ["src", "tests", "benches"] {
        rust_files(&dir.join(sub), &mut files);
    }
    let found: Vec<Check> = files
        .iter()
        .filter_map(|f| {
            let text = std::fs::read_to_string(f).ok()?;
            let source = test_source(&text, name)?;
            let file = f.strip_prefix(root).unwrap_or(f).to_path_buf();
            Some(Check { krate: krate.to_string(), name: name.to_string(), file, source })
        })
        .collect();
    match found.len() {
        1 => Ok(found.into_iter().next().expect("one")),
        0 => Err(format!("{{{{#check {krate} {name}}}}}: {krate} has no test named {name}")),
        n => Err(format!("{{{{#check {krate} {name}}}}}: {krate} has {n} tests named {name}")),
    }
}

/// Replaces every marker of `markdown` by its ✓ link; returns the text and the checks cited.
pub fn link_markers(root: &Path, markdown: &str) -> std::result::Result<(String, Vec<Check>), String> {
    let mut out = String::with_capacity(markdown.len());
    let mut cited = Vec::new();
    let mut last = 0;
    for (range, krate, name) in markers(markdown) {
        let check = resolve(root, &krate, &name)?;
        out.push_str(&markdown[last..range.start]);
        out.push_str(&check.link());
        last = range.end;
        cited.push(check);
    }
    out.push_str(&markdown[last..]);
    Ok((out, cited))
}

/// The list of cited tests, one section per chapter, each test's source folded.
pub fn list(chapters: &[(String, Vec<Check>)]) -> String {
    let mut out = String::new();
    for (title, checks) in chapters {
        let mut seen = std::collections::BTreeSet::new();
        let unique: Vec<&Check> = checks.iter().filter(|c| seen.insert(c.id())).collect();
        if unique.is_empty() {
            continue;
        }
        out.push_str(&format!("### {title}\n\n"));
        for c in unique {
            out.push_str(&format!(
                "<details id=\"{}\">\n<summary><code>{}</code> in <code>{}</code></summary>\n\n\
                 ```rust,ignore\n{}\n```\n\n</details>\n\n",
                c.id(),
                c.name,
                c.file.display(),
                c.source
            ));
        }
    }
    out
}

/// The mdBook preprocessor: links the markers, then fills the list.
pub struct Checks {
    /// The workspace whose crates the markers cite.
    pub root: PathBuf,
}

impl Preprocessor for Checks {
    fn name(&self) -> &str {
        "checks"
    }

    fn run(&self, _ctx: &PreprocessorContext, mut book: Book) -> Result<Book> {
        let mut failure = None;
        let mut chapters = Vec::new();
        book.for_each_mut(|item| {
            if let BookItem::Chapter(ch) = item {
                match link_markers(&self.root, &ch.content) {
                    Ok((text, cited)) => {
                        ch.content = text;
                        chapters.push((ch.name.clone(), cited));
                    }
                    Err(e) => failure = Some(format!("{}: {e}", ch.name)),
                }
            }
        });
        if let Some(e) = failure {
            return Err(mdbook_preprocessor::errors::Error::msg(e));
        }
        let listing = list(&chapters);
        let mutants =
            crate::mutants::load(&self.root).map_err(mdbook_preprocessor::errors::Error::msg)?.markdown();
        book.for_each_mut(|item| {
            if let BookItem::Chapter(ch) = item
                && ch.source_path.as_deref() == Some(Path::new(PAGE))
            {
                ch.content = ch.content.replace(LIST, &listing).replace(MUTANTS, &mutants);
            }
        });
        Ok(book)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> PathBuf {
        crate::book::workspace_root()
    }

    #[test]
    fn a_marker_becomes_a_link_to_the_tests_source() {
        let text = "Lower. {{#check pg-lab a_marker_becomes_a_link_to_the_tests_source}} Done.";
        let (html, cited) = link_markers(&root(), text).unwrap();
        assert!(
            html.starts_with("Lower. <a class=\"check\" href=\"how-we-know.html#check-pg-lab-"),
            "{html}"
        );
        assert!(html.ends_with("✓</a> Done."), "{html}");
        assert_eq!(cited.len(), 1);
        assert!(cited[0].source.starts_with("#[test]\nfn a_marker_becomes_a_link"), "{}", cited[0].source);
        assert!(cited[0].source.ends_with("\n}"), "{}", cited[0].source);
        assert_eq!(cited[0].file, Path::new("crates/pg-lab/src/checks.rs"));
    }

    #[test]
    fn a_marker_that_names_no_test_is_an_error_naming_it() {
        for (text, says) in [
            ("{{#check pg-lab no_such_test}}", "pg-lab has no test named no_such_test"),
            ("{{#check pg-nowhere some_test}}", "there is no crate pg-nowhere"),
            ("{{#check just_one_word}}", "is not a marker of the form"),
            // A function that exists but is not a test.
            ("{{#check pg-lab resolve}}", "pg-lab has no test named resolve"),
        ] {
            let err = link_markers(&root(), text).unwrap_err();
            assert!(err.contains(says), "{text}: {err}");
        }
    }

    #[test]
    fn the_list_has_a_section_per_chapter_and_each_test_once() {
        let (_, cited) = link_markers(
            &root(),
            "{{#check pg-lab a_marker_becomes_a_link_to_the_tests_source}} \
             {{#check pg-lab a_marker_becomes_a_link_to_the_tests_source}}",
        )
        .unwrap();
        let listing = list(&[("Chapter".into(), cited), ("Empty".into(), vec![])]);
        assert_eq!(listing.matches("## ").count(), 1, "{listing}");
        assert_eq!(listing.matches("<details id=").count(), 1, "{listing}");
    }
}
