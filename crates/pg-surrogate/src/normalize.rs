//! Two normalisations that deep policy-gradient code usually switches on.
//! Neither changes what the gradient estimates in the limit; both change
//! the scale the network and the optimiser see. The chapter shows each as
//! an ablation rather than leaving it silently on.

use ndarray::Array1;
use pg_core::rng::PgRng;
use pg_core::{Batch, Env, PgError, Policy, Step, StepWeights};
use pg_likelihood_ratio::Estimator;

// ANCHOR: normalized_advantages
/// Standardises the inner estimator's weights within each batch:
/// wᵢₜ ← (wᵢₜ − mean) / sd over all steps of the batch. Every batch then
/// pushes with the same overall strength, whatever the reward's scale; the
/// shift by the mean is one more (batch-dependent) baseline.
#[derive(Debug, Clone)]
pub struct NormalizedAdvantages<E>(pub E);

impl<P: Policy, E: Estimator<P>> Estimator<P> for NormalizedAdvantages<E> {
    fn name(&self) -> String {
        format!("{}, advantages normalised", self.0.name())
    }

    fn weights(&self, policy: &P, batch: &Batch<P::Action>) -> Option<StepWeights> {
        let w = self.0.weights(policy, batch)?;
        let m = w.flat().len().max(1) as f64;
        let mean = w.flat().iter().sum::<f64>() / m;
        let sd = (w.flat().iter().map(|x| (x - mean).powi(2)).sum::<f64>() / m).sqrt();
        Some(w.map(|x| (x - mean) / (sd + 1e-8)))
    }

    fn fit(&mut self, policy: &P, batch: &Batch<P::Action>) -> Result<(), PgError> {
        self.0.fit(policy, batch)
    }
}
// ANCHOR_END: normalized_advantages

// ANCHOR: normalized_observations
/// Observations standardised by running statistics: every observation the
/// wrapped environment produces updates a running mean and variance
/// (Welford's method), and the agent sees (o − mean) / √(var + 10⁻⁸),
/// clipped to ±10. Policy and value network then get inputs of unit scale.
#[derive(Debug, Clone)]
pub struct NormalizedObservations<E> {
    env: E,
    count: f64,
    mean: Array1<f64>,
    m2: Array1<f64>,
}

impl<E: Env> NormalizedObservations<E> {
    /// Wraps `env`; the statistics start empty.
    pub fn new(env: E) -> Self {
        let dim = env.obs_dim();
        Self { env, count: 0.0, mean: Array1::zeros(dim), m2: Array1::zeros(dim) }
    }

    /// The running mean of the observations seen so far.
    pub fn mean(&self) -> &Array1<f64> {
        &self.mean
    }

    /// The running (population) variance of the observations seen so far.
    pub fn variance(&self) -> Array1<f64> {
        if self.count > 0.0 { &self.m2 / self.count } else { Array1::ones(self.mean.len()) }
    }

    fn observe(&mut self, obs: Array1<f64>) -> Array1<f64> {
        self.count += 1.0;
        let delta = &obs - &self.mean;
        self.mean.scaled_add(1.0 / self.count, &delta);
        self.m2 += &(&delta * &(&obs - &self.mean));
        let sd = self.variance().mapv(|v| (v + 1e-8).sqrt());
        ((obs - &self.mean) / sd).mapv(|x| x.clamp(-10.0, 10.0))
    }
}

impl<E: Env> Env for NormalizedObservations<E> {
    type Action = E::Action;

    fn name(&self) -> &'static str {
        self.env.name()
    }

    fn obs_dim(&self) -> usize {
        self.env.obs_dim()
    }

    fn reset(&mut self, rng: &mut PgRng) -> Array1<f64> {
        let obs = self.env.reset(rng);
        self.observe(obs)
    }

    fn step(&mut self, action: &Self::Action, rng: &mut PgRng) -> Step {
        let step = self.env.step(action, rng);
        Step { obs: self.observe(step.obs), ..step }
    }

    fn solved_threshold(&self) -> Option<f64> {
        self.env.solved_threshold()
    }
}
// ANCHOR_END: normalized_observations
