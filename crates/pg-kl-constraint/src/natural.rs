//! The natural policy gradient and TRPO: the step that maximises the
//! linearised surrogate within the quadratic trust region ½ ΔᵀFΔ ≤ δ, and
//! TRPO's line search that checks the real KL and the real surrogate.

use crate::{Fisher, Head, Samples, advantages, conjugate_gradient, kl_and_surrogate, ratio_surrogate};
use ndarray::Array1;
use pg_core::error::{at_least_one, positive};
use pg_core::policy::MlpBatch;
use pg_core::{Batch, PgError};
use pg_likelihood_ratio::update::fit;
use pg_likelihood_ratio::{Estimator, Update, UpdateStats};

/// Conjugate-gradient iterations per update, as in the usual TRPO settings.
pub const CG_ITERS: usize = 10;
/// Damping η added to F (F + ηI). F estimated from a few states is singular
/// (its rank is at most the number of states times a row's length, far
/// below the number of parameters); F + ηI is not.
pub const DAMPING: f64 = 0.1;
/// Halvings TRPO's line search tries before it rejects the step.
pub const BACKTRACKS: usize = 10;
/// The Fisher-vector products use every this many-th state of the batch:
/// F is an average over states, and consecutive states of an episode are
/// nearly alike, so a subsample estimates it at a fraction of the cost (the
/// KL that the line search measures still uses every state).
pub const FISHER_EVERY: usize = 10;

// ANCHOR: natural_gradient
/// A natural-gradient update with trust region δ. With `line_search` off it
/// is NPG: θ ← θ_old + κx with x ≈ F⁻¹g from conjugate gradient and
/// κ = √(2δ / xᵀFx), so that the quadratic KL estimate ½(κx)ᵀF(κx) is δ.
/// With it on it is TRPO: try κ, κ/2, κ/4, … and accept the first step
/// whose measured mean KL is at most δ and whose surrogate improved; keep
/// θ_old if none does.
#[derive(Debug, Clone)]
pub struct NaturalGradient<E> {
    /// Gives the advantages Âₘ (and learns its value function after the update).
    pub estimator: E,
    /// The trust region δ on the mean KL.
    pub delta: f64,
    /// Conjugate-gradient iterations.
    pub cg_iters: usize,
    /// η in F + ηI.
    pub damping: f64,
    /// Backtracking halvings (TRPO), or `None` (NPG).
    pub line_search: Option<usize>,
    /// F is estimated from every `fisher_every`-th state.
    pub fisher_every: usize,
}

impl<E> NaturalGradient<E> {
    /// NPG with trust region `delta` (finite, greater than 0).
    pub fn npg(estimator: E, delta: f64) -> Result<Self, PgError> {
        Ok(Self {
            estimator,
            delta: positive("delta", delta)?,
            cg_iters: CG_ITERS,
            damping: DAMPING,
            line_search: None,
            fisher_every: FISHER_EVERY,
        })
    }

    /// TRPO with trust region `delta` (finite, greater than 0).
    pub fn trpo(estimator: E, delta: f64) -> Result<Self, PgError> {
        Ok(Self { line_search: Some(BACKTRACKS), ..Self::npg(estimator, delta)? })
    }

    /// Estimates F from every `every`-th state (at least 1; 1 uses all).
    pub fn with_fisher_every(mut self, every: usize) -> Result<Self, PgError> {
        self.fisher_every = at_least_one("fisher-every", every)?;
        Ok(self)
    }

    /// Uses `iters` conjugate-gradient iterations (at least 1).
    pub fn with_cg_iters(mut self, iters: usize) -> Result<Self, PgError> {
        self.cg_iters = at_least_one("cg-iters", iters)?;
        Ok(self)
    }
}

impl<P: Head, E: Estimator<P>> Update<P> for NaturalGradient<E> {
    fn name(&self) -> String {
        let algo = if self.line_search.is_some() { "TRPO" } else { "NPG" };
        format!("{algo}, δ = {}", self.delta)
    }

    fn update(
        &mut self,
        policy: &mut P,
        batch: &Batch<P::Action>,
        iteration: usize,
    ) -> Result<UpdateStats, PgError> {
        let adv = advantages(&self.estimator, policy, batch, iteration)?;
        let samples = Samples::new(policy, batch, &adv);
        let old = policy.clone();
        let work = &mut MlpBatch::default();
        let mut g = Array1::zeros(policy.num_params());
        let before = ratio_surrogate(policy, &samples, work, Some(&mut g));
        if !g.iter().all(|x| x.is_finite()) {
            return Err(PgError::NonFinite { what: "gradient", iteration });
        }
        let every: Vec<usize> = (0..samples.len()).step_by(self.fisher_every).collect();
        let step = natural_step(&old, &samples.select(&every), &g, self.delta, self.cg_iters, self.damping);
        if !step.direction.iter().all(|x| x.is_finite()) {
            return Err(PgError::NonFinite { what: "natural-gradient step (the Fisher solve)", iteration });
        }
        // The damping's share of the quadratic KL budget, ½η‖Δ‖²/δ, and the
        // states behind F: its rank is at most their number times a row's.
        let damping_share = 0.5 * self.damping * step.direction.dot(&step.direction) / self.delta;
        let mut stats = vec![
            ("grad_norm", g.dot(&g).sqrt()),
            ("cg_residual", step.residual),
            ("damping_share", damping_share),
            ("fisher_states", every.len() as f64),
            ("batch_states", samples.len() as f64),
        ];
        let (fraction, kl, improvement) = match self.line_search {
            None => {
                policy.params_mut().scaled_add(1.0, &step.direction);
                let (kl, after) = kl_and_surrogate(policy, &samples, work);
                (1.0, kl, after - before)
            }
            Some(backtracks) => {
                let mut accepted = (0.0, 0.0, 0.0);
                for k in 0..=backtracks {
                    let fraction = 0.5f64.powi(k as i32);
                    policy.params_mut().assign(old.params());
                    policy.params_mut().scaled_add(fraction, &step.direction);
                    let (kl, after) = kl_and_surrogate(policy, &samples, work);
                    let improvement = after - before;
                    if kl <= self.delta && improvement > 0.0 {
                        accepted = (fraction, kl, improvement);
                        break;
                    }
                }
                if accepted.0 == 0.0 {
                    policy.params_mut().assign(old.params());
                }
                accepted
            }
        };
        stats.extend([("step_fraction", fraction), ("kl", kl), ("improvement", improvement)]);
        fit(&mut self.estimator, policy, batch, iteration)?;
        Ok(UpdateStats { metrics: stats })
    }
}
// ANCHOR_END: natural_gradient

/// The full natural step and how well CG solved for it.
#[derive(Debug, Clone)]
pub struct NaturalStep {
    /// κx: the step whose quadratic KL estimate is δ.
    pub direction: Array1<f64>,
    /// ‖g − (F + ηI)x‖ after CG.
    pub residual: f64,
    /// ½ (κx)ᵀ(F + ηI)(κx), which is δ unless xᵀFx vanished.
    pub quadratic_kl: f64,
}

// ANCHOR: natural_step
/// Solves (F + ηI)x = g by conjugate gradient and scales x so that the
/// quadratic KL estimate ½(κx)ᵀ(F + ηI)(κx) equals δ: κ = √(2δ / xᵀ(F + ηI)x).
/// A zero gradient gives a zero step.
pub fn natural_step<P: Head>(
    policy: &P,
    samples: &Samples<P::Action>,
    g: &Array1<f64>,
    delta: f64,
    cg_iters: usize,
    damping: f64,
) -> NaturalStep {
    let mut fisher = Fisher::new(policy, samples, damping);
    let cg = conjugate_gradient(|v| fisher.apply(v), g, cg_iters, 1e-10);
    let fx = fisher.apply(&cg.x);
    let curvature = cg.x.dot(&fx);
    let kappa = if curvature > 0.0 { (2.0 * delta / curvature).sqrt() } else { 0.0 };
    NaturalStep {
        direction: kappa * &cg.x,
        residual: cg.residual,
        quadratic_kl: 0.5 * kappa * kappa * curvature,
    }
}
// ANCHOR_END: natural_step
