//! Graders for the book's exercises.
//!
//! An exercise asks for one function with a fixed signature. Its grader, in
//! the chapter's crate, turns every input it tries (a *case*) into a flat
//! list of numbers with the reader's function, with the chapter's own
//! (the reference), and with each known mistake, and [`grade`] compares
//! them: the answer passes when it matches the reference on every case,
//! and when it matches a mistake instead, the [`Grade`] names it. The
//! chapter then adds its own checks (the exact bias of an estimator by
//! enumeration, central differences of a loss) with [`Grade::check`].
//!
//! A reader's function may panic or return the wrong number of values:
//! the grade says so instead of failing itself.

use crate::gradcheck::{central_difference, max_scaled_error};
use crate::report::anchored_region;
use ndarray::Array1;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Largest scaled difference, |a − b| / max(1, |a|, |b|), that still counts
/// as equal. Rounding differences between correct answers are far below it;
/// every mistake a grader knows is far above it on the grader's cases.
pub const MATCH_TOL: f64 = 1e-9;

/// Largest scaled error of a gradient against central differences (h = 10⁻⁵)
/// that still counts as agreeing. In f64 such differences err by about
/// 10⁻¹⁰ on smooth functions of order one; every chapter's reference passes
/// this bound on its grader's cases (the chapters' exercise tests check it).
pub const FD_TOL: f64 = 1e-6;

/// A known wrong answer: what it computes, and what to tell a reader whose
/// answer computes the same.
pub struct Mistake<F> {
    /// What the reader did, in a sentence that says how to fix it.
    pub diagnosis: &'static str,
    /// The wrong answer itself.
    pub answer: F,
}

/// What a grader found.
#[derive(Debug, Clone, PartialEq)]
pub struct Grade {
    /// The exercise's name.
    pub exercise: &'static str,
    /// Whether the answer is right: it matches the reference on every case
    /// and passes every added check.
    pub passed: bool,
    /// Cases tried.
    pub cases: usize,
    /// The largest scaled difference from the reference over them (`None`
    /// when the function could not be run on every case).
    pub largest_error: Option<f64>,
    /// The added checks' findings, one line each.
    pub lines: Vec<String>,
    /// The known mistake the answer matches, if any.
    pub diagnosis: Option<&'static str>,
    /// Why the function could not be graded, if it could not.
    pub problem: Option<String>,
}

impl Grade {
    /// Adds a check's finding; the answer passes only if every check does.
    pub fn check(&mut self, passed: bool, line: String) {
        self.passed &= passed;
        self.lines.push(line);
    }

    /// Adds a finding that informs without deciding.
    pub fn note(&mut self, line: String) {
        self.lines.push(line);
    }

    /// Records why the function could not be graded; the answer fails.
    pub fn fail_with(&mut self, problem: String) {
        self.passed = false;
        self.problem.get_or_insert(problem);
    }
}

/// Text wrapped at [`WIDTH`] characters, the lines after the first indented
/// by `indent` spaces.
fn wrapped(text: &str, indent: usize) -> String {
    let mut out = String::new();
    let mut line = 0;
    for word in text.split(' ') {
        let length = word.chars().count();
        if line > 0 && line + 1 + length > WIDTH {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
            line = indent;
        } else if line > 0 {
            out.push(' ');
            line += 1;
        }
        out.push_str(word);
        line += length;
    }
    out
}

/// The width a grade's lines are wrapped at, so that the book shows them
/// without scrolling.
pub const WIDTH: usize = 76;

impl fmt::Display for Grade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}: {}", self.exercise, if self.passed { "passed" } else { "not yet" })?;
        let mut lines = Vec::new();
        if let Some(problem) = &self.problem {
            lines.push(problem.clone());
        }
        if let Some(e) = self.largest_error {
            lines.push(format!("largest difference from the reference on {} cases: {e:.3e}", self.cases));
        }
        lines.extend(self.lines.iter().cloned());
        if let Some(d) = self.diagnosis {
            lines.push(format!("diagnosis: {d}"));
        }
        for line in lines {
            writeln!(f, "  {}", wrapped(&line, 4).replace('\n', "\n  "))?;
        }
        Ok(())
    }
}

/// Adds the exact check of the estimator a reader's function makes:
/// `exact` returns its largest bias and tr Cov (it runs the reader's
/// function, and may panic); the answer passes it when the bias is at most
/// `tol`. `setting` says where the moments were enumerated; `reference`
/// names the chapter's estimator and gives its tr Cov.
pub fn check_exact(
    grade: &mut Grade,
    setting: &str,
    exact: impl FnOnce() -> (f64, f64),
    reference: (&str, f64),
    tol: f64,
) {
    if grade.problem.is_some() {
        return;
    }
    match caught(exact) {
        Ok((bias, var)) => {
            let verdict = if bias <= tol { "unbiased" } else { "biased" };
            let (name, reference) = reference;
            let line = format!(
                "exact, {setting}: largest bias {bias:.3e} ({verdict}), tr Cov {var:.6} ({name} {reference:.6})"
            );
            grade.check(bias <= tol, line);
        }
        Err(message) => {
            grade.fail_with(format!("your function panicked in the exact check ({setting}): {message}"))
        }
    }
}

/// Runs `f`, turning a panic into its message.
pub fn caught<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|e| {
        e.downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| e.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".into())
    })
}

/// |a − b| / max(1, |a|, |b|), with two NaNs, or two equal infinities,
/// counted as equal and a NaN against a number as infinitely far.
pub fn scaled_difference(a: f64, b: f64) -> f64 {
    if (a.is_nan() && b.is_nan()) || a == b {
        0.0
    } else {
        let d = (a - b).abs() / 1f64.max(a.abs()).max(b.abs());
        if d.is_nan() { f64::INFINITY } else { d }
    }
}

/// The largest [`scaled_difference`] between two answers on every case
/// (answers of different lengths are infinitely far apart).
pub fn largest_difference(a: &[Vec<f64>], b: &[Vec<f64>]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            if x.len() != y.len() {
                return f64::INFINITY;
            }
            x.iter().zip(y).map(|(x, y)| scaled_difference(*x, *y)).fold(0.0, f64::max)
        })
        .fold(0.0, f64::max)
}

/// The largest scaled error of `gradient` against central differences of
/// `f` at `x`.
pub fn finite_difference_error(f: impl Fn(&[f64]) -> f64, x: &[f64], gradient: &[f64]) -> f64 {
    if gradient.len() != x.len() || gradient.iter().any(|g| !g.is_finite()) {
        return f64::INFINITY;
    }
    let numeric =
        central_difference(|p| f(p.as_slice().expect("contiguous")), &Array1::from(x.to_vec()), 1e-5);
    max_scaled_error(&Array1::from(gradient.to_vec()), &numeric)
}

/// Grades a reader's function on `cases`. `reader`, `reference` and `run`
/// (which applies a mistake's answer) give each case's answer as a flat list
/// of numbers; `describe` names a case in messages. The answer passes when
/// it is within [`MATCH_TOL`] of the reference on every case; the first
/// mistake it matches as closely is its diagnosis.
pub fn grade<C, F>(
    exercise: &'static str,
    cases: &[C],
    describe: impl Fn(&C) -> String,
    reader: impl Fn(&C) -> Vec<f64>,
    reference: impl Fn(&C) -> Vec<f64>,
    mistakes: &[Mistake<F>],
    run: impl Fn(&F, &C) -> Vec<f64>,
) -> Grade {
    let mut grade = Grade {
        exercise,
        passed: false,
        cases: cases.len(),
        largest_error: None,
        lines: Vec::new(),
        diagnosis: None,
        problem: None,
    };
    let expected: Vec<Vec<f64>> = cases.iter().map(&reference).collect();
    let mut answers = Vec::with_capacity(cases.len());
    for (case, want) in cases.iter().zip(&expected) {
        match caught(|| reader(case)) {
            Err(message) => {
                grade.problem = Some(format!("your function panicked on {}: {message}", describe(case)));
                return grade;
            }
            Ok(got) if got.len() != want.len() => {
                grade.problem = Some(format!(
                    "your function gave {} number{} where {} {} expected, on {}",
                    got.len(),
                    if got.len() == 1 { "" } else { "s" },
                    want.len(),
                    if want.len() == 1 { "was" } else { "were" },
                    describe(case)
                ));
                return grade;
            }
            Ok(got) => answers.push(got),
        }
    }
    let error = largest_difference(&answers, &expected);
    grade.largest_error = Some(error);
    grade.passed = error <= MATCH_TOL;
    if !grade.passed {
        grade.diagnosis = mistakes
            .iter()
            .find(|m| {
                let theirs: Vec<Vec<f64>> = cases.iter().map(|c| run(&m.answer, c)).collect();
                largest_difference(&answers, &theirs) <= MATCH_TOL
            })
            .map(|m| m.diagnosis);
    }
    grade
}

/// Checks a grader against its own promises: the reference passes with no
/// diagnosis; every known mistake fails with its own diagnosis, not
/// another's; each of `wrong` (wrong answers that are no known mistake)
/// fails with none; the notebook's starter fails with the diagnosis named.
/// Returns every broken promise.
pub fn audit<F: Copy>(
    check: impl Fn(F) -> Grade,
    reference: F,
    mistakes: &[Mistake<F>],
    wrong: &[F],
    starter: (F, &str),
) -> Result<(), String> {
    let mut broken = Vec::new();
    let g = check(reference);
    if !g.passed || g.diagnosis.is_some() || g.problem.is_some() {
        broken.push(format!("the reference does not pass cleanly:\n{g}"));
    }
    for (i, m) in mistakes.iter().enumerate() {
        let g = check(m.answer);
        if g.passed || g.diagnosis != Some(m.diagnosis) {
            broken.push(format!("mistake {i} ({}) is not diagnosed as itself:\n{g}", m.diagnosis));
        }
    }
    for (i, w) in wrong.iter().enumerate() {
        let g = check(*w);
        if g.passed || g.diagnosis.is_some() {
            broken.push(format!("wrong answer {i} passes or gets a diagnosis:\n{g}"));
        }
    }
    let g = check(starter.0);
    if g.passed || g.diagnosis != Some(starter.1) {
        broken.push(format!("the starter does not fail with \"{}\":\n{g}", starter.1));
    }
    if broken.is_empty() { Ok(()) } else { Err(broken.join("\n")) }
}

/// The source of the notebook cell that contains `marker`, from the
/// notebook's JSON: the exercise tests check that a notebook's starter
/// cell still holds the graded starter body.
pub fn notebook_cell(notebook: &str, marker: &str) -> Option<String> {
    let json: serde_json::Value = serde_json::from_str(notebook).ok()?;
    json["cells"].as_array()?.iter().find_map(|cell| {
        let source: String = match &cell["source"] {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Array(lines) => lines.iter().filter_map(|l| l.as_str()).collect(),
            _ => return None,
        };
        source.contains(marker).then_some(source)
    })
}

/// The diagnosis of a softmax computed without subtracting the largest
/// logit, shared by every grader whose cases include logits near 800.
pub const OVERFLOW: &str = "exp overflows for large logits (NaN or ∞ where the logits are near 800): subtract \
                            the largest logit before exp, which leaves the softmax unchanged";

/// The softmax exactly as the [`OVERFLOW`] mistake computes it: exp ℓ / Σ exp ℓ
/// without subtracting the largest logit (NaN once exp overflows).
pub fn naive_softmax(logits: &[f64]) -> Vec<f64> {
    let e: Vec<f64> = logits.iter().map(|x| x.exp()).collect();
    let z: f64 = e.iter().sum();
    e.iter().map(|e| e / z).collect()
}

/// Checks that the notebook's exercise cell, the one that contains
/// `marker`, holds the starter anchored as `anchor` in `source` (the
/// chapter's exercises module), apart from the `use` lines a notebook cell
/// may need first; lines are compared without their surrounding spaces.
pub fn starter_in_notebook(source: &str, anchor: &str, notebook: &str, marker: &str) -> Result<(), String> {
    let starter = anchored_region(source, anchor).ok_or_else(|| format!("no anchor {anchor}"))?;
    let cell = notebook_cell(notebook, marker).ok_or_else(|| format!("no notebook cell with {marker}"))?;
    let lines = |text: &str| -> Vec<String> {
        text.lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty() && !l.starts_with("use "))
            .collect()
    };
    if lines(&starter) == lines(&cell) {
        Ok(())
    } else {
        Err(format!("the notebook's cell differs from the graded starter:\n{cell}\n--- graded:\n{starter}"))
    }
}

/// The book's part of an exercise that comes from its grader: the mistakes
/// it names, and what it prints for the notebook's starter body, so that
/// the page says what the grader does because the grader wrote it.
pub fn book_section<F>(mistakes: &[Mistake<F>], starter: &Grade) -> String {
    let mut out = String::from(
        "The mistakes the grader knows, each named when your answer computes the same as it on every case:\n\n",
    );
    for m in mistakes {
        out.push_str(&format!("- {}\n", m.diagnosis));
    }
    out.push_str(&format!("\nWhat it prints for the notebook's starter body:\n\n```text\n{starter}```\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn double(x: &f64) -> Vec<f64> {
        vec![2.0 * x]
    }

    type Scalar = fn(f64) -> f64;

    const MISTAKES: &[Mistake<Scalar>] = &[
        Mistake { diagnosis: "tripled", answer: |x| 3.0 * x },
        Mistake { diagnosis: "negated", answer: |x| -2.0 * x },
    ];

    fn graded(f: impl Fn(f64) -> f64) -> Grade {
        grade(
            "double",
            &[1.0, -2.0, 0.5],
            |x| format!("x = {x}"),
            |x| vec![f(*x)],
            double,
            MISTAKES,
            |m, x| vec![m(*x)],
        )
    }

    #[test]
    fn the_reference_passes_and_each_mistake_gets_its_diagnosis() {
        let g = graded(|x| x + x);
        assert!(g.passed && g.diagnosis.is_none() && g.largest_error == Some(0.0), "{g}");
        assert!(g.to_string().starts_with("double: passed"));
        for m in MISTAKES {
            let g = graded(m.answer);
            assert!(!g.passed && g.diagnosis == Some(m.diagnosis), "{g}");
            assert!(g.to_string().contains(&format!("diagnosis: {}", m.diagnosis)));
        }
        let g = graded(|x| 2.2 * x);
        assert!(!g.passed && g.diagnosis.is_none(), "{g}");
    }

    #[test]
    fn panics_and_wrong_lengths_are_reported() {
        let g = graded(|x| {
            assert!(x > 0.0, "only positive");
            2.0 * x
        });
        assert!(!g.passed && g.problem.as_deref() == Some("your function panicked on x = -2: only positive"));
        let g =
            grade("double", &[1.0], |x| format!("x = {x}"), |_| vec![], double, MISTAKES, |m, x| vec![m(*x)]);
        assert_eq!(g.problem.as_deref(), Some("your function gave 0 numbers where 1 was expected, on x = 1"));
        assert!(!g.passed && g.to_string().contains("not yet"));
    }

    #[test]
    fn nan_is_far_from_numbers_and_equal_to_nan() {
        assert_eq!(scaled_difference(f64::NAN, 1.0), f64::INFINITY);
        assert_eq!(scaled_difference(f64::NAN, f64::NAN), 0.0);
        assert_eq!(scaled_difference(f64::INFINITY, f64::INFINITY), 0.0);
        assert_eq!(scaled_difference(f64::INFINITY, 1.0), f64::INFINITY);
        assert_eq!(scaled_difference(3.0, 1.0), 2.0 / 3.0);
        assert_eq!(largest_difference(&[vec![1.0]], &[vec![1.0, 2.0]]), f64::INFINITY);
    }

    #[test]
    fn a_check_can_fail_a_matching_answer() {
        let mut g = graded(|x| 2.0 * x);
        g.note("informs".into());
        assert!(g.passed);
        g.check(false, "fails".into());
        assert!(!g.passed && g.to_string().contains("  fails\n") && g.to_string().contains("  informs\n"));
    }

    #[test]
    fn the_audit_finds_each_broken_promise() {
        let check = |f: fn(f64) -> f64| graded(f);
        let twice: fn(f64) -> f64 = |x| 2.0 * x;
        let near: fn(f64) -> f64 = |x| 2.2 * x;
        assert_eq!(audit(check, twice, MISTAKES, &[near], (MISTAKES[0].answer, "tripled")), Ok(()));
        // A wrong reference, a "wrong" answer that is right, a starter
        // with another diagnosis: each is reported.
        let broken = audit(check, near, MISTAKES, &[twice], (MISTAKES[1].answer, "tripled")).unwrap_err();
        assert!(broken.contains("the reference does not pass"), "{broken}");
        assert!(broken.contains("wrong answer 0 passes"), "{broken}");
        assert!(broken.contains("the starter does not fail with \"tripled\""), "{broken}");
        // Two mistakes that compute the same: the second gets the first's name.
        let same = [Mistake { diagnosis: "one", answer: twice }, Mistake { diagnosis: "two", answer: twice }];
        let broken = audit(check, twice, &same, &[], (near, "one")).unwrap_err();
        assert!(broken.contains("mistake 0 (one)") && broken.contains("mistake 1 (two)"), "{broken}");
    }

    #[test]
    fn a_notebook_cell_is_found_by_a_marker() {
        let nb = r#"{"cells": [{"source": ["fn a() {\n", "  1\n", "}"]}, {"source": "fn b() {}"}]}"#;
        assert_eq!(notebook_cell(nb, "fn a").as_deref(), Some("fn a() {\n  1\n}"));
        assert_eq!(notebook_cell(nb, "fn b").as_deref(), Some("fn b() {}"));
        assert_eq!(notebook_cell(nb, "fn c"), None);
        assert_eq!(notebook_cell("not json", "fn a"), None);
    }

    #[test]
    fn the_book_section_lists_every_mistake_and_the_starters_grade() {
        let section = book_section(MISTAKES, &graded(|x| 3.0 * x));
        assert!(section.contains("- tripled\n- negated\n"), "{section}");
        assert!(section.contains("```text\ndouble: not yet\n"), "{section}");
        assert!(section.ends_with("  diagnosis: tripled\n```\n"), "{section}");
    }

    #[test]
    fn long_lines_are_wrapped_and_indented() {
        let mut g = graded(|x| 3.0 * x);
        g.note("word ".repeat(40).trim_end().into());
        let text = g.to_string();
        assert!(text.lines().all(|l| l.chars().count() <= WIDTH + 2), "{text}");
        assert!(text.contains("\n      word"), "{text}");
        assert_eq!(wrapped("a b", 4), "a b");
    }

    #[test]
    fn the_exact_check_passes_unbiased_answers_and_reports_panics() {
        let mut g = graded(|x| 2.0 * x);
        check_exact(&mut g, "a toy", || (1e-13, 2.0), ("reference", 1.0), 1e-12);
        assert!(
            g.passed
                && g.lines[0]
                    == "exact, a toy: largest bias 1.000e-13 (unbiased), tr Cov 2.000000 (reference 1.000000)"
        );
        check_exact(&mut g, "a toy", || (0.1, 2.0), ("reference", 1.0), 1e-12);
        assert!(!g.passed && g.lines[1].contains("(biased)"));
        let mut g = graded(|x| 2.0 * x);
        check_exact(&mut g, "a toy", || panic!("boom"), ("reference", 1.0), 1e-12);
        assert_eq!(g.problem.as_deref(), Some("your function panicked in the exact check (a toy): boom"));
        assert!(!g.passed);
    }

    #[test]
    fn a_starter_is_found_by_its_anchor_and_compared_with_the_cell() {
        let source = "x\n// ANCHOR: s\nfn my_f() {\n    1\n}\n// ANCHOR_END: s\ny";
        assert_eq!(anchored_region(source, "s").as_deref(), Some("fn my_f() {\n    1\n}"));
        assert_eq!(anchored_region(source, "t"), None);
        let nb = r#"{"cells": [{"source": ["use a::b;\n", "fn my_f() {\n", "  1\n", "}"]}]}"#;
        assert_eq!(starter_in_notebook(source, "s", nb, "fn my_f"), Ok(()));
        let drifted = r#"{"cells": [{"source": ["fn my_f() {\n", "  2\n", "}"]}]}"#;
        assert!(starter_in_notebook(source, "s", drifted, "fn my_f").unwrap_err().contains("differs"));
        assert!(starter_in_notebook(source, "s", nb, "fn my_g").is_err());
    }

    #[test]
    fn central_differences_tell_a_right_gradient_from_a_wrong_one() {
        let f = |x: &[f64]| x[0] * x[0] + 3.0 * x[1];
        assert!(finite_difference_error(f, &[1.5, 2.0], &[3.0, 3.0]) < FD_TOL);
        assert!(finite_difference_error(f, &[1.5, 2.0], &[3.3, 3.0]) > 1e-2);
        assert_eq!(finite_difference_error(f, &[1.5, 2.0], &[3.0]), f64::INFINITY);
        assert_eq!(finite_difference_error(f, &[1.5, 2.0], &[f64::NAN, 3.0]), f64::INFINITY);
    }
}
