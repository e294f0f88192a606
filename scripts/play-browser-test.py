#!/usr/bin/env python3
"""Browser test of the Play page: trains in headless Chromium and compares with `pg train`.

After `pg book`, it opens the built book as a reader would and checks:

 1. the menu: the algorithms of the Play page's menu are exactly the values of
    `pg train --algo` that `pg train --help` lists, in the same order, and no entry reads
    "undefined";
 2. from disk (file://), play.html with its default settings (chapter 7's vectorised
    reward-to-go, seed 0, stop when solved): the run is solved, the page reports its steps
    per second, and `pg train` with the flags the page shows (its command line) computes
    the same run: every iteration's row (environment steps, mean return, the update's
    metrics) equal, exactly, and the step at which it was solved;
 3. every entry of the menu, run briefly (15000 steps), with choices changed where an
    algorithm has them (baselines, off-policy estimators, discount, trust region): the same
    comparison with `pg train`;
 4. from a local web server (http://), chapter 6's trainer starts on TRPO and trains as
    `pg train` does;
 5. every chapter page ends with a trainer on its own algorithm; a bad setting (--lr -1)
    or seed (1e30) ends in an error that names it; `--hidden ""` (a linear policy) trains as
    `pg train` does; Stop ends a long run early, and the next run trains as `pg train` does;
 6. no console error, uncaught exception or request outside file:, data:, blob: and the
    local server.

It prints the browser's and the native run's steps per second and seconds to solve (timings,
reported and never asserted). Usage, from the project root after `pg book`:
    target/venv/bin/python scripts/play-browser-test.py [--book DIR] [--pg PATH] [--shots DIR]
Exit status: 0 every check passes, 1 one fails, 2 chromium, websocket-client, pg or the book is missing.
"""
import argparse
import functools
import http.server
import importlib.util
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
spec = importlib.util.spec_from_file_location("book_browser_test", HERE / "book-browser-test.py")
bbt = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bbt)

TRAIN_SECONDS = 180.0  # the longest a run in the page may take before the test gives up
CHAPTERS = {
    "01-likelihood-ratio": "reinforce",
    "02-causality": "reward-to-go",
    "03-baselines": "baseline",
    "04-surrogate-loss": "baseline",
    "05-importance-sampling": "offpolicy",
    "06-kl-constraint": "trpo",
    "07-how-fast": "reward-to-go",
}

# The first trainer of the page: its state, menu, selected algorithm and command line.
BOX_JS = """(() => {
  const box = document.querySelector('.pg-play');
  if (!box) return null;
  const menu = box.querySelector('.pg-play-algo');
  return {
    state: box.dataset.state || null,
    error: box.dataset.error || null,
    options: menu ? Array.from(menu.options).map(o => o.textContent) : [],
    selected: menu ? menu.options[menu.selectedIndex].textContent : null,
    line: (box.querySelector('.pg-play-line') || {}).textContent || null,
    status: (box.querySelector('.pg-play-status') || {}).textContent || null,
    algos: (self.PG_PLAY ? self.PG_PLAY.algorithms.map(a => a.name) : []),
  };
})()"""

RESULT_JS = """(() => {
  const box = document.querySelector('.pg-play');
  return {state: box.dataset.state, error: box.dataset.error || null, result: box.pgPlayResult || null,
          status: box.querySelector('.pg-play-status').textContent};
})()"""


CLICK_JS = "document.querySelector('.pg-play .pg-play-train').click(); true"


def help_algos(pg):
    """The values of --algo that `pg train --help` lists."""
    text = subprocess.run([pg, "train", "--help"], capture_output=True, text=True, check=True).stdout
    block = text[text.index("--algo <ALGO>"):]
    block = block[:block.index("[default:")]
    return re.findall(r"^\s+- ([a-z][a-z-]*):", block, re.M)


def native(pg, line):
    """`pg train` with exactly the page's flags: (summary, rows)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run.json"
        cmd = [pg, "train", *line.split(), "--quiet", "--out", str(out)]
        run = subprocess.run(cmd, capture_output=True, text=True)
        if run.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {run.stderr.strip()}")
        full = json.loads(out.read_text())
    return full, full["iterations"]


def compare(pg, result, shown):
    """Problems where the page's run differs from pg train with the flags it shows."""
    line = result["line"]
    problems = [] if shown == "pg train " + line else [f"the page shows {shown!r} but ran {line!r}"]
    summary, rows = native(pg, line)
    page = result["iterations"]
    if len(page) != len(rows):
        problems.append(f"{len(page)} iterations in the page, {len(rows)} natively")
    for i, (a, b) in enumerate(zip(page, rows)):
        if a != b:
            problems.append(f"iteration {i} differs: page {json.dumps(a)}, native {json.dumps(b)}")
            break
    theirs, ours = summary.get("solved_at_steps"), (result.get("summary") or {}).get("solved_at_steps")
    if theirs != ours:
        problems.append(f"solved at {ours} in the page, {theirs} natively")
    return summary, problems


# Runs of every menu entry (label, settings), short, compared with pg train; the settings
# reach the choices of the algorithms that have them.
SHORT = "15000"
RUNS = [
    ("Chapter 1: REINFORCE", {}),
    ("Chapter 2: Reward-to-go", {"--gamma": "0.99"}),
    ("Chapter 7: Reward-to-go, vectorised", {}),
    ("Chapter 3: Reward-to-go minus a baseline", {}),
    ("Chapter 3: Reward-to-go minus a baseline", {"--baseline": "mean"}),
    ("Chapter 3: Reward-to-go minus a baseline", {"--baseline": "optimal"}),
    ("Chapter 5: Off-policy reuse with importance ratios", {}),
    ("Chapter 5: Off-policy reuse with importance ratios", {"--estimator": "trajectory"}),
    ("Chapter 5: Off-policy reuse with importance ratios", {"--estimator": "first-order"}),
    ("Chapter 6: Natural policy gradient", {}),
    ("Chapter 6: TRPO", {"--delta": "0.02"}),
    ("Chapter 6: PPO (clipped)", {}),
    ("Chapter 6: PPO (adaptive KL penalty)", {}),
]


def choose_js(label, settings):
    return f"""(() => {{
  const box = document.querySelector('.pg-play');
  const menu = box.querySelector('.pg-play-algo');
  const i = Array.from(menu.options).findIndex(o => o.textContent === {json.dumps(label)});
  if (i < 0) return 'no menu entry ' + {json.dumps(label)};
  menu.value = String(i);
  menu.dispatchEvent(new Event('change'));
  for (const [flag, value] of Object.entries({json.dumps(settings)})) {{
    const input = box.querySelector('[data-flag="' + flag + '"]');
    if (!input) return 'no setting ' + flag;
    input.value = value;
    input.dispatchEvent(new Event('input'));
  }}
  return '';
}})()"""


def train_in_page(browser, session):
    """Presses Train and waits for the run to end; returns the page's result."""
    bbt.evaluate(browser, session, CLICK_JS)
    end = time.monotonic() + TRAIN_SECONDS
    while time.monotonic() < end:
        got = bbt.evaluate(browser, session, RESULT_JS)
        if got["state"] in ("done", "error"):
            return got
        time.sleep(0.2)
    raise bbt.PageTimeout()


def train_and_compare(browser, session, pg):
    """Trains with the page's current settings; problems where it differs from pg train."""
    shown = bbt.evaluate(browser, session, BOX_JS)["line"]
    got = train_in_page(browser, session)
    if got["state"] != "done":
        return [f"the run ended in state {got['state']}: {got['error']}"]
    return compare(pg, got["result"], shown)[1]


def open_page(browser, url):
    target = browser.call("Target.createTarget", url="about:blank")["targetId"]
    session = browser.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    for domain in ("Page", "Network", "Runtime", "Log"):
        browser.call(f"{domain}.enable", session)
    browser.call("Emulation.setDeviceMetricsOverride", session, width=1280, height=900, deviceScaleFactor=1,
                 mobile=False)
    browser.events_of(session, "Page.loadEventFired")
    browser.call("Page.navigate", session, url=url)
    browser.wait_event(session, "Page.loadEventFired", 30)
    end = time.monotonic() + 15
    while time.monotonic() < end:
        box = bbt.evaluate(browser, session, BOX_JS)
        if box and box["state"]:
            break
        time.sleep(0.1)
    return target, session


def page_errors(browser, session, allowed_origin):
    problems = []
    for method, p in browser.events_of(session):
        if method == "Network.requestWillBeSent":
            url = p["request"]["url"]
            if url.split(":", 1)[0] not in ("file", "data", "blob") and not url.startswith(allowed_origin or "-"):
                problems.append(f"network request: {url}")
        elif method == "Runtime.consoleAPICalled" and p["type"] in ("error", "assert"):
            problems.append("console error: " + " ".join(str(a.get("value", a.get("description", ""))) for a in p["args"]))
        elif method == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            problems.append("uncaught: " + d.get("exception", {}).get("description", d.get("text", "")))
        elif method == "Log.entryAdded" and p["entry"]["level"] == "error":
            problems.append(f"log: {p['entry']['text']} {p['entry'].get('url', '')}".strip())
    return list(dict.fromkeys(problems))


def serve(directory):
    """A local web server for `directory` on a free port, in a thread; returns (server, origin)."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def check(name, problems, summary=""):
    print(f"{'FAIL' if problems else 'ok  '} {name}{': ' + summary if summary else ''}")
    for p in problems:
        print(f"    {p}")
    sys.stdout.flush()
    return bool(problems)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--book", type=Path, default=Path("book"))
    parser.add_argument("--pg", default="target/release/pg")
    parser.add_argument("--shots", type=Path, help="write screenshots of the trained page here")
    args = parser.parse_args()
    build = args.book / "build"
    if bbt.websocket is None or not Path(bbt.CHROMIUM).exists():
        print("play-browser-test: needs chromium and websocket-client")
        return 2
    if not (build / "play.html").exists() or not Path(args.pg).exists():
        print(f"play-browser-test: needs {build / 'play.html'} and {args.pg}: run pg book first")
        return 2
    failed = 0
    browser = bbt.Browser()
    server, origin = serve(build)
    try:
        # 1 and 2: the Play page from disk, the default run.
        browser.deadline = time.monotonic() + TRAIN_SECONDS + 300
        target, session = open_page(browser, (build / "play.html").resolve().as_uri())
        box = bbt.evaluate(browser, session, BOX_JS)
        listed = help_algos(args.pg)
        problems = [] if box["algos"] == listed else [f"menu {box['algos']} but pg train --help lists {listed}"]
        problems += [f"menu entry {o!r}" for o in box["options"] if "undefined" in o or "null" in o]
        failed += check("the menu lists every algorithm of pg train --help", problems, ", ".join(listed))

        shown = bbt.evaluate(browser, session, BOX_JS)["line"]
        got = train_in_page(browser, session)
        result = got["result"] or {}
        summary = result.get("summary") or {}
        problems, native_summary = [], {}
        if got["state"] != "done":
            problems.append(f"the run ended in state {got['state']}: {got['error']}")
        else:
            if summary.get("solved_at_steps") is None:
                problems.append(f"not solved: {got['status']}")
            native_summary, more = compare(args.pg, result, shown)
            problems += more
            if "steps per second" not in got["status"] or not summary.get("env_steps_per_second"):
                problems.append(f"no steps per second reported: {got['status']!r}")
        problems += page_errors(browser, session, None)
        timing = ""
        if summary.get("solved_at_steps") and native_summary.get("solved_at_steps"):
            timing = (f"pg train {result['line']}: solved after {summary['solved_at_steps']} steps; browser "
                      f"{summary['env_steps_per_second']:.0f} steps/s, solved in {summary['solved_at_seconds']:.2f} s; "
                      f"native {native_summary['env_steps_per_second']:.0f} steps/s, solved in "
                      f"{native_summary['solved_at_seconds']:.2f} s")
        failed += check("play.html from disk trains its default run as pg train does, bit for bit", problems, timing)
        if args.shots:
            args.shots.mkdir(parents=True, exist_ok=True)
            bbt.screenshot(browser, session, args.shots / "play-trained.png")

        # Every menu entry, briefly, with some of its settings changed.
        for label, settings in RUNS:
            settings = {"--max-env-steps": SHORT, **settings}
            problems = []
            chosen = bbt.evaluate(browser, session, choose_js(label, settings))
            if chosen:
                problems.append(chosen)
            else:
                problems += train_and_compare(browser, session, args.pg)
            problems += page_errors(browser, session, None)
            failed += check(f"{label} {settings} trains as pg train does, bit for bit", problems)
        missing = sorted(set(box["options"]) - {label for label, _ in RUNS})
        failed += check("every entry of the menu is among those runs", [f"no run of {o!r}" for o in missing])
        browser.call("Target.closeTarget", targetId=target)

        # 3: chapter 6's trainer over http, TRPO.
        target, session = open_page(browser, origin + "/06-kl-constraint.html")
        box = bbt.evaluate(browser, session, BOX_JS)
        problems = []
        if "--algo trpo " not in (box["line"] or ""):
            problems.append(f"chapter 6's trainer does not start on trpo: {box['line']!r}")
        bbt.evaluate(browser, session, choose_js(box["selected"], {"--max-env-steps": "20000"}))
        problems += train_and_compare(browser, session, args.pg)
        problems += page_errors(browser, session, origin)
        browser.call("Target.closeTarget", targetId=target)
        failed += check("chapter 6's trainer over http trains TRPO as pg train does, bit for bit", problems)

        # 4: every chapter's trainer, its algorithm selected; a bad setting is refused by name.
        problems = []
        for page, algo in CHAPTERS.items():
            target, session = open_page(browser, (build / f"{page}.html").resolve().as_uri())
            box = bbt.evaluate(browser, session, BOX_JS)
            if not box or box["state"] != "idle":
                problems.append(f"{page}: no trainer ready ({box})")
            elif f"--algo {algo} " not in box["line"] + " ":
                problems.append(f"{page}: the trainer starts on {box['line']!r}, not --algo {algo}")
            problems += [f"{page}: {e}" for e in page_errors(browser, session, None)]
            browser.call("Target.closeTarget", targetId=target)
        target, session = open_page(browser, (build / "01-likelihood-ratio.html").resolve().as_uri())
        bbt.evaluate(browser, session, choose_js("Chapter 1: REINFORCE", {"--lr": "-1"}))
        got = train_in_page(browser, session)
        if got["state"] != "error" or "'-1'" not in (got["error"] or "") or "--lr" not in got["error"]:
            problems.append(f"--lr -1 in chapter 1's trainer: state {got['state']}, {got['error']!r}")
        bbt.evaluate(browser, session, choose_js("Chapter 1: REINFORCE", {"--lr": ""}))
        bbt.evaluate(browser, session, "document.querySelector('.pg-play .pg-play-seed').value = '1e30'; true")
        got = train_in_page(browser, session)
        if got["state"] != "error" or "seed" not in (got["error"] or ""):
            problems.append(f"seed 1e30: state {got['state']}, {got['error']!r}")
        bbt.evaluate(browser, session, "document.querySelector('.pg-play .pg-play-seed').value = '3'; true")
        bbt.evaluate(browser, session, choose_js("Chapter 1: REINFORCE", {"--hidden": '""', "--max-env-steps": "3000"}))
        problems += [f'--hidden "": {p}' for p in train_and_compare(browser, session, args.pg)]
        browser.events_of(session)
        browser.call("Target.closeTarget", targetId=target)
        failed += check("every chapter ends with a trainer on its own algorithm; bad settings are named", problems)

        # 5: Stop in the middle of a long run, then train again.
        target, session = open_page(browser, (build / "play.html").resolve().as_uri())
        problems = []
        bbt.evaluate(browser, session, choose_js("Chapter 6: PPO (adaptive KL penalty)", {"--max-env-steps": "500000"}))
        bbt.evaluate(browser, session, """(() => { const c = document.querySelector('.pg-play .pg-play-until-solved');
            c.checked = false; c.dispatchEvent(new Event('change')); return true; })()""")
        bbt.evaluate(browser, session, CLICK_JS)
        end = time.monotonic() + 30
        while time.monotonic() < end and not (bbt.evaluate(browser, session, RESULT_JS)["result"] or {}).get("iterations"):
            time.sleep(0.1)
        bbt.evaluate(browser, session, "document.querySelector('.pg-play .pg-play-stop').click(); true")
        end = time.monotonic() + 30
        got = bbt.evaluate(browser, session, RESULT_JS)
        while time.monotonic() < end and got["state"] == "training":
            time.sleep(0.1)
            got = bbt.evaluate(browser, session, RESULT_JS)
        steps = ((got["result"] or {}).get("summary") or {}).get("env_steps", 0)
        if got["state"] != "done" or not got["status"].startswith("Stopped") or not 0 < steps < 500000:
            problems.append(f"Stop: state {got['state']}, {steps} steps, status {got['status']!r}")
        bbt.evaluate(browser, session, choose_js("Chapter 6: TRPO", {"--max-env-steps": "3000"}))
        problems += [f"after Stop: {p}" for p in train_and_compare(browser, session, args.pg)]
        problems += page_errors(browser, session, None)
        browser.call("Target.closeTarget", targetId=target)
        failed += check("Stop ends a run early and the next run trains as pg train does", problems)
    except bbt.PageTimeout:
        failed += check("the Play page", [f"a run took longer than {TRAIN_SECONDS:.0f} s"])
    finally:
        browser.deadline = None
        server.shutdown()
        browser.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
