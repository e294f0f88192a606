//! The closed-form variance of the plain estimator on the one-state "stay"
//! MDP, Var = (4 theta + 8 + 1/theta) / (1 - theta)^4, against the series over
//! episode lengths and against simulation.
//!
//! With K stays before leaving, p(K) = theta^K (1 - theta), r = K and the score is
//! K/theta - 1/(1 - theta), so the estimate is g(K) = K (K/theta - 1/(1 - theta)).

use pg_core::env::Stay;
use pg_likelihood_ratio::experiments::{stay_closed_form_variance as closed_form_variance, stay_variance};

/// Central moments E[(g - mean)^2] and E[(g - mean)^4] by summing the series.
fn series_moments(theta: f64) -> (f64, f64, f64) {
    let g = |k: f64| k * (k / theta - 1.0 / (1.0 - theta));
    let p = |k: i32| theta.powi(k) * (1.0 - theta);
    let mean: f64 = (0..4000).map(|k| p(k) * g(k as f64)).sum();
    let m2: f64 = (0..4000).map(|k| p(k) * (g(k as f64) - mean).powi(2)).sum();
    let m4: f64 = (0..4000).map(|k| p(k) * (g(k as f64) - mean).powi(4)).sum();
    (mean, m2, m4)
}

#[test]
fn closed_form_matches_the_series() {
    for theta in [0.2, 0.5, 0.7] {
        let (mean, var, _) = series_moments(theta);
        approx::assert_relative_eq!(mean, Stay::gradient(theta), max_relative = 1e-10);
        approx::assert_relative_eq!(var, closed_form_variance(theta), max_relative = 1e-10);
    }
}

/// The sample variance of n draws has standard error about sqrt((m4 - var^2) / n).
/// We reject when it is more than 5 standard errors from the closed form
/// (false-fail rate about 6e-7 under the normal approximation).
#[test]
fn simulation_reproduces_the_closed_form_variance() {
    let (theta, n) = (0.5, 200_000);
    let sim = stay_variance(theta, n, 11);
    let (_, var, m4) = series_moments(theta);
    let se_var = ((m4 - var * var) / n as f64).sqrt();
    let z = (sim.variance - closed_form_variance(theta)) / se_var;
    assert!(z.abs() < 5.0, "sample variance {} vs closed form {} (z = {z})", sim.variance, sim.closed_form);
    let z_mean = (sim.mean - Stay::gradient(theta)) / (sim.variance / n as f64).sqrt();
    assert!(z_mean.abs() < 5.0, "mean {} vs dJ/dtheta {} (z = {z_mean})", sim.mean, Stay::gradient(theta));
}
