//! A multilayer perceptron with tanh hidden layers and a linear output layer,
//! with hand-written backpropagation. With no hidden layers it is an affine map.

use crate::rng::PgRng;
use rand::RngExt;

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
        acts.clear();
        acts.push(x.to_vec());
        let layers = self.sizes.len() - 1;
        let mut offset = 0;
        for (l, w) in self.sizes.windows(2).enumerate() {
            let (n_in, n_out) = (w[0], w[1]);
            let weights = &params[offset..offset + n_in * n_out];
            let bias = &params[offset + n_in * n_out..offset + n_in * n_out + n_out];
            offset += n_out * (n_in + 1);
            let input = &acts[l];
            let mut out: Vec<f64> = (0..n_out)
                .map(|o| {
                    let row = &weights[o * n_in..(o + 1) * n_in];
                    bias[o] + row.iter().zip(input).map(|(w, x)| w * x).sum::<f64>()
                })
                .collect();
            if l + 1 < layers {
                out.iter_mut().for_each(|v| *v = v.tanh());
            }
            acts.push(out);
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
}
