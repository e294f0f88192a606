"""Stable-Baselines3 PPO on CartPole-v1 with the RL Zoo's settings: steps and seconds to 475.

The zoo's tuned settings: 8 environments, 32 steps each per rollout, 20
epochs of minibatches of 256, γ = 0.98, λ = 0.8, no entropy bonus, learning
rate and clip range decaying linearly from 0.001 and 0.2 over 10⁵ steps.
A callback stops the run at the book's rule: when the last 100 finished
training episodes average at least 475, or at --max-steps. Steps are SB3's
count, which includes every environment's steps so far.

Writes each run's steps and seconds to 475 to peers.json, under
sb3_ppo_cartpole.

Needs torch, gymnasium and stable-baselines3 (peers/requirements.txt); the
project's tests never run it.
"""

import os
import time

from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env

from common import each_seed, Window, check, median, parser, record


class StopAt475(BaseCallback):
    """Feeds every finished episode to a Window and stops training once it reaches 475."""

    def __init__(self):
        super().__init__()
        self.window = Window()
        self.start = time.perf_counter()

    def _on_step(self):
        for info in self.locals["infos"]:
            if "episode" in info:
                self.window.finish(info["episode"]["r"], self.num_timesteps, time.perf_counter() - self.start)
        return self.window.solved is None


def linear(start):
    return lambda progress: progress * start


def run(seed, max_steps):
    env = make_vec_env("CartPole-v1", n_envs=8, seed=seed)
    model = PPO(
        "MlpPolicy",
        env,
        n_steps=32,
        batch_size=256,
        gae_lambda=0.8,
        gamma=0.98,
        n_epochs=20,
        ent_coef=0.0,
        learning_rate=linear(0.001),
        clip_range=linear(0.2),
        seed=seed,
        device="cpu",
    )
    callback = StopAt475()
    model.learn(total_timesteps=max_steps, callback=callback)
    seconds = time.perf_counter() - callback.start
    solved = callback.window.solved
    return {
        "seed": seed,
        "env_steps": model.num_timesteps,
        "seconds": seconds,
        "steps_to_475": solved[0] if solved else None,
        "seconds_to_475": solved[1] if solved else None,
    }


def main():
    p = parser(__doc__)
    p.add_argument("--max-steps", type=int, default=100_000, help="the budget (default 10⁵, the zoo's); the step size and clip range fall to 0 over it")
    args = p.parse_args()
    check(p, args, max_steps=args.max_steps)
    threads = os.cpu_count()
    runs = each_seed(args.seeds, lambda seed: run(seed, args.max_steps), threads)
    record(
        args.out,
        "sb3_ppo_cartpole",
        {
            "threads": threads,
            "max_steps": args.max_steps,
            "median_steps_to_475": median([r["steps_to_475"] for r in runs]),
            "median_seconds_to_475": median([r["seconds_to_475"] for r in runs]),
            "solved": sum(r["steps_to_475"] is not None for r in runs),
            "runs": runs,
        },
    )


if __name__ == "__main__":
    main()
