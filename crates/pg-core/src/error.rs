//! Errors that user input or training can produce. Nothing in the project
//! panics on user input: it returns one of these, naming the value and what is allowed.

use std::fmt;

/// An error with a message fit to show a user.
#[derive(Debug, Clone, PartialEq)]
pub enum PgError {
    /// A configuration value outside its allowed range.
    InvalidConfig {
        /// The name of the setting, e.g. `lr`.
        name: &'static str,
        /// The value that was given, as written.
        value: String,
        /// What would have been accepted.
        allowed: &'static str,
    },
    /// A NaN or infinity appeared during training.
    NonFinite {
        /// Which quantity went non-finite (e.g. `gradient`).
        what: &'static str,
        /// The iteration at which it happened (0-based).
        iteration: usize,
    },
}

impl fmt::Display for PgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PgError::InvalidConfig { name, value, allowed } => {
                write!(f, "invalid value {value} for {name}: allowed is {allowed}")
            }
            PgError::NonFinite { what, iteration } => write!(
                f,
                "the {what} became NaN or infinite at iteration {iteration}; \
                 try a smaller learning rate (allowed: finite values only)"
            ),
        }
    }
}

impl std::error::Error for PgError {}

/// Checks that `value` is finite and strictly positive.
pub fn positive(name: &'static str, value: f64) -> Result<f64, PgError> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(PgError::InvalidConfig {
            name,
            value: value.to_string(),
            allowed: "a finite number greater than 0",
        })
    }
}

/// Checks that `value` is at least 1.
pub fn at_least_one(name: &'static str, value: usize) -> Result<usize, PgError> {
    if value >= 1 {
        Ok(value)
    } else {
        Err(PgError::InvalidConfig {
            name,
            value: value.to_string(),
            allowed: "a whole number of at least 1",
        })
    }
}

/// Checks that `value` lies in the closed interval [0, 1].
pub fn unit_interval(name: &'static str, value: f64) -> Result<f64, PgError> {
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(PgError::InvalidConfig { name, value: value.to_string(), allowed: "a number from 0 to 1" })
    }
}
