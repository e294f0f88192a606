//! A learned state value V(s) and generalised advantage estimation.
//!
//! V is a small network (an MLP, or an affine map with no hidden layers)
//! regressed on the value targets of each batch after the policy update.
//! Its outputs are kept in the scale of the returns by a shift and a scale
//! that follow the targets' mean and spread, so the network itself always
//! fits numbers near zero with unit spread, whether the returns are near 1
//! or near 500.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use pg_core::error::{PgError, at_least_one};
use pg_core::optim::{Adam, Optimizer};
use pg_core::policy::{Mlp, MlpBatch};
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
        self.predict_many(&[obs])[0]
    }

    /// V(s) of every state, in one batched pass.
    pub fn predict_many(&self, states: &[ArrayView1<'_, f64>]) -> Vec<f64> {
        let mut work = MlpBatch::default();
        self.net.forward_batch(self.params.as_slice().expect("contiguous"), stack(states).view(), &mut work);
        work.output().column(0).iter().map(|y| self.shift + self.scale * y).collect()
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
        let mut grad = Array1::zeros(params.len());
        let loss = self.add_loss_gradient(
            params,
            stack(states).view(),
            targets,
            &mut grad,
            &mut MlpBatch::default(),
        );
        (loss, grad)
    }

    /// [`ValueFunction::loss_and_gradient`] on the rows of `states`, one
    /// batched forward and backward pass; adds the gradient to `grad`.
    fn add_loss_gradient(
        &self,
        params: &Array1<f64>,
        states: ArrayView2<'_, f64>,
        targets: &[f64],
        grad: &mut Array1<f64>,
        work: &mut MlpBatch,
    ) -> f64 {
        assert_eq!(states.nrows(), targets.len(), "one target per state");
        let p = params.as_slice().expect("contiguous parameters");
        self.net.forward_batch(p, states, work);
        let m = targets.len().max(1) as f64;
        let err = Array2::from_shape_fn((targets.len(), 1), |(i, _)| work.output()[[i, 0]] - targets[i]);
        let loss = err.iter().map(|e| 0.5 * e * e / m).sum();
        self.net.backward_batch(p, work, (err / m).view(), grad.as_slice_mut().expect("contiguous gradient"));
        loss
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
        let all = stack(states);
        let standard: Vec<f64> = targets.iter().map(|y| (y - self.shift) / self.scale).collect();
        let size = self.minibatch.min(states.len());
        let (mut picked, mut picked_targets) = (Array2::zeros((size, all.ncols())), vec![0.0; size]);
        let (mut work, mut grad, mut loss) = (MlpBatch::default(), Array1::zeros(self.params.len()), 0.0);
        for _ in 0..self.steps {
            grad.fill(0.0);
            loss = if size == states.len() {
                self.add_loss_gradient(&self.params, all.view(), &standard, &mut grad, &mut work)
            } else {
                for (mut row, y) in picked.rows_mut().into_iter().zip(&mut picked_targets) {
                    let k = self.rng.random_range(0..states.len());
                    row.assign(&all.row(k));
                    *y = standard[k];
                }
                self.add_loss_gradient(&self.params, picked.view(), &picked_targets, &mut grad, &mut work)
            };
            // The optimiser ascends; the regression descends.
            grad.mapv_inplace(|g| -g);
            self.optimizer.ascend(&mut self.params, &grad);
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

/// The states as the rows of one matrix.
fn stack(states: &[ArrayView1<'_, f64>]) -> Array2<f64> {
    let dim = states.first().map_or(0, |s| s.len());
    let mut out = Array2::zeros((states.len(), dim));
    for (mut row, s) in out.rows_mut().into_iter().zip(states) {
        row.assign(s);
    }
    out
}

// ANCHOR: gae
/// Generalised advantage estimation for one trajectory:
/// Âₜ = Σ_{l≥0} (γλ)ˡ eₜ₊ₗ with the one-step error eₜ = rₜ + γ V(sₜ₊₁) − V(sₜ).
///
/// `values` holds V(s₀), …, V(s_T), one more than `rewards`. After a
/// termination nothing follows, so V(s_T) counts as 0; after a time-limit
/// truncation the episode would have gone on, so V(s_T) stands in for the
/// rewards that were cut off. λ = 0 gives the one-step eₜ; λ = 1 gives the
/// discounted reward-to-go minus V(sₜ) (plus the bootstrap at a truncation).
pub fn gae(rewards: &[f64], values: &[f64], terminated: bool, gamma: f64, lambda: f64) -> Vec<f64> {
    assert_eq!(values.len(), rewards.len() + 1, "V(s₀), …, V(s_T): one more value than rewards");
    let mut out = vec![0.0; rewards.len()];
    let mut next_value = if terminated { 0.0 } else { values[rewards.len()] };
    let mut following = 0.0;
    for t in (0..rewards.len()).rev() {
        let error = rewards[t] + gamma * next_value - values[t];
        following = error + gamma * lambda * following;
        out[t] = following;
        next_value = values[t];
    }
    out
}
// ANCHOR_END: gae
