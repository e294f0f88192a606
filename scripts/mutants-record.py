#!/usr/bin/env python3
"""Records one crate's cargo-mutants run in mutants/results.json.

Usage: mutants-record.py [--shard K/N] <crate> <mutants.out dir> [file ...]
       mutants-record.py --check-unchanged <crate> [file ...]

The first run recorded for a crate is its "before"; every later run is its
"after". A run split into N shards (cargo-mutants --shard K/N, one session
each, say) is kept under "partial" until all N are recorded, then counted
as one run. A run with --iterate retests only the mutants the last run did
not catch; cargo-mutants lists the ones it skipped (caught, timed out or
unviable) in previously_caught.txt, and they keep the last run's counts. The book's page "How we know" shows the table, and
mutants/equivalent.json gives the reason each survivor is left.
"""
import datetime
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "mutants", "results.json")


def lines(path):
    try:
        with open(path, encoding="utf-8") as f:
            return [l.rstrip("\n") for l in f if l.strip()]
    except FileNotFoundError:
        return []


def commit():
    if os.environ.get("MUTANTS_COMMIT"):  # the tree the run copied, given by mutants.sh
        return os.environ["MUTANTS_COMMIT"]
    head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True, check=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True, check=True).stdout.strip()
    return head + ("+changes" if dirty else "")


def unchanged_since(last, krate, files):
    """Whether the mutated files are as they were in the run `last` recorded:
    an --iterate run names mutants by file, line and column, so it builds on
    the last run only if those did not move. A run combined from slices
    names each slice's commit, separated by commas."""
    commits = last["commit"].split(",")
    if not all(re.fullmatch(r"[0-9a-f]{7,40}", c) for c in commits):
        return False
    paths = [f"crates/{krate}/{f}" for f in files]
    return all(subprocess.run(["git", "-C", ROOT, "diff", "--quiet", c, "--", *paths]).returncode == 0
               for c in commits)


def summary(out, last, krate, files):
    """The run in `out`; `last` is the crate's latest record, which an
    --iterate run builds on."""
    with open(os.path.join(out, "outcomes.json"), encoding="utf-8") as f:
        outcomes = json.load(f)
    run = {
        "commit": commit(),
        "date": outcomes["end_time"][:10],
        "cargo_mutants": outcomes["cargo_mutants_version"],
        "caught": len(lines(os.path.join(out, "caught.txt"))),
        "timeout": len(lines(os.path.join(out, "timeout.txt"))),
        "unviable": len(lines(os.path.join(out, "unviable.txt"))),
        "missed": sorted(lines(os.path.join(out, "missed.txt"))),
    }
    previously = lines(os.path.join(out, "previously_caught.txt"))
    if previously:
        if last is None:
            sys.exit(f"{out}: an --iterate run, but no earlier run of the crate is recorded")
        if not unchanged_since(last, krate, files):
            sys.exit(f"{krate}: an --iterate run on files changed since the run it builds on "
                     f"({last['commit']}): not recorded; run the crate again without --iterate")
        skipped = last["caught"] + last["timeout"] + last["unviable"]
        if len(previously) != skipped:
            sys.exit(f"{out}: {len(previously)} mutants skipped as previously caught, "
                     f"but the last record has {skipped} caught, timed out or unviable")
        for k in ("caught", "timeout", "unviable"):
            run[k] += last[k]
    return run


def combine(shards):
    runs = list(shards.values())
    return {
        "commit": ",".join(sorted({r["commit"] for r in runs})),
        "date": max(r["date"] for r in runs),
        "cargo_mutants": runs[0]["cargo_mutants"],
        "caught": sum(r["caught"] for r in runs),
        "timeout": sum(r["timeout"] for r in runs),
        "unviable": sum(r["unviable"] for r in runs),
        "missed": sorted(m for r in runs for m in r["missed"]),
    }


def write(results):
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    tmp = RESULTS + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(dict(sorted(results.items())), f, indent=1, ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, RESULTS)


def main():
    args = sys.argv[1:]
    if args[:1] == ["--check-unchanged"]:
        # mutants.sh asks before an --iterate run: is there a run to build on?
        krate, files = args[1], args[2:]
        if os.path.exists(RESULTS):
            with open(RESULTS, encoding="utf-8") as f:
                entry = json.load(f).get(krate) or {}
            last = entry.get("after") or entry.get("before")
            if last and unchanged_since(last, krate, files):
                return
            if last:
                sys.exit(f"{krate}: its files changed since the run recorded at {last['commit']}; "
                         "run it again without --iterate")
        sys.exit(f"{krate}: no recorded run to iterate on")
    shard = None
    if args[:1] == ["--shard"]:
        shard, args = args[1], args[2:]
    if len(args) < 2:
        sys.exit(__doc__)
    krate, out, files = args[0], args[1], args[2:]
    results = {}
    if os.path.exists(RESULTS):
        with open(RESULTS, encoding="utf-8") as f:
            results = json.load(f)
    entry = results.get(krate) or {}
    last = entry.get("after") or entry.get("before")
    run = summary(out, last, krate, files)
    if shard is not None:
        k, n = shard.split("/")
        partial = results.setdefault(krate, {"files": files}).setdefault("partial", {})
        stale = [s for s, r in partial.items() if not unchanged_since(r, krate, files)]
        for s in stale:
            print(f"{krate}: slice {s} ran on other code ({partial[s]['commit']}); dropped")
            del partial[s]
        partial[shard] = run
        done = [s for s in partial if s.split("/")[1] == n]
        print(f"{krate}: shard {shard} recorded; {len(done)} of {n} shards done")
        if len(done) < int(n):
            write(results)
            return
        run = combine({s: partial[s] for s in done})
        del results[krate]["partial"]
    entry = results.get(krate)
    if entry is None or "before" not in entry:
        entry = {"files": files, "before": run}
    else:
        if files:
            entry["files"] = files
        entry["after"] = run
    results[krate] = entry
    write(results)
    kind = "after" if "after" in entry else "before"
    print(f"{krate}: recorded as {kind}: {run['caught']} caught, {len(run['missed'])} missed, "
          f"{run['timeout']} timeout, {run['unviable']} unviable ({datetime.date.today()})")


if __name__ == "__main__":
    main()
