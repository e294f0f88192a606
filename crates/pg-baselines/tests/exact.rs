//! Baselines checked exactly by enumeration on the three-state MDP: every
//! action-independent baseline is unbiased, the action-dependent one and the
//! mean that includes a trajectory's own return are not (the latter by the
//! factor (N − 1)/N), and the variances fall in the order the chapter claims.
//!
//! The statistical checks reuse chapter 1's z-test on batches of two:
//! n = 200 000 trajectories in 100 000 batches, reject when any |z| > 5
//! (false-fail rate below 4e-6 per estimator by the union bound over ≤ 6
//! components). The power for each estimator (the smallest c such that a
//! mean of (1 + c)∇J is rejected with probability ≥ 0.999) is computed from
//! the exact variances; it is asserted below 0.1 for the leave-one-out mean,
//! so the 10% scale bug is within reach.

use ndarray::Array1;
use pg_baselines::book::checked_estimators;
use pg_baselines::experiments::{
    self as ex, ActionValueBaseline, ConstantBaseline, EXACT_BATCH, TimeValueBaseline,
    exact_optimal_constant, exact_time_values, exact_values, tabular_value,
};
use pg_baselines::{MeanBaseline, OptimalBaseline, ValueBaseline};
use pg_core::Batch;
use pg_core::env::TabularMdp;
use pg_core::policy::TabularSoftmax;
use pg_core::rng::seeded;
use pg_likelihood_ratio::Estimator;
use pg_likelihood_ratio::book::{Z_TEST_N, Z_TEST_SEED};
use pg_likelihood_ratio::exact::exact_moments;
use pg_likelihood_ratio::experiments::{
    EXACT_TOL, Z_MAX, check_rows_batched, reference_policy, three_state_policy,
};
use proptest::prelude::*;

fn bias(mdp: &TabularMdp, policy: &TabularSoftmax, e: &dyn Estimator<TabularSoftmax>, n: usize) -> f64 {
    exact_moments(mdp, policy, e, n).max_abs_bias(&mdp.exact_gradient(policy))
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 12,
        failure_persistence: Some(Box::new(proptest::test_runner::FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    })]

    // ANCHOR: any_state_baseline
    #[test]
    fn any_baseline_that_ignores_the_action_is_exactly_unbiased(
        theta in proptest::collection::vec(-1.5..1.5f64, 6),
        v in proptest::collection::vec(-20.0..20.0f64, 3),
        b in proptest::collection::vec(-20.0..20.0f64, 6),
    ) {
        let (mdp, policy) = (TabularMdp::three_state(), three_state_policy(&theta));
        // An arbitrary V(s): E[∇ log π(a|s) V(s)] = 0 term by term.
        let value = ValueBaseline::new(tabular_value(&v), 1.0).unwrap();
        prop_assert!(bias(&mdp, &policy, &value, 1) < EXACT_TOL);
        // An arbitrary constant per parameter.
        let constant = ConstantBaseline { b: Array1::from(b), label: "random".into() };
        prop_assert!(bias(&mdp, &policy, &constant, 1) < EXACT_TOL);
    }
    // ANCHOR_END: any_state_baseline

    #[test]
    fn the_optimal_constant_minimises_every_components_variance(
        b in proptest::collection::vec(-10.0..10.0f64, 6),
    ) {
        let (mdp, policy) = (TabularMdp::three_state(), reference_policy());
        let best = exact_moments(&mdp, &policy, &ConstantBaseline { b: exact_optimal_constant(&mdp, &policy, false), label: "b*".into() }, 1);
        let other = exact_moments(&mdp, &policy, &ConstantBaseline { b: Array1::from(b), label: "b".into() }, 1);
        for (o, v) in other.variance.iter().zip(&best.variance) {
            prop_assert!(o + 1e-12 >= *v, "{} < {}", o, v);
        }
    }

    #[test]
    fn including_the_own_return_scales_the_estimate_by_n_minus_one_over_n(
        seed in 0u64..1000,
        n in 2usize..7,
    ) {
        // Sample by sample, not only in expectation.
        let mut mdp = TabularMdp::three_state();
        let policy = reference_policy();
        let batch = Batch::sample(&mut mdp, &policy, n, &mut seeded(seed));
        let own = MeanBaseline { leave_one_out: false }.gradient(&policy, &batch);
        let loo = MeanBaseline { leave_one_out: true }.gradient(&policy, &batch);
        let factor = (n as f64 - 1.0) / n as f64;
        for (a, b) in own.iter().zip(&loo) {
            prop_assert!((a - factor * b).abs() < 1e-12 * (1.0 + b.abs()), "{} vs {} · {}", a, factor, b);
        }
    }
}

#[test]
fn batch_baselines_on_batches_of_two_exactly() {
    let (mdp, policy) = (TabularMdp::three_state(), reference_policy());
    let exact = mdp.exact_gradient(&policy);
    for leave_one_out in [true, false] {
        let mean = exact_moments(&mdp, &policy, &MeanBaseline { leave_one_out }, EXACT_BATCH);
        let optimal = exact_moments(&mdp, &policy, &OptimalBaseline { leave_one_out }, EXACT_BATCH);
        if leave_one_out {
            assert!(mean.max_abs_bias(&exact) < EXACT_TOL);
            assert!(optimal.max_abs_bias(&exact) < EXACT_TOL);
        } else {
            // E[ĝ] = ((N − 1)/N) ∇J = ∇J / 2, to rounding.
            let half = &exact * 0.5;
            assert!(mean.max_abs_bias(&half) < EXACT_TOL, "{}", mean.mean);
            assert!(optimal.relative_bias(&exact) > 0.1);
        }
    }
}

#[test]
fn on_a_tabular_policy_v_of_s_is_a_constant_per_parameter() {
    // Each parameter of a tabular softmax belongs to one state s_k, so
    // Σₜ ∂ₖ log π(aₜ|sₜ) (Q̂ₜ − V(sₜ)) = xₖ − V(s_k) gₖ, sample by sample: the
    // V(s) baseline is the constant bₖ = V(s_k), and b* can do no worse.
    let (mdp, policy) = (TabularMdp::three_state(), reference_policy());
    let v = exact_values(&mdp, &policy, false).v;
    let per_parameter =
        ConstantBaseline { b: Array1::from_shape_fn(6, |k| v[k / 2]), label: "V(s_k)".into() };
    let value = ex::exact_value_baseline(&mdp, &policy, false);
    for seed in 0..20 {
        let batch = Batch::sample(&mut mdp.clone(), &policy, 3, &mut seeded(seed));
        let (a, b) = (per_parameter.gradient(&policy, &batch), value.gradient(&policy, &batch));
        assert!((&a - &b).iter().all(|d| d.abs() < 1e-12), "seed {seed}: {a} against {b}");
    }
    let optimal = ConstantBaseline { b: exact_optimal_constant(&mdp, &policy, false), label: "b*".into() };
    let best = exact_moments(&mdp, &policy, &optimal, 1);
    let ours = exact_moments(&mdp, &policy, &value, 1);
    for (b, v) in best.variance.iter().zip(&ours.variance) {
        assert!(*b <= v + 1e-12, "{b} > {v}");
    }
}

#[test]
fn a_baseline_that_depends_on_the_action_is_rejected() {
    let (mdp, policy) = (TabularMdp::three_state(), reference_policy());
    let q = ActionValueBaseline { q: exact_values(&mdp, &policy, false).q };
    let m = exact_moments(&mdp, &policy, &q, 1);
    assert!(m.relative_bias(&mdp.exact_gradient(&policy)) > 0.5);
}

#[test]
fn constant_baselines_order_as_claimed_optimal_then_mean_then_none() {
    let rows = ex::constant_baselines();
    let [none, mean, optimal] = [&rows[0], &rows[1], &rows[2]];
    for row in &rows {
        assert!(row.max_abs_bias < EXACT_TOL, "{}", row.name);
    }
    for k in 0..none.variance.len() {
        assert!(optimal.variance[k] <= mean.variance[k] + 1e-12, "component {k}");
        assert!(mean.variance[k] <= none.variance[k] + 1e-12, "component {k}");
    }
    let trace = |r: &ex::VarianceRow| r.variance.iter().sum::<f64>();
    assert!(trace(optimal) < trace(mean) && trace(mean) < trace(none));
}

#[test]
fn an_offset_leaves_the_mean_and_time_aware_baselines_untouched_and_hurts_the_others() {
    let rows = ex::offset_variances(&[0.0, 100.0]);
    let find =
        |name: &str| rows.iter().find(|r| r.name.starts_with(name)).unwrap_or_else(|| panic!("{name}"));
    for row in &rows {
        assert!(row.max_abs_bias < 1e-9, "{}: {}", row.name, row.max_abs_bias);
    }
    for name in ["mean baseline", "exact V(s, t)"] {
        let v = &find(name).variance;
        assert!((v[1] - v[0]).abs() < 1e-9 * v[0], "{name}: {v:?}");
    }
    for name in ["REINFORCE", "reward-to-go", "exact V(s)", "exact optimal"] {
        let v = &find(name).variance;
        assert!(v[1] > 100.0 * v[0], "{name}: {v:?}");
    }
}

#[test]
fn when_episodes_can_end_early_no_baseline_removes_the_offset() {
    // With the terminal state kept, the offset rewards every step survived:
    // the mean baseline's variance grows with c like every other row's.
    let rows = ex::offset_variances_terminating(&[0.0, 100.0]);
    for row in &rows {
        assert!(row.max_abs_bias < 1e-9, "{}: {}", row.name, row.max_abs_bias);
        assert!(row.variance[1] > 100.0 * row.variance[0], "{}: {:?}", row.name, row.variance);
    }
}

#[test]
fn delaying_rewards_costs_causality_its_gain() {
    let rows = ex::dense_sparse_variances();
    let find = |name: &str| rows.iter().find(|r| r.name.starts_with(name)).unwrap();
    let (plain, rtg) = (&find("REINFORCE").variance, &find("reward-to-go").variance);
    assert!((plain[0] - plain[1]).abs() < 1e-12 * plain[0], "REINFORCE sees only returns: {plain:?}");
    // With every reward at the last step, Q̂ₜ is the whole return.
    assert!((rtg[1] - plain[1]).abs() < 1e-12 * plain[1], "{rtg:?} {plain:?}");
    for row in &rows {
        assert!(row.max_abs_bias < EXACT_TOL, "{}", row.name);
    }
    // Every estimator but REINFORCE gets strictly noisier.
    for row in rows.iter().filter(|r| !r.name.starts_with("REINFORCE")) {
        assert!(row.variance[1] > row.variance[0] * (1.0 + 1e-9), "{}: {:?}", row.name, row.variance);
    }
}

#[test]
fn gae_is_unbiased_from_the_true_values_and_trades_bias_for_variance_from_blind_ones() {
    let rows = ex::gae_tradeoff(&[0.0, 0.5, 1.0]);
    for r in &rows {
        assert!(r.bias_vt < 1e-12, "λ = {}: {}", r.lambda, r.bias_vt);
    }
    // From the exact V(s, t), smaller λ, smaller variance.
    assert!(rows[0].variance_vt < rows[1].variance_vt && rows[1].variance_vt < rows[2].variance_vt);
    // From the time-blind V(s): λ = 1 is the unbiased Monte Carlo estimate, λ < 1 is biased.
    assert!(rows[2].bias_v < 1e-12);
    assert!(rows[0].bias_v > 0.01 && rows[1].bias_v > 0.01);
    assert!(rows[0].variance_v < rows[2].variance_v);
}

#[test]
fn gae_with_lambda_one_from_the_time_aware_values_is_monte_carlo() {
    let mdp = TabularMdp::three_state().horizon_terminates();
    let policy = reference_policy();
    let v = exact_time_values(&mdp, &policy, false);
    let gae = exact_moments(&mdp, &policy, &TimeValueBaseline { v: v.clone(), lambda: Some(1.0) }, 1);
    let mc = exact_moments(&mdp, &policy, &TimeValueBaseline { v, lambda: None }, 1);
    assert!(gae.max_abs_bias(&mc.mean) < 1e-12 && (gae.total_variance() - mc.total_variance()).abs() < 1e-12);
}

#[test]
fn check_table_verdicts_exact_and_statistical() {
    let rows = check_rows_batched(&checked_estimators(), EXACT_BATCH, Z_TEST_N, Z_TEST_SEED);
    for (i, row) in rows.iter().enumerate() {
        // The first three are the baselines, the rest broken variants.
        let should_pass = i < 3;
        assert_eq!(
            row.max_abs_bias <= EXACT_TOL,
            should_pass,
            "exact check of {}: {}",
            row.name,
            row.max_abs_bias
        );
        if should_pass {
            assert!(row.z.max_z <= Z_MAX, "{}: z = {}", row.name, row.z.max_z);
        }
    }
    // The z-test rejects every broken estimator whose bias is within its power.
    for row in rows.iter().filter(|r| r.max_abs_bias > EXACT_TOL && r.relative_bias > r.power) {
        assert!(row.z.max_z > Z_MAX, "{}: z = {} (power {})", row.name, row.z.max_z, row.power);
    }
    assert!(rows[0].power < 0.1, "power {}", rows[0].power);
    assert!(
        rows.iter().filter(|r| r.max_abs_bias > EXACT_TOL).all(|r| r.relative_bias > r.power),
        "{rows:#?}"
    );
}

/// The batch's b* is the least-squares constant of each component: with
/// the own trajectory included, one bₖ for all and Σᵢ gᵢₖ (xᵢₖ − bₖ gᵢₖ) = 0
/// (read back from ĝ = x̄ − b ⊙ ḡ); left out, on batches of two, each
/// trajectory's bₖ is the other's xₖ / gₖ.
#[test]
fn the_batch_optimal_constant_solves_its_least_squares() {
    let mut mdp = TabularMdp::three_state();
    let policy = reference_policy();
    let mut checked = 0;
    for seed in 0..40 {
        let batch = Batch::sample(&mut mdp, &policy, 4, &mut seeded(seed));
        let parts = pg_baselines::estimates_and_scores(&policy, &batch);
        let n = parts.len() as f64;
        let zero = Array1::<f64>::zeros(6);
        let (x_bar, g_bar) =
            parts.iter().fold((zero.clone(), zero), |(x, g), (xi, gi)| (x + xi / n, g + gi / n));
        let own = OptimalBaseline { leave_one_out: false }.gradient(&policy, &batch);
        for k in 0..6 {
            if g_bar[k].abs() < 1e-3 {
                continue;
            }
            let b = (x_bar[k] - own[k]) / g_bar[k];
            let normal: f64 = parts.iter().map(|(x, g)| g[k] * (x[k] - b * g[k])).sum();
            let scale: f64 = parts.iter().map(|(x, g)| (g[k] * x[k]).abs()).sum();
            assert!(normal.abs() < 1e-9 * (1.0 + scale), "seed {seed}, component {k}: {normal}");
            checked += 1;
        }
        let pair = Batch::sample(&mut mdp, &policy, 2, &mut seeded(seed + 1000));
        let p = pg_baselines::estimates_and_scores(&policy, &pair);
        let loo = OptimalBaseline { leave_one_out: true }.gradient(&policy, &pair);
        let other = |i: usize, k: usize| if p[i].1[k] != 0.0 { p[i].0[k] / p[i].1[k] } else { 0.0 };
        for k in 0..6 {
            let expected = 0.5 * (p[0].0[k] - other(1, k) * p[0].1[k] + p[1].0[k] - other(0, k) * p[1].1[k]);
            assert!(
                (loo[k] - expected).abs() < 1e-12 * (1.0 + expected.abs()),
                "seed {seed}, {k}: {}",
                loo[k]
            );
        }
    }
    assert!(checked >= 100, "{checked} components checked");
}
