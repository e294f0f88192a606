//! Checks that span the workspace. The chapters' inline Rust blocks are
//! compiled and run here as doctests, so they always agree with the crates.

use std::path::{Path, PathBuf};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ sits in the workspace").to_path_buf()
}

/// Every `{{#include path[:anchor]}}` in a Markdown text, as (path, anchor).
pub fn includes(markdown: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut rest = markdown;
    while let Some(start) = rest.find("{{#include ") {
        let body = &rest[start + "{{#include ".len()..];
        let end = body.find("}}").expect("an include is closed by }}");
        let spec = body[..end].trim();
        let (path, anchor) = match spec.split_once(':') {
            Some((p, a)) => (p.to_string(), Some(a.to_string())),
            None => (spec.to_string(), None),
        };
        out.push((path, anchor));
        rest = &body[end..];
    }
    out
}

pub use pg_core::report::anchored_region;

#[cfg(doctest)]
#[doc = include_str!("../../book/src/01-likelihood-ratio.md")]
pub struct Chapter01;

#[cfg(doctest)]
#[doc = include_str!("../../book/src/02-causality.md")]
pub struct Chapter02;

#[cfg(doctest)]
#[doc = include_str!("../../book/src/03-baselines.md")]
pub struct Chapter03;

#[cfg(doctest)]
#[doc = include_str!("../../book/src/04-surrogate-loss.md")]
pub struct Chapter04;

#[cfg(doctest)]
#[doc = include_str!("../../book/src/05-importance-sampling.md")]
pub struct Chapter05;

#[cfg(doctest)]
#[doc = include_str!("../../book/src/06-kl-constraint.md")]
pub struct Chapter06;

#[cfg(doctest)]
#[doc = include_str!("../../book/src/07-how-fast.md")]
pub struct Chapter07;
