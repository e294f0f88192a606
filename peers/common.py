"""Shared by the peer scripts: merge one peer's measurements into peers.json.

The file is written whole to a temporary name and renamed, so a reader never
sees it half-written.
"""

import json
import os
import platform

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "peers.json")


def record(name, measurements):
    """Stores `measurements` under `name` in peers.json, keeping the other peers' entries."""
    try:
        with open(RESULTS) as f:
            data = json.load(f)
    except (FileNotFoundError, json.JSONDecodeError):
        data = {}
    data[name] = dict(measurements, machine=platform.processor() or platform.machine(), cores=os.cpu_count())
    tmp = RESULTS + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
    os.replace(tmp, RESULTS)
    print(json.dumps({name: data[name]}))
