"""Generates the golden transitions that pg-core's parity tests compare against.

Run once with the `gymnasium` package installed:

    python3 scripts/gen_gym_fixtures.py

It writes crates/pg-core/fixtures/{cartpole,pendulum}.csv. Every float is
written with Python's repr, which round-trips an f64 exactly. The Rust tests
read these files; they never need Python.
"""

import math
import pathlib

import gymnasium as gym
import numpy as np

OUT = pathlib.Path(__file__).resolve().parent.parent / "crates" / "pg-core" / "fixtures"
N = 1200


def cartpole(rng):
    env = gym.make("CartPole-v1").unwrapped
    env.reset(seed=0)
    rows = ["x,x_dot,theta,theta_dot,action,nx,nx_dot,ntheta,ntheta_dot,reward,terminated"]
    for i in range(N):
        # States inside and just outside the allowed region, both actions.
        s = rng.uniform([-2.6, -3.0, -0.25, -3.5], [2.6, 3.0, 0.25, 3.5])
        a = int(rng.integers(2))
        env.state = np.array(s, dtype=np.float64)
        env.steps_beyond_terminated = None
        _, r, term, trunc, _ = env.step(a)
        n = env.state
        rows.append(",".join(repr(float(v)) for v in s) + f",{a}," + ",".join(repr(float(v)) for v in n)
                    + f",{repr(float(r))},{int(term)}")
    return rows


def pendulum(rng):
    env = gym.make("Pendulum-v1").unwrapped
    env.reset(seed=0)
    rows = ["theta,theta_dot,torque,ntheta,ntheta_dot,reward,obs_cos,obs_sin,obs_thdot"]
    for i in range(N):
        th = rng.uniform(-3 * math.pi, 3 * math.pi)
        thdot = rng.uniform(-8.0, 8.0)
        u = rng.uniform(-3.0, 3.0)  # beyond the torque limit of 2 on purpose
        env.state = np.array([th, thdot], dtype=np.float64)
        obs, r, term, trunc, _ = env.step(np.array([u], dtype=np.float64))
        n = env.state
        rows.append(",".join(repr(float(v)) for v in (th, thdot, u, n[0], n[1], r, obs[0], obs[1], obs[2])))
    return rows


def main():
    rng = np.random.default_rng(20261126)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "cartpole.csv").write_text("\n".join(cartpole(rng)) + "\n")
    (OUT / "pendulum.csv").write_text("\n".join(pendulum(rng)) + "\n")
    print(f"wrote {N} transitions per environment to {OUT} (gymnasium {gym.__version__})")


if __name__ == "__main__":
    main()
