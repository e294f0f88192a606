//! Atomic file writes: a result file is either complete or absent.

use std::io::Write;
use std::path::Path;

/// Writes `contents` to a temporary file beside `path`, then renames it into
/// place, so a crash or error never leaves a half-written file.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), String> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(format!(
            "cannot write {}: the directory {} does not exist",
            path.display(),
            dir.display()
        ));
    }
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
