#!/usr/bin/env python3
"""Browser test of the Play page: trains in headless Chromium and compares with `pg train`.

After `pg book`, it opens the built book as a reader would and checks:

 1. the menu: the algorithms of the Play page's menu are exactly the values of
    `pg train --algo` that `pg train --help` lists, in the same order;
 2. from disk (file://), play.html with its default settings (chapter 7's vectorised
    reward-to-go, seed 0): Train runs until the mean of the last 100 episodes reaches 475;
    every iteration's row (environment steps, mean return, surrogate) equals, exactly, the
    row of the native run of the same flags (`pg train <the page's flags> --threads 1`), and
    so does the step at which it was solved; the page reports its steps per second;
 3. from a local web server (http://), the trainer at the end of chapter 6 has TRPO
    selected, and a run of it with a budget of 20000 steps, set in its settings, equals the
    native run row for row;
 4. every chapter page has its trainer, with its algorithm selected;
 5. no console error, uncaught exception or request outside file:, data:, blob: and the
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


def set_knob_js(flag, value):
    return f"""(() => {{
  const input = document.querySelector('.pg-play [data-flag="{flag}"]');
  input.value = {json.dumps(value)};
  input.dispatchEvent(new Event('input'));
  return document.querySelector('.pg-play .pg-play-line').textContent;
}})()"""


CLICK_JS = "document.querySelector('.pg-play .pg-play-train').click(); true"


def help_algos(pg):
    """The values of --algo that `pg train --help` lists."""
    text = subprocess.run([pg, "train", "--help"], capture_output=True, text=True, check=True).stdout
    block = text[text.index("--algo <ALGO>"):]
    block = block[:block.index("[default:")]
    return re.findall(r"^\s+- ([a-z][a-z-]*):", block, re.M)


def native(pg, line, budget):
    """The native run of the page's flags (its budget replaced by `budget`): (summary, rows)."""
    words = line.split()
    if "--max-env-steps" in words:
        i = words.index("--max-env-steps")
        del words[i:i + 2]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run.json"
        extra = ["--threads", "1"] if "--batch-steps" in words else []
        cmd = [pg, "train", *words, *extra, "--max-env-steps", str(budget), "--quiet", "--out", str(out)]
        run = subprocess.run(cmd, capture_output=True, text=True)
        if run.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {run.stderr.strip()}")
        full = json.loads(out.read_text())
    return full, full["iterations"]


def same_rows(page, rows):
    """Problems where the page's iterations differ from the native ones (compared exactly)."""
    if len(page) > len(rows):
        return [f"the page ran {len(page)} iterations, the native run only {len(rows)}"]
    for i, (a, b) in enumerate(zip(page, rows)):
        if a != b:
            return [f"iteration {i} differs: page {json.dumps(a)}, native {json.dumps(b)}"]
    return []


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
        browser.deadline = time.monotonic() + TRAIN_SECONDS + 120
        target, session = open_page(browser, (build / "play.html").resolve().as_uri())
        box = bbt.evaluate(browser, session, BOX_JS)
        listed = help_algos(args.pg)
        problems = [] if box["algos"] == listed else [f"menu {box['algos']} but pg train --help lists {listed}"]
        failed += check("the menu lists every algorithm of pg train --help", problems, ", ".join(listed))

        got = train_in_page(browser, session)
        problems = []
        if got["state"] != "done":
            problems.append(f"the run ended in state {got['state']}: {got['error']}")
        result = got["result"] or {}
        summary = result.get("summary") or {}
        native_summary = {}
        if not problems:
            if summary.get("solved_at_steps") is None:
                problems.append(f"not solved: {got['status']}")
            native_summary, rows = native(args.pg, result["line"], summary["env_steps"])
            problems += same_rows(result["iterations"], rows)
            if native_summary.get("solved_at_steps") != summary.get("solved_at_steps"):
                problems.append(f"solved at {summary.get('solved_at_steps')} in the page, "
                                f"{native_summary.get('solved_at_steps')} natively")
            if "steps per second" not in got["status"] or not summary.get("env_steps_per_second"):
                problems.append(f"no steps per second reported: {got['status']!r}")
        problems += page_errors(browser, session, None)
        if args.shots:
            args.shots.mkdir(parents=True, exist_ok=True)
            bbt.screenshot(browser, session, args.shots / "play-trained.png")
            browser.call("Emulation.setDeviceMetricsOverride", session, width=390, height=844,
                         deviceScaleFactor=1, mobile=True)
            time.sleep(0.5)
            bbt.screenshot(browser, session, args.shots / "play-trained-390.png")
        browser.call("Target.closeTarget", targetId=target)
        timing = ""
        if summary and native_summary:
            timing = (f"{result['line']}: solved after {summary['solved_at_steps']} steps; browser "
                      f"{summary['env_steps_per_second']:.0f} steps/s, solved in {summary['solved_at_seconds']:.2f} s; "
                      f"native (one thread) {native_summary['env_steps_per_second']:.0f} steps/s, solved in "
                      f"{native_summary['solved_at_seconds']:.2f} s")
        failed += check("play.html from disk trains the default run as pg train does, bit for bit", problems, timing)

        # 3: chapter 6's trainer over http, TRPO with a budget.
        target, session = open_page(browser, origin + "/06-kl-constraint.html")
        box = bbt.evaluate(browser, session, BOX_JS)
        problems = []
        if "--algo trpo" not in (box["line"] or ""):
            problems.append(f"chapter 6's trainer does not start on trpo: {box['line']!r}")
        bbt.evaluate(browser, session, set_knob_js("--max-env-steps", "20000"))
        got = train_in_page(browser, session)
        result = got["result"] or {}
        if got["state"] != "done":
            problems.append(f"the run ended in state {got['state']}: {got['error']}")
        else:
            _, rows = native(args.pg, result["line"], 20000)
            problems += same_rows(result["iterations"], rows)
            if len(result["iterations"]) != len(rows):
                problems.append(f"{len(result['iterations'])} iterations in the page, {len(rows)} natively")
        problems += page_errors(browser, session, origin)
        browser.call("Target.closeTarget", targetId=target)
        failed += check("chapter 6's trainer over http trains TRPO as pg train does, bit for bit", problems,
                        f"{len(result.get('iterations', []))} iterations")

        # 4: every chapter's trainer, its algorithm selected.
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
        failed += check("every chapter ends with a trainer on its own algorithm", problems)
    except bbt.PageTimeout:
        failed += check("the Play page", [f"a run took longer than {TRAIN_SECONDS:.0f} s"])
    finally:
        browser.deadline = None
        server.shutdown()
        browser.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
