//! A diagonal Gaussian policy for continuous actions: the mean comes from an
//! [`Mlp`] (linear with no hidden layers), the log standard deviation is a
//! state-independent parameter vector.

use super::{Mlp, Policy};
use crate::dist::Dist;
use crate::rng::PgRng;
use ndarray::{Array1, ArrayView1, s};
use rand_distr::{Distribution, StandardNormal};

/// πθ(a|s) = 𝒩(a; μθ(s), diag σ²),
/// log σ part of θ. Layout: the mean network's parameters, then log σ.
#[derive(Debug, Clone)]
pub struct Gaussian {
    net: Mlp,
    theta: Array1<f64>,
}

const LOG_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

impl Gaussian {
    /// A linear mean (zero at start) and log σ = `log_std` for every action dimension.
    pub fn linear(obs_dim: usize, act_dim: usize, log_std: f64) -> Self {
        let net = Mlp::new(obs_dim, &[], act_dim);
        let mut theta = Array1::zeros(net.num_params() + act_dim);
        theta.slice_mut(s![net.num_params()..]).fill(log_std);
        Self { net, theta }
    }

    /// An MLP mean with tanh hidden layers of the given widths.
    pub fn mlp(obs_dim: usize, hidden: &[usize], act_dim: usize, log_std: f64, rng: &mut PgRng) -> Self {
        let net = Mlp::new(obs_dim, hidden, act_dim);
        let mut theta = net.init(0.01, rng);
        theta.extend(std::iter::repeat_n(log_std, act_dim));
        Self { net, theta: Array1::from(theta) }
    }

    fn split(&self) -> (&[f64], &[f64]) {
        self.theta.as_slice().expect("contiguous").split_at(self.net.num_params())
    }

    fn mean(&self, obs: ArrayView1<'_, f64>, acts: &mut Vec<Vec<f64>>) -> Vec<f64> {
        self.net.forward(self.split().0, &obs.to_vec(), acts).to_vec()
    }
}

impl Policy for Gaussian {
    type Action = Array1<f64>;

    fn params(&self) -> &Array1<f64> {
        &self.theta
    }

    fn params_mut(&mut self) -> &mut Array1<f64> {
        &mut self.theta
    }

    fn dist(&self, obs: ArrayView1<'_, f64>) -> Dist {
        let mean = self.mean(obs, &mut Vec::new());
        Dist::Gaussian { mean: Array1::from(mean), log_std: Array1::from(self.split().1.to_vec()) }
    }

    fn sample(&self, obs: ArrayView1<'_, f64>, rng: &mut PgRng) -> Array1<f64> {
        let mean = self.mean(obs, &mut Vec::new());
        let log_std = self.split().1;
        mean.iter()
            .zip(log_std)
            .map(|(m, ls)| {
                let z: f64 = StandardNormal.sample(rng);
                m + ls.exp() * z
            })
            .collect()
    }

    fn log_prob(&self, obs: ArrayView1<'_, f64>, action: &Array1<f64>) -> f64 {
        let mean = self.mean(obs, &mut Vec::new());
        let log_std = self.split().1;
        mean.iter()
            .zip(log_std)
            .zip(action)
            .map(|((m, ls), a)| {
                let z = (a - m) / ls.exp();
                -0.5 * z * z - ls - LOG_SQRT_2PI
            })
            .sum()
    }

    fn add_grad_log_prob(
        &self,
        obs: ArrayView1<'_, f64>,
        action: &Array1<f64>,
        weight: f64,
        grad: &mut Array1<f64>,
    ) {
        let mut acts = Vec::new();
        let mean = self.mean(obs, &mut acts);
        let (net_params, log_std) = self.split();
        let n = net_params.len();
        let grad = grad.as_slice_mut().expect("contiguous");
        let mut grad_mean = Vec::with_capacity(mean.len());
        for (i, ((m, ls), a)) in mean.iter().zip(log_std).zip(action).enumerate() {
            let sigma = ls.exp();
            let z = (a - m) / sigma;
            // d/d mu = (a - mu)/sigma^2 ; d/d log sigma = z^2 - 1
            grad_mean.push(weight * z / sigma);
            grad[n + i] += weight * (z * z - 1.0);
        }
        self.net.backward(net_params, &acts, &grad_mean, &mut grad[..n]);
    }
}
