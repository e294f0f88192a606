//! Reusing a chapter's generated results when nothing that feeds them changed.
//!
//! A chapter's results are a function of the sources of its crate and of every
//! workspace crate it depends on, the lock file, the compiler, the settings it
//! ran with (`--quick`) and any extra input file it reads. The sources are
//! hashed when `pg` is compiled (its build script uses this file), so a key
//! always describes the code that ran, even if the sources changed since.
//! `pg book` writes a chapter's key beside its generated files once all of
//! them are written; the next build reuses the files while the key is the
//! same. Tests, benches and proptest regressions do not feed the results and
//! are left out, so editing a test does not rerun an experiment.

use std::collections::BTreeSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

/// Bumped when the key's recipe changes, so old stamps stop matching.
const RECIPE: u32 = 1;

/// Folders of a crate that do not feed its experiments' results.
const NOT_INPUTS: &[&str] = &["tests", "benches", "proptest-regressions", "target"];

/// The workspace crates `name` depends on, itself included, transitively.
pub fn crate_closure(root: &Path, name: &str) -> Result<BTreeSet<String>, String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![name.to_string()];
    while let Some(name) = todo.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let manifest = root.join("crates").join(&name).join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest)
            .map_err(|e| format!("cannot read {}: {e}", manifest.display()))?;
        todo.extend(workspace_dependencies(&text).filter(|d| root.join("crates").join(d).is_dir()));
    }
    Ok(seen)
}

/// The names in a manifest's `[dependencies]` table (not dev- or build-dependencies).
fn workspace_dependencies(manifest: &str) -> impl Iterator<Item = String> + '_ {
    let mut in_deps = false;
    manifest.lines().filter_map(move |line| {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
            return None;
        }
        let name = line.split(['=', '.', ' ']).next()?;
        (in_deps && !name.is_empty() && !name.starts_with('#')).then(|| name.to_string())
    })
}

/// Every file of a crate that can feed its results, sorted.
fn input_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| format!("cannot list {}: {e}", dir.display()))?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if !NOT_INPUTS.contains(&name) {
                input_files(&path, out)?;
            }
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// A 128-bit hash (two SipHash streams with different seeds) of what `feed` writes.
fn hash128(feed: impl Fn(&mut DefaultHasher)) -> String {
    let mut hashers = [DefaultHasher::new(), DefaultHasher::new()];
    hashers[1].write_u8(1);
    for h in &mut hashers {
        feed(h);
    }
    format!("{:016x}{:016x}", hashers[0].finish(), hashers[1].finish())
}

/// The hash of everything in the workspace that feeds the results of crate
/// `name`: the input files of its crate closure and the lock file.
pub fn sources_hash(root: &Path, name: &str) -> Result<String, String> {
    let mut files = Vec::new();
    for krate in crate_closure(root, name)? {
        input_files(&root.join("crates").join(krate), &mut files)?;
    }
    files.sort();
    files.push(root.join("Cargo.lock"));
    let contents = files
        .iter()
        .map(|f| {
            let relative = f.strip_prefix(root).unwrap_or(f).to_string_lossy().into_owned();
            std::fs::read(f).map(|c| (relative, c)).map_err(|e| format!("cannot read {}: {e}", f.display()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(hash128(|h| contents.hash(h)))
}

/// What a chapter's key depends on besides its sources.
pub struct Settings<'a> {
    /// `pg book --quick`.
    pub quick: bool,
    /// The compiler that built `pg` (`rustc -vV`'s first line).
    pub compiler: &'a str,
    /// Files the chapter reads at run time, relative to `root`; an absent one counts as absent.
    pub extra_inputs: &'a [&'a str],
}

/// The key of a chapter whose sources hash to `sources`.
pub fn key(root: &Path, sources: &str, settings: &Settings) -> String {
    let extra: Vec<Option<Vec<u8>>> =
        settings.extra_inputs.iter().map(|f| std::fs::read(root.join(f)).ok()).collect();
    hash128(|h| (RECIPE, sources, settings.quick, settings.compiler, std::env::consts::ARCH, &extra).hash(h))
}

/// The sources hash of every crate of the workspace at `root`, as `name=hash;…`
/// (what the build script records).
pub fn all_sources(root: &Path) -> Result<String, String> {
    let dir = root.join("crates");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("Cargo.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let pairs = names.iter().map(|n| sources_hash(root, n).map(|h| format!("{n}={h}")));
    Ok(pairs.collect::<Result<Vec<_>, _>>()?.join(";"))
}

/// The hash of crate `name` in a list made by [`all_sources`].
pub fn lookup<'a>(all: &'a str, name: &str) -> Option<&'a str> {
    all.split(';').find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

/// Where the key of the chapter in crate `name` is kept, in the folder `stamps`.
pub fn stamp_path(stamps: &Path, name: &str) -> PathBuf {
    stamps.join(format!("{name}.key"))
}

/// Whether the chapter's stamp holds `key` and every file it generates is present in `generated`.
pub fn is_fresh(stamps: &Path, generated: &Path, name: &str, key: &str, files: &[&str]) -> bool {
    std::fs::read_to_string(stamp_path(stamps, name)).is_ok_and(|k| k.trim() == key)
        && files.iter().all(|f| generated.join(f).is_file())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::{CHAPTERS, workspace_root};

    fn copy_dir(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let src = entry.unwrap().path();
            let dst = to.join(src.file_name().unwrap());
            if src.file_name().is_some_and(|n| n == "target") {
                continue;
            }
            if src.is_dir() { copy_dir(&src, &dst) } else { std::fs::copy(&src, &dst).map(|_| ()).unwrap() }
        }
    }

    /// A copy of the workspace's crates and lock file, and every chapter's key in it.
    fn keys(root: &Path) -> Vec<String> {
        let all = all_sources(root).unwrap();
        CHAPTERS
            .iter()
            .map(|c| {
                let settings = Settings { quick: false, compiler: "rustc 1.0", extra_inputs: c.extra_inputs };
                key(root, lookup(&all, c.krate).unwrap(), &settings)
            })
            .collect()
    }

    fn changed(before: &[String], after: &[String]) -> Vec<&'static str> {
        CHAPTERS
            .iter()
            .zip(before.iter().zip(after))
            .filter(|(_, (b, a))| b != a)
            .map(|(c, _)| c.krate)
            .collect()
    }

    fn append(path: &Path, text: &str) {
        let mut s = std::fs::read_to_string(path).unwrap();
        s.push_str(text);
        std::fs::write(path, s).unwrap();
    }

    #[test]
    fn a_change_reruns_exactly_the_chapters_that_depend_on_it() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        copy_dir(&workspace_root().join("crates"), &root.join("crates"));
        std::fs::copy(workspace_root().join("Cargo.lock"), root.join("Cargo.lock")).unwrap();
        let base = keys(root);
        assert_eq!(keys(root), base, "the key is a function of the files");

        // Chapter 3's crate: chapter 3 and the chapters built on it (and the
        // Play page's, built on them all), not 1 or 2.
        append(&root.join("crates/pg-baselines/src/lib.rs"), "\n// an edit\n");
        let after = keys(root);
        assert_eq!(
            changed(&base, &after),
            [
                "pg-baselines",
                "pg-surrogate",
                "pg-importance-sampling",
                "pg-kl-constraint",
                "pg-speed",
                "pg-play"
            ]
        );

        // A test file feeds no result.
        append(&root.join("crates/pg-baselines/tests/exact.rs"), "\n// an edit\n");
        assert_eq!(keys(root), after);

        // The optional peer measurements: chapters 6 and 7 only.
        std::fs::create_dir_all(root.join("peers")).unwrap();
        std::fs::write(root.join("peers/peers.json"), "{}").unwrap();
        let with_peers = keys(root);
        assert_eq!(changed(&after, &with_peers), ["pg-kl-constraint", "pg-speed"]);

        // pg-core and the lock file feed every chapter; so do the settings.
        append(&root.join("crates/pg-core/src/lib.rs"), "\n// an edit\n");
        assert_eq!(changed(&with_peers, &keys(root)).len(), CHAPTERS.len());
        let core = keys(root);
        append(&root.join("Cargo.lock"), "\n");
        assert_eq!(changed(&core, &keys(root)).len(), CHAPTERS.len());
        let quick = Settings { quick: true, compiler: "rustc 1.0", extra_inputs: &[] };
        let plain = Settings { quick: false, ..quick };
        assert_ne!(key(root, "h", &quick), key(root, "h", &plain));
        let other = Settings { compiler: "rustc 2.0", ..plain };
        assert_ne!(key(root, "h", &other), key(root, "h", &plain));
        assert_ne!(key(root, "h", &plain), key(root, "g", &plain));
    }

    #[test]
    fn a_stamp_counts_only_with_every_file_present() {
        let tmp = tempfile::tempdir().unwrap();
        let generated = tmp.path();
        std::fs::write(stamp_path(generated, "pg-x"), "abc").unwrap();
        std::fs::write(generated.join("a.md"), "table").unwrap();
        assert!(is_fresh(generated, generated, "pg-x", "abc", &["a.md"]));
        assert!(!is_fresh(generated, generated, "pg-x", "abd", &["a.md"]));
        assert!(!is_fresh(generated, generated, "pg-x", "abc", &["a.md", "b.html"]));
        assert!(!is_fresh(generated, generated, "pg-y", "abc", &["a.md"]));
    }

    #[test]
    fn reads_only_the_dependencies_table() {
        let manifest = "[package]\nname = \"x\"\n[dependencies]\npg-core.workspace = true\n\
                        ndarray = { workspace = true }\n# a comment\n[dev-dependencies]\nproptest = \"1\"\n";
        let names: Vec<_> = workspace_dependencies(manifest).collect();
        assert_eq!(names, ["pg-core", "ndarray"]);
    }

    #[test]
    fn finds_a_crate_in_the_list_by_its_whole_name() {
        let all = "pg-core=1;pg-core-extra=2;pg-speed=3";
        assert_eq!(lookup(all, "pg-core"), Some("1"));
        assert_eq!(lookup(all, "pg-speed"), Some("3"));
        assert_eq!(lookup(all, "pg"), None);
    }
}
