"""REINFORCE with reward-to-go in PyTorch on one Gymnasium CartPole-v1, timed.

The same algorithm as `pg train --algo reward-to-go --hidden 32 --batch-steps 5000
--lr 0.01 --normalize-advantages`: an MLP 4-32-2 with tanh, batches of whole
episodes until at least 5000 steps, reward-to-go weights standardised over the
batch, one Adam step per batch. Writes the whole loop's environment steps per
second, and the steps and seconds to a 100-episode mean of 475, to peers.json.

Needs: pip install torch gymnasium. Not run by the project's tests.
"""

import argparse
import time
from collections import deque

import gymnasium as gym
import numpy as np
import torch

from common import record


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-steps", type=int, default=5000)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--max-steps", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.batch_steps < 1 or args.max_steps < 1 or not args.lr > 0:
        parser.error("--batch-steps and --max-steps must be at least 1 and --lr greater than 0")

    torch.manual_seed(args.seed)
    # One thread and no argument checks: the fastest settings for a network this small.
    torch.set_num_threads(1)
    torch.distributions.Distribution.set_default_validate_args(False)
    env = gym.make("CartPole-v1")
    net = torch.nn.Sequential(torch.nn.Linear(4, 32), torch.nn.Tanh(), torch.nn.Linear(32, 2))
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    window = deque(maxlen=100)
    steps, solved = 0, None
    obs, _ = env.reset(seed=args.seed)
    start = time.perf_counter()
    while steps < args.max_steps:
        batch_obs, batch_act, batch_w = [], [], []
        while len(batch_obs) < args.batch_steps:
            rewards = []
            done = False
            while not done:
                with torch.no_grad():
                    probs = torch.softmax(net(torch.from_numpy(obs)), dim=-1)
                action = int(torch.multinomial(probs, 1))
                batch_obs.append(obs)
                batch_act.append(action)
                obs, reward, terminated, truncated, _ = env.step(action)
                rewards.append(reward)
                done = terminated or truncated
            steps += len(rewards)
            batch_w.extend(np.cumsum(rewards[::-1])[::-1])
            window.append(sum(rewards))
            if solved is None and len(window) == 100 and np.mean(window) >= 475:
                solved = (steps, time.perf_counter() - start)
            obs, _ = env.reset()
        w = torch.as_tensor(np.array(batch_w), dtype=torch.float32)
        w = (w - w.mean()) / (w.std() + 1e-8)
        logp = torch.distributions.Categorical(logits=net(torch.as_tensor(np.array(batch_obs), dtype=torch.float32)))
        loss = -(logp.log_prob(torch.as_tensor(batch_act)) * w).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if solved is not None:
            break
    seconds = time.perf_counter() - start
    record(
        "pytorch_reinforce",
        {
            "env_steps_per_second": steps / seconds,
            "env_steps": steps,
            "seconds": seconds,
            "steps_to_475": solved[0] if solved else None,
            "seconds_to_475": solved[1] if solved else None,
        },
    )


if __name__ == "__main__":
    main()
