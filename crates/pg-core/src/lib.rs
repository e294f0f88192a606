//! # pg-core
//!
//! The pieces every chapter shares and none of them is about: environments
//! (CartPole, Pendulum and small MDPs whose gradient can be computed exactly),
//! differentiable policies with hand-written score functions, rollouts,
//! optimisers, a finite-difference gradient checker and plot helpers.
//!
//! Notation follows `book/src/notation.md`: a policy is πθ(a|s),
//! a trajectory τ = (s₀, a₀, r₀, s₁, …), its return r(τ) = Σₜ rₜ,
//! and the objective J(θ) = E_{τ∼pθ}[r(τ)].

pub mod clock;
pub mod dist;
pub mod env;
pub mod error;
pub mod fastmath;
pub mod gradcheck;
pub mod grading;
pub mod math;
pub mod optim;
pub mod peers;
pub mod plot;
pub mod policy;
pub mod report;
pub mod rng;
pub mod rollout;
pub mod weights;

pub use dist::Dist;
pub use env::{Env, Step};
pub use error::PgError;
pub use policy::Policy;
pub use rng::{PgRng, seeded};
pub use rollout::{Batch, StepEnd, Trajectory};
pub use weights::StepWeights;
