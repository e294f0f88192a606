//! The closed-form variance of the plain estimator on the one-state "stay"
//! MDP, Var = (4θ + 8 + 1/θ)/(1 − θ)⁴, against the series over episode
//! lengths (exact) and against simulation (statistical).
//!
//! With K stays before leaving, p(K) = θᴷ (1 − θ), r = K and the score is
//! K/θ − 1/(1 − θ), so the estimate is g(K) = K (K/θ − 1/(1 − θ)).

use pg_core::env::Stay;
use pg_likelihood_ratio::Reinforce;
use pg_likelihood_ratio::book::STAY_CHECK;
use pg_likelihood_ratio::exact::stay_moments;
use pg_likelihood_ratio::experiments::{stay_closed_form_variance, stay_variance};

#[test]
fn closed_form_matches_the_series() {
    for theta in [0.2, 0.5, 0.7] {
        let m = stay_moments(&Reinforce, theta, 4000);
        approx::assert_relative_eq!(m.mean[0], Stay::gradient(theta), max_relative = 1e-10);
        approx::assert_relative_eq!(m.variance[0], stay_closed_form_variance(theta), max_relative = 1e-10);
    }
}

/// The sample variance of n draws has standard error √((m₄ − Var²)/n), with the
/// fourth central moment m₄ from the series. We reject when the sample is more
/// than 5 standard errors from the closed form (false-fail rate about 6e-7
/// under the normal approximation, for the variance and for the mean each).
#[test]
fn simulation_reproduces_the_closed_form_variance() {
    let (theta, n, seed) = STAY_CHECK;
    let sim = stay_variance(&Reinforce, theta, n, seed);
    let m = stay_moments(&Reinforce, theta, 4000);
    let (var, m4) = (m.variance[0], m.fourth[0]);
    let se_var = ((m4 - var * var) / n as f64).sqrt();
    let z = (sim.variance - stay_closed_form_variance(theta)) / se_var;
    assert!(z.abs() < 5.0, "sample variance {} vs closed form {var} (z = {z})", sim.variance);
    let z_mean = (sim.mean - Stay::gradient(theta)) / (var / n as f64).sqrt();
    assert!(z_mean.abs() < 5.0, "mean {} vs dJ/dθ {} (z = {z_mean})", sim.mean, Stay::gradient(theta));
}
