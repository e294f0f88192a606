//! Reward-to-go is unbiased with a smaller variance, checked exactly by
//! enumeration on the three-state MDP and the "stay" MDP, then by sampling.
//!
//! The z-test is chapter 1's: n = 200 000 single-trajectory estimates, reject
//! when any |z| > 5 (false-fail rate below 4e-6 by the union bound over ≤ 6
//! components). Its power for this estimator (a mean of (1 + c)∇J rejected
//! with probability ≥ 0.999) is computed from the exact variances and is
//! asserted below 0.1, so the 10% scale bug is within its reach.

use pg_causality::book::checked_estimators;
use pg_causality::experiments::{
    MIXED_REWARDS, OffByOne, decomposition, mostly_risky_policy, stay_closed_form_variance,
    variance_against_horizon, with_rewards,
};
use pg_causality::{RewardToGo, reward_to_go};
use pg_core::PgError;
use pg_core::env::{Stay, TabularMdp};
use pg_core::policy::TabularSoftmax;
use pg_likelihood_ratio::book::{STAY_CHECK, Z_TEST_N, Z_TEST_SEED};
use pg_likelihood_ratio::exact::{exact_moments, stay_moments};
use pg_likelihood_ratio::experiments::{
    EXACT_TOL, Z_MAX, broken, check_rows, reference_policy, stay_variance, three_state_policy,
};
use pg_likelihood_ratio::{Estimator, Reinforce};
use proptest::prelude::*;

#[test]
fn reward_to_go_sums_the_rewards_from_each_step_on() {
    // Not a palindrome, so reversing the discount would show.
    assert_eq!(reward_to_go(&[1.0, 2.0, 4.0], 1.0), vec![7.0, 6.0, 4.0]);
    assert_eq!(reward_to_go(&[1.0, 2.0, 4.0], 0.5), vec![3.0, 4.0, 4.0]);
    assert_eq!(reward_to_go(&[1.0, 2.0, 4.0], 0.0), vec![1.0, 2.0, 4.0]);
    assert!(reward_to_go(&[], 0.9).is_empty());
}

#[test]
fn a_discount_outside_zero_to_one_is_refused_by_name() {
    for bad in [-0.1, 1.5, f64::NAN] {
        let err = RewardToGo::discounted(bad).unwrap_err();
        assert!(matches!(err, PgError::InvalidConfig { name: "gamma", .. }), "{err}");
        assert!(err.to_string().contains("from 0 to 1"), "{err}");
    }
    assert_eq!(RewardToGo::discounted(0.0).unwrap().gamma(), 0.0);
}

#[test]
fn the_discount_and_the_name_are_what_the_tables_print() {
    // The tables and `pg train` label runs by these names.
    let (plain, discounted) = (RewardToGo::new(), RewardToGo::discounted(0.99).unwrap());
    assert_eq!((plain.gamma(), discounted.gamma()), (1.0, 0.99));
    assert_eq!(Estimator::<TabularSoftmax>::name(&plain), "reward-to-go");
    assert_eq!(Estimator::<TabularSoftmax>::name(&discounted), "reward-to-go (γ = 0.99)");
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 16,
        failure_persistence: Some(Box::new(proptest::test_runner::FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn reward_to_go_matches_its_definition(
        rewards in proptest::collection::vec(-5.0..5.0f64, 0..20),
        gamma in 0.0..=1.0f64,
    ) {
        let q = reward_to_go(&rewards, gamma);
        for (t, q_t) in q.iter().enumerate() {
            let direct: f64 = rewards[t..].iter().zip(0..).map(|(r, k)| gamma.powi(k) * r).sum();
            prop_assert!((q_t - direct).abs() <= 1e-12 * (1.0 + direct.abs()), "t = {}: {} vs {}", t, q_t, direct);
        }
    }

    // ANCHOR: dropped_terms
    #[test]
    fn exactly_unbiased_at_any_policy_and_rewards_and_the_dropped_terms_have_mean_zero(
        theta in proptest::collection::vec(-2.0..2.0f64, 6),
        r in proptest::collection::vec(-2.0..2.0f64, 4),
    ) {
        let policy = three_state_policy(&theta);
        let mdp = with_rewards(&TabularMdp::three_state(), &[[r[0], r[1]], [r[2], r[3]], [0.0, 0.0]]);
        let exact = mdp.exact_gradient(&policy);
        let rtg = exact_moments(&mdp, &policy, &RewardToGo::new(), 1);
        prop_assert!(rtg.max_abs_bias(&exact) < EXACT_TOL, "bias {}", rtg.max_abs_bias(&exact));
        let d = decomposition(&mdp, &policy);
        prop_assert!(d.dropped_mean < EXACT_TOL, "E[D] = {}", d.dropped_mean);
        let sum = d.reward_to_go + d.dropped + d.twice_covariance;
        prop_assert!((d.reinforce - sum).abs() < 1e-9 * (1.0 + d.reinforce), "{:?}", d);
    }
    // ANCHOR_END: dropped_terms

    #[test]
    fn with_the_three_state_rewards_less_variable_than_reinforce_at_every_policy_drawn(
        theta in proptest::collection::vec(-2.0..2.0f64, 6),
    ) {
        // Not a theorem: the rewards of this MDP are all ≥ 0 (the
        // counterexample below has mixed signs).
        let policy = three_state_policy(&theta);
        let mdp = TabularMdp::three_state();
        let d = decomposition(&mdp, &policy);
        prop_assert!(d.reward_to_go < d.reinforce, "{:?}", d);
        let plain = exact_moments(&mdp, &policy, &Reinforce, 1);
        prop_assert!((plain.total_variance() - d.reinforce).abs() < 1e-9 * d.reinforce);
    }
}

#[test]
fn with_mixed_sign_rewards_reward_to_go_can_be_more_variable() {
    let mdp = with_rewards(&TabularMdp::three_state(), &MIXED_REWARDS);
    let d = decomposition(&mdp, &mostly_risky_policy());
    assert!(d.reward_to_go > 2.0 * d.reinforce, "{d:?}");
    assert!(d.twice_covariance < -d.dropped, "{d:?}");
}

#[test]
fn exactly_unbiased_on_batches_of_two() {
    let mdp = TabularMdp::three_state();
    let policy = reference_policy();
    let m = exact_moments(&mdp, &policy, &RewardToGo::new(), 2);
    assert!(m.max_abs_bias(&mdp.exact_gradient(&policy)) < EXACT_TOL);
}

#[test]
fn the_variance_is_smaller_at_every_horizon_beyond_one_and_the_estimate_unbiased() {
    for row in variance_against_horizon(&[2, 3, 4, 5, 6]) {
        assert!(row.reward_to_go_bias < EXACT_TOL, "horizon {}: bias {}", row.horizon, row.reward_to_go_bias);
        assert!(row.ratio() > 1.0, "horizon {}: ratio {}", row.horizon, row.ratio());
    }
}

#[test]
fn at_horizon_one_both_estimators_are_the_same() {
    let row = &variance_against_horizon(&[1])[0];
    approx::assert_relative_eq!(row.reinforce, row.reward_to_go, max_relative = 1e-12);
}

#[test]
fn the_exact_check_rejects_every_broken_estimator() {
    let mdp = TabularMdp::three_state();
    let policy = reference_policy();
    let exact = mdp.exact_gradient(&policy);
    for estimator in checked_estimators().iter().skip(1) {
        let bias = exact_moments(&mdp, &policy, estimator.as_ref(), 1).max_abs_bias(&exact);
        assert!(bias > 1e6 * EXACT_TOL, "{} passed the exact check (bias {bias})", estimator.name());
    }
    // The two named in the chapter, in case the list changes.
    for e in [&OffByOne as &dyn Estimator<TabularSoftmax>, &broken::PastRewards] {
        assert!(exact_moments(&mdp, &policy, e, 1).max_abs_bias(&exact) > 1e-3, "{}", e.name());
    }
}

#[test]
fn the_z_test_accepts_reward_to_go_and_rejects_every_bias_within_its_power() {
    let rows = check_rows(&checked_estimators(), Z_TEST_N, Z_TEST_SEED);
    let power = rows[0].power;
    assert!(power < 0.1, "the z-test cannot see a 10% error: power {power}");
    assert!(rows[0].z.max_z < Z_MAX, "reward-to-go rejected with max |z| = {}", rows[0].z.max_z);
    for row in &rows[1..] {
        if row.relative_bias >= power {
            assert!(row.z.max_z > Z_MAX, "{} passed with max |z| = {}", row.name, row.z.max_z);
        }
    }
}

/// The chapter's derivation: with K stays, ĝ = K(K + 1)/(2θ), whose variance
/// under K ∼ Geometric is (θ + 3 + 1/θ)/(1 − θ)⁴. The series over K agrees.
#[test]
fn stay_closed_form_matches_the_series() {
    for theta in [0.2, 0.5, 0.7] {
        let m = stay_moments(&RewardToGo::new(), theta, 4000);
        approx::assert_relative_eq!(m.mean[0], Stay::gradient(theta), max_relative = 1e-10);
        approx::assert_relative_eq!(m.variance[0], stay_closed_form_variance(theta), max_relative = 1e-10);
        assert!(m.variance[0] < stay_moments(&Reinforce, theta, 4000).variance[0]);
    }
}

/// Simulation against the closed form; the standard error of the sample
/// variance comes from the exact fourth moment; reject beyond 5 standard
/// errors (false-fail rate about 6e-7 each for the variance and the mean).
#[test]
fn simulation_reproduces_the_stay_closed_form() {
    let (theta, n, seed) = STAY_CHECK;
    let sim = stay_variance(&RewardToGo::new(), theta, n, seed);
    let m = stay_moments(&RewardToGo::new(), theta, 4000);
    let (var, m4) = (m.variance[0], m.fourth[0]);
    let z = (sim.variance - stay_closed_form_variance(theta)) / ((m4 - var * var) / n as f64).sqrt();
    assert!(z.abs() < 5.0, "sample variance {} vs closed form {var} (z = {z})", sim.variance);
    let z_mean = (sim.mean - Stay::gradient(theta)) / (var / n as f64).sqrt();
    assert!(z_mean.abs() < 5.0, "mean {} (z = {z_mean})", sim.mean);
}
