//! The graders of chapter 3's exercises, graded: the reference passes; every
//! known mistake fails with its own diagnosis; wrong answers that are none of
//! them fail with none; panics and wrong lengths are reported; the notebook's
//! starter bodies fail with the diagnosis the notebook promises.

use pg_baselines::exercises::*;
use pg_baselines::experiments::EXACT_BATCH;
use pg_baselines::gae;
use pg_core::env::TabularMdp;
use pg_core::grading::{audit, starter_in_notebook};
use pg_likelihood_ratio::experiments::{EXACT_TOL, reference_policy};

const NOTEBOOK: &str = include_str!("../../../notebooks/03-baselines.ipynb");
const SOURCE: &str = include_str!("../src/exercises.rs");

#[test]
fn the_leave_one_out_grader_keeps_its_promises() {
    let wrong: &[BaselineFn] = &[
        // A 10 % scale error; the largest of the others.
        |r| leave_one_out(r).iter().map(|b| 1.1 * b).collect(),
        |r| {
            (0..r.len())
                .map(|i| {
                    r.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, x)| *x).fold(f64::MIN, f64::max)
                })
                .collect()
        },
    ];
    let starter = (LEAVE_ONE_OUT_STARTER, LEAVE_ONE_OUT_MISTAKES[0].diagnosis);
    audit::<BaselineFn>(check_leave_one_out, leave_one_out, LEAVE_ONE_OUT_MISTAKES, wrong, starter).unwrap();
}

#[test]
fn the_exact_check_tells_biased_baselines_from_unbiased_ones() {
    // Exactly, two trajectories per batch: a baseline that depends only on
    // the other trajectories keeps ĝ unbiased, whatever its value; one that
    // includes the trajectory's own return, or that returns the weights,
    // does not.
    let (bias, _) = exact_bias_and_variance(&leave_one_out);
    assert!(bias <= EXACT_TOL, "{bias:e}");
    for m in LEAVE_ONE_OUT_MISTAKES {
        let (bias, _) = exact_bias_and_variance(&m.answer);
        let own_return_used = m.diagnosis.contains("own return") || m.diagnosis.contains("weights");
        assert_eq!(bias > 1e-3, own_return_used, "{}: bias {bias:e}", m.diagnosis);
        assert!(own_return_used || bias <= EXACT_TOL, "{}: bias {bias:e}", m.diagnosis);
        if m.diagnosis.contains("own return") {
            // E[ĝ] = ((N − 1)/N) ∇J, so the largest bias is max|∇J| / N.
            let g = TabularMdp::three_state().exact_gradient(&reference_policy());
            let scaled = g.iter().fold(0.0_f64, |m, x| m.max(x.abs())) / EXACT_BATCH as f64;
            assert!((bias - scaled).abs() <= EXACT_TOL, "{bias} against {scaled}");
        }
        let grade = check_leave_one_out(m.answer);
        assert_eq!(grade.lines[0].contains("(unbiased)"), !own_return_used, "{grade}");
    }
}

#[test]
fn the_gae_grader_keeps_its_promises() {
    let wrong: &[GaeFn] = &[
        // A 10 % scale error; advantages one step late.
        |r, v, term, g, l| gae(r, v, term, g, l).iter().map(|a| 1.1 * a).collect(),
        |r, v, term, g, l| {
            let a = gae(r, v, term, g, l);
            a.iter().skip(1).copied().chain(a.first().copied()).collect()
        },
    ];
    audit::<GaeFn>(check_gae, gae, GAE_MISTAKES, wrong, (GAE_STARTER, GAE_MISTAKES[6].diagnosis)).unwrap();
}

#[test]
fn panics_and_wrong_lengths_are_reported_not_propagated() {
    let grade = check_gae(|r, v, term, g, l| {
        assert!(!r.is_empty(), "no rewards");
        gae(r, v, term, g, l)
    });
    assert!(!grade.passed);
    let problem = grade.problem.unwrap();
    assert!(
        problem.starts_with("your function panicked on rewards [], values [3.0]")
            && problem.ends_with("no rewards")
    );
    let grade = check_leave_one_out(|r| r[1..].to_vec());
    assert_eq!(
        grade.problem.unwrap(),
        "your function gave 2 numbers where 3 were expected, on returns [1.0, 2.0, 3.0]"
    );
}

#[test]
fn the_notebooks_starter_cells_are_the_graded_starters() {
    // The notebook's exercise cells hold the anchored starters the tests
    // above grade, so that what a reader first sees is the "not yet" checked.
    starter_in_notebook(SOURCE, "leave_one_out_starter", NOTEBOOK, "fn my_leave_one_out").unwrap();
    starter_in_notebook(SOURCE, "gae_starter", NOTEBOOK, "fn my_gae").unwrap();
}
