"""Stable-Baselines3 PPO on CartPole-v1 with the RL Zoo's settings, timed.

Eight environments, 32 steps each per rollout, 20 epochs of minibatches of 256,
γ = 0.98, λ = 0.8, learning rate and clip range decaying linearly from 0.001
and 0.2, 10⁵ environment steps. Writes the training's seconds and the mean
return of 100 deterministic evaluation episodes to peers.json.

Needs: pip install stable-baselines3 gymnasium. Not run by the project's tests.
"""

import argparse
import time

from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy

from common import record


def linear(start):
    return lambda progress: progress * start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.steps < 1:
        parser.error("--steps must be at least 1")
    env = make_vec_env("CartPole-v1", n_envs=8, seed=args.seed)
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
        seed=args.seed,
        device="cpu",
    )
    start = time.perf_counter()
    model.learn(total_timesteps=args.steps)
    seconds = time.perf_counter() - start
    mean, _ = evaluate_policy(model, model.get_env(), n_eval_episodes=100, deterministic=True)
    record("sb3_ppo", {"seconds": seconds, "env_steps": args.steps, "eval_mean": float(mean)})


if __name__ == "__main__":
    main()
