//! Notebook lint: committed without outputs, every `:dep` path exists, and
//! every versioned `:dep` uses the workspace's version.

use pg_tests::root;

fn workspace_versions() -> Vec<(String, String)> {
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let section = manifest.split("[workspace.dependencies]").nth(1).unwrap();
    section
        .lines()
        .take_while(|l| !l.starts_with('['))
        .filter_map(|l| {
            let (name, rest) = l.split_once('=')?;
            let version = rest.split('"').nth(1)?;
            (!rest.contains("path")).then(|| (name.trim().to_string(), version.to_string()))
        })
        .collect()
}

#[test]
fn notebooks_are_clean_and_depend_on_the_workspace() {
    let versions = workspace_versions();
    assert!(versions.iter().any(|(n, _)| n == "ndarray"));
    let dir = root().join("notebooks");
    let mut notebooks = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "ipynb") {
            continue;
        }
        notebooks += 1;
        let name = path.display().to_string();
        let nb: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(nb["metadata"]["kernelspec"]["name"], "rust", "{name}: kernel");
        let mut deps = 0;
        for cell in nb["cells"].as_array().unwrap() {
            if let Some(outputs) = cell.get("outputs") {
                assert!(outputs.as_array().unwrap().is_empty(), "{name} is committed with outputs");
            }
            let source: String = match &cell["source"] {
                serde_json::Value::Array(lines) => lines.iter().map(|l| l.as_str().unwrap()).collect(),
                other => other.as_str().unwrap_or_default().to_string(),
            };
            for line in source.lines().filter_map(|l| l.trim().strip_prefix(":dep ")) {
                deps += 1;
                let (crate_name, spec) = line.split_once('=').expect(":dep name = spec");
                let crate_name = crate_name.trim().replace('_', "-");
                if let Some(p) = spec.split("path").nth(1) {
                    let rel = p.split('"').nth(1).unwrap();
                    assert!(
                        dir.join(rel).join("Cargo.toml").is_file(),
                        "{name}: :dep path {rel} does not exist"
                    );
                } else {
                    let version = spec.split('"').nth(1).unwrap();
                    let (_, expected) = versions
                        .iter()
                        .find(|(n, _)| *n == crate_name)
                        .unwrap_or_else(|| panic!("{name}: {crate_name} is not a workspace dependency"));
                    assert_eq!(
                        version, expected,
                        "{name}: {crate_name} version differs from the workspace's"
                    );
                }
            }
        }
        assert!(deps > 0, "{name} has no :dep lines");
    }
    assert!(notebooks >= 1, "no notebooks found");
}
