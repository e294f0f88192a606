//! The graders of chapter 6's exercises, graded: the reference passes; every
//! known mistake fails with its own diagnosis; wrong answers that are none of
//! them fail with none; panics and wrong lengths are reported; the notebook's
//! starter bodies fail with the diagnosis the notebook promises.

use pg_core::grading::{audit, starter_in_notebook};
use pg_kl_constraint::exercises::*;
use pg_kl_constraint::ppo::clipped_term;

const NOTEBOOK: &str = include_str!("../../../notebooks/06-kl-constraint.ipynb");
const SOURCE: &str = include_str!("../src/exercises.rs");

#[test]
fn the_conjugate_gradient_grader_keeps_its_promises() {
    let wrong: &[CgFn] = &[
        // A 10 % scale error; one iteration short.
        |a, b, k| cg(a, b, k).iter().map(|x| 1.1 * x).collect(),
        |a, b, k| cg(a, b, k - 1),
    ];
    audit::<CgFn>(check_cg, cg, CG_MISTAKES, wrong, (CG_STARTER, CG_MISTAKES[0].diagnosis)).unwrap();
}

#[test]
fn the_conjugate_gradient_grader_counts_products() {
    // Right values, but the residual recomputed as b − A x every iteration:
    // two products per iteration.
    let wasteful: CgFn = |apply, b, k| {
        let mut x = vec![0.0; b.len()];
        let mut p = b.to_vec();
        let mut rr: f64 = b.iter().map(|v| v * v).sum();
        for _ in 0..k {
            let ap = apply(&p);
            let alpha = rr / p.iter().zip(&ap).map(|(p, a)| p * a).sum::<f64>();
            x.iter_mut().zip(&p).for_each(|(x, p)| *x += alpha * p);
            let ax = apply(&x);
            let r: Vec<f64> = b.iter().zip(&ax).map(|(b, a)| b - a).collect();
            let rr_next: f64 = r.iter().map(|v| v * v).sum();
            p = r.iter().zip(&p).map(|(r, p)| r + rr_next / rr * p).collect();
            rr = rr_next;
        }
        x
    };
    let grade = check_cg(wasteful);
    assert!(grade.largest_error.unwrap() < 1e-9, "{grade}");
    assert!(!grade.passed && grade.lines[0].contains("most in one case: "), "{grade}");
    let grade = check_cg(cg);
    assert!(grade.lines[0].contains("most in one case: 0"), "{grade}");
    let residual: f64 = grade.lines[1].rsplit(": ").next().unwrap().parse().unwrap();
    assert!(residual < 1e-10, "{grade}");
}

#[test]
fn the_clipped_term_grader_keeps_its_promises() {
    let wrong: &[ClipFn] = &[
        // A 10 % scale error on the term (and its derivative); ε doubled.
        |r, a, e| {
            let (v, d) = clipped_term(r, a, e);
            (1.1 * v, 1.1 * d)
        },
        |r, a, e| clipped_term(r, a, 2.0 * e),
    ];
    audit::<ClipFn>(
        check_clipped,
        clipped_term,
        CLIPPED_MISTAKES,
        wrong,
        (CLIPPED_STARTER, CLIPPED_MISTAKES[6].diagnosis),
    )
    .unwrap();
}

#[test]
fn the_kl_grader_keeps_its_promises() {
    let wrong: &[KlFn] = &[
        // A 10 % scale error; the gradient halved.
        |o, n| {
            let (v, d) = kl(o, n);
            (1.1 * v, d.iter().map(|x| 1.1 * x).collect())
        },
        |o, n| {
            let (v, d) = kl(o, n);
            (v, d.iter().map(|x| 0.5 * x).collect())
        },
    ];
    audit::<KlFn>(check_kl, kl, KL_MISTAKES, wrong, (KL_STARTER, KL_MISTAKES[3].diagnosis)).unwrap();
}

#[test]
fn the_references_agree_with_central_differences() {
    for grade in [check_clipped(clipped_term), check_kl(kl)] {
        assert!(grade.passed && grade.lines[0].contains("central differences"), "{grade}");
    }
    // A derivative inconsistent with its own term fails the check.
    let grade = check_clipped(|r, a, e| (clipped_term(r, a, e).0, r * a));
    let error: f64 = grade.lines[0].rsplit(": ").next().unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!(!grade.passed && error > 1e-2, "{grade}");
}

#[test]
fn panics_and_wrong_lengths_are_reported_not_propagated() {
    let grade = check_kl(|o, n| {
        assert!(o.len() > 2, "two logits");
        kl(o, n)
    });
    assert!(grade.problem.unwrap().ends_with("two logits"));
    let grade = check_kl(|o, n| (kl(o, n).0, vec![]));
    assert!(grade.problem.unwrap().starts_with("your function gave 1 number where 3 were expected"));
    let grade = check_cg(|_, b, _| b[1..].to_vec());
    assert!(grade.problem.unwrap().starts_with("your function gave 2 numbers where 3 were expected"));
}

#[test]
fn the_notebooks_starter_cells_are_the_graded_starters() {
    // The notebook's exercise cells hold the anchored starters the tests
    // above grade, so that what a reader first sees is the "not yet" checked.
    starter_in_notebook(SOURCE, "cg_starter", NOTEBOOK, "fn my_cg").unwrap();
    starter_in_notebook(SOURCE, "clipped_starter", NOTEBOOK, "fn my_clipped_term").unwrap();
    starter_in_notebook(SOURCE, "kl_starter", NOTEBOOK, "fn my_kl").unwrap();
}
