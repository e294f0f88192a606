//! REINFORCE is unbiased: the mean of many single-trajectory estimates lands
//! on the exact gradient of the three-state MDP.
//!
//! Test: n = 20 000 trajectories at a fixed seed; for each of the k gradient
//! components with non-zero variance, z = (mean - exact) / (sd / sqrt n).
//! We reject when any |z| > 5. Under the CLT a single component exceeds 5 with
//! probability 5.7e-7, so by the union (Bonferroni) bound the false-fail rate
//! is below k * 5.7e-7 < 4e-6 for k <= 6. The same test must reject broken
//! estimators, which shows that it has power.

use ndarray::Array1;
use pg_core::env::TabularMdp;
use pg_core::{Batch, Policy, seeded};
use pg_likelihood_ratio::experiments::{mean_sd, reference_policy};
use pg_likelihood_ratio::{Estimator, Reinforce, weighted_score_gradient};

const N: usize = 20_000;
const Z_MAX: f64 = 5.0;

/// The largest |z| over components; components that are exactly zero in
/// every sample must also be zero in the exact gradient.
fn max_abs_z<E: Estimator>(estimator: &E, seed: u64) -> f64 {
    let mut mdp = TabularMdp::three_state();
    let policy = reference_policy();
    let exact = mdp.exact_gradient(&policy);
    let mut rng = seeded(seed);
    let samples: Vec<Array1<f64>> = (0..N)
        .map(|_| {
            let batch = Batch::sample(&mut mdp, &policy, 1, &mut rng);
            weighted_score_gradient(&policy, &batch, &estimator.weights(&batch))
        })
        .collect();
    let mut worst: f64 = 0.0;
    for k in 0..policy.num_params() {
        let column: Vec<f64> = samples.iter().map(|g| g[k]).collect();
        let (mean, sd) = mean_sd(&column);
        if sd == 0.0 {
            assert_eq!(mean, exact[k], "component {k} has no variance and must be exact");
            continue;
        }
        worst = worst.max(((mean - exact[k]) / (sd / (N as f64).sqrt())).abs());
    }
    worst
}

#[test]
fn reinforce_is_unbiased() {
    let z = max_abs_z(&Reinforce, 1);
    assert!(z < Z_MAX, "max |z| = {z}");
}

/// Flips the sign of every weight: ascends the wrong way.
struct SignFlipped;
impl Estimator for SignFlipped {
    fn name(&self) -> &'static str {
        "sign-flipped"
    }
    fn weights<A>(&self, batch: &Batch<A>) -> Vec<Vec<f64>> {
        Reinforce.weights(batch).into_iter().map(|w| w.into_iter().map(|x| -x).collect()).collect()
    }
}

/// Weights each step by the rewards *before* it: actions cannot influence
/// those, so the estimate loses the true signal.
struct PastRewards;
impl Estimator for PastRewards {
    fn name(&self) -> &'static str {
        "past-rewards"
    }
    fn weights<A>(&self, batch: &Batch<A>) -> Vec<Vec<f64>> {
        batch
            .trajectories
            .iter()
            .map(|t| (0..t.len()).map(|i| t.rewards[..i].iter().sum()).collect())
            .collect()
    }
}

/// Counts only the first action's score.
struct FirstStepOnly;
impl Estimator for FirstStepOnly {
    fn name(&self) -> &'static str {
        "first-step-only"
    }
    fn weights<A>(&self, batch: &Batch<A>) -> Vec<Vec<f64>> {
        batch
            .trajectories
            .iter()
            .map(|t| (0..t.len()).map(|i| if i == 0 { t.total_reward() } else { 0.0 }).collect())
            .collect()
    }
}

#[test]
fn the_same_test_rejects_broken_estimators() {
    assert!(max_abs_z(&SignFlipped, 1) > Z_MAX);
    assert!(max_abs_z(&PastRewards, 1) > Z_MAX);
    assert!(max_abs_z(&FirstStepOnly, 1) > Z_MAX);
}
