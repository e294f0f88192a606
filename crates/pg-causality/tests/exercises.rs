//! The grader of chapter 2's exercise, graded: the reference passes; every
//! known mistake fails with its own diagnosis; a wrong answer that is none
//! of them fails with none; a panic or a wrong length is reported, not
//! propagated; the notebook's starter body fails.

use pg_causality::exercises::{MISTAKES, STARTER, check_reward_to_go, exact_bias_and_variance};
use pg_causality::reward_to_go;
use pg_likelihood_ratio::experiments::EXACT_TOL;

#[test]
fn the_reference_passes_with_no_diagnosis() {
    let grade = check_reward_to_go(reward_to_go);
    assert!(grade.passed, "{grade}");
    assert_eq!(grade.diagnosis, None);
    assert!(grade.largest_error.unwrap() == 0.0);
    let (bias, var, reference) = grade.exact.unwrap();
    assert!(bias <= EXACT_TOL && var == reference, "{grade}");
    assert!(grade.to_string().contains("passed"));
}

#[test]
fn every_known_mistake_fails_with_its_own_diagnosis() {
    for (i, m) in MISTAKES.iter().enumerate() {
        let grade = check_reward_to_go(m.answer);
        assert!(!grade.passed, "mistake {i} passed: {grade}");
        assert_eq!(grade.diagnosis, Some(m.diagnosis), "mistake {i}: {grade}");
        assert!(grade.to_string().contains(m.diagnosis));
    }
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
fn a_wrong_answer_that_is_no_known_mistake_gets_no_diagnosis() {
    // A 10 % scale error: not among the mistakes, and wrong.
    let grade = check_reward_to_go(|r: &[f64], g: f64| reward_to_go(r, g).iter().map(|q| 1.1 * q).collect());
    assert!(!grade.passed && grade.diagnosis.is_none(), "{grade}");
    // Off by one discount step: γ^(t′−t+1).
    let grade = check_reward_to_go(|r: &[f64], g: f64| reward_to_go(r, g).iter().map(|q| g * q).collect());
    assert!(!grade.passed && grade.diagnosis.is_none(), "{grade}");
}

#[test]
fn a_panic_or_a_wrong_length_is_reported_not_propagated() {
    let grade = check_reward_to_go(|r: &[f64], g: f64| {
        assert!(!r.is_empty(), "no rewards");
        reward_to_go(r, g)
    });
    assert!(!grade.passed);
    let problem = grade.problem.unwrap();
    assert!(problem.contains("panicked on rewards []") && problem.contains("no rewards"), "{problem}");

    let grade = check_reward_to_go(|r: &[f64], _| vec![0.0; r.len() + 1]);
    let problem = grade.problem.unwrap();
    assert!(problem.contains("returned 4 values for an episode of 3 steps"), "{problem}");
}

#[test]
fn the_notebooks_starter_body_fails_with_a_useful_diagnosis() {
    let grade = check_reward_to_go(STARTER);
    assert!(!grade.passed);
    assert_eq!(grade.diagnosis, Some(MISTAKES[0].diagnosis), "{grade}");
}

#[test]
fn the_notebooks_starter_is_the_graded_starter() {
    // The notebook's exercise cell must hold STARTER's body, so that what a
    // reader first sees is the "not yet" checked above.
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../notebooks/02-causality.ipynb");
    let notebook = std::fs::read_to_string(path).unwrap();
    let cell = notebook
        .split("\"cell_type\"")
        .find(|c| c.contains("fn my_reward_to_go"))
        .expect("the exercise cell");
    assert!(cell.contains("rewards.to_vec()"), "the starter body changed: {cell}");
    assert_eq!(STARTER(&[1.0, 2.0], 0.5), [1.0, 2.0], "STARTER changed");
}
