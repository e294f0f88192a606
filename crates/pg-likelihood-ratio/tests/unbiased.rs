//! REINFORCE is unbiased, and the checks that say so can fail.
//!
//! Exact first: on the three-state MDP (395 trajectories) the mean of an
//! estimator is a finite sum, so unbiasedness is an equation checked to
//! 1e-12, for single trajectories and for every batch of two. Every broken
//! estimator, the subtle ones included (10% too large, a discount of 0.99),
//! misses it by orders of magnitude more.
//!
//! Then the statistical test the book also shows: n = 200 000 single-trajectory
//! estimates at a fixed seed; for each of the k ≤ 6 components with non-zero
//! variance, z = (mean − exact) / (sd / √n), rejected when any |z| > 5. Under
//! the CLT one component exceeds 5 with probability 5.7e-7, so by the union
//! (Bonferroni) bound the false-fail rate is below 6 × 5.7e-7 < 4e-6.
//! Power, from the exact variances: an estimator whose mean is (1 + c)∇J is
//! rejected with probability ≥ 0.999 for c ≥ 0.073 (`z_test_power`); the
//! test asserts that this is below 0.1, so the 10% bug is within its reach.
//! A bias smaller than that (the γ = 0.99 discount, 1.7%) passes the z-test:
//! only the exact check catches it.

use ndarray::Array1;
use pg_core::env::TabularMdp;
use pg_core::policy::{Policy, TabularSoftmax};
use pg_likelihood_ratio::book::{Z_TEST_N, Z_TEST_SEED, checked_estimators};
use pg_likelihood_ratio::exact::exact_moments;
use pg_likelihood_ratio::experiments::{EXACT_TOL, Z_MAX, check_rows, reference_policy};
use pg_likelihood_ratio::{Estimator, Reinforce};
use proptest::prelude::*;

fn exact_bias<E: Estimator<TabularSoftmax> + ?Sized>(
    estimator: &E,
    policy: &TabularSoftmax,
    n: usize,
) -> f64 {
    let mdp = TabularMdp::three_state();
    exact_moments(&mdp, policy, estimator, n).max_abs_bias(&mdp.exact_gradient(policy))
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 16,
        failure_persistence: Some(Box::new(proptest::test_runner::FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn reinforce_is_exactly_unbiased_at_any_policy(theta in proptest::collection::vec(-2.0..2.0f64, 6)) {
        let mut policy = TabularSoftmax::new(3, 2);
        policy.params_mut().assign(&Array1::from(theta));
        let bias = exact_bias(&Reinforce, &policy, 1);
        prop_assert!(bias < EXACT_TOL, "bias {}", bias);
    }
}

#[test]
fn reinforce_is_exactly_unbiased_on_batches_of_two_with_half_the_variance() {
    let mdp = TabularMdp::three_state();
    let policy = reference_policy();
    assert!(exact_bias(&Reinforce, &policy, 2) < EXACT_TOL);
    let one = exact_moments(&mdp, &policy, &Reinforce, 1).total_variance();
    let two = exact_moments(&mdp, &policy, &Reinforce, 2).total_variance();
    approx::assert_relative_eq!(one / two, 2.0, max_relative = 1e-12);
}

#[test]
fn the_exact_check_rejects_every_broken_estimator() {
    let policy = reference_policy();
    for estimator in checked_estimators().iter().skip(1) {
        let bias = exact_bias(estimator.as_ref(), &policy, 1);
        assert!(bias > 1e6 * EXACT_TOL, "{} passed the exact check (bias {bias})", estimator.name());
    }
}

#[test]
fn the_z_test_accepts_reinforce_and_rejects_every_bias_within_its_power() {
    let rows = check_rows(&checked_estimators(), Z_TEST_N, Z_TEST_SEED);
    let (reinforce, broken) = rows.split_first().unwrap();
    let power = reinforce.power;
    assert!(power < 0.1, "the z-test cannot see a 10% error: power {power}");
    assert!(reinforce.z.max_z < Z_MAX, "REINFORCE rejected with max |z| = {}", reinforce.z.max_z);
    let mut rejected = 0;
    for row in broken {
        if row.relative_bias >= power {
            assert!(row.z.max_z > Z_MAX, "{} passed with max |z| = {}", row.name, row.z.max_z);
            rejected += 1;
        }
    }
    assert!(rejected >= 4, "only {rejected} broken estimators were within the test's power");
}
