//! The surrogate's gradient is the estimator: against the per-step sum,
//! against central differences of the surrogate's own value, and the
//! squared-error form against the Gaussian log-likelihood.

use pg_core::env::{CartPole, Pendulum};
use pg_core::policy::{Categorical, Gaussian, Policy};
use pg_core::rng::seeded;
use pg_core::{Batch, StepWeights};
use pg_surrogate::experiments::surrogate_agreement;
use pg_surrogate::surrogate;
use proptest::prelude::*;

/// Weights that differ from step to step, positive and negative.
fn weights_for<A>(batch: &Batch<A>, seed: u64) -> StepWeights {
    StepWeights::fill(batch, |i, _, w| {
        for (t, x) in w.iter_mut().enumerate() {
            *x = ((i * 31 + t) as f64 * 0.37 + seed as f64).sin() * 3.0;
        }
    })
}

fn gaussian(seed: u64, hidden: &[usize], state_std: bool, log_std: f64) -> Gaussian {
    let rng = &mut seeded(seed);
    if state_std {
        Gaussian::mlp_state_std(3, hidden, 1, log_std, rng)
    } else {
        Gaussian::mlp(3, hidden, 1, log_std, rng)
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 24,
        failure_persistence: Some(Box::new(proptest::test_runner::FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    })]

    // ANCHOR: equals_per_step
    #[test]
    fn surrogate_gradients_are_the_per_step_estimator_and_match_central_differences(
        seed in 0u64..1000,
        hidden in proptest::collection::vec(1usize..9, 0..3),
        episodes in 1usize..5,
        state_std in any::<bool>(),
        log_std in -1.5..0.5f64,
    ) {
        let softmax = Categorical::mlp(4, &hidden, 2, &mut seeded(seed));
        let batch = Batch::sample(&mut CartPole::new(), &softmax, episodes, &mut seeded(seed + 1));
        let (relative, finite_difference) = surrogate_agreement(&softmax, &batch, &weights_for(&batch, seed));
        prop_assert!(relative < 1e-10 && finite_difference < 1e-6, "{} {}", relative, finite_difference);

        // At least two episodes, so that a missing or wrong 1/N shows.
        let gauss = gaussian(seed, &hidden, state_std, log_std);
        let batch = Batch::sample(&mut Pendulum::new(), &gauss, episodes + 1, &mut seeded(seed + 2));
        let (relative, finite_difference) = surrogate_agreement(&gauss, &batch, &weights_for(&batch, seed));
        prop_assert!(relative < 1e-10 && finite_difference < 1e-6, "{} {}", relative, finite_difference);
    }
    // ANCHOR_END: equals_per_step

    // ANCHOR: squared_error_is_log_likelihood
    #[test]
    fn squared_error_form_is_the_negative_log_likelihood_up_to_a_constant(
        seed in 0u64..1000,
        state_std in any::<bool>(),
        log_std in -1.5..0.5f64,
    ) {
        let policy = gaussian(seed, &[5], state_std, log_std);
        let batch = Batch::sample(&mut Pendulum::new(), &policy, 2, &mut seeded(seed + 1));
        let w = weights_for(&batch, seed);
        let (squared_error, _) = surrogate(&policy, &batch, &w);
        // −(1/N) Σ w log π, from the policy's own log-probabilities.
        let n = batch.len() as f64;
        let mut neg_log_lik = 0.0;
        let mut weight_sum = 0.0;
        for (i, t) in batch.trajectories.iter().enumerate() {
            for ((obs, a), &wt) in t.steps().zip(w.trajectory(i)) {
                neg_log_lik -= wt * policy.log_prob(obs, a) / n;
                weight_sum += wt / n;
            }
        }
        // The dropped constant: ½ log 2π per action dimension, times the weights.
        let constant = 0.5 * (2.0 * std::f64::consts::PI).ln() * weight_sum;
        prop_assert!((neg_log_lik - squared_error - constant).abs() < 1e-9 * (1.0 + neg_log_lik.abs()));
    }
    // ANCHOR_END: squared_error_is_log_likelihood
}

#[test]
fn with_centred_weights_and_a_free_sigma_the_log_sigma_term_adds_nothing() {
    // ∂L/∂log σ = (1/N) Σₘ wₘ (1 − zₘ²): the 1 is the log σ term's, and with
    // weights that sum to zero its share is exactly zero, so σ moves only
    // through −(1/N) Σₘ wₘ zₘ².
    let policy = gaussian(3, &[4], false, -0.3);
    let batch = Batch::sample(&mut Pendulum::new(), &policy, 3, &mut seeded(4));
    let raw = weights_for(&batch, 5);
    let mean = raw.flat().iter().sum::<f64>() / raw.flat().len() as f64;
    let w = raw.map(|x| x - mean);
    let (_, grad) = surrogate(&policy, &batch, &w);
    let n = batch.len() as f64;
    let (mut with_term, mut without_term) = (0.0, 0.0);
    for (i, t) in batch.trajectories.iter().enumerate() {
        for ((obs, a), &wt) in t.steps().zip(w.trajectory(i)) {
            let pg_core::Dist::Gaussian { mean, log_std } = policy.dist(obs) else { unreachable!() };
            let z = (a[0] - mean[0]) / log_std[0].exp();
            with_term += wt * (1.0 - z * z) / n;
            without_term -= wt * z * z / n;
        }
    }
    let reported = grad[grad.len() - 1];
    assert!((reported - with_term).abs() < 1e-12, "{reported} against {with_term}");
    assert!((reported - without_term).abs() < 1e-12, "{reported} against {without_term}");
    assert!(reported.abs() > 1e-3, "σ does move: {reported}");
}

/// Actions of more than one dimension: each dimension has its own mean and,
/// with a state-dependent σ, its own log σ output. Pendulum's actions have
/// one dimension, so these batches are made by hand from the policy's own
/// draws on random observations.
#[test]
fn with_two_dimensional_actions_each_dimension_reads_its_own_mean_and_sigma() {
    use pg_core::{StepEnd, Trajectory};
    use rand::RngExt;
    for state_std in [false, true] {
        let rng = &mut seeded(11);
        let policy = if state_std {
            Gaussian::mlp_state_std(3, &[4], 2, -0.4, rng)
        } else {
            Gaussian::mlp(3, &[4], 2, -0.4, rng)
        };
        let mut obs = || ndarray::Array1::from_shape_fn(3, |_| rng.random_range(-1.0..1.0));
        let mut draws = seeded(12);
        let batch = Batch {
            trajectories: (0..3)
                .map(|_| {
                    let mut t = Trajectory::start(obs());
                    for k in 0..4 {
                        let (a, lp) = policy.sample_with_log_prob(t.obs[k].view(), &mut draws);
                        t.push(a, lp, 0.0, obs(), StepEnd { terminated: k == 3, truncated: false });
                    }
                    t
                })
                .collect(),
        };
        let (relative, finite_difference) = surrogate_agreement(&policy, &batch, &weights_for(&batch, 2));
        assert!(
            relative < 1e-10 && finite_difference < 1e-6,
            "σ state-dependent: {state_std}: {relative} {finite_difference}"
        );
    }
}
