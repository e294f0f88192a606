//! The grader of chapter 2's exercise, graded: the reference passes; every
//! known mistake fails with its own diagnosis; wrong answers that are none
//! of them fail with none; a panic or a wrong length is reported, not
//! propagated; the notebook's starter body fails.

use pg_causality::exercises::{
    MISTAKES, RewardToGoPtr, STARTER, check_reward_to_go, exact_bias_and_variance,
};
use pg_causality::reward_to_go;
use pg_core::grading::{audit, starter_in_notebook};
use pg_likelihood_ratio::experiments::EXACT_TOL;

const NOTEBOOK: &str = include_str!("../../../notebooks/02-causality.ipynb");
const SOURCE: &str = include_str!("../src/exercises.rs");

#[test]
fn every_known_mistake_fails_with_its_own_diagnosis() {
    let wrong: &[RewardToGoPtr] = &[
        // A 10 % scale error; off by one discount step, γ^(t′−t+1).
        |r, g| reward_to_go(r, g).iter().map(|q| 1.1 * q).collect(),
        |r, g| reward_to_go(r, g).iter().map(|q| g * q).collect(),
    ];
    audit::<RewardToGoPtr>(
        check_reward_to_go,
        reward_to_go,
        MISTAKES,
        wrong,
        (STARTER, MISTAKES[0].diagnosis),
    )
    .unwrap();
}

#[test]
fn the_reference_passes_with_its_exact_moments_shown() {
    let grade = check_reward_to_go(reward_to_go);
    assert!(grade.passed && grade.largest_error == Some(0.0), "{grade}");
    let (_, var) = exact_bias_and_variance(&reward_to_go);
    assert!(
        grade.lines[0].contains(&format!("(unbiased), tr Cov {var:.6} (reward-to-go {var:.6})")),
        "{grade}"
    );
    assert!(grade.to_string().starts_with("reward-to-go: passed"));
}

#[test]
fn the_exact_check_tells_biased_mistakes_from_noisy_ones() {
    // Exactly, with γ = 1 on the three-state MDP: the whole return is
    // unbiased but noisier (chapter 1's estimator); the discount mistakes
    // coincide with the answer at γ = 1; the rest change the expectation.
    let (_, reference) = exact_bias_and_variance(&reward_to_go);
    for m in MISTAKES {
        let (bias, var) = exact_bias_and_variance(&m.answer);
        if m.diagnosis.contains("whole discounted return") {
            assert!(bias <= EXACT_TOL && var > reference, "{}: {bias:e} {var} {reference}", m.diagnosis);
        } else if m.diagnosis.contains("γ") {
            assert!(bias <= EXACT_TOL && (var - reference).abs() <= EXACT_TOL, "{}", m.diagnosis);
        } else {
            assert!(bias > 1e-3, "{}: bias {bias:e}", m.diagnosis);
        }
    }
}

#[test]
fn a_panic_or_a_wrong_length_is_reported_not_propagated() {
    let grade = check_reward_to_go(|r: &[f64], g: f64| {
        assert!(!r.is_empty(), "no rewards");
        reward_to_go(r, g)
    });
    assert!(!grade.passed);
    assert_eq!(grade.problem.unwrap(), "your function panicked on rewards [] with γ = 0.9: no rewards");

    let grade = check_reward_to_go(|r: &[f64], _| vec![0.0; r.len() + 1]);
    let problem = grade.problem.unwrap();
    assert_eq!(
        problem,
        "your function gave 4 numbers where 3 were expected, on rewards [1.0, 2.0, 4.0] with γ = 1"
    );
}

#[test]
fn the_notebooks_starter_cells_are_the_graded_starters() {
    // The notebook's exercise cells hold the anchored starters the tests
    // above grade, so that what a reader first sees is the "not yet" checked.
    starter_in_notebook(SOURCE, "starter", NOTEBOOK, "fn my_reward_to_go").unwrap();
}
