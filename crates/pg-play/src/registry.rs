//! Every algorithm `pg train --algo` offers, from each chapter's own list:
//! `pg train`, `pg bench` and the Play page's menu all read this one.

use pg_likelihood_ratio::registry::Algorithm;

/// The chapters' algorithms, in chapter order.
pub fn algorithms() -> Vec<Algorithm> {
    [
        pg_likelihood_ratio::registry::ALGORITHMS,
        pg_causality::ALGORITHMS,
        pg_baselines::ALGORITHMS,
        pg_importance_sampling::ALGORITHMS,
        pg_kl_constraint::ALGORITHMS,
    ]
    .concat()
}

/// The algorithm `pg train --algo name` names, or an error listing them.
pub fn find(name: &str) -> Result<Algorithm, String> {
    let all = algorithms();
    all.iter().find(|a| a.name == name).copied().ok_or_else(|| {
        let names: Vec<&str> = all.iter().map(|a| a.name).collect();
        format!("--algo {name} is not allowed: use one of {}", names.join(", "))
    })
}
