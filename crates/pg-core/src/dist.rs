//! Action distributions, with the KL divergence and entropy that the later
//! chapters (trust regions, natural gradient) need.

use crate::math::{exp, ln};
use ndarray::Array1;

/// The distribution πθ(·|s) at one state.
#[derive(Debug, Clone, PartialEq)]
pub enum Dist {
    /// Probabilities of each discrete action.
    Categorical(Vec<f64>),
    /// A diagonal Gaussian.
    Gaussian {
        /// The mean μ.
        mean: Array1<f64>,
        /// log σ per dimension.
        log_std: Array1<f64>,
    },
}

impl Dist {
    /// KL(p ‖ q) for `self` = p and `other` = q of the same kind.
    ///
    /// # Panics
    /// If the two distributions are of different kinds or sizes.
    pub fn kl(&self, other: &Dist) -> f64 {
        match (self, other) {
            (Dist::Categorical(p), Dist::Categorical(q)) => {
                assert_eq!(p.len(), q.len());
                p.iter().zip(q).filter(|(pi, _)| **pi > 0.0).map(|(pi, qi)| pi * ln(pi / qi)).sum()
            }
            (Dist::Gaussian { mean: m1, log_std: s1 }, Dist::Gaussian { mean: m2, log_std: s2 }) => {
                assert_eq!(m1.len(), m2.len());
                let mut kl = 0.0;
                for i in 0..m1.len() {
                    let (v1, v2) = (exp(2.0 * s1[i]), exp(2.0 * s2[i]));
                    kl += s2[i] - s1[i] + (v1 + (m1[i] - m2[i]).powi(2)) / (2.0 * v2) - 0.5;
                }
                kl
            }
            _ => panic!("KL between distributions of different kinds"),
        }
    }

    /// The entropy H(p).
    pub fn entropy(&self) -> f64 {
        match self {
            Dist::Categorical(p) => -p.iter().filter(|pi| **pi > 0.0).map(|&pi| pi * ln(pi)).sum::<f64>(),
            Dist::Gaussian { log_std, .. } => {
                log_std.iter().map(|ls| ls + 0.5 * (1.0 + ln(2.0 * std::f64::consts::PI))).sum()
            }
        }
    }
}
