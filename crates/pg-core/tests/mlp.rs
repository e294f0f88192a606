//! Every forward pass of the MLP against the definition, written out here
//! one multiplication at a time: aₗ₊₁ = tanh(Wₗ aₗ + bₗ) with the standard
//! library's tanh, no tanh on the output layer. Widths reach past 16, so the
//! row-at-a-time passes' eight interleaved partial sums, their tails and the
//! eight-output blocks of wide layers all run.

use ndarray::{Array1, Array2, s};
use pg_core::policy::{Mlp, MlpBatch};
use pg_core::seeded;
use proptest::prelude::*;

/// The network's output for one input, from the definition.
fn reference(sizes: &[usize], params: &[f64], x: &[f64]) -> Vec<f64> {
    let mut a = x.to_vec();
    let mut offset = 0;
    for (l, w) in sizes.windows(2).enumerate() {
        let (n_in, n_out) = (w[0], w[1]);
        let next: Vec<f64> = (0..n_out)
            .map(|o| {
                let mut z = params[offset + n_in * n_out + o];
                for (i, ai) in a.iter().enumerate() {
                    z += params[offset + o * n_in + i] * ai;
                }
                if l + 2 < sizes.len() { z.tanh() } else { z }
            })
            .collect();
        offset += n_out * (n_in + 1);
        a = next;
    }
    a
}

fn assert_close(got: &[f64], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: width");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= 1e-12 * (1.0 + w.abs()), "{what}: {g} vs {w} (the definition)");
    }
}

/// Parameters of every sign and size around 1/√fan-in, biases included.
fn params(net: &Mlp, seed: u64) -> Vec<f64> {
    let mut p = net.init(1.0, &mut seeded(seed));
    for (i, v) in p.iter_mut().enumerate() {
        *v += 0.3 * ((i as f64 + seed as f64) * 0.37).sin();
    }
    p
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: Some(Box::new(proptest::test_runner::FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_forward_pass_is_the_definition(
        seed in 0u64..1000,
        input in 1usize..21,
        hidden in proptest::collection::vec(1usize..21, 0..3),
        output in 1usize..19,
        rows in 1usize..6,
        split in 0usize..6,
    ) {
        let net = Mlp::new(input, &hidden, output);
        let sizes = net.sizes().to_vec();
        let p = params(&net, seed);
        prop_assert_eq!(p.len(), net.num_params());
        let x = Array2::from_shape_fn((rows, input), |(i, j)| ((i * input + j) as f64 * 0.71 + seed as f64).sin() * 1.5);
        let want: Vec<Vec<f64>> = x.rows().into_iter().map(|r| reference(&sizes, &p, r.as_slice().unwrap())).collect();

        // One row at a time.
        let mut acts = Vec::new();
        for (r, w) in x.rows().into_iter().zip(&want) {
            let out = net.forward(&p, r.as_slice().unwrap(), &mut acts).to_vec();
            assert_close(&out, w, "forward");
            prop_assert_eq!(acts.len(), sizes.len());
        }

        // All rows in one matrix product per layer.
        let mut batch = MlpBatch::default();
        net.forward_batch(&p, x.view(), &mut batch);
        prop_assert_eq!(batch.rows(), rows);
        prop_assert_eq!(batch.input(), x.view());
        for (o, w) in batch.output().rows().into_iter().zip(&want) {
            assert_close(o.as_slice().unwrap(), w, "forward_batch");
        }

        // The same rows in two pieces, the second appended after the first.
        let cut = split.min(rows);
        let mut appended = MlpBatch::default();
        net.forward_batch(&p, x.slice(s![..cut, ..]), &mut appended);
        net.forward_append(&p, x.slice(s![cut.., ..]), &mut appended);
        prop_assert_eq!(appended.rows(), rows);
        prop_assert_eq!(appended.output(), batch.output());

        // Row by row from the transposed weights, also in two pieces.
        let mut transposed = Vec::new();
        net.transpose_weights(&p, &mut transposed);
        prop_assert_eq!(transposed.len(), p.len());
        let mut few = MlpBatch::default();
        net.forward_append_few(&transposed, x.slice(s![..cut, ..]), &mut few);
        net.forward_append_few(&transposed, x.slice(s![cut.., ..]), &mut few);
        prop_assert_eq!(few.rows(), rows);
        for (o, w) in few.output().rows().into_iter().zip(&want) {
            assert_close(o.as_slice().unwrap(), w, "forward_append_few");
        }
    }
}

/// A batch used by a network of another shape starts afresh: the rows of the
/// first network are dropped, not read as the second's. `clear` forgets the
/// rows and keeps the shape.
#[test]
fn a_batch_follows_the_network_that_uses_it() {
    let (small, wide) = (Mlp::new(2, &[3], 1), Mlp::new(4, &[9], 2));
    let (ps, pw) = (params(&small, 1), params(&wide, 2));
    let xs = Array2::from_shape_fn((3, 2), |(i, j)| (i + j) as f64 * 0.5);
    let xw = Array2::from_shape_fn((2, 4), |(i, j)| (i * 4 + j) as f64 * -0.25);
    let mut batch = MlpBatch::default();
    small.forward_batch(&ps, xs.view(), &mut batch);
    wide.forward_append(&pw, xw.view(), &mut batch);
    assert_eq!(batch.rows(), 2);
    for (o, r) in batch.output().rows().into_iter().zip(xw.rows()) {
        assert_close(
            o.as_slice().unwrap(),
            &reference(wide.sizes(), &pw, r.as_slice().unwrap()),
            "after a reshape",
        );
    }
    batch.clear();
    assert_eq!(batch.rows(), 0);
    wide.forward_append(&pw, xw.slice(s![1.., ..]), &mut batch);
    assert_eq!(batch.rows(), 1);
    assert_close(
        batch.output().row(0).as_slice().unwrap(),
        &reference(wide.sizes(), &pw, xw.row(1).as_slice().unwrap()),
        "after clear",
    );
}

/// The shape's accessors and the initialisation: Glorot-uniform hidden
/// weights within ±√(6/(fan-in + fan-out)), the output layer's scaled by the
/// given factor, zero biases.
#[test]
fn initial_parameters_follow_the_stated_ranges() {
    let net = Mlp::new(10, &[20, 12], 3);
    assert_eq!((net.input(), net.output(), net.sizes()), (10, 3, &[10, 20, 12, 3][..]));
    assert_eq!(net.num_params(), 20 * 11 + 12 * 21 + 3 * 13);
    let p = Array1::from(net.init(0.1, &mut seeded(3)));
    let mut offset = 0;
    for (l, w) in net.sizes().windows(2).enumerate() {
        let (n_in, n_out) = (w[0], w[1]);
        let scale = if l == 2 { 0.1 } else { 1.0 };
        let limit = scale * (6.0 / (n_in + n_out) as f64).sqrt();
        let weights = p.slice(s![offset..offset + n_in * n_out]);
        let largest = weights.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        // Within the range, and reaching close to its end: the largest of the
        // 36 to 240 draws (the largest of n uniform draws stays below 0.9 of
        // the range with probability 0.9ⁿ, at most 2 % here; this seed passes).
        assert!(largest <= limit && largest > 0.9 * limit, "layer {l}: largest |w| {largest}, limit {limit}");
        assert!(weights.iter().any(|v| *v < 0.0) && weights.iter().any(|v| *v > 0.0));
        assert!(p.slice(s![offset + n_in * n_out..offset + n_out * (n_in + 1)]).iter().all(|b| *b == 0.0));
        offset += n_out * (n_in + 1);
    }
}
