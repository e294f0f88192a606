//! What every chapter relies on without looking: an estimator chosen at run
//! time (a command-line flag, say) is a boxed one, and the box must pass
//! every call through unchanged; the training log's summaries; the "stay"
//! MDP's trajectories that the exact variance checks sum over.

use pg_core::env::CartPole;
use pg_core::policy::Categorical;
use pg_core::rng::seeded;
use pg_core::{Batch, PgError, StepWeights};
use pg_likelihood_ratio::{Estimator, Reinforce};

/// Counts the batches it learns from; weights every step by 2.
#[derive(Default)]
struct Counting {
    fits: usize,
}

impl Estimator<Categorical> for Counting {
    fn name(&self) -> String {
        "counting".into()
    }

    fn weights(&self, _policy: &Categorical, batch: &Batch<usize>) -> Option<StepWeights> {
        Some(StepWeights::per_trajectory(batch, |_, _| 2.0))
    }

    fn fit(&mut self, _policy: &Categorical, _batch: &Batch<usize>) -> Result<(), PgError> {
        self.fits += 1;
        Ok(())
    }
}

#[test]
fn a_boxed_estimator_has_the_name_weights_gradient_and_fit_of_what_it_holds() {
    let policy = Categorical::mlp(4, &[8], 2, &mut seeded(1));
    let batch = Batch::sample(&mut CartPole::new(), &policy, 3, &mut seeded(2));
    let boxed: Box<dyn Estimator<Categorical>> = Box::new(Reinforce);
    assert_eq!(boxed.name(), "reinforce");
    assert_eq!(
        boxed.weights(&policy, &batch).unwrap().flat(),
        Reinforce.weights(&policy, &batch).unwrap().flat()
    );
    assert_eq!(boxed.gradient(&policy, &batch), Reinforce.gradient(&policy, &batch));

    let mut counting = Box::new(Counting::default());
    assert_eq!(counting.name(), "counting");
    counting.fit(&policy, &batch).unwrap();
    Estimator::fit(&mut counting, &policy, &batch).unwrap();
    assert_eq!(counting.fits, 2);
}

/// The names the chapter's tables and `pg train`'s output print.
#[test]
fn the_names_are_what_the_tables_print() {
    use pg_likelihood_ratio::BehaviourCloning;
    assert_eq!(Estimator::<Categorical>::name(&Reinforce), "reinforce");
    assert_eq!(Estimator::<Categorical>::name(&BehaviourCloning), "behaviour-cloning");
}

#[test]
fn the_log_averages_the_last_episodes_and_finds_the_first_full_window_at_the_threshold() {
    use pg_likelihood_ratio::TrainLog;
    let mut log = TrainLog::default();
    let (steps, mean) = log.record_batch([(3, 1.0), (5, 2.0)], 0.5);
    assert_eq!((steps, mean), (8, 1.5));
    let (steps, mean) = log.record_batch([(4, 6.0), (2, 9.0), (1, 3.0)], 1.0);
    assert_eq!((steps, mean), (15, 6.0));
    assert_eq!(log.episodes.iter().map(|e| e.env_steps).collect::<Vec<_>>(), [3, 8, 12, 14, 15]);
    assert_eq!(log.final_mean_return(2), 6.0);
    assert_eq!(log.final_mean_return(100), 21.0 / 5.0);
    // Windows of 2: means 1.5, 4, 7.5, 6. The first reaching 4 ends at episode 3.
    assert_eq!(log.solved_at(1.5, 2).map(|e| e.env_steps), Some(8));
    assert_eq!(log.solved_at(4.0, 2).map(|e| e.env_steps), Some(12));
    assert_eq!(log.solved_at(7.0, 2).map(|e| e.env_steps), Some(14));
    assert_eq!(log.solved_at(7.6, 2), None);
    // A window longer than the run never counts.
    assert_eq!(log.solved_at(0.0, 6), None);
    assert_eq!(log.solved_at(4.2, 5).map(|e| e.env_steps), Some(15));
}

#[test]
fn the_stay_trajectories_hold_the_policys_log_probabilities_and_end_at_the_leave() {
    use pg_core::Policy;
    use pg_core::policy::Bernoulli;
    use pg_likelihood_ratio::exact::stay_trajectory;
    let policy = Bernoulli::new(0.7);
    let mut total = 0.0;
    for k in 0..40 {
        let (p, t) = stay_trajectory(&policy, k);
        total += p;
        assert_eq!(t.len(), k + 1);
        assert_eq!(t.total_reward(), k as f64);
        assert!(t.terminated && !t.truncated, "k = {k}");
        for (i, ((obs, a), lp)) in t.steps().zip(&t.log_probs).enumerate() {
            assert_eq!(*a, usize::from(i < k));
            assert!((lp - policy.log_prob(obs, a)).abs() < 1e-15, "k = {k}, step {i}");
        }
    }
    assert!((total - (1.0 - 0.7_f64.powi(40))).abs() < 1e-12, "{total}");
}

/// One ascent step along the estimate, then the estimator learns from the
/// batch; the update reports the gradient's norm under its name.
#[test]
fn a_policy_gradient_update_steps_along_the_estimate_then_fits_and_reports_the_norm() {
    use pg_core::Policy;
    use pg_likelihood_ratio::{PolicyGradient, Update};
    let mut policy = Categorical::mlp(4, &[8], 2, &mut seeded(1));
    let batch = Batch::sample(&mut CartPole::new(), &policy, 3, &mut seeded(2));
    let g = Counting::default().gradient(&policy, &batch);
    let mut update = PolicyGradient::sgd(Counting::default(), 0.1).unwrap();
    assert_eq!(update.name(), "counting");
    let theta = policy.params().clone();
    let stats = update.update(&mut policy, &batch, 0).unwrap();
    assert_eq!(update.estimator.fits, 1);
    assert_eq!(policy.params(), &(&theta + &(0.1 * &g)));
    assert_eq!(stats.get("grad_norm"), Some(g.dot(&g).sqrt()));
    assert_eq!(stats.get("no such metric"), None);
}

#[test]
fn a_training_run_counts_its_environment_steps() {
    use pg_likelihood_ratio::{PolicyGradient, TrainConfig, train};
    let mut policy = Categorical::mlp(4, &[8], 2, &mut seeded(1));
    let mut update = PolicyGradient::sgd(Reinforce, 0.01).unwrap();
    let config = TrainConfig { iters: 3, batch: 2, seed: 5, max_env_steps: None };
    let log = train(&mut CartPole::new(), &mut policy, &mut update, &config, |_| {}).unwrap();
    assert_eq!(log.iterations.len(), 3);
    assert_eq!(log.episodes.len(), 6);
    let last = log.episodes.last().unwrap().env_steps;
    assert!(last > 6, "{last}");
    assert_eq!(log.env_steps(), last);
}
