//! The work each update declares ([`Setup::work`], from which a run's
//! iteration is bounded before it starts) against the multiply-adds its
//! network passes really make, as pg-core counts them: never less, and more
//! only by what an update may skip (TRPO's line-search steps after the one
//! it accepts; conjugate-gradient iterations after it converged).

use pg_core::env::{CartPole, Env, Pendulum};
use pg_core::policy::{Categorical, Gaussian, Mlp, multiply_adds};
use pg_core::rng::substream;
use pg_core::{Batch, seeded};
use pg_kl_constraint::Head;
use pg_kl_constraint::experiments::{Algo, Setup};
use pg_kl_constraint::natural::{BACKTRACKS, CG_ITERS};

const ALGOS: [Algo; 4] = [Algo::Npg, Algo::Trpo, Algo::Ppo, Algo::PpoPenalty];

/// (declared, counted) multiply-adds of one update of `algo` on a batch of
/// `episodes` episodes, and the batch's steps.
fn declared_and_counted<P, E>(
    setup: &Setup,
    algo: Algo,
    mut policy: P,
    env: &mut E,
    obs_dim: usize,
    outputs: usize,
    episodes: usize,
) -> (f64, f64, f64)
where
    P: Head + 'static,
    E: Env<Action = P::Action>,
{
    let seed = 3;
    let batch = Batch::sample(env, &policy, episodes, &mut seeded(seed));
    let mut update = setup.update(algo, setup.advantages(obs_dim, seed).unwrap(), seed).unwrap();
    let before = multiply_adds();
    update.update(&mut policy, &batch, 0).unwrap();
    let counted = multiply_adds() - before;
    let steps = batch.num_steps() as f64;
    let params = Mlp::new(obs_dim, &setup.hidden, outputs).num_params() as f64;
    let declared = setup.work(algo, obs_dim).pass_multiply_adds(steps, episodes as f64, params);
    (declared, counted, steps * params)
}

/// What `algo` may skip of what it declares, in passes over the batch: the
/// line search's unused forward passes, and the conjugate-gradient products
/// after convergence; and F's states are every k-th, ⌈M/k⌉ of them, so one
/// more row than M/k in each of its passes.
fn may_skip(algo: Algo) -> f64 {
    match algo {
        Algo::Trpo => BACKTRACKS as f64 / 3.0 + (CG_ITERS as f64) * 4.0 / 3.0 / 10.0,
        Algo::Npg => (CG_ITERS as f64) * 4.0 / 3.0 / 10.0,
        Algo::Ppo | Algo::PpoPenalty => 0.0,
    }
}

fn check(what: &str, algo: Algo, (declared, counted, pass): (f64, f64, f64), extra_rows: f64, row: f64) {
    if matches!(algo, Algo::Ppo | Algo::PpoPenalty) {
        assert_eq!(counted, declared, "{what} {algo:?}: exactly its passes");
        return;
    }
    let slack = extra_rows * row;
    assert!(counted <= declared + slack, "{what} {algo:?}: counted {counted:.4e} > declared {declared:.4e}");
    assert!(
        counted >= declared - may_skip(algo) * 3.0 * pass,
        "{what} {algo:?}: counted {counted:.4e}, far below the declared {declared:.4e}"
    );
}

#[test]
fn each_update_declares_at_least_the_network_passes_it_makes() {
    // F's rows: ⌈M/k⌉ ≤ M/k + 1 for its forward pass and each of its CG_ITERS + 1 products.
    let fisher_extra = 1.0 / 3.0 + (CG_ITERS + 1) as f64 * 4.0 / 3.0;
    for algo in ALGOS {
        let setup = Setup::cartpole();
        let policy = Categorical::mlp(4, &setup.hidden, 2, &mut substream(3, 1_000));
        let row = 3.0 * Mlp::new(4, &setup.hidden, 2).num_params() as f64;
        let work = declared_and_counted(&setup, algo, policy, &mut CartPole::new(), 4, 2, 8);
        check("cartpole", algo, work, fisher_extra, row);

        let setup = Setup::pendulum();
        let policy = Gaussian::mlp(3, &setup.hidden, 1, setup.log_std, &mut substream(3, 1_000));
        let row = 3.0 * Mlp::new(3, &setup.hidden, 1).num_params() as f64;
        let work = declared_and_counted(&setup, algo, policy, &mut Pendulum::new(), 3, 1, 4);
        check("pendulum", algo, work, fisher_extra, row);
    }
}
