//! The learned value function: its regression gradient against central
//! differences, the output rescaling that keeps V unchanged, and GAE's
//! treatment of terminations and time-limit truncations.

use approx::assert_abs_diff_eq;
use ndarray::{Array1, ArrayView1, array};
use pg_baselines::{ValueBaseline, ValueFunction, gae};
use pg_causality::reward_to_go;
use pg_core::gradcheck::central_difference;
use pg_core::rng::seeded;
use pg_core::{PgError, StepEnd, Trajectory};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 32,
        failure_persistence: Some(Box::new(proptest::test_runner::FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_regression_gradient_matches_central_differences(
        seed in 0u64..1000,
        hidden in proptest::collection::vec(1usize..6, 0..3),
        obs_dim in 1usize..5,
        m in 1usize..8,
    ) {
        let mut rng = seeded(seed);
        let mut value = ValueFunction::new(obs_dim, &hidden, 0.01, 1, &mut rng).unwrap();
        // Random parameters everywhere, the output layer included.
        let n = value.params().len();
        let params = Array1::from_shape_fn(n, |i| ((i as f64 + 1.0) * 0.731 + seed as f64).sin());
        value.params_mut().assign(&params);
        let states: Vec<Array1<f64>> =
            (0..m).map(|k| Array1::from_shape_fn(obs_dim, |i| ((k * 7 + i) as f64 * 1.3 + seed as f64).cos())).collect();
        let views: Vec<ArrayView1<f64>> = states.iter().map(|s| s.view()).collect();
        let targets: Vec<f64> = (0..m).map(|k| (k as f64 * 0.37 + seed as f64).sin() * 2.0).collect();
        let (_, analytic) = value.loss_and_gradient(&params, &views, &targets);
        let numeric = central_difference(|p| value.loss_and_gradient(p, &views, &targets).0, &params, 1e-5);
        let err = pg_core::gradcheck::max_scaled_error(&analytic, &numeric);
        prop_assert!(err < 1e-7, "error {}", err);
    }

    #[test]
    fn refitting_first_moves_v_by_the_change_in_the_targets_mean(
        seed in 0u64..1000,
        shift in -100.0..100.0f64,
        spread in 0.1..50.0f64,
        hidden in proptest::collection::vec(1usize..6, 0..4),
    ) {
        // With a step size too small to move anything, a refit only rescales:
        // V keeps its shape and moves by the targets' mean (the old shift is 0).
        // From no hidden layer (the output layer is the whole network) to three.
        let mut rng = seeded(seed);
        let mut value = ValueFunction::new(2, &hidden, 1e-12, 1, &mut rng).unwrap();
        let n = value.params().len();
        value.params_mut().assign(&Array1::from_shape_fn(n, |i| (i as f64 * 0.9 + seed as f64).sin()));
        let states = [array![0.3, -0.2], array![1.0, 0.5], array![-0.7, 0.1]];
        let views: Vec<ArrayView1<f64>> = states.iter().map(|s| s.view()).collect();
        let before: Vec<f64> = views.iter().map(|s| value.predict(*s)).collect();
        let targets = [shift - spread, shift, shift + spread];
        value.regress(&views, &targets).unwrap();
        for (s, b) in views.iter().zip(&before) {
            let moved = value.predict(*s) - b;
            prop_assert!((moved - shift).abs() < 1e-9 * (1.0 + b.abs() + shift.abs()), "moved {} by {}", b, moved);
        }
    }
}

#[test]
fn regression_fits_targets_far_from_zero() {
    // Returns near 500 (CartPole) must not need 500 / lr steps to reach.
    let mut value = ValueFunction::new(1, &[8], 0.01, 200, &mut seeded(3)).unwrap();
    let states: Vec<Array1<f64>> = (0..20).map(|k| array![k as f64 / 10.0 - 1.0]).collect();
    let views: Vec<ArrayView1<f64>> = states.iter().map(|s| s.view()).collect();
    let targets: Vec<f64> = states.iter().map(|s| 500.0 + 40.0 * s[0]).collect();
    for _ in 0..5 {
        value.regress(&views, &targets).unwrap();
    }
    for (s, y) in views.iter().zip(&targets) {
        assert!((value.predict(*s) - y).abs() < 2.0, "V = {} for target {y}", value.predict(*s));
    }
}

#[test]
fn minibatches_fit_too() {
    let mut value = ValueFunction::new(1, &[], 0.05, 100, &mut seeded(4)).unwrap().with_minibatch(4).unwrap();
    let states: Vec<Array1<f64>> = (0..50).map(|k| array![k as f64 / 25.0 - 1.0]).collect();
    let views: Vec<ArrayView1<f64>> = states.iter().map(|s| s.view()).collect();
    let targets: Vec<f64> = states.iter().map(|s| 3.0 - 2.0 * s[0]).collect();
    for _ in 0..10 {
        value.regress(&views, &targets).unwrap();
    }
    assert!((value.predict(array![0.5].view()) - 2.0).abs() < 0.1, "{}", value.predict(array![0.5].view()));
}

#[test]
fn bad_settings_and_non_finite_targets_are_named() {
    let mut rng = seeded(0);
    let bad = [
        (ValueFunction::new(2, &[], -0.1, 1, &mut rng).unwrap_err(), "lr"),
        (ValueFunction::new(2, &[], 0.1, 0, &mut rng).unwrap_err(), "value steps"),
        (
            ValueFunction::new(2, &[], 0.1, 1, &mut rng).unwrap().with_minibatch(0).unwrap_err(),
            "value minibatch",
        ),
        (
            ValueBaseline::new(ValueFunction::new(2, &[], 0.1, 1, &mut rng).unwrap(), 1.5).unwrap_err(),
            "gamma",
        ),
        (
            ValueBaseline::new(ValueFunction::new(2, &[], 0.1, 1, &mut rng).unwrap(), 0.9)
                .unwrap()
                .with_gae(-0.5)
                .unwrap_err(),
            "gae-lambda",
        ),
    ];
    for (err, name) in bad {
        assert!(matches!(&err, PgError::InvalidConfig { name: n, .. } if *n == name), "{err}");
        assert!(err.to_string().contains("allowed"), "{err}");
    }
    let mut value = ValueFunction::new(1, &[], 0.1, 1, &mut rng).unwrap();
    let s = array![1.0];
    let err = value.regress(&[s.view()], &[f64::NAN]).unwrap_err();
    assert!(matches!(err, PgError::NonFinite { what: "value function", .. }), "{err}");
}

// ANCHOR: termination_vs_truncation
/// Two episodes with the same states and rewards: one ended in a terminal
/// state, the other was cut by a time limit.
fn same_episode(terminated: bool) -> Trajectory<usize> {
    let mut t = Trajectory::start(array![0.0]);
    let rewards = [1.0, 2.0, 4.0];
    for (k, r) in rewards.iter().enumerate() {
        let end = StepEnd { terminated: terminated && k == 2, truncated: !terminated && k == 2 };
        t.push(0, 0.0, *r, array![k as f64 + 1.0], end);
    }
    t
}

#[test]
fn a_truncated_episode_bootstraps_from_v_of_its_last_state_and_a_terminated_one_does_not() {
    let values = [0.5, -1.0, 2.0, 10.0]; // V(s₀), …, V(s₃)
    let (gamma, lambda) = (0.9, 0.8);
    let rewards = [1.0, 2.0, 4.0];
    let ended = gae(&rewards, &values, true, gamma, lambda);
    let cut = gae(&rewards, &values, false, gamma, lambda);
    for t in 0..3 {
        // The difference is V(s_T) = 10, carried back by (γλ)^(T−1−t) γ.
        let carried = (gamma * lambda).powi(2 - t as i32) * gamma * values[3];
        assert_abs_diff_eq!(cut[t] - ended[t], carried, epsilon = 1e-12);
    }
    // λ = 1 on a terminated episode: the discounted reward-to-go minus V(sₜ).
    let mc = gae(&rewards, &values, true, gamma, 1.0);
    for ((a, q), v) in mc.iter().zip(reward_to_go(&rewards, gamma)).zip(values) {
        assert_abs_diff_eq!(*a, q - v, epsilon = 1e-12);
    }
    // λ = 0: the one-step error rₜ + γV(sₜ₊₁) − V(sₜ), with V(s_T) = 0 after a termination.
    let td = gae(&rewards, &values, true, gamma, 0.0);
    assert_abs_diff_eq!(td[0], 1.0 - gamma - 0.5, epsilon = 1e-12);
    assert_abs_diff_eq!(td[2], 4.0 - 2.0, epsilon = 1e-12);

    // The value targets follow the same rule.
    let mut v = ValueFunction::new(1, &[], 0.1, 1, &mut seeded(0)).unwrap();
    v.params_mut().assign(&array![1.0, 0.0]); // V(s) = s
    let baseline = ValueBaseline::new(v, gamma).unwrap();
    let (ended, cut) = (baseline.targets(&same_episode(true)), baseline.targets(&same_episode(false)));
    for t in 0..3 {
        let bootstrap = gamma.powi(3 - t as i32) * 3.0; // γ^(T−t) V(s_T), V(s₃) = 3
        assert_abs_diff_eq!(cut[t] - ended[t], bootstrap, epsilon = 1e-12);
        assert_abs_diff_eq!(ended[t], reward_to_go(&rewards, gamma)[t], epsilon = 1e-12);
    }
}
// ANCHOR_END: termination_vs_truncation

#[test]
fn the_gae_weights_of_the_estimator_bootstrap_at_a_truncation_and_not_at_a_termination() {
    // The same rule as `gae` and the targets, through the estimator the
    // training loop calls: the weights of the cut episode exceed those of the
    // ended one by V(s_T) carried back by (γλ)^(T−1−t) γ.
    let (gamma, lambda) = (0.9, 0.8);
    let mut v = ValueFunction::new(1, &[], 0.1, 1, &mut seeded(0)).unwrap();
    v.params_mut().assign(&array![1.0, 0.0]); // V(s) = s, so V(s₃) = 3
    let baseline = ValueBaseline::new(v, gamma).unwrap().with_gae(lambda).unwrap();
    let policy = pg_core::policy::TabularSoftmax::new(1, 1);
    let batch = pg_core::Batch { trajectories: vec![same_episode(true), same_episode(false)] };
    let w = pg_likelihood_ratio::Estimator::weights(&baseline, &policy, &batch).unwrap();
    let (ended, cut) = (w.trajectory(0), w.trajectory(1));
    let values = [0.0, 1.0, 2.0, 3.0];
    let expected = gae(&[1.0, 2.0, 4.0], &values, true, gamma, lambda);
    for t in 0..3 {
        assert_abs_diff_eq!(ended[t], expected[t], epsilon = 1e-12);
        let carried = (gamma * lambda).powi(2 - t as i32) * gamma * values[3];
        assert_abs_diff_eq!(cut[t] - ended[t], carried, epsilon = 1e-12);
    }
}

/// "Fitting after the update": the step a batch causes follows V as the
/// earlier batches left it, and V learns from the batch only afterwards. A
/// V fitted on the batch first would weigh each return against a fit of
/// itself, and the step would differ.
#[test]
fn the_update_steps_with_v_from_earlier_batches_and_fits_on_this_batch_afterwards() {
    use pg_baselines::experiments::tabular_value_baseline;
    use pg_core::Policy;
    use pg_core::env::TabularMdp;
    use pg_core::policy::TabularSoftmax;
    use pg_likelihood_ratio::{Estimator, PolicyGradient, Update};

    let mut mdp = TabularMdp::three_state().horizon_terminates();
    let mut policy = TabularSoftmax::new(3, 2);
    let batch = pg_core::Batch::sample(&mut mdp, &policy, 8, &mut seeded(1));
    let lr = 0.1;
    let before = tabular_value_baseline(3).unwrap();
    let mut fitted = before.clone();
    fitted.fit(&policy, &batch).unwrap();
    let step_with_earlier_v = lr * before.gradient(&policy, &batch);
    let step_with_fitted_v = lr * fitted.gradient(&policy, &batch);

    let mut update = PolicyGradient::sgd(before, lr).unwrap();
    let theta = policy.params().clone();
    update.update(&mut policy, &batch, 0).unwrap();
    let step = policy.params() - &theta;
    let off = |a: &Array1<f64>| (&step - a).iter().fold(0.0_f64, |m, d| m.max(d.abs()));
    assert!(off(&step_with_earlier_v) < 1e-12, "step {step} vs {step_with_earlier_v}");
    assert!(off(&step_with_fitted_v) > 1e-3, "the two orders should step differently here");
    assert_eq!(update.estimator.value().params(), fitted.value().params());
}

/// "A discount below 1, so that bootstrapping at the limit stays finite": a
/// pole that balances until the time limit earns 1 per step from the same
/// state. Each refit of V moves it to the mean of its targets, which
/// bootstrap from V itself at the cut. With γ = 1 the targets exceed any V by
/// (L + 1)/2, so V grows without end; with γ < 1 they have one fixed point,
/// the endless discounted return 1/(1 − γ).
#[test]
fn with_a_discount_below_one_bootstrapping_at_a_time_limit_has_a_finite_fixed_point() {
    let len = 10;
    let mut episode = Trajectory::start(array![0.0]);
    for k in 0..len {
        episode.push(0, 0.0, 1.0, array![0.0], StepEnd { terminated: false, truncated: k == len - 1 });
    }
    let mean_target = |gamma: f64, v: f64| {
        let mut value = ValueFunction::new(1, &[], 0.1, 1, &mut seeded(0)).unwrap();
        value.params_mut().assign(&array![0.0, v]); // V(s) = v everywhere
        let targets = ValueBaseline::new(value, gamma).unwrap().targets(&episode);
        targets.iter().sum::<f64>() / targets.len() as f64
    };
    for v in [0.0, 100.0, 1e6] {
        assert_abs_diff_eq!(mean_target(1.0, v) - v, (len as f64 + 1.0) / 2.0, epsilon = 1e-6);
    }
    let gamma = 0.99;
    let endless = 1.0 / (1.0 - gamma);
    assert_abs_diff_eq!(mean_target(gamma, endless), endless, epsilon = 1e-9);
    // Refitting from V = 0 approaches it and never passes it.
    let mut v = 0.0;
    for _ in 0..2000 {
        v = mean_target(gamma, v);
        assert!(v <= endless + 1e-9, "{v}");
    }
    assert_abs_diff_eq!(v, endless, epsilon = 1e-6);
}

/// The names chapter 3's tables and `pg train`'s output print, and the
/// settings the value baseline reports.
#[test]
fn the_names_and_settings_are_what_the_tables_print() {
    use pg_baselines::{MeanBaseline, OptimalBaseline};
    use pg_core::policy::TabularSoftmax;
    use pg_likelihood_ratio::Estimator;
    let name = |e: &dyn Estimator<TabularSoftmax>| e.name();
    assert_eq!(name(&MeanBaseline { leave_one_out: true }), "mean baseline (leave one out)");
    assert_eq!(name(&MeanBaseline { leave_one_out: false }), "mean baseline (own return included)");
    assert_eq!(name(&OptimalBaseline { leave_one_out: true }), "optimal constant baseline (leave one out)");
    assert_eq!(
        name(&OptimalBaseline { leave_one_out: false }),
        "optimal constant baseline (own trajectory included)"
    );
    let affine =
        ValueBaseline::new(ValueFunction::new(3, &[], 0.1, 1, &mut seeded(0)).unwrap(), 0.9).unwrap();
    assert_eq!((affine.gamma(), affine.lambda()), (0.9, None));
    assert_eq!(name(&affine), "value baseline (affine V, γ = 0.9)");
    let deep = ValueBaseline::new(ValueFunction::new(3, &[16, 8], 0.1, 1, &mut seeded(0)).unwrap(), 0.99)
        .unwrap()
        .with_gae(0.95)
        .unwrap();
    assert_eq!(deep.lambda(), Some(0.95));
    assert_eq!(name(&deep), "GAE (λ = 0.95, V with hidden layers [16, 8], γ = 0.99)");
}

/// Before its Adam steps, `regress` moves V's scale to the targets'
/// population standard deviation, floored at 10⁻⁶ (1 + |mean|) when they
/// barely spread: the output layer (its last width + 1 parameters) is
/// divided by the new scale (the old one is 1). The step size here is too
/// small to move anything else that far.
#[test]
fn regression_rescales_by_the_targets_spread_with_a_floor() {
    let states: Vec<Array1<f64>> = (0..4).map(|k| array![k as f64 / 4.0]).collect();
    let views: Vec<ArrayView1<f64>> = states.iter().map(|s| s.view()).collect();
    let spread = [101.0, 102.0, 103.0, 104.0];
    let flat = [-5.0; 4];
    for (targets, scale) in [(spread, 1.25f64.sqrt()), (flat, 1e-6 * 6.0)] {
        let mut value = ValueFunction::new(1, &[3], 1e-12, 1, &mut seeded(5)).unwrap();
        let n = value.params_mut().len();
        value.params_mut().slice_mut(ndarray::s![n - 4..]).fill(1.0);
        value.regress(&views, &targets).unwrap();
        for w in value.params_mut().slice(ndarray::s![n - 4..]) {
            assert!((w * scale - 1.0).abs() < 1e-9, "{targets:?}: output weight {w}, expected 1 / {scale}");
        }
    }
}

/// A step that leaves the parameters NaN is an error even when the loss
/// before it was finite. One tanh unit at a state of 0 with a tiny bias
/// (h ≈ 10⁻³⁰⁶) and an output weight of 10³⁰⁶: the output and the loss are
/// finite, but the error sent back to the hidden layer, err · w / M ≈ 5 · 10³⁰⁸, overflows,
/// and the hidden layer's gradient and Adam's step are NaN.
#[test]
fn a_step_that_leaves_the_parameters_non_finite_is_an_error() {
    let mut value = ValueFunction::new(1, &[1], 0.01, 1, &mut seeded(6)).unwrap();
    // W, b of the hidden unit, then its output weight and the output bias.
    value.params_mut().assign(&array![1.0, 1e-306, 1e306, -1000.0]);
    let states = [array![0.0], array![0.0]];
    let views: Vec<ArrayView1<f64>> = states.iter().map(|s| s.view()).collect();
    assert!(value.predict(views[0]).is_finite());
    let err = value.regress(&views, &[0.0, 2.0]).unwrap_err();
    assert!(matches!(err, PgError::NonFinite { what: "value function", .. }), "{err}");
}

/// Without a minibatch (or with one at least as large as the batch) every
/// Adam step is on all the batch's states, so the fit does not depend on the
/// random stream the minibatches would come from: two value functions with
/// the same parameters but different streams end equal. With a minibatch
/// smaller than the batch they draw different states and end apart.
#[test]
fn a_minibatch_as_large_as_the_batch_is_the_whole_batch() {
    let states: Vec<Array1<f64>> = (0..6).map(|k| array![k as f64 / 6.0, (k % 2) as f64]).collect();
    let views: Vec<ArrayView1<f64>> = states.iter().map(|s| s.view()).collect();
    let targets = [1.0, -2.0, 0.5, 3.0, 2.0, -1.0];
    // The same starting parameters for both.
    let start = ValueFunction::new(2, &[4], 0.05, 10, &mut seeded(3)).unwrap();
    let fit = |minibatch: Option<usize>| {
        let mut ends = Vec::new();
        for stream in [7, 8] {
            let mut value = ValueFunction::new(2, &[4], 0.05, 10, &mut seeded(stream)).unwrap();
            if let Some(size) = minibatch {
                value = value.with_minibatch(size).unwrap();
            }
            value.params_mut().assign(start.params());
            value.regress(&views, &targets).unwrap();
            ends.push(value.params().to_owned());
        }
        (&ends[0] - &ends[1]).mapv(f64::abs).fold(0.0, |a: f64, &b| a.max(b))
    };
    assert_eq!(fit(None), 0.0);
    assert_eq!(fit(Some(6)), 0.0);
    assert!(fit(Some(3)) > 1e-6, "minibatches of 3 from different streams should differ");
}

/// Targets whose spread overflows (finite, with a finite mean of 0, but a
/// squared deviation beyond f64) are an error: V cannot be scaled to them.
#[test]
fn targets_whose_spread_overflows_are_an_error() {
    let mut value = ValueFunction::new(1, &[2], 0.01, 1, &mut seeded(9)).unwrap();
    let states = [array![0.0], array![1.0]];
    let views: Vec<ArrayView1<f64>> = states.iter().map(|s| s.view()).collect();
    let err = value.regress(&views, &[1e308, -1e308]).unwrap_err();
    assert!(matches!(err, PgError::NonFinite { what: "value function", .. }), "{err}");
}
