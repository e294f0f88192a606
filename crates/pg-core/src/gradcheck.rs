//! Central finite differences, the referee for every hand-written gradient.

use ndarray::Array1;

/// (f(x + h eᵢ) − f(x − h eᵢ)) / 2h for every coordinate i.
/// The error is O(h²); in `f64`, `h` near `1e-5` balances it against rounding.
pub fn central_difference<F>(mut f: F, x: &Array1<f64>, h: f64) -> Array1<f64>
where
    F: FnMut(&Array1<f64>) -> f64,
{
    let mut probe = x.clone();
    Array1::from_shape_fn(x.len(), |i| {
        let xi = probe[i];
        probe[i] = xi + h;
        let plus = f(&probe);
        probe[i] = xi - h;
        let minus = f(&probe);
        probe[i] = xi;
        (plus - minus) / (2.0 * h)
    })
}

/// The largest componentwise error |aᵢ − bᵢ| / max(1, |aᵢ|, |bᵢ|):
/// relative for large components, absolute for small ones.
pub fn max_scaled_error(a: &Array1<f64>, b: &Array1<f64>) -> f64 {
    assert_eq!(a.len(), b.len(), "gradients of different lengths");
    a.iter().zip(b).map(|(x, y)| (x - y).abs() / 1f64.max(x.abs()).max(y.abs())).fold(0.0, f64::max)
}

/// Checks an analytic gradient against central differences of `f` at `x`.
/// Returns the largest scaled error.
pub fn check<F>(f: F, analytic: &Array1<f64>, x: &Array1<f64>) -> f64
where
    F: FnMut(&Array1<f64>) -> f64,
{
    max_scaled_error(analytic, &central_difference(f, x, 1e-5))
}

/// Checks `analytic`, a claimed gradient of `f` with respect to the policy's
/// parameters, against central differences of `f` evaluated on perturbed
/// copies of `policy`. Returns the largest scaled error.
pub fn check_policy<P, F>(policy: &P, analytic: &Array1<f64>, mut f: F) -> f64
where
    P: crate::Policy + Clone,
    F: FnMut(&P) -> f64,
{
    let mut probe = policy.clone();
    check(
        |theta| {
            probe.params_mut().assign(theta);
            f(&probe)
        },
        analytic,
        policy.params(),
    )
}
