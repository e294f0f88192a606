//! The graders of chapter 4's exercises, graded: the reference passes; every
//! known mistake fails with its own diagnosis; wrong answers that are none of
//! them fail with none; panics and wrong lengths are reported; the notebook's
//! starter bodies fail with the diagnosis the notebook promises.

use pg_core::grading::{audit, starter_in_notebook};
use pg_surrogate::exercises::*;

const NOTEBOOK: &str = include_str!("../../../notebooks/04-surrogate-loss.ipynb");
const SOURCE: &str = include_str!("../src/exercises.rs");

#[test]
fn the_cross_entropy_grader_keeps_its_promises() {
    let wrong: &[CrossEntropyFn] = &[
        // A 10 % scale error; divided by N − 1.
        |l, a, w, n| cross_entropy_grad(l, a, w, n).iter().map(|g| 1.1 * g).collect(),
        |l, a, w, n| cross_entropy_grad(l, a, w * n as f64 / (n as f64 - 1.0).max(0.5), n),
    ];
    let starter = (CROSS_ENTROPY_STARTER, CROSS_ENTROPY_MISTAKES[0].diagnosis);
    audit::<CrossEntropyFn>(check_cross_entropy, cross_entropy_grad, CROSS_ENTROPY_MISTAKES, wrong, starter)
        .unwrap();
}

#[test]
fn the_gaussian_grader_keeps_its_promises() {
    let wrong: &[GaussianFn] = &[
        // A 10 % scale error on ∂L/∂μ; ∂L/∂log σ with z in place of z².
        |a, m, s, w, n| {
            let (dm, ds) = gaussian_grads(a, m, s, w, n);
            (1.1 * dm, ds)
        },
        |a, m, s, w, n| {
            let z = (a - m) / s.exp();
            (gaussian_grads(a, m, s, w, n).0, w / n as f64 * (1.0 - z))
        },
    ];
    let starter = (GAUSSIAN_STARTER, GAUSSIAN_MISTAKES[2].diagnosis);
    audit::<GaussianFn>(check_gaussian, gaussian_grads, GAUSSIAN_MISTAKES, wrong, starter).unwrap();
}

#[test]
fn the_references_are_the_closed_forms_and_agree_with_central_differences() {
    // The chapter's surrogate, read through a linear policy's bias, is the
    // closed form its doc comment states.
    for (l, a, w, n) in cross_entropy_cases().into_iter().take(4) {
        let p = pg_core::policy::softmax(&l);
        let closed: Vec<f64> = (0..l.len()).map(|b| w / n as f64 * (p[b] - f64::from(b == a))).collect();
        let got = cross_entropy_grad(&l, a, w, n);
        assert!(got.iter().zip(&closed).all(|(x, y)| (x - y).abs() < 1e-12), "{got:?} {closed:?}");
    }
    for (a, m, s, w, n) in gaussian_cases() {
        let (sigma, c) = (s.exp(), w / n as f64);
        let z = (a - m) / sigma;
        let (dm, ds) = gaussian_grads(a, m, s, w, n);
        assert!((dm + c * z / sigma).abs() < 1e-12 && (ds - c * (1.0 - z * z)).abs() < 1e-12);
    }
    let grade = check_cross_entropy(cross_entropy_grad);
    assert!(grade.passed && grade.lines[0].contains("central differences"), "{grade}");
    let grade = check_gaussian(gaussian_grads);
    assert!(grade.passed && grade.lines[0].contains("central differences"), "{grade}");
    // A gradient that matches no reference value fails the central differences too.
    let grade = check_gaussian(|a, m, s, w, n| {
        let (dm, ds) = gaussian_grads(a, m, s, w, n);
        (dm, 1.01 * ds)
    });
    assert!(!grade.passed && grade.lines[0].contains("central differences"), "{grade}");
}

#[test]
fn panics_and_wrong_lengths_are_reported_not_propagated() {
    let grade = check_cross_entropy(|l, a, w, n| {
        assert!(l.iter().all(|x| x.abs() < 100.0), "large logits");
        cross_entropy_grad(l, a, w, n)
    });
    assert_eq!(
        grade.problem.unwrap(),
        "your function panicked on logits [800.0, 799.0, 0.0], action 1, weight 1, N = 2: large logits"
    );
    let grade = check_cross_entropy(|l, _, _, _| vec![0.0; l.len() - 1]);
    assert!(grade.problem.unwrap().starts_with("your function gave 1 number where 2 were expected"));
}

#[test]
fn the_notebooks_starter_cells_are_the_graded_starters() {
    // The notebook's exercise cells hold the anchored starters the tests
    // above grade, so that what a reader first sees is the "not yet" checked.
    starter_in_notebook(SOURCE, "cross_entropy_starter", NOTEBOOK, "fn my_cross_entropy_grad").unwrap();
    starter_in_notebook(SOURCE, "gaussian_starter", NOTEBOOK, "fn my_gaussian_grads").unwrap();
}
