//! # pg-core
//!
//! The pieces every chapter shares and none of them is about: environments
//! (CartPole, Pendulum and small MDPs whose gradient can be computed exactly),
//! differentiable policies with hand-written score functions, rollouts,
//! optimisers, a finite-difference gradient checker and plot helpers.
//!
//! Notation follows `book/src/notation.md`: a policy is \\(\pi_\theta(a\mid s)\\),
//! a trajectory \\(\tau = (s_0, a_0, r_0, s_1, \dots)\\), its return \\(r(\tau) = \sum_t r_t\\),
//! and the objective \\(J(\theta) = \mathbb{E}_{\tau\sim p_\theta}[r(\tau)]\\).

pub mod dist;
pub mod env;
pub mod error;
pub mod gradcheck;
pub mod optim;
pub mod plot;
pub mod policy;
pub mod rng;
pub mod rollout;

pub use dist::Dist;
pub use env::{Env, Step};
pub use error::PgError;
pub use policy::Policy;
pub use rng::{PgRng, seeded};
pub use rollout::{Batch, Trajectory};
