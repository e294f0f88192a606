//! # Chapter 6: the KL constraint
//!
//! Chapter 5's first-order surrogate is accurate only while the new policy
//! stays close to the one that sampled the batch. This chapter makes "close"
//! a constraint: maximise the surrogate
//!
//! L(θ) = (1/M) Σₘ ρₘ(θ) Âₘ,   ρₘ = πθ(aₘ|sₘ) / πθ_old(aₘ|sₘ),
//!
//! subject to D̄(θ) = (1/M) Σₘ KL(πθ_old(·|sₘ) ‖ πθ(·|sₘ)) ≤ δ, averaged over
//! the M states the old policy visited. Near θ_old the KL is quadratic,
//! D̄(θ_old + Δ) ≈ ½ Δᵀ F Δ, with F the Fisher information; maximising the
//! linearised surrogate gᵀΔ under ½ ΔᵀFΔ ≤ δ gives the natural gradient
//! Δ = √(2δ / gᵀF⁻¹g) F⁻¹g. [`natural`] builds it (NPG) and TRPO's line
//! search on top; [`ppo`] is the first-order alternative that clips the ratio.
//!
//! Everything here works on rows of distribution parameters: a policy's
//! network maps each state to a row (softmax logits, or a Gaussian's mean
//! and log σ), and KL, its gradient and the Fisher information are simple
//! functions of rows, carried to θ by one forward-mode (J v) or backward
//! (Jᵀ u) pass through the network.

pub mod book;
pub mod exercises;
pub mod experiments;
pub mod natural;
pub mod ppo;
pub mod registry;

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut1, Axis, s};
use pg_core::math::{exp, ln};
use pg_core::policy::{Categorical, Gaussian, MlpBatch};
use pg_core::{Batch, PgError, Policy, StepWeights};
use pg_likelihood_ratio::Estimator;
use pg_surrogate::Steps;

/// A row of distribution parameters.
pub type RowView<'a> = ArrayView1<'a, f64>;
/// A row to add into.
pub type RowMut<'a> = ArrayViewMut1<'a, f64>;

const LOG_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

// ANCHOR: head
/// A policy whose distribution at each state is given by one row of
/// parameters that a network computes: the rows of a batch come from one
/// forward pass, and derivatives with respect to rows are carried to θ by
/// the network's Jacobian J = ∂row/∂θ.
pub trait Head: Policy + Clone {
    /// The rows of every state in `obs` (one forward pass; `work` keeps the
    /// activations for [`Head::pull_back`] and [`Head::push_forward`]).
    fn rows(&self, obs: ArrayView2<'_, f64>, work: &mut MlpBatch) -> Array2<f64>;

    /// Adds Σₘ Jₘᵀ uₘ to `grad`: a row-space gradient carried to θ.
    fn pull_back(&self, work: &mut MlpBatch, u: ArrayView2<'_, f64>, grad: &mut Array1<f64>);

    /// J v for every row: how the rows move when θ moves along `v`.
    fn push_forward(&self, work: &MlpBatch, v: &Array1<f64>) -> Array2<f64>;

    /// log π(a | row); adds `scale` · ∂ log π(a | row) / ∂row to `d`, if given.
    fn log_prob_row(
        row: ArrayView1<'_, f64>,
        a: &Self::Action,
        scale: f64,
        d: Option<ArrayViewMut1<'_, f64>>,
    ) -> f64;

    /// KL(old ‖ new) between two rows; adds `scale` · ∂KL/∂new to `d`, if given.
    fn kl_row(
        old: ArrayView1<'_, f64>,
        new: ArrayView1<'_, f64>,
        scale: f64,
        d: Option<ArrayViewMut1<'_, f64>>,
    ) -> f64;

    /// Adds `scale` · G(old) u to `out`, where G is the Hessian of KL(old ‖ ·)
    /// at new = old: the Fisher information in row coordinates.
    fn fisher_row(old: ArrayView1<'_, f64>, u: ArrayView1<'_, f64>, scale: f64, out: ArrayViewMut1<'_, f64>);

    /// Actions and weights whose weighted sum is the exact expectation over
    /// a ∼ π(·|row) of any polynomial in the score up to degree 4 (all
    /// actions for a softmax; a Gauss–Hermite grid for a Gaussian).
    fn quadrature(row: ArrayView1<'_, f64>) -> Vec<(Self::Action, f64)>;
}
// ANCHOR_END: head

/// log softmax of a row, written into `out`.
fn log_softmax_into(z: ArrayView1<'_, f64>, out: &mut [f64]) {
    let max = z.fold(f64::NEG_INFINITY, |m, &x| m.max(x));
    let log_z = max + ln(z.iter().map(|x| exp(x - max)).sum::<f64>());
    out.iter_mut().zip(z).for_each(|(o, x)| *o = x - log_z);
}

// ANCHOR: categorical_rows
/// Rows are the logits ℓ; π = softmax(ℓ). With p = softmax(ℓ_old) and
/// q = softmax(ℓ): KL(p ‖ q) = Σ p (log p − log q), ∂KL/∂ℓ = q − p (zero at
/// ℓ = ℓ_old), and the Hessian there is G = diag(p) − p pᵀ.
impl Head for Categorical {
    fn rows(&self, obs: ArrayView2<'_, f64>, work: &mut MlpBatch) -> Array2<f64> {
        self.net().forward_batch(self.params().as_slice().expect("contiguous"), obs, work);
        work.output().to_owned()
    }

    fn pull_back(&self, work: &mut MlpBatch, u: ArrayView2<'_, f64>, grad: &mut Array1<f64>) {
        let params = self.params().as_slice().expect("contiguous");
        self.net().backward_batch(params, work, u, grad.as_slice_mut().expect("contiguous"));
    }

    fn push_forward(&self, work: &MlpBatch, v: &Array1<f64>) -> Array2<f64> {
        let params = self.params().as_slice().expect("contiguous");
        self.net().jvp_batch(params, work, v.as_slice().expect("contiguous"))
    }

    fn log_prob_row(z: ArrayView1<'_, f64>, a: &usize, scale: f64, d: Option<ArrayViewMut1<'_, f64>>) -> f64 {
        let mut lp = vec![0.0; z.len()];
        log_softmax_into(z, &mut lp);
        if let Some(mut d) = d {
            // ∂ log softmax(z)ₐ / ∂z = onehot(a) − softmax(z).
            d.iter_mut().zip(&lp).for_each(|(d, l)| *d -= scale * exp(*l));
            d[*a] += scale;
        }
        lp[*a]
    }

    fn kl_row(
        old: ArrayView1<'_, f64>,
        new: ArrayView1<'_, f64>,
        scale: f64,
        d: Option<ArrayViewMut1<'_, f64>>,
    ) -> f64 {
        let (mut lp, mut lq) = (vec![0.0; old.len()], vec![0.0; new.len()]);
        log_softmax_into(old, &mut lp);
        log_softmax_into(new, &mut lq);
        if let Some(mut d) = d {
            d.iter_mut().zip(lp.iter().zip(&lq)).for_each(|(d, (p, q))| *d += scale * (exp(*q) - exp(*p)));
        }
        lp.iter().zip(&lq).map(|(p, q)| exp(*p) * (p - q)).sum()
    }

    fn fisher_row(
        old: ArrayView1<'_, f64>,
        u: ArrayView1<'_, f64>,
        scale: f64,
        mut out: ArrayViewMut1<'_, f64>,
    ) {
        let mut lp = vec![0.0; old.len()];
        log_softmax_into(old, &mut lp);
        let p: Vec<f64> = lp.iter().map(|&l| exp(l)).collect();
        let pu: f64 = p.iter().zip(u).map(|(p, u)| p * u).sum();
        out.iter_mut().zip(p.iter().zip(u)).for_each(|(o, (p, u))| *o += scale * p * (u - pu));
    }

    fn quadrature(z: ArrayView1<'_, f64>) -> Vec<(usize, f64)> {
        let mut lp = vec![0.0; z.len()];
        log_softmax_into(z, &mut lp);
        lp.iter().enumerate().map(|(a, &l)| (a, exp(l))).collect()
    }
}
// ANCHOR_END: categorical_rows

// ANCHOR: gaussian_rows
/// Rows are (μ, log σ), D of each. Per dimension, with σ₀, μ₀ the old row:
/// KL = log σ − log σ₀ + (σ₀² + (μ₀ − μ)²)/(2σ²) − ½,
/// ∂KL/∂μ = (μ − μ₀)/σ², ∂KL/∂log σ = 1 − (σ₀² + (μ₀ − μ)²)/σ²,
/// both zero at the old row, where the Hessian is diag(1/σ₀², 2).
/// A state-independent log σ is the same parameter in every row: its
/// row-space gradients are summed, and it moves every row alike.
impl Head for Gaussian {
    fn rows(&self, obs: ArrayView2<'_, f64>, work: &mut MlpBatch) -> Array2<f64> {
        let (net, free_log_std) = self.split();
        self.net().forward_batch(net, obs, work);
        if self.state_dependent_std() {
            return work.output().to_owned();
        }
        let d = self.act_dim();
        let mut rows = Array2::zeros((obs.nrows(), 2 * d));
        rows.slice_mut(s![.., ..d]).assign(&work.output());
        rows.slice_mut(s![.., d..]).assign(&ArrayView1::from(free_log_std));
        rows
    }

    fn pull_back(&self, work: &mut MlpBatch, u: ArrayView2<'_, f64>, grad: &mut Array1<f64>) {
        let (net, _) = self.split();
        let g = grad.as_slice_mut().expect("contiguous");
        let (g_net, g_log_std) = g.split_at_mut(net.len());
        if self.state_dependent_std() {
            self.net().backward_batch(net, work, u, g_net);
        } else {
            let d = self.act_dim();
            self.net().backward_batch(net, work, u.slice(s![.., ..d]), g_net);
            g_log_std.iter_mut().zip(u.slice(s![.., d..]).sum_axis(Axis(0))).for_each(|(g, s)| *g += s);
        }
    }

    fn push_forward(&self, work: &MlpBatch, v: &Array1<f64>) -> Array2<f64> {
        let (net, _) = self.split();
        let v = v.as_slice().expect("contiguous");
        let moved = self.net().jvp_batch(net, work, &v[..net.len()]);
        if self.state_dependent_std() {
            return moved;
        }
        let d = self.act_dim();
        let mut rows = Array2::zeros((moved.nrows(), 2 * d));
        rows.slice_mut(s![.., ..d]).assign(&moved);
        rows.slice_mut(s![.., d..]).assign(&ArrayView1::from(&v[net.len()..]));
        rows
    }

    fn log_prob_row(
        row: ArrayView1<'_, f64>,
        a: &Array1<f64>,
        scale: f64,
        mut d: Option<ArrayViewMut1<'_, f64>>,
    ) -> f64 {
        let dim = row.len() / 2;
        let mut lp = 0.0;
        for k in 0..dim {
            let (mu, log_std) = (row[k], row[dim + k]);
            let sigma = exp(log_std);
            let z = (a[k] - mu) / sigma;
            lp += -0.5 * z * z - log_std - LOG_SQRT_2PI;
            if let Some(d) = d.as_mut() {
                d[k] += scale * z / sigma;
                d[dim + k] += scale * (z * z - 1.0);
            }
        }
        lp
    }

    fn kl_row(
        old: ArrayView1<'_, f64>,
        new: ArrayView1<'_, f64>,
        scale: f64,
        mut d: Option<ArrayViewMut1<'_, f64>>,
    ) -> f64 {
        let dim = old.len() / 2;
        let mut kl = 0.0;
        for k in 0..dim {
            let (mu0, s0, mu, s) = (old[k], old[dim + k], new[k], new[dim + k]);
            let (var0, var) = (exp(2.0 * s0), exp(2.0 * s));
            let spread = (var0 + (mu0 - mu).powi(2)) / var;
            kl += s - s0 + 0.5 * spread - 0.5;
            if let Some(d) = d.as_mut() {
                d[k] += scale * (mu - mu0) / var;
                d[dim + k] += scale * (1.0 - spread);
            }
        }
        kl
    }

    fn fisher_row(
        old: ArrayView1<'_, f64>,
        u: ArrayView1<'_, f64>,
        scale: f64,
        mut out: ArrayViewMut1<'_, f64>,
    ) {
        let dim = old.len() / 2;
        for k in 0..dim {
            out[k] += scale * u[k] / exp(2.0 * old[dim + k]);
            out[dim + k] += scale * 2.0 * u[dim + k];
        }
    }

    /// The three-point Gauss–Hermite rule per dimension (z ∈ {−√3, 0, √3},
    /// weights 1/6, 2/3, 1/6) is exact for polynomials in z up to degree 5;
    /// products of two scores have degree 4.
    fn quadrature(row: ArrayView1<'_, f64>) -> Vec<(Array1<f64>, f64)> {
        let dim = row.len() / 2;
        let nodes = [(-3f64.sqrt(), 1.0 / 6.0), (0.0, 2.0 / 3.0), (3f64.sqrt(), 1.0 / 6.0)];
        let mut points = vec![(Array1::zeros(dim), 1.0)];
        for k in 0..dim {
            let sigma = exp(row[dim + k]);
            points = points
                .into_iter()
                .flat_map(|(a, w): (Array1<f64>, f64)| {
                    nodes.iter().map(move |&(z, wz)| {
                        let mut a = a.clone();
                        a[k] = row[k] + sigma * z;
                        (a, w * wz)
                    })
                })
                .collect();
        }
        points
    }
}
// ANCHOR_END: gaussian_rows

// ANCHOR: samples
/// A batch as the constrained update sees it: the M states and actions, the
/// rows of the policy that sampled them (θ_old), their log-probabilities
/// under θ_old, and one advantage estimate Âₘ per step.
#[derive(Debug, Clone)]
pub struct Samples<A> {
    /// States (one row each) and actions.
    pub steps: Steps<A>,
    /// The old policy's row at every state.
    pub old: Array2<f64>,
    /// log πθ_old(aₘ|sₘ).
    pub old_log_probs: Vec<f64>,
    /// Âₘ.
    pub advantages: Vec<f64>,
}

impl<A: Clone> Samples<A> {
    /// The samples of `batch` with per-step `advantages`, θ_old = `policy`.
    pub fn new<P: Head<Action = A>>(policy: &P, batch: &Batch<A>, advantages: &StepWeights) -> Self {
        assert!(advantages.fits(batch), "the advantages were made for a batch of a different shape");
        let steps = Steps::from_batch(batch);
        let old = policy.rows(steps.obs.view(), &mut MlpBatch::default());
        let old_log_probs = old
            .rows()
            .into_iter()
            .zip(&steps.actions)
            .map(|(row, a)| P::log_prob_row(row, a, 0.0, None))
            .collect();
        Self { steps, old, old_log_probs, advantages: advantages.flat().to_vec() }
    }

    /// The number of steps M.
    pub fn len(&self) -> usize {
        self.steps.actions.len()
    }

    /// True without steps.
    pub fn is_empty(&self) -> bool {
        self.steps.actions.is_empty()
    }

    /// The samples at `indices` (a minibatch), in that order.
    pub fn select(&self, indices: &[usize]) -> Self {
        Self {
            steps: Steps {
                obs: self.steps.obs.select(Axis(0), indices),
                actions: indices.iter().map(|&i| self.steps.actions[i].clone()).collect(),
                trajectories: self.steps.trajectories,
            },
            old: self.old.select(Axis(0), indices),
            old_log_probs: indices.iter().map(|&i| self.old_log_probs[i]).collect(),
            advantages: indices.iter().map(|&i| self.advantages[i]).collect(),
        }
    }
}
// ANCHOR_END: samples

/// The estimator's per-step weights as advantages, or an error naming an
/// estimator that has none (the constrained updates need Âₘ per step), or
/// naming the advantages at `iteration` when one is NaN or infinite.
pub fn advantages<P: Policy, E: Estimator<P> + ?Sized>(
    estimator: &E,
    policy: &P,
    batch: &Batch<P::Action>,
    iteration: usize,
) -> Result<StepWeights, PgError> {
    let adv = estimator.weights(policy, batch).ok_or(PgError::InvalidConfig {
        name: "estimator",
        value: estimator.name(),
        allowed: "an estimator with one weight per step (reward-to-go, a baseline, GAE)",
    })?;
    match adv.flat().iter().all(|a| a.is_finite()) {
        true => Ok(adv),
        false => Err(PgError::NonFinite { what: "advantages", iteration }),
    }
}

// ANCHOR: mean_kl
/// D̄(θ) = (1/M) Σₘ KL(πθ_old(·|sₘ) ‖ πθ(·|sₘ)) and, if `grad` is given,
/// adds ∇θ D̄ to it: (1/M) Σₘ Jₘᵀ ∂KLₘ/∂rowₘ, one backward pass.
pub fn mean_kl<P: Head>(
    policy: &P,
    samples: &Samples<P::Action>,
    work: &mut MlpBatch,
    grad: Option<&mut Array1<f64>>,
) -> f64 {
    let rows = policy.rows(samples.steps.obs.view(), work);
    let m = samples.len().max(1) as f64;
    let mut d = Array2::zeros(rows.dim());
    let total: f64 = samples
        .old
        .rows()
        .into_iter()
        .zip(rows.rows())
        .zip(d.rows_mut())
        .map(|((old, new), dm)| P::kl_row(old, new, 1.0 / m, Some(dm)))
        .sum();
    if let Some(grad) = grad {
        policy.pull_back(work, d.view(), grad);
    }
    total / m
}
// ANCHOR_END: mean_kl

// ANCHOR: fisher
/// The Fisher information of the old policy over the batch's states, as an
/// operator: v ↦ F v + η v with F = (1/M) Σₘ Jₘᵀ Gₘ Jₘ, the Hessian of D̄ at
/// θ_old. The matrix is never formed: one forward-mode pass (J v), the
/// row-space Fisher G, one backward pass (Jᵀ ·).
pub struct Fisher<'a, P: Head> {
    policy: &'a P,
    samples: &'a Samples<P::Action>,
    work: MlpBatch,
    damping: f64,
}

impl<'a, P: Head> Fisher<'a, P> {
    /// F at θ_old = `policy` (which must be the policy that made `samples`'
    /// old rows), plus the damping η = `damping` times I.
    pub fn new(policy: &'a P, samples: &'a Samples<P::Action>, damping: f64) -> Self {
        let mut work = MlpBatch::default();
        policy.rows(samples.steps.obs.view(), &mut work);
        Self { policy, samples, work, damping }
    }

    /// F v + η v.
    pub fn apply(&mut self, v: &Array1<f64>) -> Array1<f64> {
        self.apply_with(v, P::fisher_row)
    }

    /// The same product with another row-space Fisher `g` (for the negative
    /// controls, which get one term wrong).
    pub fn apply_with(
        &mut self,
        v: &Array1<f64>,
        g: impl Fn(RowView<'_>, RowView<'_>, f64, RowMut<'_>),
    ) -> Array1<f64> {
        let moved = self.policy.push_forward(&self.work, v);
        let m = self.samples.len().max(1) as f64;
        let mut u = Array2::zeros(moved.dim());
        for ((old, jv), um) in self.samples.old.rows().into_iter().zip(moved.rows()).zip(u.rows_mut()) {
            g(old, jv, 1.0 / m, um);
        }
        let mut out = v * self.damping;
        self.policy.pull_back(&mut self.work, u.view(), &mut out);
        out
    }
}
// ANCHOR_END: fisher

// ANCHOR: cg
/// What conjugate gradient found.
#[derive(Debug, Clone, PartialEq)]
pub struct CgResult {
    /// The approximate solution x of A x = b.
    pub x: Array1<f64>,
    /// Iterations used.
    pub iterations: usize,
    /// ‖b − A x‖ at the end.
    pub residual: f64,
}

/// Solves A x = b for a symmetric positive-definite A given only as the
/// product `apply(v) = A v`: each iteration costs one product, and in exact
/// arithmetic it ends within n iterations. Stops when ‖r‖ ≤ `tol` · ‖b‖ or
/// after `max_iters`.
pub fn conjugate_gradient(
    mut apply: impl FnMut(&Array1<f64>) -> Array1<f64>,
    b: &Array1<f64>,
    max_iters: usize,
    tol: f64,
) -> CgResult {
    let mut x = Array1::zeros(b.len());
    let mut r = b.clone();
    let mut p = r.clone();
    let mut rr = r.dot(&r);
    let target = tol * rr.sqrt();
    let mut iterations = 0;
    while iterations < max_iters && rr.sqrt() > target {
        let ap = apply(&p);
        let alpha = rr / p.dot(&ap);
        x.scaled_add(alpha, &p);
        r.scaled_add(-alpha, &ap);
        let rr_next = r.dot(&r);
        p = &r + &(rr_next / rr * &p);
        rr = rr_next;
        iterations += 1;
    }
    CgResult { x, iterations, residual: rr.sqrt() }
}
// ANCHOR_END: cg

// ANCHOR: surrogate
/// Chapter 5's first-order surrogate in ratio form,
/// L(θ) = (1/M) Σₘ ρₘ(θ) Âₘ with ρₘ = exp(log πθ(aₘ|sₘ) − log πθ_old(aₘ|sₘ));
/// adds ∇θ L = (1/M) Σₘ ρₘ Âₘ ∇θ log πθ(aₘ|sₘ) to `grad` if given. At θ_old
/// every ρₘ = 1 and ∇L is the policy gradient with weights Â.
pub fn ratio_surrogate<P: Head>(
    policy: &P,
    samples: &Samples<P::Action>,
    work: &mut MlpBatch,
    grad: Option<&mut Array1<f64>>,
) -> f64 {
    objective(policy, samples, work, grad, |ratio, adv| (ratio * adv, ratio * adv))
}
// ANCHOR_END: surrogate

/// D̄(θ) and L(θ) from one forward pass: what TRPO's line search measures
/// for every step it tries.
pub fn kl_and_surrogate<P: Head>(
    policy: &P,
    samples: &Samples<P::Action>,
    work: &mut MlpBatch,
) -> (f64, f64) {
    let rows = policy.rows(samples.steps.obs.view(), work);
    let (mut kl, mut surrogate) = (0.0, 0.0);
    for ((row, old), (a, (&old_lp, &adv))) in rows
        .rows()
        .into_iter()
        .zip(samples.old.rows())
        .zip(samples.steps.actions.iter().zip(samples.old_log_probs.iter().zip(&samples.advantages)))
    {
        kl += P::kl_row(old, row, 0.0, None);
        surrogate += exp(P::log_prob_row(row, a, 0.0, None) - old_lp) * adv;
    }
    let m = samples.len().max(1) as f64;
    (kl / m, surrogate / m)
}

/// (1/M) Σₘ f(ρₘ, Âₘ).0, where `f` returns a term and its derivative with
/// respect to log ρₘ; adds the gradient to `grad` if given. Also the
/// shape of PPO's objectives.
pub(crate) fn objective<P: Head>(
    policy: &P,
    samples: &Samples<P::Action>,
    work: &mut MlpBatch,
    grad: Option<&mut Array1<f64>>,
    f: impl Fn(f64, f64) -> (f64, f64),
) -> f64 {
    let rows = policy.rows(samples.steps.obs.view(), work);
    let m = samples.len().max(1) as f64;
    let want_grad = grad.is_some();
    let mut d = Array2::zeros(rows.dim());
    let mut total = 0.0;
    for (((row, a), (&old_lp, &adv)), mut dm) in rows
        .rows()
        .into_iter()
        .zip(&samples.steps.actions)
        .zip(samples.old_log_probs.iter().zip(&samples.advantages))
        .zip(d.rows_mut())
    {
        // ∂ log π/∂row into dm (when a gradient is wanted), then scaled by the term's derivative.
        let lp = P::log_prob_row(row, a, 1.0, want_grad.then(|| dm.view_mut()));
        let (term, d_log_ratio) = f(exp(lp - old_lp), adv);
        total += term;
        if want_grad {
            dm *= d_log_ratio / m;
        }
    }
    if let Some(grad) = grad {
        policy.pull_back(work, d.view(), grad);
    }
    total / m
}

pub use registry::ALGORITHMS;
