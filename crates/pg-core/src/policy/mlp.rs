//! A multilayer perceptron with tanh hidden layers and a linear output layer,
//! with hand-written backpropagation. With no hidden layers it is an affine map.

use crate::rng::PgRng;
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
    /// The weights with wide layers transposed, for [`Mlp::forward_append`].
    transposed: Vec<f64>,
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
        let (acts, delta, back) = (spare.acts, spare.delta, spare.back);
        Self { rows: 0, widths: Vec::new(), acts, delta, back, transposed: Vec::new() }
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
    let (n_in, n_out) = (wt.len() / bias.len(), bias.len());
    for (x, o) in input.chunks_exact(n_in).zip(out.chunks_exact_mut(n_out)) {
        // Each output is bₒ + x₀ W₀ₒ + x₁ W₁ₒ + …, added in that order; a block
        // of outputs is summed in registers and stored once (blocks of 32,
        // enough independent sums to keep the adder busy, then of 8, then single).
        let mut j = 0;
        while j + 32 <= n_out {
            add_block::<32>(x, &mut o[j..j + 32], wt, &bias[j..j + 32], j, n_out);
            j += 32;
        }
        while j + 8 <= n_out {
            add_block::<8>(x, &mut o[j..j + 8], wt, &bias[j..j + 8], j, n_out);
            j += 8;
        }
        for (jj, oj) in o.iter_mut().enumerate().skip(j) {
            *oj = x.iter().enumerate().fold(bias[jj], |a, (i, xi)| a + xi * wt[i * n_out + jj]);
        }
    }
}

/// Outputs j..j+B of one row: bias, then x₀ W₀ + x₁ W₁ + … added in order, in registers.
#[inline(always)]
fn add_block<const B: usize>(x: &[f64], o: &mut [f64], wt: &[f64], bias: &[f64], j: usize, n_out: usize) {
    let mut acc = [0.0; B];
    acc.copy_from_slice(bias);
    for (i, xi) in x.iter().enumerate() {
        let w = &wt[i * n_out + j..i * n_out + j + B];
        for k in 0..B {
            acc[k] += xi * w[k];
        }
    }
    o.copy_from_slice(&acc);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn add_rows_avx2(input: &[f64], out: &mut [f64], wt: &[f64], bias: &[f64]) {
    add_rows_portable(input, out, wt, bias);
}

/// g += dᵀ x for row-major d (rows × n_out), x (rows × n_in) and g (n_out × n_in),
/// the rows' terms added in a fixed order whatever the processor; on x86-64
/// processors with AVX2 four entries per instruction (the same operations,
/// so the same bits).
fn add_outer_rows(d: &[f64], x: &[f64], g: &mut [f64], n_in: usize) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor has just been found to support AVX2.
        unsafe { add_outer_rows_avx2(d, x, g, n_in) };
        return;
    }
    add_outer_rows_portable(d, x, g, n_in);
}

#[inline(always)]
fn add_outer_rows_portable(d: &[f64], x: &[f64], g: &mut [f64], n_in: usize) {
    let n_out = g.len() / n_in;
    if n_in >= n_out {
        outer_rows(d, x, g, n_out, n_in);
    } else {
        // The same sums, accumulated in gᵀ so that the inner loop runs over the longer side.
        let mut gt: Vec<f64> = (0..n_in * n_out).map(|k| g[(k % n_out) * n_in + k / n_out]).collect();
        outer_rows(x, d, &mut gt, n_in, n_out);
        for (k, v) in gt.into_iter().enumerate() {
            g[(k % n_out) * n_in + k / n_out] = v;
        }
    }
}

/// g += aᵀ b for row-major a (rows × na) and b (rows × nb): four rows at a
/// time, gᵢⱼ += (a₀ᵢ b₀ⱼ + a₁ᵢ b₁ⱼ) + (a₂ᵢ b₂ⱼ + a₃ᵢ b₃ⱼ), then the rows left one by one.
#[inline(always)]
fn outer_rows(a: &[f64], b: &[f64], g: &mut [f64], na: usize, nb: usize) {
    let rows = a.len() / na;
    let quads = rows / 4;
    for q in 0..quads {
        let (a4, b4) = (&a[4 * q * na..4 * (q + 1) * na], &b[4 * q * nb..4 * (q + 1) * nb]);
        let (b0, b1, b2, b3) = (&b4[..nb], &b4[nb..2 * nb], &b4[2 * nb..3 * nb], &b4[3 * nb..]);
        for (i, gi) in g.chunks_exact_mut(nb).enumerate() {
            let (c0, c1, c2, c3) = (a4[i], a4[na + i], a4[2 * na + i], a4[3 * na + i]);
            for j in 0..nb {
                gi[j] += (c0 * b0[j] + c1 * b1[j]) + (c2 * b2[j] + c3 * b3[j]);
            }
        }
    }
    for (am, bm) in a.chunks_exact(na).zip(b.chunks_exact(nb)).skip(4 * quads) {
        for (&ai, gi) in am.iter().zip(g.chunks_exact_mut(nb)) {
            for (gij, &bj) in gi.iter_mut().zip(bm) {
                *gij += ai * bj;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn add_outer_rows_avx2(d: &[f64], x: &[f64], g: &mut [f64], n_in: usize) {
    add_outer_rows_portable(d, x, g, n_in);
}

/// A layer's weights W (out × in) as Wᵀ, row-major (in × out).
fn transposed(w: ArrayView2<'_, f64>) -> Vec<f64> {
    w.t().iter().copied().collect()
}

/// The entries of a row-major matrix view.
fn contiguous<'a>(m: &'a ArrayView2<'_, f64>) -> &'a [f64] {
    m.as_slice().expect("a row-major matrix")
}

/// The entries of a row-major mutable matrix view.
fn contiguous_mut<'a>(m: &'a mut ArrayViewMut2<'_, f64>) -> &'a mut [f64] {
    m.as_slice_mut().expect("a row-major matrix")
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

thread_local! {
    static MULTIPLY_ADDS: std::cell::Cell<f64> = const { std::cell::Cell::new(0.0) };
}

/// The multiply-adds of this thread's network passes so far, counted per
/// parameter and row: 1 for a forward pass, 2 for a backward pass or a
/// Jacobian-vector product. The work an update declares (chapter 6's
/// `Setup::work`) is tested against this count.
pub fn multiply_adds() -> f64 {
    MULTIPLY_ADDS.with(|c| c.get())
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

    /// Adds `per_param` multiply-adds per parameter for each of `rows` rows to [`multiply_adds`].
    fn count(&self, rows: usize, per_param: f64) {
        let work = per_param * rows as f64 * self.num_params() as f64;
        MULTIPLY_ADDS.with(|c| c.set(c.get() + work));
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
        self.count(1, 1.0);
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
        self.count(1, 2.0);
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
    /// Aₗ₊₁ = tanh(Aₗ Wₗᵀ + bₗ) (no tanh on the output layer), one pass of
    /// the row kernels per layer. The outputs are in [`MlpBatch::output`].
    pub fn forward_batch(&self, params: &[f64], x: ArrayView2<'_, f64>, batch: &mut MlpBatch) {
        batch.clear();
        self.forward_append(params, x, batch);
    }

    /// The forward pass for the rows of `x`, appended after the rows already
    /// in `batch` (whose activations stay as they are): [`Mlp::forward_append_few`]'s
    /// arithmetic, so a row's outputs have the same bits whichever pass computed them.
    pub fn forward_append(&self, params: &[f64], x: ArrayView2<'_, f64>, batch: &mut MlpBatch) {
        let mut transposed = std::mem::take(&mut batch.transposed);
        self.transpose_weights(params, &mut transposed);
        self.forward_append_few(&transposed, x, batch);
        batch.transposed = transposed;
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
        self.count(x.nrows(), 1.0);
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
        self.count(grad_out.nrows(), 2.0);
        let layers = self.sizes.len() - 1;
        let rows = grad_out.nrows();
        assert_eq!(rows, batch.rows, "one output gradient per row of the forward pass");
        if rows == 0 {
            return; // no rows, nothing to add (and no forward pass may have set the batch up)
        }
        let (mut delta, mut back) = (std::mem::take(&mut batch.delta), std::mem::take(&mut batch.back));
        matrix_mut(&mut delta, rows, self.output()).assign(&grad_out);
        for l in (0..layers).rev() {
            let (w, _, offset) = self.layer(params, l);
            let (n_in, n_out) = (self.sizes[l], self.sizes[l + 1]);
            let (input, d) = (batch.layer(l), matrix(&delta, rows, n_out));
            let grad_w = &mut grad[offset..offset + n_in * n_out];
            add_outer_rows(contiguous(&d), contiguous(&input), grad_w, n_in);
            for (g, s) in
                grad[offset + n_in * n_out..offset + n_in * n_out + n_out].iter_mut().zip(d.sum_axis(Axis(0)))
            {
                *g += s;
            }
            if l > 0 {
                let mut below = matrix_mut(&mut back, rows, n_in);
                let w = w.to_slice().expect("a layer's weights are contiguous");
                add_rows(contiguous(&d), contiguous_mut(&mut below), w, &vec![0.0; n_in]);
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
        self.count(batch.rows, 2.0);
        let layers = self.sizes.len() - 1;
        let rows = batch.rows;
        let mut moved: Option<Array2<f64>> = None;
        for l in 0..layers {
            let (w, _, _) = self.layer(params, l);
            let (dw, db, _) = self.layer(tangent, l);
            let n_out = db.len();
            let mut out = Array2::zeros((rows, n_out));
            add_rows(contiguous(&batch.layer(l)), contiguous_mut(&mut out.view_mut()), &transposed(dw), db);
            if let Some(input) = &moved {
                let mut through = Array2::zeros((rows, n_out));
                let (wt, zero) = (transposed(w), vec![0.0; n_out]);
                add_rows(contiguous(&input.view()), contiguous_mut(&mut through.view_mut()), &wt, &zero);
                out += &through;
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
