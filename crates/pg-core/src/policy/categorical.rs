//! A softmax policy over discrete actions whose logits come from an [`Mlp`]:
//! with no hidden layers it is the linear softmax policy.

use super::mlp::with_scratch;
use super::{Mlp, Policy, log_softmax, sample_from_logits};
use crate::dist::Dist;
use crate::math::exp;
use crate::rng::PgRng;
use ndarray::{Array1, ArrayView1};

/// πθ(a|s) = softmax(fθ(s))ₐ.
#[derive(Debug, Clone)]
pub struct Categorical {
    net: Mlp,
    theta: Array1<f64>,
}

impl Categorical {
    /// The scale of [`Categorical::mlp`]'s initial output weights (Glorot-uniform
    /// draws times this; biases zero): the first policy is close to uniform.
    pub const OUTPUT_SCALE: f64 = 0.01;

    /// The linear softmax policy with all parameters zero (the uniform policy).
    pub fn linear(obs_dim: usize, n_actions: usize) -> Self {
        let net = Mlp::new(obs_dim, &[], n_actions);
        let theta = Array1::zeros(net.num_params());
        Self { net, theta }
    }

    /// An MLP with tanh hidden layers of the given widths and a softmax head.
    pub fn mlp(obs_dim: usize, hidden: &[usize], n_actions: usize, rng: &mut PgRng) -> Self {
        let net = Mlp::new(obs_dim, hidden, n_actions);
        let theta = Array1::from(net.init(Self::OUTPUT_SCALE, rng));
        Self { net, theta }
    }

    /// The network's shape.
    pub fn net(&self) -> &Mlp {
        &self.net
    }

    fn logits<'a>(&self, obs: ArrayView1<'_, f64>, acts: &'a mut Vec<Vec<f64>>) -> &'a [f64] {
        let params = self.theta.as_slice().expect("contiguous");
        match obs.as_slice() {
            Some(x) => self.net.forward(params, x, acts),
            None => self.net.forward(params, &obs.to_vec(), acts),
        }
    }

    fn log_probs(&self, obs: ArrayView1<'_, f64>, acts: &mut Vec<Vec<f64>>) -> Vec<f64> {
        log_softmax(self.logits(obs, acts))
    }
}

impl Policy for Categorical {
    type Action = usize;

    fn params(&self) -> &Array1<f64> {
        &self.theta
    }

    fn params_mut(&mut self) -> &mut Array1<f64> {
        &mut self.theta
    }

    fn dist(&self, obs: ArrayView1<'_, f64>) -> Dist {
        let lp = with_scratch(|acts| self.log_probs(obs, acts));
        Dist::Categorical(lp.iter().map(|&l| exp(l)).collect())
    }

    fn sample(&self, obs: ArrayView1<'_, f64>, rng: &mut PgRng) -> usize {
        self.sample_with_log_prob(obs, rng).0
    }

    fn sample_with_log_prob(&self, obs: ArrayView1<'_, f64>, rng: &mut PgRng) -> (usize, f64) {
        with_scratch(|acts| sample_from_logits(self.logits(obs, acts), rng))
    }

    fn log_prob(&self, obs: ArrayView1<'_, f64>, action: &usize) -> f64 {
        with_scratch(|acts| self.log_probs(obs, acts)[*action])
    }

    fn add_grad_log_prob(
        &self,
        obs: ArrayView1<'_, f64>,
        action: &usize,
        weight: f64,
        grad: &mut Array1<f64>,
    ) {
        let mut acts = Vec::new();
        let lp = self.log_probs(obs, &mut acts);
        // d log softmax(z)_a / dz = onehot(a) - softmax(z)
        let grad_logits: Vec<f64> = lp
            .iter()
            .enumerate()
            .map(|(i, l)| weight * (if i == *action { 1.0 } else { 0.0 } - exp(*l)))
            .collect();
        let params = self.theta.as_slice().expect("contiguous");
        self.net.backward(params, &acts, &grad_logits, grad.as_slice_mut().expect("contiguous"));
    }
}
