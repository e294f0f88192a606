//! A multilayer perceptron with tanh hidden layers and a linear output layer,
//! with hand-written backpropagation. With no hidden layers it is an affine map.

use crate::rng::PgRng;
use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis};
use rand::RngExt;

/// The buffers of a batched pass: every layer's outputs for all rows, and
/// two scratch matrices for the backward pass. They are sized on first use
/// and reused while the batch keeps its shape, so a pass allocates nothing
/// per step.
#[derive(Debug, Clone, Default)]
pub struct MlpBatch {
    /// `acts[0]` holds the inputs, `acts[l]` layer l's outputs (one row per input).
    acts: Vec<Array2<f64>>,
    delta: Array2<f64>,
    back: Array2<f64>,
}

impl MlpBatch {
    /// The network's outputs of the last `forward_batch`, one row per input.
    pub fn output(&self) -> ArrayView2<'_, f64> {
        self.acts.last().expect("forward_batch ran").view()
    }
}

thread_local! {
    /// Per-thread activation buffers for single-row passes (sampling an
    /// action at every environment step), so that those allocate nothing.
    static SCRATCH: std::cell::RefCell<Vec<Vec<f64>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's activation buffers (fresh ones if they are
/// already in use further up the stack).
pub fn with_scratch<R>(f: impl FnOnce(&mut Vec<Vec<f64>>) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut acts) => f(&mut acts),
        Err(_) => f(&mut Vec::new()),
    })
}

/// Resizes `m` to `rows` × `cols` if it has another shape (contents are overwritten by the caller).
fn ensure_shape(m: &mut Array2<f64>, rows: usize, cols: usize) {
    if m.dim() != (rows, cols) {
        *m = Array2::zeros((rows, cols));
    }
}

/// The shape of an MLP; its parameters live in the owning policy's flat vector.
///
/// Layout, layer by layer: the weight matrix (`out x in`, row-major), then the bias.
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp {
    sizes: Vec<usize>,
}

impl Mlp {
    /// `input`, then the hidden widths, then `output`.
    pub fn new(input: usize, hidden: &[usize], output: usize) -> Self {
        let mut sizes = vec![input];
        sizes.extend_from_slice(hidden);
        sizes.push(output);
        Self { sizes }
    }

    /// The layer widths, input first.
    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }

    /// The input width.
    pub fn input(&self) -> usize {
        self.sizes[0]
    }

    /// The output width.
    pub fn output(&self) -> usize {
        *self.sizes.last().expect("an MLP has an output layer")
    }

    /// The number of parameters.
    pub fn num_params(&self) -> usize {
        self.sizes.windows(2).map(|w| w[1] * (w[0] + 1)).sum()
    }

    /// Initial parameters: Glorot-uniform hidden layers, an output layer
    /// scaled by `output_scale` (small values start near a uniform policy), zero biases.
    pub fn init(&self, output_scale: f64, rng: &mut PgRng) -> Vec<f64> {
        let mut p = Vec::with_capacity(self.num_params());
        let layers = self.sizes.len() - 1;
        for (l, w) in self.sizes.windows(2).enumerate() {
            let (fan_in, fan_out) = (w[0], w[1]);
            let limit = (6.0 / (fan_in + fan_out) as f64).sqrt();
            let scale = if l + 1 == layers { output_scale } else { 1.0 };
            for _ in 0..fan_in * fan_out {
                p.push(scale * rng.random_range(-limit..limit));
            }
            p.extend(std::iter::repeat_n(0.0, fan_out));
        }
        p
    }

    /// Runs the network; `acts` receives every layer's output (input first)
    /// for a later `backward`. Returns the output.
    pub fn forward<'a>(&self, params: &[f64], x: &[f64], acts: &'a mut Vec<Vec<f64>>) -> &'a [f64] {
        debug_assert_eq!(params.len(), self.num_params());
        let layers = self.sizes.len() - 1;
        // The buffers of an earlier call are reused: nothing is allocated once they have grown.
        acts.resize_with(layers + 1, Vec::new);
        acts[0].clear();
        acts[0].extend_from_slice(x);
        let mut offset = 0;
        for (l, w) in self.sizes.windows(2).enumerate() {
            let (n_in, n_out) = (w[0], w[1]);
            let weights = &params[offset..offset + n_in * n_out];
            let bias = &params[offset + n_in * n_out..offset + n_in * n_out + n_out];
            offset += n_out * (n_in + 1);
            let (done, rest) = acts.split_at_mut(l + 1);
            let (input, out) = (&done[l], &mut rest[0]);
            out.clear();
            out.extend((0..n_out).map(|o| {
                let row = &weights[o * n_in..(o + 1) * n_in];
                bias[o] + row.iter().zip(input).map(|(w, x)| w * x).sum::<f64>()
            }));
            if l + 1 < layers {
                crate::fastmath::tanh_in_place(out);
            }
        }
        acts.last().expect("forward produced an output")
    }

    /// Adds `d output / d params` contracted with `grad_out` to `grad`
    /// (that is, the vector-Jacobian product), using the activations of `forward`.
    pub fn backward(&self, params: &[f64], acts: &[Vec<f64>], grad_out: &[f64], grad: &mut [f64]) {
        let layers = self.sizes.len() - 1;
        // Offsets of each layer's block in the flat vector.
        let mut offsets = Vec::with_capacity(layers);
        let mut offset = 0;
        for w in self.sizes.windows(2) {
            offsets.push(offset);
            offset += w[1] * (w[0] + 1);
        }
        // delta = d objective / d (pre-activation of the current layer).
        let mut delta = grad_out.to_vec();
        for l in (0..layers).rev() {
            let (n_in, n_out) = (self.sizes[l], self.sizes[l + 1]);
            let off = offsets[l];
            let input = &acts[l];
            for o in 0..n_out {
                let d = delta[o];
                let row = &mut grad[off + o * n_in..off + (o + 1) * n_in];
                row.iter_mut().zip(input).for_each(|(g, x)| *g += d * x);
                grad[off + n_in * n_out + o] += d;
            }
            if l > 0 {
                let weights = &params[off..off + n_in * n_out];
                // Through the weights, then through tanh: d tanh(z)/dz = 1 - tanh(z)^2.
                delta = (0..n_in)
                    .map(|i| {
                        let back: f64 = (0..n_out).map(|o| weights[o * n_in + i] * delta[o]).sum();
                        back * (1.0 - input[i] * input[i])
                    })
                    .collect();
            }
        }
    }

    /// The weight matrix (`out × in`) and bias of layer `l` in `params`, and the offset of the layer's block.
    fn layer<'a>(&self, params: &'a [f64], l: usize) -> (ArrayView2<'a, f64>, &'a [f64], usize) {
        let offset: usize = self.sizes.windows(2).take(l).map(|w| w[1] * (w[0] + 1)).sum();
        let (n_in, n_out) = (self.sizes[l], self.sizes[l + 1]);
        let w = ArrayView2::from_shape((n_out, n_in), &params[offset..offset + n_in * n_out])
            .expect("layer shape");
        (w, &params[offset + n_in * n_out..offset + n_in * n_out + n_out], offset)
    }

    // ANCHOR: forward_batch
    /// The forward pass for every row of `x` at once: layer by layer,
    /// Aₗ₊₁ = tanh(Aₗ Wₗᵀ + bₗ) (no tanh on the output layer), one matrix
    /// product per layer. The outputs are in [`MlpBatch::output`].
    pub fn forward_batch(&self, params: &[f64], x: ArrayView2<'_, f64>, batch: &mut MlpBatch) {
        let rows = x.nrows();
        let layers = self.sizes.len() - 1;
        batch.acts.resize_with(layers + 1, Default::default);
        ensure_shape(&mut batch.acts[0], rows, self.sizes[0]);
        batch.acts[0].assign(&x);
        for l in 0..layers {
            let (w, b, _) = self.layer(params, l);
            let (done, rest) = batch.acts.split_at_mut(l + 1);
            let out = &mut rest[0];
            ensure_shape(out, rows, self.sizes[l + 1]);
            out.assign(&ndarray::ArrayView1::from(b).broadcast((rows, b.len())).expect("bias row"));
            general_mat_mul(1.0, &done[l], &w.t(), 1.0, out);
            if l + 1 < layers {
                crate::fastmath::tanh_in_place(out.as_slice_mut().expect("a fresh matrix is contiguous"));
            }
        }
    }
    // ANCHOR_END: forward_batch

    // ANCHOR: backward_batch
    /// Adds Σₘ (∂ outputₘ / ∂ params)ᵀ grad_outₘ over every row m to `grad`,
    /// with the activations of the last [`Mlp::forward_batch`]. Per layer,
    /// ∇Wₗ += Δᵀ Aₗ and ∇bₗ += Σₘ Δₘ, then Δ ← (Δ Wₗ) ⊙ (1 − Aₗ²) for the
    /// layer below: three matrix products' worth of work per layer.
    pub fn backward_batch(
        &self,
        params: &[f64],
        batch: &mut MlpBatch,
        grad_out: ArrayView2<'_, f64>,
        grad: &mut [f64],
    ) {
        let layers = self.sizes.len() - 1;
        let rows = grad_out.nrows();
        ensure_shape(&mut batch.delta, rows, self.output());
        batch.delta.assign(&grad_out);
        for l in (0..layers).rev() {
            let (w, _, offset) = self.layer(params, l);
            let (n_in, n_out) = (self.sizes[l], self.sizes[l + 1]);
            let input = &batch.acts[l];
            let mut grad_w =
                ArrayViewMut2::from_shape((n_out, n_in), &mut grad[offset..offset + n_in * n_out])
                    .expect("layer shape");
            general_mat_mul(1.0, &batch.delta.t(), input, 1.0, &mut grad_w);
            for (g, d) in grad[offset + n_in * n_out..offset + n_in * n_out + n_out]
                .iter_mut()
                .zip(batch.delta.sum_axis(Axis(0)))
            {
                *g += d;
            }
            if l > 0 {
                ensure_shape(&mut batch.back, rows, n_in);
                general_mat_mul(1.0, &batch.delta, &w, 0.0, &mut batch.back);
                // Through tanh: d tanh(z)/dz = 1 − tanh(z)².
                ndarray::Zip::from(&mut batch.back).and(input).for_each(|d, &a| *d *= 1.0 - a * a);
                std::mem::swap(&mut batch.delta, &mut batch.back);
            }
        }
    }
    // ANCHOR_END: backward_batch

    // ANCHOR: jvp_batch
    /// The Jacobian-vector product: how every row's output moves when the
    /// parameters move along `tangent`, (∂ outputₘ / ∂ params) · v, with the
    /// activations of the last [`Mlp::forward_batch`]. Forward mode, layer by
    /// layer: Żₗ₊₁ = Aₗ Ẇₗᵀ + Ȧₗ Wₗᵀ + ḃₗ, and Ȧₗ₊₁ = (1 − Aₗ₊₁²) ⊙ Żₗ₊₁
    /// through tanh (the inputs do not move: Ȧ₀ = 0).
    pub fn jvp_batch(&self, params: &[f64], batch: &MlpBatch, tangent: &[f64]) -> Array2<f64> {
        let layers = self.sizes.len() - 1;
        let rows = batch.acts[0].nrows();
        let mut moved: Option<Array2<f64>> = None;
        for l in 0..layers {
            let (w, _, _) = self.layer(params, l);
            let (dw, db, _) = self.layer(tangent, l);
            let mut out =
                ndarray::ArrayView1::from(db).broadcast((rows, db.len())).expect("bias row").to_owned();
            general_mat_mul(1.0, &batch.acts[l], &dw.t(), 1.0, &mut out);
            if let Some(input) = &moved {
                general_mat_mul(1.0, input, &w.t(), 1.0, &mut out);
            }
            if l + 1 < layers {
                ndarray::Zip::from(&mut out).and(&batch.acts[l + 1]).for_each(|d, &a| *d *= 1.0 - a * a);
            }
            moved = Some(out);
        }
        moved.expect("an MLP has an output layer")
    }
    // ANCHOR_END: jvp_batch
}
