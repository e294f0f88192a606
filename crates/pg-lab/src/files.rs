//! Atomic file writes: a result file is either complete or absent.

use std::io::Write;
use std::path::Path;

/// Writes `contents` to a temporary file beside `path`, then renames it into
/// place, so a crash or error never leaves a half-written file.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), String> {
    let dir = existing_dir(path)?;
    let name = path.file_name().ok_or_else(|| format!("{} is not a file path", path.display()))?;
    let tmp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
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
