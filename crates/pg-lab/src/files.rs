//! Atomic file writes: a result file is either complete or absent, and an
//! interrupted run leaves each file as it was or wholly replaced.

use std::io::Write;
use std::path::Path;

/// The environment variable naming a file to which [`write_atomic`] appends,
/// before each rename, the path and [`fingerprint`] of what it is about to
/// put in place: how the interruption test tells a whole new file from a
/// half-written one. With it set, files are written in 64 pieces 3 ms
/// apart, so that the test's kills can land mid-write.
pub const JOURNAL: &str = "PG_WRITE_JOURNAL";

/// Writes `contents` to a temporary file beside `path`, then renames it into
/// place, so a crash, a kill or an error never leaves a half-written file.
/// Ctrl-C waits until the rename is done (see [`crate::interrupt`]).
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), String> {
    let _no_interruption = crate::interrupt::writing();
    write_renamed(path, contents)
}

/// [`write_atomic`], and then, before Ctrl-C can interrupt again, says `then`
/// is what the program is doing (see [`crate::interrupt::doing`]).
pub fn write_atomic_then(path: &Path, contents: &[u8], then: String) -> Result<(), String> {
    let _no_interruption = crate::interrupt::writing();
    write_renamed(path, contents)?;
    crate::interrupt::doing(then);
    Ok(())
}

fn write_renamed(path: &Path, contents: &[u8]) -> Result<(), String> {
    let dir = existing_dir(path)?;
    let name = path.file_name().ok_or_else(|| format!("{} is not a file path", path.display()))?;
    let tmp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        let journal = std::env::var_os(JOURNAL);
        if journal.is_some() {
            // Under test: slowly, so that a kill at a random moment can land mid-write.
            for piece in contents.chunks(contents.len().div_ceil(64).max(1)) {
                f.write_all(piece)?;
                std::thread::sleep(std::time::Duration::from_millis(3));
            }
        } else {
            f.write_all(contents)?;
        }
        f.sync_all()?;
        if let Some(journal) = journal {
            let mut j = std::fs::OpenOptions::new().create(true).append(true).open(journal)?;
            writeln!(j, "{}\t{:016x}", path.display(), fingerprint(contents))?;
            j.sync_all()?;
        }
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot write {}: {e}", path.display())
    })
}

/// Checks, before any work is done, that `path` can be written: its directory
/// exists and accepts a new file. A typo in `--out` must not cost a run.
pub fn check_writable(path: &Path) -> Result<(), String> {
    let dir = existing_dir(path)?;
    if path.is_dir() {
        return Err(format!("cannot write {}: it is a directory; give a file name", path.display()));
    }
    let name = path.file_name().ok_or_else(|| format!("{} is not a file path", path.display()))?;
    let probe = dir.join(format!(".{}.probe.tmp", name.to_string_lossy()));
    let _no_interruption = crate::interrupt::writing();
    std::fs::File::create(&probe)
        .and_then(|_| std::fs::remove_file(&probe))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The directory `path` would be written into, if it exists.
fn existing_dir(path: &Path) -> Result<&Path, String> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if dir.is_dir() {
        Ok(dir)
    } else {
        Err(format!("cannot write {}: the directory {} does not exist", path.display(), dir.display()))
    }
}

/// A 64-bit FNV-1a hash of `bytes`.
pub fn fingerprint(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// Replaces the directory `to` by `from` (which must exist) in one step where
/// the system allows it (Linux: an atomic exchange), so that `to` is always
/// either its previous whole self or the new one; the previous one ends up
/// at `from`, and is removed.
pub fn replace_dir(from: &Path, to: &Path) -> Result<(), String> {
    let _no_interruption = crate::interrupt::writing();
    replace(from, to)
}

/// [`replace_dir`], and then, before Ctrl-C can interrupt again, says `then`
/// is what the program is doing (see [`crate::interrupt::doing`]).
pub fn replace_dir_then(from: &Path, to: &Path, then: String) -> Result<(), String> {
    let _no_interruption = crate::interrupt::writing();
    replace(from, to)?;
    crate::interrupt::doing(then);
    Ok(())
}

fn replace(from: &Path, to: &Path) -> Result<(), String> {
    let err = |e: std::io::Error| format!("cannot move {} to {}: {e}", from.display(), to.display());
    if !to.exists() {
        return std::fs::rename(from, to).map_err(err);
    }
    exchange(from, to).map_err(err)?;
    std::fs::remove_dir_all(from).map_err(|e| format!("cannot remove {}: {e}", from.display()))
}

#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).map_err(std::io::Error::other);
    let (a, b) = (c(a)?, c(b)?);
    // SAFETY: both are valid NUL-terminated paths that outlive the call.
    let status = unsafe {
        libc::renameat2(libc::AT_FDCWD, a.as_ptr(), libc::AT_FDCWD, b.as_ptr(), libc::RENAME_EXCHANGE)
    };
    if status == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}

/// Elsewhere in two renames, with a moment in which `b` is missing.
#[cfg(not(target_os = "linux"))]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    let aside = b.with_extension("previous");
    std::fs::rename(b, &aside)?;
    std::fs::rename(a, b)?;
    std::fs::rename(&aside, a)
}

/// Removes the temporary files (`.*.tmp`) a killed run left over in `dir`.
pub fn clear_leftovers(dir: &Path) -> Result<(), String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(()) };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') && name.ends_with(".tmp") && entry.path().is_file() {
            std::fs::remove_file(entry.path()).map_err(|e| format!("cannot remove {name}: {e}"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_is_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let (new, old) = (dir.path().join("new"), dir.path().join("build"));
        for (d, text) in [(&new, "new"), (&old, "old")] {
            std::fs::create_dir(d).unwrap();
            std::fs::write(d.join("index.html"), text).unwrap();
        }
        std::fs::write(old.join("stale.html"), "").unwrap();
        replace_dir(&new, &old).unwrap();
        assert_eq!(std::fs::read_to_string(old.join("index.html")).unwrap(), "new");
        assert!(!old.join("stale.html").exists() && !new.exists());
        // Into a place that does not exist yet.
        std::fs::create_dir(&new).unwrap();
        let fresh = dir.path().join("fresh");
        replace_dir(&new, &fresh).unwrap();
        assert!(fresh.is_dir() && !new.exists());
    }

    #[test]
    fn leftovers_are_cleared_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        for name in [".a.md.tmp", "a.md", ".cache"] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        clear_leftovers(dir.path()).unwrap();
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, [".cache", "a.md"]);
    }
}
