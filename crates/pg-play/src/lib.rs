//! # Play: one training run, a batch at a time
//!
//! `pg train` and the book's Play page run the same code: the page loads
//! this crate compiled to WebAssembly and calls [`api`], which parses the
//! same flags ([`args`]) into the same [`Session`] that `pg train` steps
//! behind its progress bar.

// The run's summary is one `serde_json::json!` literal with many fields.
#![recursion_limit = "256"]

pub mod api;
pub mod args;
pub mod book;
pub mod bounds;
pub mod defaults;
pub mod registry;
pub mod session;

pub use session::{Session, WINDOW};
