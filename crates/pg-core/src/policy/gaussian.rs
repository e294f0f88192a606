//! A diagonal Gaussian policy for continuous actions: the mean comes from an
//! [`Mlp`] (linear with no hidden layers); the log standard deviation is
//! either a state-independent parameter vector or a second output of the
//! same network.

use super::mlp::with_scratch;
use super::{Mlp, Policy};
use crate::dist::Dist;
use crate::math::exp;
use crate::rng::PgRng;
use ndarray::{Array1, ArrayView1, s};
use rand_distr::{Distribution, StandardNormal};

/// πθ(a|s) = 𝒩(a; μθ(s), diag σθ(s)²).
///
/// Layout with a state-independent σ: the mean network's parameters, then
/// log σ. With a state-dependent σ the network has 2·D outputs, μ then log σ.
#[derive(Debug, Clone)]
pub struct Gaussian {
    net: Mlp,
    theta: Array1<f64>,
    state_std: bool,
}

const LOG_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

impl Gaussian {
    /// A linear mean (zero at start) and log σ = `log_std` for every action dimension.
    pub fn linear(obs_dim: usize, act_dim: usize, log_std: f64) -> Self {
        let net = Mlp::new(obs_dim, &[], act_dim);
        let mut theta = Array1::zeros(net.num_params() + act_dim);
        theta.slice_mut(s![net.num_params()..]).fill(log_std);
        Self { net, theta, state_std: false }
    }

    /// An MLP mean with tanh hidden layers of the given widths.
    pub fn mlp(obs_dim: usize, hidden: &[usize], act_dim: usize, log_std: f64, rng: &mut PgRng) -> Self {
        let net = Mlp::new(obs_dim, hidden, act_dim);
        let mut theta = net.init(0.01, rng);
        theta.extend(std::iter::repeat_n(log_std, act_dim));
        Self { net, theta: Array1::from(theta), state_std: false }
    }

    /// An MLP with 2·D outputs: the mean and, state by state, log σ. The
    /// log σ outputs start at `log_std` (their bias) and near-zero weights.
    pub fn mlp_state_std(
        obs_dim: usize,
        hidden: &[usize],
        act_dim: usize,
        log_std: f64,
        rng: &mut PgRng,
    ) -> Self {
        let net = Mlp::new(obs_dim, hidden, 2 * act_dim);
        let mut theta = Array1::from(net.init(0.01, rng));
        let n = theta.len();
        theta.slice_mut(s![n - act_dim..]).fill(log_std);
        Self { net, theta, state_std: true }
    }

    /// The network's shape.
    pub fn net(&self) -> &Mlp {
        &self.net
    }

    /// Whether σ depends on the state (a network output) or not (a parameter vector).
    pub fn state_dependent_std(&self) -> bool {
        self.state_std
    }

    /// The action dimension D.
    pub fn act_dim(&self) -> usize {
        if self.state_std { self.net.output() / 2 } else { self.net.output() }
    }

    /// The network's parameters, and the state-independent log σ (empty when σ depends on the state).
    pub fn split(&self) -> (&[f64], &[f64]) {
        self.theta.as_slice().expect("contiguous").split_at(self.net.num_params())
    }

    /// μ(s) and log σ(s), with the network's activations in `acts`.
    fn head(&self, obs: ArrayView1<'_, f64>, acts: &mut Vec<Vec<f64>>) -> (Vec<f64>, Vec<f64>) {
        let (net_params, log_std) = self.split();
        let out = match obs.as_slice() {
            Some(x) => self.net.forward(net_params, x, acts),
            None => self.net.forward(net_params, &obs.to_vec(), acts),
        };
        let d = self.act_dim();
        if self.state_std { (out[..d].to_vec(), out[d..].to_vec()) } else { (out.to_vec(), log_std.to_vec()) }
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
        let (mean, log_std) = with_scratch(|acts| self.head(obs, acts));
        Dist::Gaussian { mean: Array1::from(mean), log_std: Array1::from(log_std) }
    }

    fn sample(&self, obs: ArrayView1<'_, f64>, rng: &mut PgRng) -> Array1<f64> {
        self.sample_with_log_prob(obs, rng).0
    }

    fn sample_with_log_prob(&self, obs: ArrayView1<'_, f64>, rng: &mut PgRng) -> (Array1<f64>, f64) {
        let (mean, log_std) = with_scratch(|acts| self.head(obs, acts));
        let mut log_prob = 0.0;
        let action = mean
            .iter()
            .zip(log_std)
            .map(|(m, ls)| {
                let z: f64 = StandardNormal.sample(rng);
                log_prob += -0.5 * z * z - ls - LOG_SQRT_2PI;
                m + exp(ls) * z
            })
            .collect();
        (action, log_prob)
    }

    fn log_prob(&self, obs: ArrayView1<'_, f64>, action: &Array1<f64>) -> f64 {
        let (mean, log_std) = with_scratch(|acts| self.head(obs, acts));
        mean.iter()
            .zip(log_std)
            .zip(action)
            .map(|((m, ls), a)| {
                let z = (a - m) / exp(ls);
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
        let (mean, log_std) = self.head(obs, &mut acts);
        let n = self.net.num_params();
        let grad = grad.as_slice_mut().expect("contiguous");
        let d = mean.len();
        let mut grad_out = vec![0.0; self.net.output()];
        for (i, ((m, ls), a)) in mean.iter().zip(&log_std).zip(action).enumerate() {
            let sigma = exp(*ls);
            let z = (a - m) / sigma;
            // d/d mu = (a - mu)/sigma^2 ; d/d log sigma = z^2 - 1
            grad_out[i] = weight * z / sigma;
            if self.state_std {
                grad_out[d + i] = weight * (z * z - 1.0);
            } else {
                grad[n + i] += weight * (z * z - 1.0);
            }
        }
        self.net.backward(self.split().0, &acts, &grad_out, &mut grad[..n]);
    }
}
