//! Training with baselines, on the three-state MDP where J(θ) is exact.

use pg_baselines::MeanBaseline;
use pg_baselines::book::tabular_runs;
use pg_baselines::experiments::{final_objectives, tabular_value_baseline};
use pg_core::env::TabularMdp;
use pg_core::policy::TabularSoftmax;

#[test]
fn the_mean_baseline_trains_identically_whatever_the_reward_offset() {
    // Episodes all last the horizon, so c adds c·(H − t) to Q̂ₜ and to bₜ alike.
    let runs = tabular_runs(true);
    let h = TabularMdp::three_state().horizon() as f64;
    let finals = |c: f64| {
        let mdp = TabularMdp::three_state().without_termination().horizon_terminates().with_reward_offset(c);
        let js = final_objectives(&mdp, &|| Box::new(MeanBaseline { leave_one_out: true }), &runs).unwrap();
        js.iter().map(|j| j - c * h).collect::<Vec<_>>()
    };
    let (plain, shifted) = (finals(0.0), finals(100.0));
    for (a, b) in plain.iter().zip(&shifted) {
        assert!((a - b).abs() < 1e-9, "{plain:?} vs {shifted:?}");
    }
}

#[test]
fn a_learned_value_baseline_improves_the_policy() {
    let mdp = TabularMdp::three_state().horizon_terminates();
    let start = mdp.exact_objective(&TabularSoftmax::new(3, 2));
    let js = final_objectives(&mdp, &|| Box::new(tabular_value_baseline(3).unwrap()), &tabular_runs(true))
        .unwrap();
    assert!(js.iter().all(|j| *j > start + 0.3), "from {start}: {js:?}");
}
