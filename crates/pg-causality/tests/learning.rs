//! Reward-to-go trains CartPole with chapter 1's loop and settings.

use pg_causality::RewardToGo;
use pg_likelihood_ratio::experiments::{CartPoleSetup, train_cartpole};

#[test]
fn cartpole_learns_with_a_fixed_seed() {
    let setup = CartPoleSetup { iters: 100, batch: 16, lr: 0.01, ..Default::default() };
    let log = train_cartpole(RewardToGo::new(), 0, &setup).expect("training succeeds");
    let (first, last) = (log.iterations[0].mean_return, log.final_mean_return(100));
    // A uniform policy survives about 20 steps; a loose threshold far above that.
    assert!(first < 50.0 && last > 150.0, "first batch {first}, last 100 episodes {last}");
}
