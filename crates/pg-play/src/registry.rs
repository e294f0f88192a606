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
