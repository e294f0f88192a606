//! A multilayer perceptron with tanh hidden layers and a linear output layer,
//! with hand-written backpropagation. With no hidden layers it is an affine map.

use crate::rng::PgRng;
use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis};
use rand::RngExt;

/// The buffers of a batched pass: every layer's outputs for all rows, and
/// two scratch matrices for the backward pass. They only ever grow, and are
/// reused from pass to pass, so a pass allocates nothing once they are as
/// large as the largest batch so far.
#[derive(Debug, Clone)]
pub struct MlpBatch {
    /// The rows in use.
    rows: usize,
    /// Each layer's width, input first.
    widths: Vec<usize>,
    /// `acts[0]` holds the inputs, `acts[l]` layer l's outputs, row after row
    /// (the first rows × width entries are in use).
    acts: Vec<Vec<f64>>,
    delta: Vec<f64>,
    back: Vec<f64>,
}

/// The buffers of a batch that is no longer used: the next
/// `MlpBatch::default()` on the same thread takes them, so that a pass in a
/// fresh batch does not allocate (and fault in) its memory again.
#[derive(Debug, Default)]
struct Spare {
    acts: Vec<Vec<f64>>,
    delta: Vec<f64>,
    back: Vec<f64>,
}

thread_local! {
    static SPARE: std::cell::RefCell<Vec<Spare>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Batches' buffers kept per thread for reuse.
const SPARE_BATCHES: usize = 4;

impl Default for MlpBatch {
    fn default() -> Self {
        let spare = SPARE.try_with(|s| s.borrow_mut().pop()).ok().flatten().unwrap_or_default();
        Self { rows: 0, widths: Vec::new(), acts: spare.acts, delta: spare.delta, back: spare.back }
    }
}

impl Drop for MlpBatch {
    fn drop(&mut self) {
        let spare = Spare {
            acts: std::mem::take(&mut self.acts),
            delta: std::mem::take(&mut self.delta),
            back: std::mem::take(&mut self.back),
        };
        let _ = SPARE.try_with(|s| {
            let mut s = s.borrow_mut();
            if s.len() < SPARE_BATCHES {
                s.push(spare);
            }
        });
    }
}

impl MlpBatch {
    /// The network's outputs for every row, one row per input.
    pub fn output(&self) -> ArrayView2<'_, f64> {
        self.layer(self.acts.len().checked_sub(1).expect("forward_batch ran"))
    }

    /// The inputs, one row each.
    pub fn input(&self) -> ArrayView2<'_, f64> {
        self.layer(0)
    }

    /// The number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Forgets every row, keeping the buffers for the next rows.
    pub fn clear(&mut self) {
        self.rows = 0;
    }

    /// Layer l's outputs (l = 0: the inputs).
    fn layer(&self, l: usize) -> ArrayView2<'_, f64> {
        matrix(&self.acts[l], self.rows, self.widths[l])
    }

    /// Copies the rows of `x` after the rows in use, makes room for their
    /// activations in every layer, and returns (first new row, new rows).
    fn push_inputs(&mut self, sizes: &[usize], x: ArrayView2<'_, f64>) -> (usize, usize) {
        if self.widths != sizes {
            self.widths = sizes.to_vec();
            self.rows = 0;
        }
        self.acts.resize_with(sizes.len(), Vec::new);
        let (first, n) = (self.rows, x.nrows());
        for (buf, &width) in self.acts.iter_mut().zip(sizes) {
            matrix_mut(buf, first + n, width);
        }
        let (input, _) = self.new_rows(0, first, n);
        ArrayViewMut2::from_shape((n, sizes[0]), &mut input[..]).expect("new rows").assign(&x);
        (first, n)
    }

    /// Rows first..first + n of layer l's inputs and of its outputs.
    fn new_rows(&mut self, l: usize, first: usize, n: usize) -> (&mut [f64], &mut [f64]) {
        let (w_in, w_out) = (self.widths[l], self.widths.get(l + 1).copied().unwrap_or(0));
        let (below, above) = self.acts.split_at_mut(l + 1);
        let out: &mut [f64] = match above.first_mut() {
            Some(buf) => &mut buf[first * w_out..(first + n) * w_out],
            None => &mut [],
        };
        (&mut below[l][first * w_in..(first + n) * w_in], out)
    }
}

/// Layers with at least this many outputs are computed by [`add_rows`], narrower ones by [`dot_rows`].
pub const WIDE: usize = 8;

/// outₒ = bₒ + Wₒ · x for every row x of `input` (W row-major), each dot
/// product in eight interleaved partial sums; on x86-64 processors with AVX2
/// four lanes per instruction (the same operations, so the same bits).
fn dot_rows(input: &[f64], out: &mut [f64], w: &[f64], bias: &[f64]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor has just been found to support AVX2.
        unsafe { dot_rows_avx2(input, out, w, bias) };
        return;
    }
    dot_rows_portable(input, out, w, bias);
}

#[inline(always)]
fn dot_rows_portable(input: &[f64], out: &mut [f64], w: &[f64], bias: &[f64]) {
    /// Interleaved partial sums of a dot product.
    const LANES: usize = 8;
    let (n_in, n_out) = (w.len() / bias.len(), bias.len());
    let split = n_in - n_in % LANES;
    for (x, o) in input.chunks_exact(n_in).zip(out.chunks_exact_mut(n_out)) {
        for ((oj, row), b) in o.iter_mut().zip(w.chunks_exact(n_in)).zip(bias) {
            let mut acc = [0.0; LANES];
            for (xs, ws) in x[..split].chunks_exact(LANES).zip(row[..split].chunks_exact(LANES)) {
                for k in 0..LANES {
                    acc[k] += xs[k] * ws[k];
                }
            }
            let tail: f64 = x[split..].iter().zip(&row[split..]).map(|(a, b)| a * b).sum();
            let lanes = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
            *oj = b + (lanes + tail);
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn dot_rows_avx2(input: &[f64], out: &mut [f64], w: &[f64], bias: &[f64]) {
    dot_rows_portable(input, out, w, bias);
}

/// out = b + Σᵢ xᵢ (Wᵀ)ᵢ for every row x of `input`; on x86-64 processors with
/// AVX2 four outputs per instruction (the same operations, so the same bits).
fn add_rows(input: &[f64], out: &mut [f64], wt: &[f64], bias: &[f64]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor has just been found to support AVX2.
        unsafe { add_rows_avx2(input, out, wt, bias) };
        return;
    }
    add_rows_portable(input, out, wt, bias);
}

#[inline(always)]
fn add_rows_portable(input: &[f64], out: &mut [f64], wt: &[f64], bias: &[f64]) {
    /// Outputs kept in registers at a time.
    const BLOCK: usize = 8;
    let (n_in, n_out) = (wt.len() / bias.len(), bias.len());
    for (x, o) in input.chunks_exact(n_in).zip(out.chunks_exact_mut(n_out)) {
        // Each output is bₒ + x₀ W₀ₒ + x₁ W₁ₒ + …, added in that order; a block
        // of outputs is summed in registers and stored once.
        let mut j = 0;
        while j + BLOCK <= n_out {
            let mut acc = [0.0; BLOCK];
            acc.copy_from_slice(&bias[j..j + BLOCK]);
            for (i, xi) in x.iter().enumerate() {
                let w = &wt[i * n_out + j..i * n_out + j + BLOCK];
                for k in 0..BLOCK {
                    acc[k] += xi * w[k];
                }
            }
            o[j..j + BLOCK].copy_from_slice(&acc);
            j += BLOCK;
        }
        for (jj, oj) in o.iter_mut().enumerate().skip(j) {
            *oj = x.iter().enumerate().fold(bias[jj], |a, (i, xi)| a + xi * wt[i * n_out + jj]);
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn add_rows_avx2(input: &[f64], out: &mut [f64], wt: &[f64], bias: &[f64]) {
    add_rows_portable(input, out, wt, bias);
}

/// The first `rows × cols` entries of `v` as a matrix.
fn matrix(v: &[f64], rows: usize, cols: usize) -> ArrayView2<'_, f64> {
    ArrayView2::from_shape((rows, cols), &v[..rows * cols]).expect("a buffer holds its rows")
}

/// The first `rows × cols` entries of `v` as a matrix, growing `v` if it is too short.
fn matrix_mut(v: &mut Vec<f64>, rows: usize, cols: usize) -> ArrayViewMut2<'_, f64> {
    if v.len() < rows * cols {
        v.resize(rows * cols, 0.0);
    }
    ArrayViewMut2::from_shape((rows, cols), &mut v[..rows * cols]).expect("a buffer holds its rows")
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
        batch.clear();
        self.forward_append(params, x, batch);
    }

    /// The forward pass for the rows of `x`, appended after the rows already
    /// in `batch` (whose activations stay as they are).
    pub fn forward_append(&self, params: &[f64], x: ArrayView2<'_, f64>, batch: &mut MlpBatch) {
        let (first, n) = batch.push_inputs(&self.sizes, x);
        for l in 0..self.sizes.len() - 1 {
            let (n_in, n_out) = (self.sizes[l], self.sizes[l + 1]);
            let (input, out) = batch.new_rows(l, first, n);
            let input = ArrayView2::from_shape((n, n_in), input).expect("new rows");
            let out = ArrayViewMut2::from_shape((n, n_out), out).expect("new rows");
            self.layer_batch(params, l, input, out);
        }
        batch.rows = first + n;
    }

    /// Layer l for every row: out = input Wₗᵀ + bₗ, then tanh unless l is the output layer.
    fn layer_batch(
        &self,
        params: &[f64],
        l: usize,
        input: ArrayView2<'_, f64>,
        mut out: ArrayViewMut2<'_, f64>,
    ) {
        let (w, b, _) = self.layer(params, l);
        out.assign(&ndarray::ArrayView1::from(b).broadcast((input.nrows(), b.len())).expect("bias row"));
        general_mat_mul(1.0, &input, &w.t(), 1.0, &mut out);
        if l + 2 < self.sizes.len() {
            crate::fastmath::tanh_in_place(out.as_slice_mut().expect("a layer's rows are contiguous"));
        }
    }
    // ANCHOR_END: forward_batch

    // ANCHOR: forward_few
    /// A copy of `params` for [`Mlp::forward_append_few`]: the weight
    /// matrices of layers with at least [`WIDE`] outputs stored input-major
    /// (Wₗᵀ, `in × out`), the narrower ones as they are.
    pub fn transpose_weights(&self, params: &[f64], out: &mut Vec<f64>) {
        out.clear();
        out.extend_from_slice(params);
        for l in 0..self.sizes.len() - 1 {
            let (w, _, offset) = self.layer(params, l);
            let n_out = self.sizes[l + 1];
            if n_out < WIDE {
                continue;
            }
            for ((o, i), &v) in w.indexed_iter() {
                out[offset + i * n_out + o] = v;
            }
        }
    }

    /// [`Mlp::forward_append`] for a few rows (one environment step of a
    /// handful of episodes), with the weights of [`Mlp::transpose_weights`],
    /// row by row. A wide layer computes out = bₗ + Σᵢ xᵢ (Wₗᵀ)ᵢ, adding
    /// contiguous rows of Wₗᵀ, which runs over the outputs in vector
    /// registers; a narrow one (the logits) takes one dot product per output.
    /// Neither packs the operands, which makes a matrix product fast only on
    /// large batches.
    pub fn forward_append_few(&self, transposed: &[f64], x: ArrayView2<'_, f64>, batch: &mut MlpBatch) {
        let (first, n) = batch.push_inputs(&self.sizes, x);
        let layers = self.sizes.len() - 1;
        for l in 0..layers {
            let (wt, bias, _) = self.layer(transposed, l);
            let wt = wt.to_slice().expect("a layer's weights are contiguous");
            let (input, out) = batch.new_rows(l, first, n);
            if bias.len() >= WIDE {
                add_rows(input, out, wt, bias);
            } else {
                dot_rows(input, out, wt, bias);
            }
            if l + 1 < layers {
                crate::fastmath::tanh_in_place(out);
            }
        }
        batch.rows = first + n;
    }
    // ANCHOR_END: forward_few

    // ANCHOR: backward_batch
    /// Adds Σₘ (∂ outputₘ / ∂ params)ᵀ grad_outₘ over every row m to `grad`,
    /// with the activations of the last [`Mlp::forward_batch`]. With Z̄ₗ₊₁ the
    /// gradient with respect to layer l's pre-activations Zₗ₊₁ = Aₗ Wₗᵀ + bₗ:
    /// ∇Wₗ += Z̄ₗ₊₁ᵀ Aₗ and ∇bₗ += Σₘ (Z̄ₗ₊₁)ₘ, then Z̄ₗ = (Z̄ₗ₊₁ Wₗ) ⊙ (1 − Aₗ²)
    /// for the layer below: three matrix products' worth of work per layer.
    pub fn backward_batch(
        &self,
        params: &[f64],
        batch: &mut MlpBatch,
        grad_out: ArrayView2<'_, f64>,
        grad: &mut [f64],
    ) {
        let layers = self.sizes.len() - 1;
        let rows = grad_out.nrows();
        assert_eq!(rows, batch.rows, "one output gradient per row of the forward pass");
        let (mut delta, mut back) = (std::mem::take(&mut batch.delta), std::mem::take(&mut batch.back));
        matrix_mut(&mut delta, rows, self.output()).assign(&grad_out);
        for l in (0..layers).rev() {
            let (w, _, offset) = self.layer(params, l);
            let (n_in, n_out) = (self.sizes[l], self.sizes[l + 1]);
            let (input, d) = (batch.layer(l), matrix(&delta, rows, n_out));
            let mut grad_w =
                ArrayViewMut2::from_shape((n_out, n_in), &mut grad[offset..offset + n_in * n_out])
                    .expect("layer shape");
            general_mat_mul(1.0, &d.t(), &input, 1.0, &mut grad_w);
            for (g, s) in
                grad[offset + n_in * n_out..offset + n_in * n_out + n_out].iter_mut().zip(d.sum_axis(Axis(0)))
            {
                *g += s;
            }
            if l > 0 {
                let mut below = matrix_mut(&mut back, rows, n_in);
                general_mat_mul(1.0, &d, &w, 0.0, &mut below);
                // Through tanh: d tanh(z)/dz = 1 − tanh(z)².
                ndarray::Zip::from(&mut below).and(&input).for_each(|d, &a| *d *= 1.0 - a * a);
                std::mem::swap(&mut delta, &mut back);
            }
        }
        (batch.delta, batch.back) = (delta, back);
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
        let rows = batch.rows;
        let mut moved: Option<Array2<f64>> = None;
        for l in 0..layers {
            let (w, _, _) = self.layer(params, l);
            let (dw, db, _) = self.layer(tangent, l);
            let mut out =
                ndarray::ArrayView1::from(db).broadcast((rows, db.len())).expect("bias row").to_owned();
            general_mat_mul(1.0, &batch.layer(l), &dw.t(), 1.0, &mut out);
            if let Some(input) = &moved {
                general_mat_mul(1.0, input, &w.t(), 1.0, &mut out);
            }
            if l + 1 < layers {
                ndarray::Zip::from(&mut out).and(&batch.layer(l + 1)).for_each(|d, &a| *d *= 1.0 - a * a);
            }
            moved = Some(out);
        }
        moved.expect("an MLP has an output layer")
    }
    // ANCHOR_END: jvp_batch
}
