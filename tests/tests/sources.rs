//! The crates' sources read cleanly where the book shows them: doc comments
//! write math in Unicode, never between rustdoc's escaped LaTeX delimiters
//! (a doubled backslash before a parenthesis or bracket), which the book's
//! listings would show raw.

use pg_tests::root;
use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The LaTeX delimiters rustdoc's MathJax would need, as they appear in source.
fn raw_latex(line: &str) -> bool {
    let comment = line.trim_start();
    (comment.starts_with("///") || comment.starts_with("//!"))
        && ["\\\\(", "\\\\)", "\\\\[", "\\\\]"].iter().any(|d| comment.contains(d))
}

#[test]
fn doc_comments_write_math_in_unicode() {
    let mut files = Vec::new();
    for dir in ["crates", "tests/src", "tests/tests"] {
        rust_files(&root().join(dir), &mut files);
    }
    assert!(files.len() > 20, "only {} source files found", files.len());
    let mut bad = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (i, line) in text.lines().enumerate() {
            if raw_latex(line) {
                bad.push(format!("{}:{}: {}", file.display(), i + 1, line.trim()));
            }
        }
    }
    assert!(bad.is_empty(), "LaTeX delimiters in doc comments:\n{}", bad.join("\n"));
}

#[test]
fn the_check_sees_latex_delimiters() {
    assert!(raw_latex(r"/// the score \\(\nabla \log \pi\\)"));
    assert!(raw_latex(r"//! \\[ J = 1 \\]"));
    assert!(!raw_latex("/// the score ∇θ log πθ(a|s)"));
    assert!(!raw_latex(r#"    let s = "\\(";"#));
}
