//! Off-policy estimators checked exactly by enumeration on the three-state
//! MDP: trajectories sampled by θ_old, the gradient wanted at θ.

use ndarray::Array1;
use pg_causality::RewardToGo;
use pg_core::env::TabularMdp;
use pg_core::policy::{Policy, TabularSoftmax};
use pg_core::rng::seeded;
use pg_core::{Batch, PgError};
use pg_importance_sampling::book::{EXACT_HORIZONS, SCALE};
use pg_importance_sampling::experiments::{
    InvertedRatio, RatioOneStepLate, bias_orders, first_order_bias, off_policy_moments, ratio_against_horizon,
};
use pg_importance_sampling::reuse::Reuse;
use pg_importance_sampling::{FirstOrder, PerDecision, TrajectoryRatio, effective_sample_size};
use pg_likelihood_ratio::experiments::{EXACT_TOL, reference_policy, three_state_policy};
use pg_likelihood_ratio::{Estimator, Reinforce};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 16,
        failure_persistence: Some(Box::new(proptest::test_runner::FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    })]

    // ANCHOR: unbiased
    #[test]
    fn trajectory_and_per_decision_ratios_are_exactly_unbiased_for_the_new_policy(
        theta_old in proptest::collection::vec(-1.0..1.0f64, 6),
        theta in proptest::collection::vec(-1.0..1.0f64, 6),
    ) {
        let mdp = TabularMdp::three_state();
        let (old, new) = (three_state_policy(&theta_old), three_state_policy(&theta));
        let truth = mdp.exact_gradient(&new);
        for e in [&TrajectoryRatio as &dyn Estimator<TabularSoftmax>, &PerDecision] {
            let m = off_policy_moments(&mdp, &old, &new, e);
            prop_assert!(m.max_abs_bias(&truth) < EXACT_TOL, "{}: {}", e.name(), m.max_abs_bias(&truth));
        }
        // Not a theorem: on this MDP, per-decision had no more variance than
        // the whole trajectory's ratio at any pair drawn.
        let (a, b) = (off_policy_moments(&mdp, &old, &new, &TrajectoryRatio), off_policy_moments(&mdp, &old, &new, &PerDecision));
        prop_assert!(b.total_variance() <= a.total_variance() + 1e-9, "{} > {}", b.total_variance(), a.total_variance());
    }
    // ANCHOR_END: unbiased

    #[test]
    fn the_first_order_mean_is_the_gradient_of_the_ratio_weighted_returns(
        theta_old in proptest::collection::vec(-1.0..1.0f64, 6),
        theta in proptest::collection::vec(-1.0..1.0f64, 6),
    ) {
        // L(θ) = E_{τ∼θ_old}[Σₜ ρₜ(θ) Q̂ₜ]: its gradient is E[Σₜ ρₜ ∇θ log πθ(aₜ|sₜ) Q̂ₜ],
        // the first-order estimator's mean. A ratio inverted, dropped or squared
        // misses it.
        let mdp = TabularMdp::three_state();
        let (old, new) = (three_state_policy(&theta_old), three_state_policy(&theta));
        let leaves = mdp.enumerate(&old);
        let objective = |p: &TabularSoftmax| -> f64 {
            leaves.iter().map(|(prob, t)| {
                let steps: Vec<_> = t.steps().collect();
                prob * steps.iter().enumerate().map(|(k, (obs, a))| {
                    let ratio = (p.log_prob(*obs, a) - old.log_prob(*obs, a)).exp();
                    ratio * t.rewards[k..].iter().sum::<f64>()
                }).sum::<f64>()
            }).sum()
        };
        let mean = off_policy_moments(&mdp, &old, &new, &FirstOrder).mean;
        let err = pg_core::gradcheck::check_policy(&new, &mean, objective);
        prop_assert!(err < 1e-7, "largest scaled error {}", err);
    }

    #[test]
    fn with_the_same_policy_every_ratio_is_one_and_the_estimators_are_on_policy(seed in 0u64..1000) {
        let mut mdp = TabularMdp::three_state();
        let policy = reference_policy();
        let batch = Batch::sample(&mut mdp, &policy, 4, &mut seeded(seed));
        prop_assert!((effective_sample_size(&policy, &batch) - 4.0).abs() < 1e-12);
        let close = |a: Array1<f64>, b: Array1<f64>| (&a - &b).iter().all(|d| d.abs() < 1e-12);
        prop_assert!(close(TrajectoryRatio.gradient(&policy, &batch), Reinforce.gradient(&policy, &batch)));
        prop_assert!(close(PerDecision.gradient(&policy, &batch), RewardToGo::new().gradient(&policy, &batch)));
        prop_assert!(close(FirstOrder.gradient(&policy, &batch), RewardToGo::new().gradient(&policy, &batch)));
    }
}

#[test]
fn broken_ratios_are_rejected() {
    let mdp = TabularMdp::three_state();
    let (old, new) = (reference_policy(), three_state_policy(&[0.9, -0.6, 0.1, 0.2, 0.0, 0.0]));
    let truth = mdp.exact_gradient(&new);
    for e in [&InvertedRatio as &dyn Estimator<TabularSoftmax>, &RatioOneStepLate, &FirstOrder] {
        let m = off_policy_moments(&mdp, &old, &new, e);
        assert!(m.relative_bias(&truth) > 1e-3, "{}: {}", e.name(), m.relative_bias(&truth));
    }
}

// ANCHOR: first_order_order
#[test]
fn the_first_order_bias_vanishes_linearly_in_the_distance_and_like_the_root_of_the_kl() {
    let rows = first_order_bias(&[0.01, 0.02, 0.04, 0.08, 0.16]);
    assert!(rows.windows(2).all(|w| w[1].bias > w[0].bias), "{rows:?}");
    let (against_distance, against_kl) = bias_orders(&rows);
    assert!((against_distance - 1.0).abs() < 0.1, "order in ‖θ − θ_old‖: {against_distance}");
    assert!((against_kl - 0.5).abs() < 0.05, "order in KL: {against_kl}");
}
// ANCHOR_END: first_order_order

#[test]
fn the_trajectory_ratio_gets_noisier_with_the_horizon() {
    // The book's horizons and scale.
    let rows = ratio_against_horizon(&EXACT_HORIZONS.collect::<Vec<_>>(), SCALE);
    for w in rows.windows(2) {
        assert!(w[1].ratio_variance > w[0].ratio_variance, "{rows:?}");
        assert!(w[1].log_ratio_variance > w[0].log_ratio_variance, "{rows:?}");
        assert!(w[1].ess_fraction < w[0].ess_fraction, "{rows:?}");
    }
    // Per-decision: equal at horizon 1 (one step, one ratio), lower beyond.
    assert!((rows[0].per_decision - rows[0].trajectory).abs() < 1e-12 * rows[0].trajectory, "{rows:?}");
    assert!(rows[1..].iter().all(|r| r.per_decision < r.trajectory), "{rows:?}");
}

#[test]
fn reuse_reports_kl_and_ess_and_refuses_zero_steps() {
    let err = Reuse::adam(PerDecision, 0.01, 0).unwrap_err();
    assert!(matches!(err, PgError::InvalidConfig { name: "reuse", .. }), "{err}");
    let mut mdp = TabularMdp::three_state();
    let mut policy = reference_policy();
    let batch = Batch::sample(&mut mdp, &policy, 16, &mut seeded(0));
    let mut update = Reuse::adam(PerDecision, 0.1, 8).unwrap();
    let stats = pg_likelihood_ratio::Update::update(&mut update, &mut policy, &batch, 0).unwrap();
    let (kl, ess) = (stats.get("kl").unwrap(), stats.get("ess").unwrap());
    assert!(kl > 0.0 && (1.0..16.0).contains(&ess), "kl {kl} ess {ess}");
}

#[test]
fn reuse_reports_the_kl_from_the_sampler_to_the_final_policy_and_the_ess_there() {
    // Both at the policy the steps end at, one step included (the ESS of the
    // sampling policy itself would be N), the KL in the direction
    // KL(π_sampler ‖ π_final), written out from the softmax probabilities.
    let mut mdp = TabularMdp::three_state();
    for steps in [1, 3] {
        let mut policy = reference_policy();
        let sampler = policy.clone();
        let batch = Batch::sample(&mut mdp, &policy, 16, &mut seeded(1));
        let mut update = Reuse::adam(PerDecision, 0.3, steps).unwrap();
        let stats = pg_likelihood_ratio::Update::update(&mut update, &mut policy, &batch, 0).unwrap();
        let probs = |p: &TabularSoftmax, s: usize| -> Vec<f64> {
            let l = &p.params().as_slice().unwrap()[2 * s..2 * s + 2];
            let z = l[0].exp() + l[1].exp();
            vec![l[0].exp() / z, l[1].exp() / z]
        };
        let (mut total, mut count) = (0.0, 0.0);
        for t in &batch.trajectories {
            for (obs, _) in t.steps() {
                let s = obs.iter().position(|&x| x == 1.0).unwrap();
                let (p, q) = (probs(&sampler, s), probs(&policy, s));
                total += p.iter().zip(&q).map(|(p, q)| p * (p / q).ln()).sum::<f64>();
                count += 1.0;
            }
        }
        let kl = stats.get("kl").unwrap();
        assert!(
            (kl - total / count).abs() < 1e-12,
            "{steps} steps: reported {kl}, KL(sampler ‖ final) {}",
            total / count
        );
        let ess = stats.get("ess").unwrap();
        assert!(
            (ess - effective_sample_size(&policy, &batch)).abs() < 1e-12 && ess < 16.0,
            "{steps} steps: ess {ess}"
        );
    }
}

#[test]
fn the_names_are_what_the_tables_print_and_an_empty_batch_is_worth_nothing() {
    let policy = reference_policy();
    let names: Vec<String> = [&TrajectoryRatio as &dyn Estimator<TabularSoftmax>, &PerDecision, &FirstOrder]
        .iter()
        .map(|e| e.name())
        .collect();
    assert_eq!(names, ["trajectory ratio", "per-decision ratios", "first-order approximation"]);
    let reuse = Reuse::adam(PerDecision, 0.1, 4).unwrap();
    assert_eq!(
        pg_likelihood_ratio::Update::<TabularSoftmax>::name(&reuse),
        "per-decision ratios, 4 steps per batch"
    );
    // No trajectory: an effective sample size of 0, not 0/0.
    assert_eq!(effective_sample_size(&policy, &Batch { trajectories: vec![] }), 0.0);
}
