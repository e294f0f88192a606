//! The exact oracles: enumeration of the three-state MDP and the closed forms
//! of the "stay" MDP, checked against finite differences of the exact objective.

use ndarray::Array1;
use pg_core::env::{Stay, TabularMdp};
use pg_core::gradcheck::check_policy;
use pg_core::policy::{Categorical, Policy, TabularSoftmax};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

/// The enumerated exact gradient against central differences of the enumerated objective.
fn exact_gradient_error<P: Policy<Action = usize> + Clone>(policy: &P) -> f64 {
    let mdp = TabularMdp::three_state();
    check_policy(policy, &mdp.exact_gradient(policy), |p| mdp.exact_objective(p))
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 32,
        // Failing cases are saved beside this file and replayed first.
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn enumerated_gradient_matches_finite_differences_tabular(theta in proptest::collection::vec(-2.0..2.0f64, 6)) {
        let mut policy = TabularSoftmax::new(3, 2);
        policy.params_mut().assign(&Array1::from(theta));
        let err = exact_gradient_error(&policy);
        prop_assert!(err < 1e-7, "error {}", err);
    }

    #[test]
    fn enumerated_gradient_matches_finite_differences_linear(theta in proptest::collection::vec(-1.0..1.0f64, 8)) {
        let mut policy = Categorical::linear(3, 2);
        policy.params_mut().assign(&Array1::from(theta));
        let err = exact_gradient_error(&policy);
        prop_assert!(err < 1e-7, "error {}", err);
    }
}

#[test]
fn trajectory_probabilities_sum_to_one() {
    let mdp = TabularMdp::three_state();
    let mut policy = TabularSoftmax::new(3, 2);
    policy.params_mut().assign(&Array1::from(vec![0.3, -0.2, 1.0, 0.5, 0.0, 0.0]));
    let leaves = mdp.enumerate(&policy);
    let total: f64 = leaves.iter().map(|(p, _)| p).sum();
    approx::assert_abs_diff_eq!(total, 1.0, epsilon = 1e-12);
    assert!(leaves.iter().any(|(_, t)| t.terminated) && leaves.iter().any(|(_, t)| t.truncated));
    assert!(leaves.iter().all(|(_, t)| t.len() <= mdp.horizon()));
    // Only what the policy can produce: the MDP never starts in its third
    // state, and no listed trajectory has probability zero.
    assert!(leaves.iter().all(|(p, t)| *p > 0.0 && t.obs[0][2] == 0.0));
}

#[test]
fn stay_closed_forms_agree_with_each_other() {
    for &theta in &[0.1, 0.5, 0.8] {
        let h = 1e-6;
        let numeric = (Stay::objective(theta + h) - Stay::objective(theta - h)) / (2.0 * h);
        approx::assert_relative_eq!(numeric, Stay::gradient(theta), max_relative = 1e-7);
        // J as the series sum_k k theta^k (1 - theta)
        let series: f64 = (0..5000).map(|k| k as f64 * theta.powi(k) * (1.0 - theta)).sum();
        approx::assert_relative_eq!(series, Stay::objective(theta), max_relative = 1e-9);
    }
}

#[test]
fn an_offset_without_termination_shifts_every_return_by_c_times_the_horizon() {
    let mut policy = TabularSoftmax::new(3, 2);
    policy.params_mut().assign(&Array1::from(vec![0.4, -0.3, -0.5, 0.6, 0.1, -0.2]));
    let base = TabularMdp::three_state().without_termination();
    let shifted = base.clone().with_reward_offset(10.0);
    let lengths: Vec<usize> = base.enumerate(&policy).iter().map(|(_, t)| t.len()).collect();
    assert!(lengths.iter().all(|&l| l == base.horizon()), "{lengths:?}");
    let (j0, j10) = (base.exact_objective(&policy), shifted.exact_objective(&policy));
    assert!((j10 - j0 - 10.0 * base.horizon() as f64).abs() < 1e-12, "{j0} {j10}");
    let diff = base.exact_gradient(&policy) - shifted.exact_gradient(&policy);
    assert!(diff.iter().all(|d| d.abs() < 1e-12), "{diff}");
    // With termination, episode lengths differ and the offset changes the gradient.
    let terminating = TabularMdp::three_state();
    let moved = terminating.exact_gradient(&policy)
        - terminating.clone().with_reward_offset(10.0).exact_gradient(&policy);
    assert!(moved.iter().any(|d| d.abs() > 1e-3), "{moved}");
}

#[test]
fn a_horizon_that_terminates_changes_only_how_episodes_end() {
    let policy = TabularSoftmax::new(3, 2);
    let cut = TabularMdp::three_state().enumerate(&policy);
    let ended = TabularMdp::three_state().horizon_terminates().enumerate(&policy);
    assert_eq!(cut.len(), ended.len());
    let mut truncations = 0;
    for ((p, a), (q, b)) in cut.iter().zip(&ended) {
        assert_eq!((p, &a.rewards, &a.actions), (q, &b.rewards, &b.actions));
        assert!(!b.truncated && b.terminated);
        truncations += usize::from(a.truncated);
    }
    assert!(truncations > 0);
}
