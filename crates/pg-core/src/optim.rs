//! First-order optimisers. Policy gradient *ascends* J: each `ascend`
//! moves the parameters along the given gradient estimate.

use crate::error::{PgError, positive};
use ndarray::Array1;

/// An update rule θ ← θ + Δ(ĝ).
pub trait Optimizer {
    /// One ascent step along `grad`.
    fn ascend(&mut self, params: &mut Array1<f64>, grad: &Array1<f64>);
}

/// Plain gradient ascent: θ ← θ + α ĝ.
#[derive(Debug, Clone)]
pub struct Sgd {
    lr: f64,
}

impl Sgd {
    /// Step size `lr` (finite, greater than 0).
    pub fn new(lr: f64) -> Result<Self, PgError> {
        Ok(Self { lr: positive("lr", lr)? })
    }
}

impl Optimizer for Sgd {
    fn ascend(&mut self, params: &mut Array1<f64>, grad: &Array1<f64>) {
        params.scaled_add(self.lr, grad);
    }
}

/// Adam (Kingma and Ba), with bias-corrected moment estimates.
#[derive(Debug, Clone)]
pub struct Adam {
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    m: Array1<f64>,
    v: Array1<f64>,
    t: i32,
}

impl Adam {
    /// Adam with step size `lr` and the usual β₁ = 0.9, β₂ = 0.999, ε = 10⁻⁸.
    /// Its moment estimates take their size from the first step.
    pub fn new(lr: f64) -> Result<Self, PgError> {
        Ok(Self {
            lr: positive("lr", lr)?,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            m: Array1::zeros(0),
            v: Array1::zeros(0),
            t: 0,
        })
    }
}

impl Optimizer for Adam {
    fn ascend(&mut self, params: &mut Array1<f64>, grad: &Array1<f64>) {
        if self.m.len() != params.len() {
            self.m = Array1::zeros(params.len());
            self.v = Array1::zeros(params.len());
            self.t = 0;
        }
        self.t += 1;
        let (b1, b2) = (self.beta1, self.beta2);
        let c1 = 1.0 - b1.powi(self.t);
        let c2 = 1.0 - b2.powi(self.t);
        ndarray::Zip::from(params).and(&mut self.m).and(&mut self.v).and(grad).for_each(|p, m, v, &g| {
            *m = b1 * *m + (1.0 - b1) * g;
            *v = b2 * *v + (1.0 - b2) * g * g;
            *p += self.lr * (*m / c1) / ((*v / c2).sqrt() + self.eps);
        });
    }
}
