//! The peers' measurements: `peers/peers.json`, written by the scripts in
//! `peers/` (PyTorch and Stable-Baselines3 running the same tasks), read by
//! the chapters that compare with them. The file is optional: without it
//! the chapters say how to produce it.

use serde_json::Value;
use std::path::PathBuf;

/// Where the peer scripts leave their measurements.
pub fn path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../peers/peers.json")
}

/// What the book says where a peer measurement is absent.
pub const ABSENT: &str = "No peer measurements: `peers/peers.json` is absent. `bash peers/run_all.sh` writes it \
                          (see `peers/README.md`); the next `pg book` then shows the comparison here.\n";

/// The parsed measurements.
#[derive(Debug, Clone)]
pub struct Peers(Value);

impl Peers {
    /// Reads [`path`]: `None` when the file is absent, an error naming the
    /// file when it is not JSON.
    pub fn read() -> Result<Option<Self>, String> {
        let path = path();
        match std::fs::read_to_string(&path) {
            Err(_) => Ok(None),
            Ok(text) => Self::parse(&text).map(Some).map_err(|e| format!("{}: {e}", path.display())),
        }
    }

    /// Parses the file's text.
    pub fn parse(text: &str) -> Result<Self, String> {
        serde_json::from_str(text).map(Self).map_err(|e| format!("not valid JSON: {e}"))
    }

    /// Whether the file has an entry `name`.
    pub fn has(&self, name: &str) -> bool {
        self.0.get(name).is_some()
    }

    /// The number at `pointer` (a JSON pointer such as `/entry/key`), if there is one.
    pub fn number(&self, pointer: &str) -> Option<f64> {
        self.0.pointer(pointer).and_then(Value::as_f64)
    }

    /// The value at `pointer` as compact JSON text (`[32]`, `0.01`, `false`, `"float64"`), if there is one.
    pub fn json(&self, pointer: &str) -> Option<String> {
        self.0.pointer(pointer).map(Value::to_string)
    }

    /// The numbers at `field` of every run of entry `name`, in order
    /// (`None` for a run without one, such as one that never reached 475).
    pub fn runs(&self, name: &str, field: &str) -> Vec<Option<f64>> {
        self.0
            .pointer(&format!("/{name}/runs"))
            .and_then(Value::as_array)
            .map_or(vec![], |runs| runs.iter().map(|r| r.get(field).and_then(Value::as_f64)).collect())
    }

    /// Where, when and with what the entries `names` were measured, and how
    /// to measure them again: one sentence per distinct machine.
    pub fn provenance(&self, names: &[&str]) -> String {
        let mut machines: Vec<String> = vec![];
        for name in names.iter().filter(|n| self.has(n)) {
            let m = &self.0[name]["machine"];
            let text = |v: &Value| v.as_str().map_or("?".to_string(), str::to_string);
            let versions = ["torch", "gymnasium", "stable-baselines3"]
                .iter()
                .filter_map(|p| m["versions"][p].as_str().map(|v| format!("{p} {v}")))
                .collect::<Vec<_>>()
                .join(", ");
            let line = format!(
                "on {} ({} cores) on {}, with Python {} and {versions}",
                text(&m["cpu"]),
                m["cores"].as_u64().map_or("?".to_string(), |c| c.to_string()),
                text(&m["date"]),
                text(&m["python"]),
            );
            if !machines.contains(&line) {
                machines.push(line);
            }
        }
        format!(
            "The peers' figures were measured {} (from `peers/peers.json`; `bash peers/run_all.sh` measures them \
             again on your machine, see `peers/README.md`).",
            machines.join("; and ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"{
      "a": {"x": 2.5, "runs": [{"s": 1}, {"s": null}, {}], "machine": {"cpu": "C", "cores": 2, "date": "D", "python": "3", "versions": {"torch": "1"}}},
      "b": {"machine": {"cpu": "C", "cores": 2, "date": "D", "python": "3", "versions": {"torch": "1"}}}
    }"#;

    #[test]
    fn reads_numbers_runs_and_one_provenance_per_machine() {
        let p = Peers::parse(FILE).unwrap();
        assert_eq!(p.number("/a/x"), Some(2.5));
        assert_eq!(p.number("/a/y"), None);
        assert_eq!(p.json("/a/runs/0").as_deref(), Some(r#"{"s":1}"#));
        assert_eq!(p.runs("a", "s"), [Some(1.0), None, None]);
        assert!(p.runs("c", "s").is_empty());
        let text = p.provenance(&["a", "b", "c"]);
        assert_eq!(text.matches("on C (2 cores) on D, with Python 3 and torch 1").count(), 1, "{text}");
    }

    #[test]
    fn a_file_that_is_not_json_is_an_error_naming_the_problem() {
        assert!(Peers::parse("{").unwrap_err().contains("not valid JSON"));
    }
}
