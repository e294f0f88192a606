//! A learned state value V(s) and generalised advantage estimation.
//!
//! V is a small network (an MLP, or an affine map with no hidden layers)
//! regressed on the value targets of each batch after the policy update.
//! Its outputs are kept in the scale of the returns by a shift and a scale
//! that follow the targets' mean and spread, so the network itself always
//! fits numbers near zero with unit spread, whether the returns are near 1
//! or near 500.

use ndarray::{Array1, ArrayView1};
use pg_core::error::{PgError, at_least_one};
use pg_core::optim::{Adam, Optimizer};
use pg_core::policy::Mlp;
use pg_core::rng::PgRng;
use rand::RngExt;

/// A state-value function V(s) = shift + scale · net(s), fitted by regression.
#[derive(Debug, Clone)]
pub struct ValueFunction {
    net: Mlp,
    params: Array1<f64>,
    optimizer: Adam,
    steps: usize,
    minibatch: usize,
    rng: PgRng,
    shift: f64,
    scale: f64,
}

impl ValueFunction {
    /// A value function of `obs_dim` inputs with the given hidden widths,
    /// fitted by `steps` Adam steps of size `lr` per batch, each on all the
    /// batch's states (see [`ValueFunction::with_minibatch`]). It starts at
    /// V(s) = 0 everywhere (a zero output layer); `rng` draws the hidden
    /// layers' initial weights and, later, the minibatches.
    pub fn new(
        obs_dim: usize,
        hidden: &[usize],
        lr: f64,
        steps: usize,
        rng: &mut PgRng,
    ) -> Result<Self, PgError> {
        let net = Mlp::new(obs_dim, hidden, 1);
        let params = Array1::from(net.init(0.0, rng));
        Ok(Self {
            net,
            params,
            optimizer: Adam::new(lr)?,
            steps: at_least_one("value steps", steps)?,
            minibatch: usize::MAX,
            rng: rng.clone(),
            shift: 0.0,
            scale: 1.0,
        })
    }

    /// Takes each Adam step on `size` states drawn at random (with
    /// replacement) instead of all of them, when the batch has more.
    pub fn with_minibatch(mut self, size: usize) -> Result<Self, PgError> {
        self.minibatch = at_least_one("value minibatch", size)?;
        Ok(self)
    }

    /// The network's shape.
    pub fn net(&self) -> &Mlp {
        &self.net
    }

    /// The network's parameters (a flat vector, as for policies).
    pub fn params(&self) -> &Array1<f64> {
        &self.params
    }

    /// Mutable access to the parameters.
    pub fn params_mut(&mut self) -> &mut Array1<f64> {
        &mut self.params
    }

    /// V(s).
    pub fn predict(&self, obs: ArrayView1<'_, f64>) -> f64 {
        let mut acts = Vec::new();
        let x = obs.as_slice().map_or_else(|| obs.to_vec(), <[f64]>::to_vec);
        self.shift
            + self.scale * self.net.forward(self.params.as_slice().expect("contiguous"), &x, &mut acts)[0]
    }

    // ANCHOR: value_loss
    /// The regression loss L(φ) = (1/2M) Σₘ (net_φ(sₘ) − yₘ)² of the network
    /// with parameters φ on M states and (already standardised) targets, and
    /// its gradient ∇φ L = (1/M) Σₘ (net_φ(sₘ) − yₘ) ∇φ net_φ(sₘ).
    pub fn loss_and_gradient(
        &self,
        params: &Array1<f64>,
        states: &[ArrayView1<'_, f64>],
        targets: &[f64],
    ) -> (f64, Array1<f64>) {
        assert_eq!(states.len(), targets.len(), "one target per state");
        let p = params.as_slice().expect("contiguous parameters");
        let mut grad = Array1::zeros(params.len());
        let g = grad.as_slice_mut().expect("contiguous gradient");
        let (mut loss, mut acts, mut x) = (0.0, Vec::new(), Vec::new());
        let m = states.len().max(1) as f64;
        for (s, y) in states.iter().zip(targets) {
            x.clear();
            x.extend(s.iter());
            let err = self.net.forward(p, &x, &mut acts)[0] - y;
            loss += 0.5 * err * err / m;
            self.net.backward(p, &acts, &[err / m], g);
        }
        (loss, grad)
    }
    // ANCHOR_END: value_loss

    // ANCHOR: regress
    /// Fits V to `targets` at `states`: first moves the shift and scale to the
    /// targets' mean and spread (V keeps its shape and moves with the mean),
    /// then takes the Adam steps on the standardised targets.
    /// Returns the last step's loss, or an error if anything became NaN or infinite.
    pub fn regress(&mut self, states: &[ArrayView1<'_, f64>], targets: &[f64]) -> Result<f64, PgError> {
        if states.is_empty() {
            return Ok(0.0);
        }
        let non_finite = PgError::NonFinite { what: "value function", iteration: 0 };
        let m = targets.len() as f64;
        let mean = targets.iter().sum::<f64>() / m;
        let sd = (targets.iter().map(|y| (y - mean).powi(2)).sum::<f64>() / m).sqrt();
        if !mean.is_finite() || !sd.is_finite() {
            return Err(non_finite);
        }
        self.rescale(mean, sd.max(1e-6 * (1.0 + mean.abs())));
        let standard: Vec<f64> = targets.iter().map(|y| (y - self.shift) / self.scale).collect();
        let (mut loss, mut picked_states, mut picked_targets) = (0.0, Vec::new(), Vec::new());
        for _ in 0..self.steps {
            let (s, y) = if states.len() <= self.minibatch {
                (states, standard.as_slice())
            } else {
                picked_states.clear();
                picked_targets.clear();
                for _ in 0..self.minibatch {
                    let k = self.rng.random_range(0..states.len());
                    picked_states.push(states[k]);
                    picked_targets.push(standard[k]);
                }
                (picked_states.as_slice(), picked_targets.as_slice())
            };
            let (l, grad) = self.loss_and_gradient(&self.params, s, y);
            loss = l;
            // The optimiser ascends; the regression descends.
            self.optimizer.ascend(&mut self.params, &(-grad));
        }
        if !loss.is_finite() || !self.params.iter().all(|p| p.is_finite()) {
            return Err(non_finite);
        }
        Ok(loss)
    }
    // ANCHOR_END: regress

    /// Sets a new shift and scale, rescaling the output layer so that V keeps
    /// its shape and moves by the change in shift: V′(s) = V(s) + shift′ − shift.
    /// When the returns rise by 100, V rises by 100 before the fit starts.
    fn rescale(&mut self, shift: f64, scale: f64) {
        let sizes = self.net.sizes();
        let width = sizes[sizes.len() - 2];
        let n = self.params.len();
        // The output layer is the last `width` weights and one bias.
        let ratio = self.scale / scale;
        self.params.slice_mut(ndarray::s![n - 1 - width..]).mapv_inplace(|w| w * ratio);
        (self.shift, self.scale) = (shift, scale);
    }
}

// ANCHOR: gae
/// Generalised advantage estimation for one trajectory:
/// Âₜ = Σ_{l≥0} (γλ)ˡ δₜ₊ₗ with δₜ = rₜ + γ V(sₜ₊₁) − V(sₜ).
///
/// `values` holds V(s₀), …, V(s_T), one more than `rewards`. After a
/// termination nothing follows, so V(s_T) counts as 0; after a time-limit
/// truncation the episode would have gone on, so V(s_T) stands in for the
/// rewards that were cut off. λ = 0 gives the one-step δₜ; λ = 1 gives the
/// discounted reward-to-go minus V(sₜ) (plus the bootstrap at a truncation).
pub fn gae(rewards: &[f64], values: &[f64], terminated: bool, gamma: f64, lambda: f64) -> Vec<f64> {
    assert_eq!(values.len(), rewards.len() + 1, "V(s₀), …, V(s_T): one more value than rewards");
    let mut out = vec![0.0; rewards.len()];
    let mut next_value = if terminated { 0.0 } else { values[rewards.len()] };
    let mut following = 0.0;
    for t in (0..rewards.len()).rev() {
        let delta = rewards[t] + gamma * next_value - values[t];
        following = delta + gamma * lambda * following;
        out[t] = following;
        next_value = values[t];
    }
    out
}
// ANCHOR_END: gae
