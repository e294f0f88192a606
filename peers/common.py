"""Shared by the peer scripts: what was measured where, medians, and writing peers.json.

peers.json holds one entry per measurement, each with the machine it ran on
(processor, cores, versions, date) and the command that ran it. An entry is merged into the file, which is written
whole to a temporary name and renamed, so a reader never sees it half-written.
"""

import argparse
import datetime
import json
import math
import os
import platform
import sys
from importlib import metadata

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "peers.json")
# The rule of the book: the first episode after which the last 100 finished
# episodes average at least this much.
SOLVED = 475.0
WINDOW = 100


def parser(doc):
    """An argument parser with the options every peer script shares."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0], epilog="\n".join(doc.splitlines()[1:]),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=10, help="runs, with seeds 0, 1, ... (default 10)")
    p.add_argument("--out", default=DEFAULT_OUT, help="the JSON file to merge into (default peers/peers.json)")
    return p


def check(p, args, **positive):
    """Refuses a non-positive value of any named option, naming it."""
    for name, value in positive.items():
        if not (value > 0 and math.isfinite(value)):
            p.error(f"--{name.replace('_', '-')} must be a positive number, got {value}")
    if args.seeds < 1:
        p.error(f"--seeds must be at least 1, got {args.seeds}")
    # Found now rather than after an hour of measuring.
    if not os.path.isdir(os.path.dirname(os.path.abspath(args.out))):
        p.error(f"--out {args.out}: its directory does not exist")
    try:
        with open(args.out) as f:
            json.load(f)
    except FileNotFoundError:
        pass
    except (OSError, json.JSONDecodeError) as e:
        p.error(f"--out {args.out} exists but is not a readable JSON file ({e}); move it away or pass another --out")


def cpu():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def version(package):
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def machine():
    """Where and with what the measurement ran."""
    return {
        "cpu": cpu(),
        "cores": os.cpu_count(),
        "date": datetime.date.today().isoformat(),
        "python": platform.python_version(),
        "versions": {p: version(p) for p in ["torch", "gymnasium", "stable-baselines3", "numpy"]},
    }


def median(xs):
    """The median, counting None (a run that never got there) as infinitely large; None if at least half are."""
    ys = sorted(math.inf if x is None else x for x in xs)
    n = len(ys)
    m = ys[n // 2] if n % 2 else (ys[n // 2 - 1] + ys[n // 2]) / 2
    return m if math.isfinite(m) else None


class Window:
    """The mean return of the last 100 finished episodes, and when it first reached 475."""

    def __init__(self):
        self.returns = []
        self.solved = None

    def finish(self, ret, steps, seconds):
        self.returns.append(ret)
        tail = self.returns[-WINDOW:]
        if self.solved is None and len(tail) == WINDOW and sum(tail) / WINDOW >= SOLVED:
            self.solved = (steps, seconds)
        return self.solved is not None


def each_seed(seeds, run, threads):
    """Runs `run(seed)` for seeds 0 to seeds - 1 with PyTorch on `threads` threads, printing each result."""
    import torch

    torch.set_num_threads(threads)
    runs = []
    for seed in range(seeds):
        runs.append(run(seed))
        print(runs[-1], flush=True)
    return runs


def record(out, name, entry):
    """Stores `entry` under `name` in `out`, keeping the other entries, with the machine's description."""
    try:
        with open(out) as f:
            data = json.load(f)
    except FileNotFoundError:
        data = {}
    except json.JSONDecodeError as e:
        sys.exit(f"{out} is not valid JSON ({e}); move it away or pass another --out")
    command = " ".join(["python3", "peers/" + os.path.basename(sys.argv[0])] + sys.argv[1:])
    data[name] = dict(entry, machine=machine(), command=command)
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
    os.replace(tmp, out)
    print(json.dumps({name: {k: v for k, v in data[name].items() if k != "runs"}}))
