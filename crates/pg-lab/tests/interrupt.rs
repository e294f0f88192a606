//! Interrupted work is never half-written: `pg train --out` and `pg book`,
//! interrupted (SIGINT, as Ctrl-C sends it) or killed (SIGKILL) at moments
//! drawn at random over a whole run, leave every file either as it was or
//! wholly replaced. Which whole versions a run put in place is read from the
//! journal `pg` keeps when `PG_WRITE_JOURNAL` is set (written before each
//! rename). Ctrl-C says what it interrupted and exits with status 130.

use pg_lab::files::{JOURNAL, fingerprint};
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const PG: &str = env!("CARGO_BIN_EXE_pg");

/// Moments in [0, 1), from a fixed seed (xorshift).
struct Moments(u64);

impl Moments {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Signal {
    Int,
    Kill,
}

/// When to send the signal: after a delay from the start, or a delay after
/// a file appears (a write under way).
enum Moment<'a> {
    After(Duration),
    AfterAppears(&'a Path, Duration),
}

/// Runs `pg args` in a process group of its own, sends `signal` to the
/// group at `moment` (as a terminal's Ctrl-C reaches every process of the
/// job), and returns what it printed and its exit status (`None` if killed).
fn interrupted(args: &[&str], journal: &Path, signal: Signal, moment: Moment) -> (Option<i32>, String) {
    let mut child = Command::new(PG)
        .args(args)
        .env(JOURNAL, journal)
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    match moment {
        Moment::After(delay) => std::thread::sleep(delay),
        Moment::AfterAppears(file, delay) => {
            while !file.exists() && child.try_wait().unwrap().is_none() {
                std::thread::sleep(Duration::from_micros(200));
            }
            std::thread::sleep(delay);
        }
    }
    let name = match signal {
        Signal::Int => "-INT",
        Signal::Kill => "-KILL",
    };
    // The group may be gone already: the run finished before the moment.
    let _ = Command::new("kill").args([name, "--", &format!("-{}", child.id())]).status();
    let out: Output = child.wait_with_output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Every file under `dir`, by path relative to it.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.insert(path.strip_prefix(dir).unwrap().to_path_buf(), std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

/// The fingerprints the journal records per path.
fn journaled(journal: &Path) -> BTreeMap<PathBuf, BTreeSet<u64>> {
    let mut out: BTreeMap<PathBuf, BTreeSet<u64>> = BTreeMap::new();
    for line in std::fs::read_to_string(journal).unwrap_or_default().lines() {
        let (path, hash) = line.rsplit_once('\t').unwrap();
        out.entry(PathBuf::from(path)).or_default().insert(u64::from_str_radix(hash, 16).unwrap());
    }
    out
}

/// What may become of a file besides staying or being replaced whole.
#[derive(Clone, Copy, PartialEq)]
enum Files {
    /// Nothing: every file stays.
    Stay,
    /// Removal (the cache's keys, which a rerun removes first and writes back last).
    MayGo,
}

/// Checks that every file under `dir` is as `before` had it or a whole
/// version the journal records; temporary files only after SIGKILL.
fn assert_whole(dir: &Path, before: &BTreeMap<PathBuf, Vec<u8>>, journal: &Path, signal: Signal, what: &str) {
    assert_whole_or(dir, before, journal, signal, Files::Stay, what)
}

fn assert_whole_or(
    dir: &Path,
    before: &BTreeMap<PathBuf, Vec<u8>>,
    journal: &Path,
    signal: Signal,
    files_may: Files,
    what: &str,
) {
    let written = journaled(journal);
    let now = files(dir);
    for (path, old) in before {
        let Some(new) = now.get(path) else {
            assert!(files_may == Files::MayGo, "{what}: {} is gone", path.display());
            continue;
        };
        let whole_new = written.get(&dir.join(path)).is_some_and(|h| h.contains(&fingerprint(new)));
        assert!(
            new == old || whole_new,
            "{what}: {} is neither its previous nor a whole new version",
            path.display()
        );
    }
    for path in now.keys().filter(|p| !before.contains_key(*p)) {
        let name = path.file_name().unwrap().to_string_lossy();
        let leftover = name.starts_with('.') && name.ends_with(".tmp");
        assert!(leftover || written.contains_key(&dir.join(path)), "{what}: {} appeared", path.display());
        assert!(!(leftover && signal == Signal::Int), "{what}: Ctrl-C left {} behind", path.display());
    }
}

fn assert_said_what_it_interrupted(code: Option<i32>, stderr: &str, command: &str, what: &str) {
    match code {
        Some(130) => assert!(stderr.contains(&format!("interrupted: {command}")), "{what}: {stderr}"),
        // It finished first, and said nothing of an interruption.
        Some(0) => assert!(!stderr.contains("interrupted"), "{what}: exit status 0 after: {stderr}"),
        other => panic!("{what}: exit status {other:?} after Ctrl-C: {stderr}"),
    }
}

#[test]
fn pg_train_interrupted_or_killed_leaves_the_previous_or_the_new_whole_out_file() {
    let dir = tempfile::tempdir().unwrap();
    let journals = tempfile::tempdir().unwrap();
    let out = dir.path().join("run.json");
    let out_text = out.to_str().unwrap();
    let args = ["train", "--algo", "reinforce", "--iters", "120", "--quiet", "--out", out_text];
    // A whole run, writing slowly as under the journal (64 pieces 3 ms apart).
    let started = Instant::now();
    let first = Command::new(PG).args(args).env(JOURNAL, journals.path().join("first")).output().unwrap();
    assert!(first.status.success());
    let whole = started.elapsed();
    let tmp = dir.path().join(".run.json.tmp");
    let mut moments = Moments(0x05ee_d0f1_u64);
    let mut landed_mid_write = 0;
    for trial in 0..13 {
        let signal = if trial % 2 == 0 || trial >= 10 { Signal::Int } else { Signal::Kill };
        let journal = journals.path().join(format!("journal-{trial}"));
        let before = files(dir.path());
        // Four moments anywhere in the run, six within its write (which
        // lasts at least 190 ms), three 10 to 40 ms after its start (as it
        // sets up; the handler is in place from the first lines of main).
        let moment = match trial {
            0..4 => Moment::After(whole.mul_f64(1.1 * moments.next())),
            4..10 => Moment::AfterAppears(&tmp, Duration::from_millis(150).mul_f64(moments.next())),
            _ => Moment::After(Duration::from_millis(10) + Duration::from_millis(30).mul_f64(moments.next())),
        };
        let delay = match moment {
            Moment::After(d) => format!("{d:?} after its start"),
            Moment::AfterAppears(_, d) => format!("{d:?} into its write"),
        };
        let (code, stderr) = interrupted(&args, &journal, signal, moment);
        let what = format!("trial {trial}, {signal:?} {delay} of a {whole:?} run");
        assert_whole(dir.path(), &before, &journal, signal, &what);
        let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
        assert_eq!(summary["iterations"].as_array().map(Vec::len), Some(120), "{what}");
        if signal == Signal::Int {
            assert_said_what_it_interrupted(code, &stderr, "pg train --algo reinforce", &what);
            if code == Some(130) {
                assert!(stderr.contains("run.json"), "{what}: the message names the file: {stderr}");
            }
        }
        for leftover in files(dir.path()).keys().filter(|p| p.to_string_lossy().ends_with(".tmp")) {
            landed_mid_write += 1;
            std::fs::remove_file(dir.path().join(leftover)).unwrap();
        }
    }
    // The check had something to check: a kill cut a write short, and the file stayed whole.
    assert!(landed_mid_write > 0, "no kill landed while the file was being written");
}

/// Whether the built book under `build` is whole: the pages of a complete build, each ending its HTML.
fn assert_built_whole(build: &Path, pages: &BTreeSet<PathBuf>, what: &str) {
    let now: BTreeSet<PathBuf> = files(build).into_keys().collect();
    assert_eq!(&now, pages, "{what}: the built book's files changed");
    for page in pages.iter().filter(|p| p.extension().is_some_and(|e| e == "html")) {
        let html = std::fs::read_to_string(build.join(page)).unwrap();
        let document = html.trim_start().to_ascii_lowercase().starts_with("<!doctype html");
        assert!(!document || html.trim_end().ends_with("</html>"), "{what}: {} is cut short", page.display());
    }
}

/// The seconds `pg book` says its HTML build took.
fn build_seconds(stderr: &str) -> f64 {
    let line = stderr.lines().find_map(|l| l.strip_prefix("built the HTML book in ")).unwrap();
    line.trim_end_matches(" s").parse().unwrap()
}

#[test]
fn pg_book_interrupted_or_killed_leaves_every_file_whole() {
    let dir = tempfile::tempdir().unwrap();
    let book = pg_lab::book::scratch_copy(dir.path()).unwrap();
    let book_text = book.to_str().unwrap().to_string();
    let args = ["book", "--quick", "--fresh", "--book-dir", &book_text];
    let started = Instant::now();
    let first = Command::new(PG).args(&args[..2]).args(&args[3..]).output().unwrap();
    let first_err = String::from_utf8_lossy(&first.stderr);
    assert!(first.status.success(), "{first_err}");
    let whole = started.elapsed();
    let building = Duration::from_secs_f64(build_seconds(&first_err));
    let (src, cache, build, staging) =
        (book.join("src"), book.join(".cache"), book.join("build"), book.join(".build-new"));
    let pages: BTreeSet<PathBuf> = files(&build).into_keys().collect();
    assert!(pages.len() > 10, "{} files in the built book", pages.len());
    let mut moments = Moments(0x0b00_c0f2_u64);
    // Within the HTML build (first: a killed run leaves a half-built book,
    // which would be seen as the build's start), and at random moments of the whole run.
    let trials = [(Signal::Int, Some(&staging)), (Signal::Int, None), (Signal::Kill, None)];
    for (trial, (signal, during)) in trials.into_iter().enumerate() {
        let journal = dir.path().join(format!("journal-{trial}"));
        let (before, cached) = (files(&src), files(&cache));
        let (moment, delay) = match during {
            None => {
                let delay = whole.mul_f64(moments.next());
                (Moment::After(delay), format!("{delay:?} after the start"))
            }
            Some(staging) => {
                let delay = building.mul_f64(moments.next());
                (Moment::AfterAppears(staging, delay), format!("{delay:?} into the {building:?} HTML build"))
            }
        };
        let (code, stderr) = interrupted(&args, &journal, signal, moment);
        let what = format!("{signal:?} {delay} of a {whole:?} run");
        assert_whole(&src, &before, &journal, signal, &what);
        assert_whole_or(&cache, &cached, &journal, signal, Files::MayGo, &what);
        assert_built_whole(&build, &pages, &what);
        if signal == Signal::Int {
            assert_said_what_it_interrupted(code, &stderr, "pg book", &what);
            assert!(!staging.exists(), "{what}: Ctrl-C left the half-built book behind");
            if during.is_some() {
                // The moment was within the build (or just after its swap).
                assert!(stderr.contains("HTML book"), "{what}: {stderr}");
            }
        }
    }
    // The next run clears what the killed one left and builds the book again.
    let last = Command::new(PG).args(&args[..2]).args(&args[3..]).output().unwrap();
    assert!(last.status.success(), "{}", String::from_utf8_lossy(&last.stderr));
    assert_built_whole(&build, &pages, "the run after");
    assert!(!staging.exists());
    let leftovers: Vec<PathBuf> = [&src, &cache]
        .into_iter()
        .flat_map(|d| files(d).into_keys())
        .filter(|p| p.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
