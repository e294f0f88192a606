//! Records what `pg book` puts into the key of every chapter's cached results:
//! the compiler that builds `pg` (another compiler may round differently) and
//! the hash of the workspace sources it is built from.

use std::process::Command;

#[allow(dead_code)]
#[path = "src/cache.rs"]
mod cache;

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let version = Command::new(rustc)
        .arg("-vV")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().next().map(str::to_string))
        .unwrap_or_else(|| "unknown rustc".to_string());
    println!("cargo:rustc-env=PG_RUSTC_VERSION={version}");
    println!("cargo:rerun-if-env-changed=RUSTC");

    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // Without the sources (a packaged crate) the hashes are empty and nothing is reused.
    let sources = cache::all_sources(&root).unwrap_or_default();
    println!("cargo:rustc-env=PG_CHAPTER_SOURCES={sources}");
    println!("cargo:rerun-if-changed=../../crates");
    println!("cargo:rerun-if-changed=../../Cargo.lock");
}
