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

/// Modules that never run in a training run (the book's experiments and
/// tables, the exercises and their grader, exact enumerations, plots,
/// diagrams, gradient checks) or are the one place the functions live.
const OFF_THE_TRAINING_PATH: &[&str] = &[
    "book.rs",
    "exercises.rs",
    "grading.rs",
    "diagram.rs",
    "exact.rs",
    "gradcheck.rs",
    "plot.rs",
    "peers.rs",
    "report.rs",
    "math.rs",
];

/// What may compute different bits on different platforms: the standard
/// library's elementary functions (the C library natively, other code in
/// WebAssembly) and matrix products whose kernel a library picks by processor.
fn platform_dependent(code: &str) -> Option<&'static str> {
    const METHODS: &[&str] = &[
        "exp", "ln", "sin", "cos", "tan", "tanh", "powf", "exp_m1", "ln_1p", "log2", "log10", "atan2",
        "hypot",
    ];
    let method = METHODS.iter().find(|m| {
        code.contains(&format!(".{m}()"))
            || code.contains(&format!("f64::{m})"))
            || code.contains(&format!("f64::{m},"))
    });
    method.copied().or_else(|| ["mul_add", "general_mat_mul"].into_iter().find(|f| code.contains(f)))
}

#[test]
fn training_code_computes_the_same_bits_on_every_platform() {
    let mut files = Vec::new();
    rust_files(&root().join("crates"), &mut files);
    let mut bad = Vec::new();
    let mut scanned = 0;
    for file in files {
        let path = file.to_string_lossy().into_owned();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let tooling =
            path.contains("/pg-lab/") || path.contains("/experiments") || path.contains("/benches/");
        if tooling || path.contains("/tests/") || OFF_THE_TRAINING_PATH.contains(&name.as_str()) {
            continue;
        }
        scanned += 1;
        let text = std::fs::read_to_string(&file).unwrap();
        let library = text.split("#[cfg(test)]").next().unwrap_or_default();
        for (i, line) in library.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            if let Some(what) = platform_dependent(code) {
                bad.push(format!("{path}:{}: {what}: {}", i + 1, line.trim()));
            }
        }
    }
    assert!(scanned > 30, "only {scanned} files scanned");
    assert!(
        bad.is_empty(),
        "training code that may compute other bits in the browser (use pg_core::math, the row kernels):\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_platform_check_sees_each_form() {
    assert_eq!(platform_dependent("let y = (x - m).exp();"), Some("exp"));
    assert_eq!(platform_dependent("fill(batch, |t| ratio(t, f64::exp))"), Some("exp"));
    assert_eq!(platform_dependent("a.mul_add(b, c)"), Some("mul_add"));
    assert_eq!(platform_dependent("general_mat_mul(1.0, &a, &b, 0.0, &mut c)"), Some("general_mat_mul"));
    assert_eq!(platform_dependent("let y = exp(x - m) + x.sqrt();"), None);
}
