//! REINFORCE is unbiased: the mean of many single-trajectory estimates lands
//! on the exact gradient of the three-state MDP.
//!
//! Test: n = 20 000 trajectories at a fixed seed; for each of the k gradient
//! components with non-zero variance, z = (mean - exact) / (sd / sqrt n).
//! We reject when any |z| > 5. Under the CLT a single component exceeds 5 with
//! probability 5.7e-7, so by the union (Bonferroni) bound the false-fail rate
//! is below k * 5.7e-7 < 4e-6 for k <= 6. The same test must reject broken
//! estimators, which shows that it has power.

use pg_likelihood_ratio::Reinforce;
use pg_likelihood_ratio::experiments::broken::{FirstStepOnly, PastRewards, SignFlipped};
use pg_likelihood_ratio::experiments::unbiasedness_max_z;

const N: usize = 20_000;
const Z_MAX: f64 = 5.0;

#[test]
fn reinforce_is_unbiased() {
    let z = unbiasedness_max_z(&Reinforce, N, 1);
    assert!(z < Z_MAX, "max |z| = {z}");
}

#[test]
fn the_same_test_rejects_broken_estimators() {
    for z in [
        unbiasedness_max_z(&SignFlipped, N, 1),
        unbiasedness_max_z(&PastRewards, N, 1),
        unbiasedness_max_z(&FirstStepOnly, N, 1),
    ] {
        assert!(z > Z_MAX, "a broken estimator passed with max |z| = {z}");
    }
}
