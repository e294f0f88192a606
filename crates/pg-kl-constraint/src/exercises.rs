//! Chapter 6's graded exercises: conjugate gradient from a matrix-vector
//! product, PPO's clipped term and its derivative, and KL(old ‖ new) between
//! two softmax rows with its gradient.
//!
//! Each grader compares a reader's function with the chapter's own
//! ([`conjugate_gradient`], [`clipped_term`], [`Head::kl_row`] of
//! [`Categorical`]) and names the known mistakes it recognises; the
//! conjugate-gradient grader also counts the products the function asks
//! for, and the others check derivatives against central differences.

use crate::ppo::clipped_term;
use crate::{Head, conjugate_gradient};
use ndarray::{Array1, ArrayView1};
use pg_core::grading::{FD_TOL, Grade, Mistake, OVERFLOW, finite_difference_error, grade, naive_softmax};
use pg_core::policy::{Categorical, log_softmax};
use pg_core::seeded;
use rand::RngExt;
use std::cell::Cell;

/// A matrix-vector product, as the conjugate-gradient exercise receives it.
pub type Product<'a> = &'a dyn Fn(&[f64]) -> Vec<f64>;

/// Conjugate gradient as the exercise asks for it: the product v ↦ A v of a
/// symmetric positive-definite A, b, and a number of iterations in; x out.
pub type CgFn = fn(Product<'_>, &[f64], usize) -> Vec<f64>;

/// The reference: the chapter's [`conjugate_gradient`], run for exactly
/// `iterations` iterations (no tolerance).
pub fn cg(apply: Product<'_>, b: &[f64], iterations: usize) -> Vec<f64> {
    let product = |v: &Array1<f64>| Array1::from(apply(v.as_slice().expect("contiguous")));
    conjugate_gradient(product, &Array1::from(b.to_vec()), iterations, 0.0).x.to_vec()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(a, b)| a * b).sum()
}

/// How a conjugate-gradient variant goes wrong.
#[derive(Clone, Copy)]
struct Variant {
    /// β from (rₖ₊₁ᵀrₖ₊₁, rₖᵀrₖ).
    beta: fn(f64, f64) -> f64,
    /// α's denominator is pᵀA p (true) or pᵀp (false).
    curvature: bool,
    /// The residual update's sign: −1 is right.
    residual_sign: f64,
}

/// Conjugate gradient with one part replaced: the shape every mistake shares.
fn cg_variant(apply: Product<'_>, b: &[f64], iterations: usize, v: Variant) -> Vec<f64> {
    let mut x = vec![0.0; b.len()];
    let mut r = b.to_vec();
    let mut p = r.clone();
    let mut rr = dot(&r, &r);
    for _ in 0..iterations {
        let ap = apply(&p);
        let alpha = rr / if v.curvature { dot(&p, &ap) } else { dot(&p, &p) };
        for i in 0..b.len() {
            x[i] += alpha * p[i];
            r[i] += v.residual_sign * alpha * ap[i];
        }
        let rr_next = dot(&r, &r);
        let beta = (v.beta)(rr_next, rr);
        for i in 0..b.len() {
            p[i] = r[i] + beta * p[i];
        }
        rr = rr_next;
    }
    x
}

const RIGHT: Variant = Variant { beta: |new, old| new / old, curvature: true, residual_sign: -1.0 };

/// The mistakes [`check_cg`] recognises.
pub const CG_MISTAKES: &[Mistake<CgFn>] = &[
    Mistake {
        diagnosis: "each direction is the residual itself (β = 0): that is steepest descent; conjugate gradient \
                    adds β p with β = rₖ₊₁ᵀrₖ₊₁ / rₖᵀrₖ, which makes each direction A-conjugate to the last",
        answer: |a, b, k| cg_variant(a, b, k, Variant { beta: |_, _| 0.0, ..RIGHT }),
    },
    Mistake {
        diagnosis: "β is inverted: β = rₖ₊₁ᵀrₖ₊₁ / rₖᵀrₖ, the new residual's squared norm over the old one's",
        answer: |a, b, k| cg_variant(a, b, k, Variant { beta: |new, old| old / new, ..RIGHT }),
    },
    Mistake {
        diagnosis: "α divides by pᵀp; the step that minimises along p is α = rᵀr / pᵀA p",
        answer: |a, b, k| cg_variant(a, b, k, Variant { curvature: false, ..RIGHT }),
    },
    Mistake {
        diagnosis: "the residual update has the wrong sign: x moves by α p, so r = b − A x moves by −α A p",
        answer: |a, b, k| cg_variant(a, b, k, Variant { residual_sign: 1.0, ..RIGHT }),
    },
];

// ANCHOR: cg_starter
fn my_cg(apply: &dyn Fn(&[f64]) -> Vec<f64>, b: &[f64], iterations: usize) -> Vec<f64> {
    let mut x = vec![0.0; b.len()];
    let mut r = b.to_vec();
    for _ in 0..iterations {
        let ar = apply(&r);
        let rr: f64 = r.iter().map(|v| v * v).sum();
        let alpha = rr / r.iter().zip(&ar).map(|(r, a)| r * a).sum::<f64>();
        for i in 0..b.len() {
            x[i] += alpha * r[i];
            r[i] -= alpha * ar[i];
        }
    }
    x
}
// ANCHOR_END: cg_starter

/// The notebook's starter (the cell holds the anchored function above):
/// it compiles, runs, and is wrong in an instructive way: steepest descent.
pub const CG_STARTER: CgFn = my_cg;

/// One conjugate-gradient case: A (rows), b, iterations.
pub type CgCase = (Vec<Vec<f64>>, Vec<f64>, usize);

/// The grader's cases: a diagonal and a 2 × 2 system, then random
/// A = MᵀM + I/2 of sizes 2 to 6, each with 1 to n iterations.
pub fn cg_cases() -> Vec<CgCase> {
    let diagonal = vec![vec![1.0, 0.0, 0.0], vec![0.0, 2.0, 0.0], vec![0.0, 0.0, 3.0]];
    let mut out: Vec<CgCase> = (1..=3).map(|k| (diagonal.clone(), vec![1.0, 1.0, 1.0], k)).collect();
    out.push((vec![vec![4.0, 1.0], vec![1.0, 3.0]], vec![1.0, 2.0], 2));
    let mut rng = seeded(6);
    for _ in 0..20 {
        let n = rng.random_range(2..7);
        let m: Vec<Vec<f64>> =
            (0..n).map(|_| (0..n).map(|_| rng.random_range(-1.0..1.0)).collect()).collect();
        let a = (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| (0..n).map(|k| m[k][i] * m[k][j]).sum::<f64>() + if i == j { 0.5 } else { 0.0 })
                    .collect()
            })
            .collect();
        let b = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
        out.push((a, b, rng.random_range(1..=n)));
    }
    out
}

/// A v for a matrix given by rows.
fn times(a: &[Vec<f64>], v: &[f64]) -> Vec<f64> {
    a.iter().map(|row| dot(row, v)).collect()
}

/// Grades `f` as conjugate gradient: against the chapter's
/// [`conjugate_gradient`] run for the same iterations, then by the number
/// of products it asks for (one per iteration, plus one allowed for
/// r₀ = b − A x₀) and by whether n iterations solve an n × n system.
pub fn check_cg(f: impl Fn(Product<'_>, &[f64], usize) -> Vec<f64>) -> Grade {
    let cases = cg_cases();
    let mut grade = grade(
        "conjugate gradient",
        &cases,
        |(a, b, k)| format!("A = {a:?}, b = {b:?}, {k} iterations"),
        |(a, b, k)| f(&|v| times(a, v), b, *k),
        |(a, b, k)| cg(&|v| times(a, v), b, *k),
        CG_MISTAKES,
        |m, (a, b, k)| m(&|v| times(a, v), b, *k),
    );
    if grade.problem.is_some() {
        return grade;
    }
    let (mut most_extra, mut worst_residual) = (0_i64, 0.0_f64);
    for (a, b, k) in &cases {
        let calls = Cell::new(0_i64);
        let counted = |v: &[f64]| {
            calls.set(calls.get() + 1);
            times(a, v)
        };
        let x = f(&counted, b, *k);
        most_extra = most_extra.max(calls.get() - *k as i64);
        if *k == b.len() {
            let r: Vec<f64> = times(a, &x).iter().zip(b).map(|(ax, b)| b - ax).collect();
            let relative = (dot(&r, &r) / dot(b, b)).sqrt();
            worst_residual = worst_residual.max(if relative.is_nan() { f64::INFINITY } else { relative });
        }
    }
    grade.check(
        most_extra <= 1,
        format!(
            "products A v beyond one per iteration, most in one case: {} (one more is allowed, for r₀ = b − A x₀)",
            most_extra.max(0)
        ),
    );
    grade.note(format!(
        "after n iterations on an n × n system, largest ‖b − A x‖ / ‖b‖: {worst_residual:.3e}"
    ));
    grade
}

/// PPO's clipped term as the exercise asks for it: ρ, Â and ε in; the term
/// min(ρÂ, clip(ρ, 1 − ε, 1 + ε) Â) and its derivative with respect to log ρ out.
pub type ClipFn = fn(f64, f64, f64) -> (f64, f64);

/// The mistakes [`check_clipped`] recognises.
pub const CLIPPED_MISTAKES: &[Mistake<ClipFn>] = &[
    Mistake {
        diagnosis: "max in place of min: the clipped objective keeps the smaller, pessimistic term",
        answer: |r, a, e| {
            let (unclipped, clipped) = (r * a, r.clamp(1.0 - e, 1.0 + e) * a);
            if clipped > unclipped { (clipped, 0.0) } else { (unclipped, unclipped) }
        },
    },
    Mistake {
        diagnosis: "only the clipped term clip(ρ, 1 − ε, 1 + ε) Â: PPO takes its minimum with ρÂ, so a ratio \
                    that moved against Â keeps its gradient",
        answer: |r, a, e| {
            let inside = (1.0 - e..=1.0 + e).contains(&r);
            (r.clamp(1.0 - e, 1.0 + e) * a, if inside { r * a } else { 0.0 })
        },
    },
    Mistake {
        diagnosis: "that derivative is with respect to ρ (Â where unclipped); with respect to log ρ it is ρÂ, \
                    since dρ/d log ρ = ρ",
        answer: |r, a, e| {
            let (value, d) = clipped_term(r, a, e);
            (value, if d == 0.0 { 0.0 } else { a })
        },
    },
    Mistake {
        diagnosis: "the derivative is ρÂ even where the clipped term is the smaller: there the term is flat in ρ, \
                    so its derivative is 0",
        answer: |r, a, e| (clipped_term(r, a, e).0, r * a),
    },
    Mistake {
        diagnosis: "only the upper clip 1 + ε: the ratio is clipped below at 1 − ε too, which matters when Â < 0",
        answer: |r, a, e| {
            let (unclipped, clipped) = (r * a, r.min(1.0 + e) * a);
            if clipped < unclipped { (clipped, 0.0) } else { (unclipped, unclipped) }
        },
    },
    Mistake {
        diagnosis: "ties go to the clipped branch: inside [1 − ε, 1 + ε] the two terms are equal, the term is \
                    ρÂ and its derivative ρÂ, not 0; the derivative is 0 only where the clipped term is \
                    strictly smaller",
        answer: |r, a, e| {
            let (unclipped, clipped) = (r * a, r.clamp(1.0 - e, 1.0 + e) * a);
            if clipped <= unclipped { (clipped, 0.0) } else { (unclipped, unclipped) }
        },
    },
    Mistake {
        diagnosis: "no clipping at all: ρÂ is the plain importance-weighted surrogate of chapter 5; PPO takes \
                    min(ρÂ, clip(ρ, 1 − ε, 1 + ε) Â)",
        answer: |r, a, _| (r * a, r * a),
    },
];

// ANCHOR: clipped_starter
fn my_clipped_term(ratio: f64, advantage: f64, epsilon: f64) -> (f64, f64) {
    let _ = epsilon;
    let term = ratio * advantage;
    (term, term)
}
// ANCHOR_END: clipped_starter

/// The notebook's starter (the cell holds the anchored function above):
/// it compiles, runs, and is wrong in an instructive way: no clipping.
pub const CLIPPED_STARTER: ClipFn = my_clipped_term;

/// The clipped-term grader's cases: ρ on both sides of 1 ± ε and inside,
/// Â of both signs, then random ones; none within 10⁻³ of a kink, where
/// the derivative is not defined.
pub fn clipped_cases() -> Vec<(f64, f64, f64)> {
    let mut out = Vec::new();
    for ratio in [0.5, 0.85, 1.0, 1.1, 1.5] {
        for advantage in [2.0, -1.5] {
            out.push((ratio, advantage, 0.2));
        }
    }
    let mut rng = seeded(6);
    while out.len() < 40 {
        let (ratio, epsilon): (f64, f64) = (rng.random_range(0.3..2.0), rng.random_range(0.05..0.4));
        if (ratio - 1.0 - epsilon).abs() > 1e-3 && (ratio - 1.0 + epsilon).abs() > 1e-3 {
            out.push((ratio, rng.random_range(-3.0..3.0), epsilon));
        }
    }
    out
}

/// Grades `f` as PPO's clipped term and its derivative with respect to
/// log ρ: against the chapter's [`clipped_term`], and the derivative
/// against central differences (in log ρ) of the reader's own term.
pub fn check_clipped(f: impl Fn(f64, f64, f64) -> (f64, f64)) -> Grade {
    let cases = clipped_cases();
    let pair = |(x, y): (f64, f64)| vec![x, y];
    let mut grade = grade(
        "PPO's clipped term",
        &cases,
        |(r, a, e)| format!("ρ = {r}, Â = {a}, ε = {e}"),
        |&(r, a, e)| pair(f(r, a, e)),
        |&(r, a, e)| pair(clipped_term(r, a, e)),
        CLIPPED_MISTAKES,
        |m, &(r, a, e)| pair(m(r, a, e)),
    );
    if grade.problem.is_none() {
        let error = cases
            .iter()
            .map(|&(r, a, e)| finite_difference_error(|x| f(x[0].exp(), a, e).0, &[r.ln()], &[f(r, a, e).1]))
            .fold(0.0, f64::max);
        grade.check(
            error <= FD_TOL,
            format!(
                "largest error of your derivative against central differences of your term in log ρ: \
                 {error:.3e} (allowed {FD_TOL:.0e})"
            ),
        );
    }
    grade
}

/// KL as the exercise asks for it: the old and the new logits in;
/// KL(softmax(old) ‖ softmax(new)) and its gradient with respect to the new
/// logits out.
pub type KlFn = fn(&[f64], &[f64]) -> (f64, Vec<f64>);

/// The reference: [`Categorical`]'s [`Head::kl_row`].
pub fn kl(old: &[f64], new: &[f64]) -> (f64, Vec<f64>) {
    let mut d = Array1::zeros(new.len());
    let value = Categorical::kl_row(ArrayView1::from(old), ArrayView1::from(new), 1.0, Some(d.view_mut()));
    (value, d.to_vec())
}

/// Probabilities and log-probabilities of a row of logits.
fn probs(logits: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let lp = log_softmax(logits);
    (lp.iter().map(|l| l.exp()).collect(), lp)
}

/// The mistakes [`check_kl`] recognises.
pub const KL_MISTAKES: &[Mistake<KlFn>] = &[
    Mistake {
        diagnosis: "that is KL(new ‖ old); the constraint is KL(old ‖ new) = Σ p (log p − log q) = \
                    the mean of log p − log q over a ∼ old, which the old policy's sampled actions estimate",
        answer: |old, new| {
            let value = kl(new, old).0;
            let (q, lq) = probs(new);
            let (_, lp) = probs(old);
            (value, q.iter().zip(lq.iter().zip(&lp)).map(|(q, (lq, lp))| q * (lq - lp - value)).collect())
        },
    },
    Mistake {
        diagnosis: "the gradient's sign is flipped: ∂KL/∂ℓ_new = q − p, with q the new probabilities",
        answer: |old, new| {
            let (value, d) = kl(old, new);
            (value, d.iter().map(|x| -x).collect())
        },
    },
    Mistake {
        diagnosis: "that is the gradient with respect to the old logits; the update moves the new ones, \
                    ∂KL/∂ℓ_new = q − p",
        answer: |old, new| {
            let value = kl(old, new).0;
            let (p, lp) = probs(old);
            let (_, lq) = probs(new);
            (value, p.iter().zip(lp.iter().zip(&lq)).map(|(p, (lp, lq))| p * (lp - lq - value)).collect())
        },
    },
    Mistake {
        diagnosis: "the logits are used as log-probabilities: log p = ℓ − log Σ_b exp ℓ_b, and the old and new \
                    normalisers differ",
        answer: |old, new| {
            let (p, _) = probs(old);
            let value = p.iter().zip(old.iter().zip(new)).map(|(p, (o, n))| p * (o - n)).sum();
            (value, p.iter().map(|p| -p).collect())
        },
    },
    Mistake {
        diagnosis: OVERFLOW,
        answer: |old, new| {
            let (p, q) = (naive_softmax(old), naive_softmax(new));
            let value = p.iter().zip(&q).map(|(p, q)| p * (p.ln() - q.ln())).sum();
            (value, q.iter().zip(&p).map(|(q, p)| q - p).collect())
        },
    },
];

// ANCHOR: kl_starter
fn my_kl(old_logits: &[f64], new_logits: &[f64]) -> (f64, Vec<f64>) {
    let p: Vec<f64> = pg_core::policy::log_softmax(old_logits).iter().map(|l| l.exp()).collect();
    let kl = p.iter().zip(old_logits.iter().zip(new_logits)).map(|(p, (o, n))| p * (o - n)).sum();
    let grad = p.iter().map(|p| -p).collect();
    (kl, grad)
}
// ANCHOR_END: kl_starter

/// The notebook's starter (the cell holds the anchored function above):
/// it compiles, runs, and is wrong in an instructive way: logits used as
/// log-probabilities.
pub const KL_STARTER: KlFn = my_kl;

/// The KL grader's cases: equal rows, fixed pairs (one near 800), then
/// random ones.
pub fn kl_cases() -> Vec<(Vec<f64>, Vec<f64>)> {
    let mut out = vec![
        (vec![0.5, -0.5], vec![0.5, -0.5]),
        (vec![0.0, 1.0, -1.0], vec![0.5, 0.5, 0.0]),
        (vec![2.0, 0.0, -1.0, 0.5], vec![1.0, 1.0, -2.0, 0.0]),
        (vec![800.0, 799.0, 0.0], vec![799.5, 800.0, 1.0]),
    ];
    let mut rng = seeded(6);
    for _ in 0..30 {
        let k = rng.random_range(2..6);
        let old: Vec<f64> = (0..k).map(|_| rng.random_range(-2.0..2.0)).collect();
        let new = old.iter().map(|o| o + rng.random_range(-1.0..1.0)).collect();
        out.push((old, new));
    }
    out
}

/// Grades `f` as KL(old ‖ new) between softmax rows and its gradient with
/// respect to the new logits: against [`Categorical`]'s, and the gradient
/// against central differences of the chapter's KL.
pub fn check_kl(f: impl Fn(&[f64], &[f64]) -> (f64, Vec<f64>)) -> Grade {
    let cases = kl_cases();
    let flat = |(value, grad): (f64, Vec<f64>)| std::iter::once(value).chain(grad).collect::<Vec<f64>>();
    let mut grade = grade(
        "KL between softmax rows",
        &cases,
        |(old, new)| {
            format!("old logits {old:?} and new logits {new:?} (a KL, then one gradient entry per logit)")
        },
        |(old, new)| flat(f(old, new)),
        |(old, new)| flat(kl(old, new)),
        KL_MISTAKES,
        |m, (old, new)| flat(m(old, new)),
    );
    if grade.problem.is_none() {
        let error = cases
            .iter()
            .map(|(old, new)| finite_difference_error(|x| kl(old, x).0, new, &f(old, new).1))
            .fold(0.0, f64::max);
        grade.check(
            error <= FD_TOL,
            format!("largest error against central differences of KL(old ‖ new): {error:.3e} (allowed {FD_TOL:.0e})"),
        );
    }
    grade
}
