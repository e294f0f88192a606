//! The grader of chapter 5's exercise, graded: the reference passes; every
//! known mistake fails with its own diagnosis; wrong answers that are none of
//! them fail with none; panics and wrong lengths are reported; the notebook's
//! starter body fails with the diagnosis the notebook promises.

use pg_core::grading::{audit, starter_in_notebook};
use pg_importance_sampling::exercises::*;
use pg_likelihood_ratio::experiments::EXACT_TOL;

const NOTEBOOK: &str = include_str!("../../../notebooks/05-importance-sampling.ipynb");
const SOURCE: &str = include_str!("../src/exercises.rs");

#[test]
fn the_per_decision_grader_keeps_its_promises() {
    let wrong: &[PerDecisionFn] = &[
        // A 10 % scale error; ratios squared.
        |l, r| per_decision(l, r).iter().map(|w| 1.1 * w).collect(),
        |l, r| per_decision(&l.iter().map(|x| 2.0 * x).collect::<Vec<_>>(), r),
    ];
    let starter = (PER_DECISION_STARTER, PER_DECISION_MISTAKES[1].diagnosis);
    audit::<PerDecisionFn>(check_per_decision, per_decision, PER_DECISION_MISTAKES, wrong, starter).unwrap();
}

#[test]
fn the_exact_check_tells_unbiased_weights_from_biased_ones() {
    // Exactly, samples from θ_old and the gradient at θ: the trajectory
    // ratio is unbiased with more variance; every other mistake is biased.
    let (bias, reference) = exact_bias_and_variance(&per_decision);
    assert!(bias <= EXACT_TOL, "{bias:e}");
    for m in PER_DECISION_MISTAKES {
        let (bias, var) = exact_bias_and_variance(&m.answer);
        if m.diagnosis.contains("trajectory estimator") {
            assert!(bias <= EXACT_TOL && var > reference, "{}: {bias:e} {var} {reference}", m.diagnosis);
        } else {
            assert!(bias > 1e-3, "{}: bias {bias:e}", m.diagnosis);
        }
        let grade = check_per_decision(m.answer);
        assert_eq!(grade.lines[0].contains("(unbiased)"), bias <= EXACT_TOL, "{grade}");
    }
}

#[test]
fn panics_and_wrong_lengths_are_reported_not_propagated() {
    let grade = check_per_decision(|l, r| {
        assert!(!r.is_empty(), "no rewards");
        per_decision(l, r)
    });
    assert_eq!(grade.problem.unwrap(), "your function panicked on log-ratios [] and rewards []: no rewards");
    let grade = check_per_decision(|_, r| r[1..].to_vec());
    assert!(grade.problem.unwrap().starts_with("your function gave 2 numbers where 3 were expected"));
}

#[test]
fn the_notebooks_starter_cells_are_the_graded_starters() {
    // The notebook's exercise cells hold the anchored starters the tests
    // above grade, so that what a reader first sees is the "not yet" checked.
    starter_in_notebook(SOURCE, "per_decision_starter", NOTEBOOK, "fn my_per_decision").unwrap();
}
