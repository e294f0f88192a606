"""REINFORCE with reward-to-go in PyTorch on Gymnasium's CartPole-v1: steps per second and time to 475.

The same estimator, network, batch and optimiser as chapter 7's vectorised run
(`pg train --algo reward-to-go --hidden 32 --batch-steps 5000 --lr 0.01`):
an MLP 4-32-2 with tanh in f64 initialised as ours (Glorot-uniform weights,
the output layer's scaled by 0.01, zero biases), batches of whole episodes until at least 5000
steps, each step weighted by its undiscounted reward-to-go (not standardised,
as in ours), the surrogate summed over steps and divided by the batch's
episodes, one Adam step of 0.01 per batch. One environment stepped one
action at a time, as PyTorch's own REINFORCE example does.

Each seed runs until the last 100 episodes average 475 or --max-steps.
Writes each run's steps and seconds to 475 and its steps per second up to
then (the whole run's, if it never got there) to peers.json, under
pytorch_reinforce_threads_<threads>.

Needs torch and gymnasium (peers/requirements.txt); the project's tests never run it.
"""

import time

import gymnasium as gym
import numpy as np
import torch

from common import each_seed, Window, check, median, parser, record


HIDDEN = 32
OUTPUT_SCALE = 0.01


def run(seed, batch_steps, lr, max_steps):
    torch.manual_seed(seed)
    env = gym.make("CartPole-v1")
    net = torch.nn.Sequential(torch.nn.Linear(4, HIDDEN), torch.nn.Tanh(), torch.nn.Linear(HIDDEN, 2)).double()
    # This project's initialisation: Glorot-uniform weights, the output layer's scaled by 0.01, zero biases.
    with torch.no_grad():
        for layer in (net[0], net[2]):
            torch.nn.init.xavier_uniform_(layer.weight)
            torch.nn.init.zeros_(layer.bias)
        net[2].weight.mul_(OUTPUT_SCALE)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    window = Window()
    steps = 0
    obs, _ = env.reset(seed=seed)
    start = time.perf_counter()
    while steps < max_steps and window.solved is None:
        batch_obs, batch_act, batch_w, episodes = [], [], [], 0
        while len(batch_obs) < batch_steps:
            rewards = []
            done = False
            while not done:
                x = torch.from_numpy(obs.astype(np.float64))
                with torch.no_grad():
                    probs = torch.softmax(net(x), dim=-1)
                action = int(torch.multinomial(probs, 1))
                batch_obs.append(x)
                batch_act.append(action)
                obs, reward, terminated, truncated, _ = env.step(action)
                rewards.append(reward)
                done = terminated or truncated
            steps += len(rewards)
            episodes += 1
            batch_w.extend(np.cumsum(rewards[::-1])[::-1])
            window.finish(sum(rewards), steps, time.perf_counter() - start)
            obs, _ = env.reset()
        logits = net(torch.stack(batch_obs))
        logp = torch.log_softmax(logits, dim=-1).gather(1, torch.tensor(batch_act).unsqueeze(1)).squeeze(1)
        loss = -(logp * torch.as_tensor(np.array(batch_w), dtype=torch.float64)).sum() / episodes
        opt.zero_grad()
        loss.backward()
        opt.step()
    seconds = time.perf_counter() - start
    solved = window.solved
    rate = solved[0] / solved[1] if solved else steps / seconds
    return {
        "seed": seed,
        "env_steps": steps,
        "seconds": seconds,
        "steps_to_475": solved[0] if solved else None,
        "seconds_to_475": solved[1] if solved else None,
        "steps_per_second": rate,
    }


def main():
    p = parser(__doc__)
    p.add_argument("--threads", type=int, default=1, help="PyTorch's threads (default 1)")
    p.add_argument("--batch-steps", type=int, default=5000)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--max-steps", type=int, default=1_000_000)
    args = p.parse_args()
    check(p, args, threads=args.threads, batch_steps=args.batch_steps, lr=args.lr, max_steps=args.max_steps)
    runs = each_seed(args.seeds, lambda seed: run(seed, args.batch_steps, args.lr, args.max_steps), args.threads)
    record(
        args.out,
        f"pytorch_reinforce_threads_{args.threads}",
        {
            "threads": args.threads,
            "max_steps": args.max_steps,
            "settings": {"hidden": [HIDDEN], "batch_steps": args.batch_steps, "lr": args.lr, "gamma": 1.0,
                         "standardised": False, "dtype": "float64",
                         "init": f"glorot-uniform, output x{OUTPUT_SCALE}, zero biases"},
            "median_steps_per_second": median([r["steps_per_second"] for r in runs]),
            "median_steps_to_475": median([r["steps_to_475"] for r in runs]),
            "median_seconds_to_475": median([r["seconds_to_475"] for r in runs]),
            "solved": sum(r["steps_to_475"] is not None for r in runs),
            "runs": runs,
        },
    )


if __name__ == "__main__":
    main()
