//! The Play page's module: `pg book` compiles `pg-play` to WebAssembly and
//! ships it with the book as a script (base64 text), which a page opened
//! from disk can load where it could not fetch a `.wasm` file.

use crate::book::workspace_root;
use crate::files::write_atomic;
use std::path::Path;
use std::process::Command;

/// The target the page's module is built for.
pub const TARGET: &str = "wasm32-unknown-unknown";

/// Builds `pg-play` for [`TARGET`] (installing the target with rustup when
/// it is missing) in `target/play`, apart from the workspace's own build so
/// that a `pg` started by cargo can build it; returns the module's bytes.
pub fn build_module() -> Result<Vec<u8>, String> {
    let root = workspace_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let target_dir = root.join("target/play");
    let build = || {
        Command::new(&cargo)
            .current_dir(&root)
            .args(["rustc", "--locked", "--quiet", "-p", "pg-play", "--lib", "--release", "--target", TARGET])
            .args(["--crate-type", "cdylib", "--target-dir"])
            .arg(&target_dir)
            .output()
            .map_err(|e| format!("cannot run {cargo}: {e}"))
    };
    let mut out = build()?;
    let stderr = |o: &std::process::Output| String::from_utf8_lossy(&o.stderr).into_owned();
    if !out.status.success() && stderr(&out).contains("target may not be installed") {
        eprintln!("installing the {TARGET} target for the Play page (rustup target add {TARGET})");
        let added = Command::new("rustup").args(["target", "add", TARGET]).status();
        if !added.is_ok_and(|s| s.success()) {
            return Err(format!(
                "the Play page needs the {TARGET} target, which is missing and rustup could not add: run \
                 `rustup target add {TARGET}`"
            ));
        }
        out = build()?;
    }
    if !out.status.success() {
        return Err(format!("cannot build the Play page's module (pg-play for {TARGET}):\n{}", stderr(&out)));
    }
    let wasm = target_dir.join(TARGET).join("release/pg_play.wasm");
    std::fs::read(&wasm).map_err(|e| format!("cannot read {}: {e}", wasm.display()))
}

/// Writes the module as `self.PG_PLAY_WASM = "<base64>";` to `path` (unless it already holds it).
pub fn write_module_script(path: &Path, wasm: &[u8]) -> Result<(), String> {
    let js = format!("self.PG_PLAY_WASM = \"{}\";\n", base64(wasm));
    if std::fs::read(path).ok().as_deref() != Some(js.as_bytes()) {
        write_atomic(path, js.as_bytes())?;
    }
    Ok(())
}

/// Standard base64 with padding (RFC 4648), which the page's `atob` decodes.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            let c = if i <= chunk.len() { ALPHABET[(n >> shift) as usize & 63] } else { b'=' };
            out.push(c as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_test_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in cases {
            assert_eq!(base64(plain.as_bytes()), encoded, "{plain:?}");
        }
        assert_eq!(base64(&[0xff, 0xfe, 0x00]), "//4A");
    }
}
