//! Row-space Fisher products with one thing wrong, for negative controls:
//! each must fail the same comparisons that the correct product passes.

use crate::{Head, RowMut, RowView};

/// −G u: the right matrix with the sign flipped (a step along it would
/// head into the trust region's wrong side).
pub fn flipped<P: Head>(old: RowView<'_>, u: RowView<'_>, scale: f64, out: RowMut<'_>) {
    P::fisher_row(old, u, -scale, out);
}

/// diag(p) u for a softmax row: the −p pᵀ term is missing.
pub fn softmax_without_outer_term(old: RowView<'_>, u: RowView<'_>, scale: f64, mut out: RowMut<'_>) {
    let max = old.fold(f64::NEG_INFINITY, |m, &x| m.max(x));
    let z: f64 = old.iter().map(|x| (x - max).exp()).sum();
    for k in 0..old.len() {
        out[k] += scale * (old[k] - max).exp() / z * u[k];
    }
}

/// The Gaussian's mean block only: the log σ block (2 per dimension) is missing.
pub fn gaussian_without_log_std_block(old: RowView<'_>, u: RowView<'_>, scale: f64, mut out: RowMut<'_>) {
    let dim = old.len() / 2;
    for k in 0..dim {
        out[k] += scale * u[k] / (2.0 * old[dim + k]).exp();
    }
}
