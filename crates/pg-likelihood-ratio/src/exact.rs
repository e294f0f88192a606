//! Exact moments of an estimator, by enumeration instead of sampling.
//!
//! On a small MDP every trajectory, and so every batch of N trajectories, can
//! be listed with its probability. The mean and variance of any estimator are
//! then finite sums: E[ĝ] = Σ_B p(B) ĝ(B) over batches B. A test of
//! unbiasedness becomes an equation checked to rounding error, and a broken
//! estimator fails it however small its bias.

use crate::Estimator;
use ndarray::Array1;
use pg_core::env::TabularMdp;
use pg_core::policy::{Bernoulli, Policy};
use pg_core::{Batch, StepEnd, Trajectory};

/// The exact mean and per-component variance of an estimate ĝ.
#[derive(Debug, Clone, PartialEq)]
pub struct Moments {
    /// E[ĝ].
    pub mean: Array1<f64>,
    /// Var[ĝₖ] for every component k.
    pub variance: Array1<f64>,
    /// The fourth central moment E[(ĝₖ − E[ĝₖ])⁴] of every component (it
    /// sets the standard error of a sample variance).
    pub fourth: Array1<f64>,
}

impl Moments {
    /// tr Cov[ĝ] = Σₖ Var[ĝₖ] = E‖ĝ − E[ĝ]‖².
    pub fn total_variance(&self) -> f64 {
        self.variance.sum()
    }

    /// ‖E[ĝ] − g‖ / ‖g‖: the bias relative to the true gradient g.
    pub fn relative_bias(&self, truth: &Array1<f64>) -> f64 {
        let d = &self.mean - truth;
        d.dot(&d).sqrt() / truth.dot(truth).sqrt()
    }

    /// maxₖ |E[ĝₖ] − gₖ|: the largest bias of any component.
    pub fn max_abs_bias(&self, truth: &Array1<f64>) -> f64 {
        (&self.mean - truth).iter().fold(0.0, |m, d| m.max(d.abs()))
    }
}

/// Mean and variance over weighted outcomes (probability, value), in two
/// passes: the second around the mean, which keeps the variance accurate.
pub fn weighted_moments(outcomes: &[(f64, Array1<f64>)]) -> Moments {
    let dim = outcomes.first().expect("at least one outcome").1.len();
    let mut mean = Array1::zeros(dim);
    for (p, g) in outcomes {
        mean.scaled_add(*p, g);
    }
    let mut variance = Array1::zeros(dim);
    let mut fourth = Array1::zeros(dim);
    for (p, g) in outcomes {
        let d2 = (g - &mean).mapv(|d| d * d);
        variance.scaled_add(*p, &d2);
        fourth.scaled_add(*p, &(&d2 * &d2));
    }
    Moments { mean, variance, fourth }
}

// ANCHOR: exact_moments
/// The exact mean and variance of `estimator` on batches of `n` trajectories
/// sampled by `policy` in `mdp`, by enumerating every batch: there are Lⁿ of
/// them for L trajectories, so keep `n` at 1 or 2.
pub fn exact_moments<P, E>(mdp: &TabularMdp, policy: &P, estimator: &E, n: usize) -> Moments
where
    P: Policy<Action = usize>,
    E: Estimator<P> + ?Sized,
{
    assert!(n >= 1, "a batch holds at least one trajectory");
    let leaves = mdp.enumerate(policy);
    let count = leaves.len().pow(n as u32);
    let outcomes: Vec<_> = (0..count)
        .map(|mut code| {
            // Batch number `code`, read as n digits in base L.
            let mut p = 1.0;
            let mut trajectories = Vec::with_capacity(n);
            for _ in 0..n {
                let (pi, t) = &leaves[code % leaves.len()];
                code /= leaves.len();
                p *= pi;
                trajectories.push(t.clone());
            }
            (p, estimator.gradient(policy, &Batch { trajectories }))
        })
        .collect();
    weighted_moments(&outcomes)
}
// ANCHOR_END: exact_moments

/// The "stay" MDP's trajectory with `k` stays, then a leave: probability
/// θᵏ (1 − θ), return k.
pub fn stay_trajectory(policy: &Bernoulli, k: usize) -> (f64, Trajectory<usize>) {
    let obs = ndarray::array![1.0];
    let mut traj = Trajectory::start(obs.clone());
    let theta = policy.p();
    for i in 0..=k {
        let stay = i < k;
        let (action, reward, lp) = if stay { (1, 1.0, theta.ln()) } else { (0, 0.0, (1.0 - theta).ln()) };
        traj.push(action, lp, reward, obs.clone(), StepEnd { terminated: !stay, truncated: false });
    }
    (theta.powi(k as i32) * (1.0 - theta), traj)
}

/// The exact moments of a single-trajectory estimate on the "stay" MDP, by
/// summing over episode lengths 0 ≤ k < `max_stays` (the rest of the series
/// has probability θ^max_stays, negligible for the lengths used here).
pub fn stay_moments<E>(estimator: &E, theta: f64, max_stays: usize) -> Moments
where
    E: Estimator<Bernoulli> + ?Sized,
{
    let policy = Bernoulli::new(theta);
    let outcomes: Vec<_> = (0..max_stays)
        .map(|k| {
            let (p, traj) = stay_trajectory(&policy, k);
            (p, estimator.gradient(&policy, &Batch { trajectories: vec![traj] }))
        })
        .collect();
    weighted_moments(&outcomes)
}
