//! The mutation-testing record shown on the page "How we know".
//!
//! `scripts/mutants.sh` runs cargo-mutants over the crates and files of
//! `mutants/scope.txt` and records each crate's counts in
//! `mutants/results.json`: its first run as "before", its latest as
//! "after". `mutants/equivalent.json` gives, for each mutant left alive, the
//! reason it is left. The page's `{{#mutants}}` becomes the table.

use serde_json::Value;
use std::path::Path;

/// One recorded run of one crate.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// The commit it ran on (`+changes` when the tree had edits).
    pub commit: String,
    /// Mutants the crate's tests failed on, or that timed out.
    pub caught: usize,
    /// Mutants that did not build: they say nothing about the tests.
    pub unviable: usize,
    /// The survivors' names, as cargo-mutants prints them.
    pub missed: Vec<String>,
}

impl Run {
    /// Caught mutants as a share of the viable ones.
    pub fn kill_rate(&self) -> f64 {
        self.caught as f64 / (self.caught + self.missed.len()) as f64
    }

    fn viable(&self) -> usize {
        self.caught + self.missed.len()
    }

    fn from_json(v: &Value) -> Result<Self, String> {
        let count = |k: &str| {
            v.get(k).and_then(Value::as_u64).map(|n| n as usize).ok_or_else(|| format!("no count `{k}`"))
        };
        let text =
            |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string).ok_or_else(|| format!("no `{k}`"));
        let missed = v
            .get("missed")
            .and_then(Value::as_array)
            .ok_or("no list `missed`")?
            .iter()
            .map(|m| m.as_str().map(str::to_string).ok_or("a survivor that is not a string"))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Run {
            commit: text("commit")?,
            // A mutant that makes the tests run past their time limit is caught.
            caught: count("caught")? + count("timeout")?,
            unviable: count("unviable")?,
            missed,
        })
    }
}

/// One crate of the scope, with its record if it has been run.
#[derive(Debug, Clone, PartialEq)]
pub struct Crate {
    /// The crate's name.
    pub name: String,
    /// The files mutated, relative to the crate.
    pub files: Vec<String>,
    /// Tests left out of the mutants' runs (`skip=` in the scope).
    pub skipped: Vec<String>,
    /// Its first recorded run.
    pub before: Option<Run>,
    /// Its latest run, when there is more than one.
    pub after: Option<Run>,
    /// A run in slices (`mutants.sh --shard K/N`) still under way: (slices done, N).
    pub slices: Option<(usize, usize)>,
}

impl Crate {
    /// The latest run, if any.
    pub fn latest(&self) -> Option<&Run> {
        self.after.as_ref().or(self.before.as_ref())
    }
}

/// The record: every crate of the scope, in its order, and the reasons.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The crates of `mutants/scope.txt`.
    pub crates: Vec<Crate>,
    /// Survivor name → why it is left alive.
    pub reasons: Vec<(String, String)>,
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Reads `mutants/` under the workspace `root`.
pub fn load(root: &Path) -> Result<Record, String> {
    let dir = root.join("mutants");
    let parse = |name: &str| -> Result<Value, String> {
        let path = dir.join(name);
        serde_json::from_str(&read(&path)?).map_err(|e| format!("{}: {e}", path.display()))
    };
    let results = parse("results.json")?;
    let reasons = parse("equivalent.json")?
        .as_object()
        .ok_or("mutants/equivalent.json: not an object of survivor → reason")?
        .iter()
        .map(|(k, v)| {
            v.as_str()
                .map(|r| (k.clone(), r.to_string()))
                .ok_or_else(|| format!("mutants/equivalent.json: the reason for {k} is not a string"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut crates = Vec::new();
    for line in read(&dir.join("scope.txt"))?.lines() {
        let mut words = line.split_whitespace();
        let Some(name) = words.next().filter(|w| !w.starts_with('#')) else { continue };
        // `opt-level=N` is how the script builds the mutants and `skip=` what it
        // leaves out of their tests, not files.
        let words: Vec<&str> = words.collect();
        let files = words.iter().filter(|w| !w.contains('=')).map(|w| w.to_string()).collect();
        let skipped = words
            .iter()
            .filter_map(|w| w.strip_prefix("skip="))
            .flat_map(|t| t.split(','))
            .map(str::to_string)
            .collect();
        let entry = results.get(name);
        let run = |k: &str| {
            entry
                .and_then(|e| e.get(k))
                .map(Run::from_json)
                .transpose()
                .map_err(|e| format!("mutants/results.json: {name} {k}: {e}"))
        };
        let slices = entry.and_then(|e| e.get("partial")).and_then(Value::as_object).and_then(|p| {
            let n = p.keys().next()?.split('/').nth(1)?.parse().ok()?;
            Some((p.len(), n))
        });
        crates.push(Crate {
            name: name.to_string(),
            files,
            skipped,
            before: run("before")?,
            after: run("after")?,
            slices,
        });
    }
    if let Some(obj) = results.as_object()
        && let Some(stray) = obj.keys().find(|k| !crates.iter().any(|c| &c.name == *k))
    {
        return Err(format!("mutants/results.json records {stray}, which mutants/scope.txt does not list"));
    }
    Ok(Record { crates, reasons })
}

impl Record {
    /// Survivors of a crate's latest run that no reason covers, and reasons
    /// that name no survivor: both must be empty once every crate is done.
    pub fn unexplained(&self) -> (Vec<String>, Vec<String>) {
        let alive: Vec<&String> =
            self.crates.iter().filter_map(|c| c.after.as_ref()).flat_map(|r| &r.missed).collect();
        let missing = alive
            .iter()
            .filter(|m| !self.reasons.iter().any(|(k, _)| k == **m))
            .map(|m| m.to_string())
            .collect();
        let stray = self
            .reasons
            .iter()
            .filter(|(k, _)| !self.crates.iter().filter_map(Crate::latest).any(|r| r.missed.contains(k)))
            .map(|(k, _)| k.clone())
            .collect();
        (missing, stray)
    }

    /// The page's table and the list of survivors with their reasons.
    pub fn markdown(&self) -> String {
        let rate = |r: &Run| format!("{}/{} ({:.1} %)", r.caught, r.viable(), 100.0 * r.kill_rate());
        let mut out = String::from(
            "| Crate | Mutants (unviable) | Caught before | Caught after | Commit |\n\
             |---|--:|--:|--:|---|\n",
        );
        for c in &self.crates {
            match (&c.before, c.latest()) {
                (Some(b), Some(l)) => {
                    let after = match &c.after {
                        Some(a) => rate(a),
                        None => "not yet rerun".into(),
                    };
                    out.push_str(&format!(
                        "| {} | {} ({}) | {} | {after} | {} |\n",
                        c.name,
                        l.viable() + l.unviable,
                        l.unviable,
                        rate(b),
                        // A space before "+changes", so that the narrow column may wrap there.
                        l.commit.replace("+changes", " + changes"),
                    ));
                }
                _ => {
                    let state = match c.slices {
                        Some((done, n)) => format!("{done} of {n} slices run"),
                        None => "not yet run".into(),
                    };
                    out.push_str(&format!("| {} | {state} | | | |\n", c.name))
                }
            }
        }
        out.push_str("\n<details>\n<summary>The files mutated</summary>\n\n");
        for c in &self.crates {
            let files = c.files.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", ");
            out.push_str(&format!("- {}: {files}\n", c.name));
            if !c.skipped.is_empty() {
                let tests = c.skipped.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", ");
                out.push_str(&format!("  (tests not run on its mutants: {tests})\n"));
            }
        }
        out.push_str("\n</details>\n\n");
        for c in &self.crates {
            let Some(l) = c.latest() else { continue };
            if l.missed.is_empty() {
                continue;
            }
            let state = if c.after.is_some() { "left alive" } else { "not yet examined" };
            out.push_str(&format!("**{}**, survivors {state}:\n\n", c.name));
            for m in &l.missed {
                let reason = self.reasons.iter().find(|(k, _)| k == m).map(|(_, r)| r.as_str());
                match reason {
                    Some(r) => out.push_str(&format!("- `{m}`: {r}\n")),
                    None => out.push_str(&format!("- `{m}`\n")),
                }
            }
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(caught: usize, missed: &[&str]) -> Run {
        Run {
            commit: "abc".into(),
            caught,
            unviable: 1,
            missed: missed.iter().map(|m| m.to_string()).collect(),
        }
    }

    #[test]
    fn the_table_counts_caught_of_viable_and_lists_each_survivor_with_its_reason() {
        let record = Record {
            crates: vec![
                Crate {
                    name: "a".into(),
                    files: vec!["src/lib.rs".into()],
                    skipped: vec![],
                    before: Some(run(3, &["m1"])),
                    after: Some(run(3, &["m1"])),
                    slices: None,
                },
                Crate {
                    name: "b".into(),
                    files: vec![],
                    skipped: vec!["tests::slow".into()],
                    before: Some(run(1, &["m2", "m3"])),
                    after: None,
                    slices: None,
                },
                Crate {
                    name: "c".into(),
                    files: vec![],
                    skipped: vec![],
                    before: None,
                    after: None,
                    slices: None,
                },
                Crate {
                    name: "d".into(),
                    files: vec![],
                    skipped: vec![],
                    before: None,
                    after: None,
                    slices: Some((1, 4)),
                },
            ],
            reasons: vec![("m1".into(), "same value".into()), ("gone".into(), "old".into())],
        };
        let md = record.markdown();
        assert!(md.contains("| a | 5 (1) | 3/4 (75.0 %) | 3/4 (75.0 %) | abc |"), "{md}");
        assert!(md.contains("| b | 4 (1) | 1/3 (33.3 %) | not yet rerun |"), "{md}");
        assert!(md.contains("| c | not yet run |"), "{md}");
        assert!(md.contains("| d | 1 of 4 slices run |"), "{md}");
        assert!(md.contains("- a: `src/lib.rs`\n"), "{md}");
        assert!(md.contains("- b: \n  (tests not run on its mutants: `tests::slow`)\n"), "{md}");
        assert!(md.contains("- `m1`: same value\n"), "{md}");
        assert!(md.contains("survivors not yet examined:\n\n- `m2`\n- `m3`\n"), "{md}");
        // b has not been rerun, so its survivors need no reason yet; the stray one is reported.
        assert_eq!(record.unexplained(), (vec![], vec!["gone".to_string()]));
    }

    #[test]
    fn the_workspace_record_reads_and_names_every_crate_of_the_scope() {
        let record = load(&crate::book::workspace_root()).unwrap();
        assert!(record.crates.iter().any(|c| c.name == "pg-core"));
        for c in &record.crates {
            assert!(!c.files.is_empty(), "{}", c.name);
            for f in &c.files {
                let path = crate::book::workspace_root().join("crates").join(&c.name).join(f);
                assert!(path.is_file(), "mutants/scope.txt: {} does not exist", path.display());
            }
            let src = crate::book::workspace_root().join("crates").join(&c.name).join("src");
            let mut files = vec![];
            crate::checks::rust_files(&src, &mut files);
            let sources: String = files.iter().map(|f| std::fs::read_to_string(f).unwrap()).collect();
            for t in &c.skipped {
                let name = t.rsplit("::").next().unwrap();
                assert!(
                    sources.contains(&format!("fn {name}()")),
                    "mutants/scope.txt skips {t}, not a test of {}",
                    c.name
                );
            }
        }
    }
}
