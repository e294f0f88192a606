"""Stable-Baselines3 PPO on Pendulum-v1 with the RL Zoo's settings, evaluated by the book's protocol.

The zoo's tuned settings: 4 environments, 1024 steps each per rollout (4096
steps), 10 epochs of minibatches of 64, γ = 0.9, λ = 0.95, learning rate
0.001, clip range 0.2, no entropy bonus, state-dependent exploration (gSDE,
new noise every 4 steps), the default 64-64 tanh networks, no normalisation.

The book's protocol: the policy's mean action on 20 episodes whose start
states differ per run and per evaluation (seeded from the run's seed and the
evaluation's number), not counted as training steps. Each budget (10⁵ and
2·10⁵ by default) reads the policy trained on the last whole rollout within
it (98,304 and 196,608 steps). Writes each run's evaluations to peers.json,
under sb3_ppo_pendulum.

Needs torch, gymnasium and stable-baselines3 (peers/requirements.txt); the
project's tests never run it.
"""

import os
import time

import gymnasium as gym
import numpy as np
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env

from common import check, each_seed, median, parser, record

N_ENVS, N_STEPS, EPISODES, GAMMA = 4, 1024, 20, 0.9


def evaluate(model, seed, number):
    """The mean return of EPISODES mean-action episodes from start states of (seed, number)."""
    env = gym.make("Pendulum-v1")
    starts = np.random.SeedSequence([seed, number]).generate_state(EPISODES)
    total = 0.0
    for start in starts:
        obs, _ = env.reset(seed=int(start))
        done = False
        while not done:
            action, _ = model.predict(obs, deterministic=True)
            obs, reward, terminated, truncated, _ = env.step(action)
            total += reward
            done = terminated or truncated
    return total / EPISODES


class AtBudgets(BaseCallback):
    """Before each rollout and at the end, evaluates the policy if the next rollout would pass a budget."""

    def __init__(self, seed, budgets):
        super().__init__()
        self.seed, self.budgets = seed, budgets
        self.evaluations = []

    def _on_rollout_start(self):
        self.at(self.num_timesteps)

    def _on_training_end(self):
        self.at(self.num_timesteps)

    def at(self, steps):
        for b in self.budgets:
            if steps <= b < steps + N_ENVS * N_STEPS:
                number = len(self.evaluations)
                self.evaluations.append({"budget": b, "env_steps": steps,
                                         "mean_return": float(evaluate(self.model, self.seed, number))})

    def _on_step(self):
        return True


def run(seed, budgets):
    env = make_vec_env("Pendulum-v1", n_envs=N_ENVS, seed=seed)
    model = PPO(
        "MlpPolicy",
        env,
        n_steps=N_STEPS,
        gae_lambda=0.95,
        gamma=GAMMA,
        n_epochs=10,
        ent_coef=0.0,
        learning_rate=1e-3,
        clip_range=0.2,
        use_sde=True,
        sde_sample_freq=4,
        seed=seed,
        device="cpu",
    )
    callback = AtBudgets(seed, budgets)
    start = time.perf_counter()
    model.learn(total_timesteps=max(budgets), callback=callback)
    return {"seed": seed, "env_steps": model.num_timesteps, "seconds": time.perf_counter() - start,
            "evaluations": callback.evaluations}


def main():
    p = parser(__doc__)
    p.add_argument("--budgets", type=int, nargs="+", default=[100_000, 200_000],
                   help="environment steps at which to evaluate (default 100000 200000)")
    args = p.parse_args()
    args.budgets = sorted(set(args.budgets))
    check(p, args)
    if any(b < N_ENVS * N_STEPS for b in args.budgets):
        p.error(f"every --budgets value must be at least one rollout ({N_ENVS * N_STEPS} steps), "
                f"got {' '.join(map(str, args.budgets))}")
    threads = os.cpu_count()
    runs = each_seed(args.seeds, lambda seed: run(seed, args.budgets), threads)
    medians = {}
    for b in args.budgets:
        at = [e for r in runs for e in r["evaluations"] if e["budget"] == b]
        medians[str(b)] = {"env_steps": at[0]["env_steps"], "median": median([e["mean_return"] for e in at])}
    record(
        args.out,
        "sb3_ppo_pendulum",
        {"threads": threads, "gamma": GAMMA, "eval_episodes": EPISODES, "budgets": medians, "runs": runs},
    )


if __name__ == "__main__":
    main()
