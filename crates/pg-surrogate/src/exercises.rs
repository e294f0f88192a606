//! Chapter 4's graded exercises: the surrogate's gradient with respect to a
//! softmax policy's logits, and with respect to a Gaussian policy's μ and
//! log σ, for one step of weight w in a batch of N trajectories.
//!
//! The references are the chapter's own [`BatchedPolicy::surrogate`] on a
//! linear policy whose output is its bias (the observation is 0), so that
//! the gradient with respect to the bias is the gradient with respect to
//! the output. Each grader also checks the reader's gradient against
//! central differences of the chapter's loss, and names the known
//! mistakes it recognises.

use crate::{BatchedPolicy, Steps};
use ndarray::{Array1, Array2};
use pg_core::grading::{FD_TOL, Grade, Mistake, OVERFLOW, finite_difference_error, grade, naive_softmax};
use pg_core::policy::{Categorical, Gaussian, MlpBatch, Policy, softmax};
use pg_core::seeded;
use rand::RngExt;

/// One step as a batch of one row with observation 0, from `n` trajectories.
fn one_step<A>(action: A, n: usize) -> Steps<A> {
    Steps { obs: Array2::zeros((1, 1)), actions: vec![action], trajectories: n }
}

/// The chapter's surrogate L = −(w/N) log πₐ for one step of a softmax policy
/// with these logits, and its gradient with respect to them.
pub fn cross_entropy(logits: &[f64], action: usize, weight: f64, n: usize) -> (f64, Vec<f64>) {
    let mut policy = Categorical::linear(1, logits.len());
    // Parameters: the weights (one per logit, times the observation 0), then the bias.
    policy.params_mut().as_slice_mut().expect("contiguous")[logits.len()..].copy_from_slice(logits);
    let mut grad = Array1::zeros(policy.num_params());
    let loss = policy.surrogate(&one_step(action, n), &[weight], &mut grad, &mut MlpBatch::default());
    (loss, grad.as_slice().expect("contiguous")[logits.len()..].to_vec())
}

/// The reference: ∂L/∂ℓ = (w/N)(softmax(ℓ) − onehot(a)), by the chapter's code.
pub fn cross_entropy_grad(logits: &[f64], action: usize, weight: f64, n: usize) -> Vec<f64> {
    cross_entropy(logits, action, weight, n).1
}

/// A cross-entropy gradient as the exercise asks for it: one step's logits,
/// action, weight and the batch's N in, ∂L/∂ℓ out.
pub type CrossEntropyFn = fn(&[f64], usize, f64, usize) -> Vec<f64>;

/// c · (p − onehot(a)): the shape every cross-entropy mistake shares.
fn scaled(p: Vec<f64>, action: usize, c: f64) -> Vec<f64> {
    p.iter().enumerate().map(|(b, p)| c * (p - if b == action { 1.0 } else { 0.0 })).collect()
}

/// The mistakes [`check_cross_entropy`] recognises.
pub const CROSS_ENTROPY_MISTAKES: &[Mistake<CrossEntropyFn>] = &[
    Mistake {
        diagnosis: "the sign is flipped: (w/N)(onehot(a) − π) is the score's direction, −∂L/∂ℓ; the loss's \
                    gradient is (w/N)(π − onehot(a)), which the optimiser descends",
        answer: |l, a, w, n| scaled(softmax(l), a, -w / n as f64),
    },
    Mistake {
        diagnosis: "the 1/N is missing: L averages over the N trajectories of the batch",
        answer: |l, a, w, _| scaled(softmax(l), a, w),
    },
    Mistake {
        diagnosis: "the weight w is missing: each step's cross-entropy counts w times",
        answer: |l, a, _, n| scaled(softmax(l), a, 1.0 / n as f64),
    },
    Mistake {
        diagnosis: "exp ℓ is not normalised: π = softmax(ℓ) = exp ℓ / Σ_b exp ℓ_b",
        answer: |l, a, w, n| scaled(l.iter().map(|x| x.exp()).collect(), a, w / n as f64),
    },
    Mistake { diagnosis: OVERFLOW, answer: |l, a, w, n| scaled(naive_softmax(l), a, w / n as f64) },
];

// ANCHOR: cross_entropy_starter
fn my_cross_entropy_grad(logits: &[f64], action: usize, weight: f64, n: usize) -> Vec<f64> {
    let log_p = pg_core::policy::log_softmax(logits);
    let mut g = vec![0.0; logits.len()];
    g[action] = 1.0;
    for (g, l) in g.iter_mut().zip(&log_p) {
        *g -= l.exp();
    }
    g.iter().map(|x| weight * x / n as f64).collect()
}
// ANCHOR_END: cross_entropy_starter

/// The notebook's starter (the cell holds the anchored function above):
/// it compiles, runs, and is wrong in an instructive way: the score's
/// direction, −∂L/∂ℓ.
pub const CROSS_ENTROPY_STARTER: CrossEntropyFn = my_cross_entropy_grad;

/// One cross-entropy case: logits, action, weight, N.
pub type CrossEntropyCase = (Vec<f64>, usize, f64, usize);

/// The cross-entropy grader's cases: fixed ones (a negative weight, logits
/// near 800), then random ones.
pub fn cross_entropy_cases() -> Vec<CrossEntropyCase> {
    let mut out = vec![
        (vec![0.0, 0.0], 0, 1.0, 1),
        (vec![1.0, -1.0, 0.5], 2, 2.5, 4),
        (vec![2.0, 0.0, -1.0, 0.5], 1, -1.5, 3),
        (vec![800.0, 799.0, 0.0], 1, 1.0, 2),
    ];
    let mut rng = seeded(4);
    for _ in 0..30 {
        let k = rng.random_range(2..6);
        let logits = (0..k).map(|_| rng.random_range(-3.0..3.0)).collect();
        out.push((logits, rng.random_range(0..k), rng.random_range(-3.0..3.0), rng.random_range(1..9)));
    }
    out
}

/// Grades `f` as ∂L/∂ℓ for L = −(w/N) log softmax(ℓ)ₐ: against the
/// chapter's surrogate and against central differences of its loss.
pub fn check_cross_entropy(f: impl Fn(&[f64], usize, f64, usize) -> Vec<f64>) -> Grade {
    let cases = cross_entropy_cases();
    let mut grade = grade(
        "cross-entropy gradient",
        &cases,
        |(l, a, w, n)| format!("logits {l:?}, action {a}, weight {w}, N = {n}"),
        |(l, a, w, n)| f(l, *a, *w, *n),
        |(l, a, w, n)| cross_entropy_grad(l, *a, *w, *n),
        CROSS_ENTROPY_MISTAKES,
        |m, (l, a, w, n)| m(l, *a, *w, *n),
    );
    if grade.problem.is_none() {
        let error = cases
            .iter()
            .map(|(l, a, w, n)| {
                finite_difference_error(|x| cross_entropy(x, *a, *w, *n).0, l, &f(l, *a, *w, *n))
            })
            .fold(0.0, f64::max);
        grade.check(
            error <= FD_TOL,
            format!("largest error against central differences of L: {error:.3e} (allowed {FD_TOL:.0e})"),
        );
    }
    grade
}

/// The chapter's surrogate L = (w/N)((a − μ)²/(2σ²) + log σ) for one step of
/// a one-dimensional Gaussian policy, and its gradient with respect to
/// (μ, log σ).
pub fn gaussian(action: f64, mean: f64, log_std: f64, weight: f64, n: usize) -> (f64, [f64; 2]) {
    let mut policy = Gaussian::linear(1, 1, log_std);
    // Parameters: the weight (times the observation 0), the bias μ, then log σ.
    policy.params_mut()[1] = mean;
    let mut grad = Array1::zeros(policy.num_params());
    let step = one_step(Array1::from(vec![action]), n);
    let loss = policy.surrogate(&step, &[weight], &mut grad, &mut MlpBatch::default());
    (loss, [grad[1], grad[2]])
}

/// The reference: (∂L/∂μ, ∂L/∂log σ) = (−(w/N) z/σ, (w/N)(1 − z²)) with
/// z = (a − μ)/σ, by the chapter's code.
pub fn gaussian_grads(action: f64, mean: f64, log_std: f64, weight: f64, n: usize) -> (f64, f64) {
    let [d_mean, d_log_std] = gaussian(action, mean, log_std, weight, n).1;
    (d_mean, d_log_std)
}

/// A Gaussian surrogate's gradient as the exercise asks for it: one step's
/// action, μ, log σ, weight and the batch's N in, (∂L/∂μ, ∂L/∂log σ) out.
pub type GaussianFn = fn(f64, f64, f64, f64, usize) -> (f64, f64);

/// The mistakes [`check_gaussian`] recognises.
pub const GAUSSIAN_MISTAKES: &[Mistake<GaussianFn>] = &[
    Mistake {
        diagnosis: "that is ∂L/∂σ = (w/N)(1/σ − (a − μ)²/σ³); with respect to log σ it is σ ∂L/∂σ = (w/N)(1 − z²), \
                    z = (a − μ)/σ",
        answer: |a, m, s, w, n| {
            let (d_mean, d_log_std) = gaussian_grads(a, m, s, w, n);
            (d_mean, d_log_std / s.exp())
        },
    },
    Mistake {
        diagnosis: "∂L/∂μ divides (a − μ) by σ once; it is −(w/N)(a − μ)/σ²",
        answer: |a, m, s, w, n| {
            let (d_mean, d_log_std) = gaussian_grads(a, m, s, w, n);
            (d_mean * s.exp(), d_log_std)
        },
    },
    Mistake {
        diagnosis: "the log σ term of −log 𝒩 is missing: ∂L/∂log σ = (w/N)(1 − z²), the 1 from log σ",
        answer: |a, m, s, w, n| {
            let (d_mean, d_log_std) = gaussian_grads(a, m, s, w, n);
            (d_mean, d_log_std - w / n as f64)
        },
    },
    Mistake {
        diagnosis: "the signs are flipped: those are the score's components, −∂L; the optimiser descends L",
        answer: |a, m, s, w, n| {
            let (d_mean, d_log_std) = gaussian_grads(a, m, s, w, n);
            (-d_mean, -d_log_std)
        },
    },
    Mistake {
        diagnosis: "the 1/N is missing: L averages over the N trajectories of the batch",
        answer: |a, m, s, w, n| {
            let (d_mean, d_log_std) = gaussian_grads(a, m, s, w, n);
            (d_mean * n as f64, d_log_std * n as f64)
        },
    },
];

// ANCHOR: gaussian_starter
fn my_gaussian_grads(action: f64, mean: f64, log_std: f64, weight: f64, n: usize) -> (f64, f64) {
    let sigma = log_std.exp();
    let z = (action - mean) / sigma;
    let scale = weight / n as f64;
    (-scale * z / sigma, -scale * z * z)
}
// ANCHOR_END: gaussian_starter

/// The notebook's starter (the cell holds the anchored function above):
/// it compiles, runs, and is wrong in an instructive way: ∂L/∂μ right, the
/// log σ term forgotten.
pub const GAUSSIAN_STARTER: GaussianFn = my_gaussian_grads;

/// One Gaussian case: action, μ, log σ, weight, N.
pub type GaussianCase = (f64, f64, f64, f64, usize);

/// The Gaussian grader's cases: fixed ones (σ of 1 and not, a = μ, a
/// negative weight), then random ones.
pub fn gaussian_cases() -> Vec<GaussianCase> {
    let mut out = vec![(0.5, 0.0, 0.0, 1.0, 1), (-1.0, 0.3, -0.5, 2.0, 3), (0.2, 0.2, 0.7, -1.5, 2)];
    let mut rng = seeded(4);
    for _ in 0..30 {
        out.push((
            rng.random_range(-2.0..2.0),
            rng.random_range(-1.0..1.0),
            rng.random_range(-1.5..1.0),
            rng.random_range(-3.0..3.0),
            rng.random_range(1..9),
        ));
    }
    out
}

/// Grades `f` as (∂L/∂μ, ∂L/∂log σ) for L = −(w/N) log 𝒩(a; μ, σ²) (the
/// constant dropped): against the chapter's surrogate and against central
/// differences of its loss.
pub fn check_gaussian(f: impl Fn(f64, f64, f64, f64, usize) -> (f64, f64)) -> Grade {
    let cases = gaussian_cases();
    let pair = |(x, y): (f64, f64)| vec![x, y];
    let mut grade = grade(
        "Gaussian surrogate gradient",
        &cases,
        |(a, m, s, w, n)| format!("action {a}, μ = {m}, log σ = {s}, weight {w}, N = {n}"),
        |&(a, m, s, w, n)| pair(f(a, m, s, w, n)),
        |&(a, m, s, w, n)| pair(gaussian_grads(a, m, s, w, n)),
        GAUSSIAN_MISTAKES,
        |mistake, &(a, m, s, w, n)| pair(mistake(a, m, s, w, n)),
    );
    if grade.problem.is_none() {
        let error = cases
            .iter()
            .map(|&(a, m, s, w, n)| {
                let loss = |x: &[f64]| gaussian(a, x[0], x[1], w, n).0;
                finite_difference_error(loss, &[m, s], &pair(f(a, m, s, w, n)))
            })
            .fold(0.0, f64::max);
        grade.check(
            error <= FD_TOL,
            format!("largest error against central differences of L: {error:.3e} (allowed {FD_TOL:.0e})"),
        );
    }
    grade
}
