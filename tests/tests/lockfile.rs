//! One version of each core numeric dependency in the whole graph.

use pg_tests::root;

#[test]
fn one_version_of_ndarray_and_rand() {
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).unwrap();
    for name in ["ndarray", "rand", "rand_core", "rand_chacha", "rand_distr", "plotly"] {
        let versions: Vec<&str> = lock
            .split("[[package]]")
            .filter(|p| p.lines().any(|l| l.trim() == format!("name = \"{name}\"")))
            .filter_map(|p| p.lines().find_map(|l| l.trim().strip_prefix("version = ")))
            .collect();
        assert_eq!(versions.len(), 1, "{name} appears in Cargo.lock in versions {versions:?}");
    }
}
