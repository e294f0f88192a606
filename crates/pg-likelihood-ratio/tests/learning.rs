//! Training end to end, and the chapter's measured claims.

use pg_core::PgError;
use pg_core::env::Pendulum;
use pg_core::policy::Gaussian;
use pg_likelihood_ratio::book::BC_SEEDS;
use pg_likelihood_ratio::experiments::*;
use pg_likelihood_ratio::{PolicyGradient, Reinforce, TrainConfig, train};

#[test]
fn cartpole_learns_with_a_fixed_seed() {
    let setup = CartPoleSetup { iters: 100, batch: 16, lr: 0.01, ..Default::default() };
    let log = train_cartpole(Reinforce, 0, &setup).expect("training succeeds");
    let first = log.iterations[0].mean_return;
    let last = log.final_mean_return(100);
    // A uniform policy survives about 20 steps; a loose threshold far above that.
    assert!(first < 50.0 && last > 150.0, "first batch {first}, last 100 episodes {last}");
}

#[test]
fn error_falls_like_one_over_root_n() {
    let e = error_vs_batch_size(&Reinforce, &[10, 30, 100, 300, 1000], 200, 1);
    // Exact: E||g_N - grad J||^2 = tr Cov / N. Each mean of 200 squared errors is
    // within 5 standard errors of it (false-fail rate < 5 * 5.7e-7 under the CLT).
    for (n, (mean, sd)) in e.ns.iter().zip(&e.sq_err_mean_sd) {
        let z = (mean - e.trace_cov / *n as f64) / (sd / (e.reps as f64).sqrt());
        assert!(z.abs() < 5.0, "N = {n}: mean squared error {mean}, exact {}", e.trace_cov / *n as f64);
    }
    // Hence the fitted log-log slope is near -1/2 (the figure's claim).
    assert!((e.slope + 0.5).abs() < 0.1, "slope {}", e.slope);
}

#[test]
fn behaviour_cloning_gradient_is_the_log_likelihood_gradient() {
    let link = behaviour_cloning_link(3, 200, 0.5);
    assert!(link.bc_identity_error < 1e-6, "error {}", link.bc_identity_error);
}

/// The book's claim, on the book's 20 seeds: after a REINFORCE step the
/// change in log-likelihood correlates positively with return on every seed,
/// and more than after a behaviour-cloning step, whose correlation has no
/// consistent sign.
#[test]
fn reinforce_favours_high_return_episodes_on_every_seed() {
    let seeds: Vec<u64> = BC_SEEDS.collect();
    let corr = bc_link_over_seeds(&seeds, 200, 0.5);
    for (seed, (r, b)) in seeds.iter().zip(&corr) {
        assert!(*r > 0.0 && r > b, "seed {seed}: correlations REINFORCE {r}, behaviour cloning {b}");
    }
    assert!(corr.iter().any(|c| c.1 < 0.0) && corr.iter().any(|c| c.1 > 0.0), "{corr:?}");
}

#[test]
fn invalid_configs_are_rejected_with_the_value_named() {
    let base = TrainConfig { iters: 1, batch: 1, seed: 0, max_env_steps: None };
    let errors = [
        (PolicyGradient::adam(Reinforce, -1.0).unwrap_err(), "lr"),
        (PolicyGradient::adam(Reinforce, f64::NAN).unwrap_err(), "lr"),
        (PolicyGradient::sgd(Reinforce, 0.0).unwrap_err(), "lr"),
        (PolicyGradient::sgd(Reinforce, 0.1).unwrap().with_steps(0).unwrap_err(), "steps"),
        (TrainConfig { batch: 0, ..base.clone() }.validate().unwrap_err(), "batch"),
        (TrainConfig { iters: 0, ..base.clone() }.validate().unwrap_err(), "iters"),
        (TrainConfig { max_env_steps: Some(0), ..base.clone() }.validate().unwrap_err(), "max-env-steps"),
    ];
    for (err, name) in errors {
        assert!(matches!(err, PgError::InvalidConfig { name: n, .. } if n == name), "{err}");
        assert!(err.to_string().contains("allowed"));
    }
}

#[test]
fn divergence_is_reported_not_hidden() {
    let mut policy = Gaussian::linear(3, 1, 0.0);
    let cfg = TrainConfig { iters: 50, batch: 2, seed: 0, max_env_steps: None };
    let mut update = PolicyGradient::adam(Reinforce, 1e6).unwrap();
    let err = train(&mut Pendulum::new(), &mut policy, &mut update, &cfg, |_| {}).unwrap_err();
    assert!(matches!(err, PgError::NonFinite { .. }), "{err}");
}

#[test]
fn a_step_budget_stops_training_after_the_iteration_that_spends_it() {
    let mut policy = pg_core::policy::TabularSoftmax::new(3, 2);
    let cfg = TrainConfig { iters: 1000, batch: 4, seed: 0, max_env_steps: Some(50) };
    let mut update = PolicyGradient::adam(Reinforce, 0.01).unwrap();
    let log =
        train(&mut pg_core::env::TabularMdp::three_state(), &mut policy, &mut update, &cfg, |_| {}).unwrap();
    let steps: Vec<usize> = log.iterations.iter().map(|s| s.env_steps).collect();
    assert!(*steps.last().unwrap() >= 50, "{steps:?}");
    assert!(steps[..steps.len() - 1].iter().all(|&s| s < 50), "{steps:?}");
}
