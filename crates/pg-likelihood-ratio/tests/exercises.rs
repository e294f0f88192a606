//! The graders of chapter 1's exercises, graded: the reference passes; every
//! known mistake fails with its own diagnosis; wrong answers that are none of
//! them fail with none; panics and wrong lengths are reported; the notebook's
//! starter bodies fail with the diagnosis the notebook promises.

use pg_core::grading::{audit, starter_in_notebook};
use pg_likelihood_ratio::exercises::*;
use pg_likelihood_ratio::experiments::EXACT_TOL;

const NOTEBOOK: &str = include_str!("../../../notebooks/01-likelihood-ratio.ipynb");
const SOURCE: &str = include_str!("../src/exercises.rs");

#[test]
fn the_score_grader_keeps_its_promises() {
    let wrong: &[ScoreFn] = &[
        // A 10 % scale error, and the probabilities of the wrong row.
        |l, a| score(l, a).iter().map(|g| 1.1 * g).collect(),
        |l, a| score(&l.iter().rev().copied().collect::<Vec<_>>(), a),
    ];
    audit::<ScoreFn>(check_score, score, SCORE_MISTAKES, wrong, (SCORE_STARTER, SCORE_MISTAKES[1].diagnosis))
        .unwrap();
}

#[test]
fn the_score_reference_agrees_with_central_differences() {
    let grade = check_score(score);
    assert!(grade.lines[0].starts_with("largest error against central differences"), "{grade}");
    assert!(grade.passed, "{grade}");
}

#[test]
fn the_reinforce_grader_keeps_its_promises() {
    let wrong: &[ReinforceFn] = &[
        // A 10 % scale error; the return with its last reward dropped.
        |l, e| reinforce(l, e).iter().map(|row| row.iter().map(|g| 1.1 * g).collect()).collect(),
        |l, e| {
            let cut: Vec<Episode> = e
                .iter()
                .map(|e| {
                    let mut e = e.clone();
                    if let Some(r) = e.rewards.last_mut() {
                        *r = 0.0;
                    }
                    e
                })
                .collect();
            reinforce(l, &cut)
        },
    ];
    audit::<ReinforceFn>(
        check_reinforce,
        reinforce,
        REINFORCE_MISTAKES,
        wrong,
        (REINFORCE_STARTER, REINFORCE_MISTAKES[2].diagnosis),
    )
    .unwrap();
}

#[test]
fn the_exact_check_tells_biased_mistakes_from_merely_different_ones() {
    // Exactly, two trajectories per batch: reward-to-go is unbiased with
    // less variance than REINFORCE; every other mistake changes the mean.
    let (bias, reference) = exact_bias_and_variance(&reinforce);
    assert!(bias <= EXACT_TOL, "{bias:e}");
    for m in REINFORCE_MISTAKES {
        let (bias, var) = exact_bias_and_variance(&m.answer);
        if m.diagnosis.contains("reward-to-go") {
            assert!(bias <= EXACT_TOL && var < reference, "{}: {bias:e} {var} {reference}", m.diagnosis);
        } else {
            assert!(bias > 1e-3, "{}: bias {bias:e}", m.diagnosis);
        }
        let grade = check_reinforce(m.answer);
        assert_eq!(grade.lines[0].contains("(unbiased)"), bias <= EXACT_TOL, "{grade}");
    }
}

#[test]
fn panics_and_wrong_shapes_are_reported_not_propagated() {
    let grade = check_score(|l, a| {
        assert!(l.len() > 1, "one action only");
        score(l, a)
    });
    assert!(!grade.passed);
    assert_eq!(
        grade.problem.unwrap(),
        "your function panicked on logits [0.3] with action 0: one action only"
    );
    let grade = check_reinforce(|l, _| vec![vec![0.0]; l.len()]);
    assert!(grade.problem.unwrap().starts_with("your function gave 2 numbers where 4 were expected"));
}

#[test]
fn the_notebooks_starter_cells_are_the_graded_starters() {
    // The notebook's exercise cells hold the anchored starters the tests
    // above grade, so that what a reader first sees is the "not yet" checked.
    starter_in_notebook(SOURCE, "score_starter", NOTEBOOK, "fn my_score").unwrap();
    starter_in_notebook(SOURCE, "reinforce_starter", NOTEBOOK, "fn my_reinforce").unwrap();
}
