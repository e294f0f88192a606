#!/usr/bin/env python3
"""Browser test of the built book: loads every page in headless Chromium, as a reader would.

Pages are the ones book/src/SUMMARY.md lists (introduction, notation, the chapters, and any
page added later), opened from book/build/<page>.html over file://. Per page it checks:

 1. figures drawn: plotly figures rendered (a .js-plotly-plot holding an svg.main-svg)
    equal the `{{#include generated/<name>.html}}` lines of the page's markdown;
 2. no source leaked: the visible text outside code shows no ```, `# ` headings, table
    separator rows, raw KaTeX/HTML, $$ or {{#include; code blocks hold no line of an included
    figure, no plotly source, table separator rows or `## ` headings (a code fence or an
    indentation that swallowed a figure or prose);
 3. headings: every ##/### heading of the markdown (outside code fences; compared without
    math, code ticks, links and punctuation) is a real h2/h3 in the content and a link in the
    sidebar's list of this page's headings (#mdbook-sidebar .on-this-page a.header-in-summary,
    which mdBook's toc.js builds from the content's headings);
 4. network and console: no request to anything but file:, data: or blob: URLs, and no
    console error, uncaught exception or error log entry;
 5. at 1280x900: nothing in the content column is wider than the column unless it sits in a
    horizontal scroller (overflow-x auto/scroll) that itself fits;
 6. at 390x844 (mobile): the document does not scroll sideways, nothing overflows the viewport
    outside a scroller that fits, and each figure's plotting area (.nsewdrag) is at least half
    the figure's width;
 7. screenshots in --shots DIR: <page>-top.png, <page>-<heading-id>.png for each ### section of
    `## Experiment` (or each ## section holding a figure when there is none), and the same at
    390 px: <page>-390.png, <page>-<heading-id>-390.png.

Usage (from the project root, after `pg book`):
    target/venv/bin/python scripts/book-browser-test.py [--book DIR] [--shots DIR] [--page WORD]
Needs Debian's chromium and the websocket-client package. Exit status: 0 all pages pass,
1 a page fails, 2 chromium, websocket-client or the built book is missing.
"""
import argparse
import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

try:
    import websocket  # websocket-client
except ImportError:
    websocket = None

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FIGURE_WAIT = 15.0  # seconds to wait for plotly to draw every figure
WIDE = (1280, 900)
PHONE = (390, 844)


class PageTimeout(Exception):
    pass


class Browser:
    """Headless Chromium driven over the DevTools protocol (one websocket, flat sessions)."""

    def __init__(self):
        self.ws, self.next_id = None, 0
        self.events = []  # (sessionId, method, params), in arrival order
        self.deadline = None  # monotonic time after which a call raises PageTimeout
        self.profile = tempfile.mkdtemp(prefix="book-browser-")
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--hide-scrollbars", "--remote-debugging-port=0", f"--user-data-dir={self.profile}",
             "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        port_file = Path(self.profile, "DevToolsActivePort")
        deadline = time.monotonic() + 30
        while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError("chromium did not start (no DevToolsActivePort)")
            time.sleep(0.05)
        port, path = port_file.read_text().splitlines()[:2]
        self.ws = websocket.create_connection(f"ws://127.0.0.1:{port}{path}", timeout=30,
                                              suppress_origin=True)

    def call(self, method, session=None, **params):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        self.ws.send(json.dumps(msg))
        while True:
            reply = self._receive()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})

    def _receive(self, timeout=30.0, quiet=False):
        """Reads one message; PageTimeout past the deadline (or after timeout unless quiet)."""
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise PageTimeout()
            timeout = min(timeout, left)
        self.ws.settimeout(max(timeout, 0.001))
        try:
            reply = json.loads(self.ws.recv())
        except websocket.WebSocketTimeoutException:
            if quiet and (self.deadline is None or time.monotonic() < self.deadline):
                return {}
            raise PageTimeout() from None
        if "method" in reply:
            self.events.append((reply.get("sessionId"), reply["method"], reply.get("params", {})))
        return reply

    def events_of(self, session, method=None):
        """Takes the events received so far for a session (of one method, if given)."""
        mine = [e[0] == session and (method is None or e[1] == method) for e in self.events]
        taken = [(m, p) for (_, m, p), t in zip(self.events, mine) if t]
        self.events = [e for e, t in zip(self.events, mine) if not t]
        return taken

    def wait_event(self, session, method, seconds):
        """Waits for an event (possibly already received) and takes it."""
        end = time.monotonic() + seconds
        while True:
            found = self.events_of(session, method)
            if found:
                return found[0][1]
            if time.monotonic() > end:
                raise PageTimeout()
            self._receive(min(0.2, end - time.monotonic()), quiet=True)

    def close(self):
        """Ends the chromium this object started (its process group) and removes its profile."""
        try:  # politely first, so that chromium collects its own child processes
            if self.ws is not None:
                self.ws.send(json.dumps({"id": 0, "method": "Browser.close"}))
                self.ws.close()
            self.proc.wait(timeout=5)
        except (OSError, websocket.WebSocketException, subprocess.TimeoutExpired):
            pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


# In-page JavaScript. Each is an expression evaluated in the page; results come back as JSON.

FIGURES_JS = """Array.from(document.querySelectorAll('.js-plotly-plot'))
    .filter(f => f.querySelector('svg.main-svg')).length"""

# Visible text of the content outside code (hidden by a temporary style sheet so innerText
# keeps the line structure), and the text of every code block.
TEXT_JS = """(() => {
  const main = document.querySelector('main');
  const style = document.createElement('style');
  style.textContent = 'main pre, main code, main script, main style { display: none !important; }';
  document.head.appendChild(style);
  const text = main.innerText;
  style.remove();
  return {text, code: Array.from(main.querySelectorAll('pre code, pre')).map(c => c.textContent)};
})()"""

# The content's h2/h3 headings (text without math), and the links of the sidebar's list of
# this page's headings (toc.js builds it from the headings into .on-this-page).
HEADINGS_JS = """(() => {
  const text = h => { const c = h.cloneNode(true); c.querySelectorAll('.katex').forEach(k => k.remove());
                      return c.textContent; };
  return {
    headings: Array.from(document.querySelectorAll('main h2, main h3'))
      .map(h => ({level: +h.tagName[1], id: h.id, text: text(h)})),
    sidebar: Array.from(document.querySelectorAll('#mdbook-sidebar .on-this-page a.header-in-summary'))
      .map(a => a.getAttribute('href')),
  };
})()"""

# Elements under ROOT reaching past LIMIT (a right edge in px) that no horizontal scroller
# inside the content (overflow-x auto or scroll) fitting within LIMIT holds. mdBook's .content
# (overflow-y auto, hence overflow-x auto too) does not count: it is the page itself. Parts of
# an svg are clipped to it, and only the outermost offender of a subtree is reported.
OVERFLOW_JS = """((root, limit, skip) => {
  const main = document.querySelector('main');
  const fits = el => el.getBoundingClientRect().right <= limit + 1;
  const scrolled = el => {
    for (let p = el.parentElement; p && main.contains(p); p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if ((o === 'auto' || o === 'scroll') && fits(p)) return true;
    }
    return false;
  };
  const out = [];
  for (const el of root.querySelectorAll('*')) {
    if (el.ownerSVGElement || (skip && el.closest(skip)) || out.some(o => o.contains(el))) continue;
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.height > 0 && !fits(el) && !scrolled(el)) out.push(el);
  }
  // One line per offender, and per equation (KaTeX overflows in many pieces).
  const found = new Map();
  for (const el of out) {
    const unit = el.closest('.katex-display') || el.closest('.katex') || el;
    found.set(unit, Math.max(found.get(unit) || 0, Math.round(el.getBoundingClientRect().right)));
  }
  return Array.from(found, ([el, right]) => ({
    what: el.tagName.toLowerCase() + (String(el.className.baseVal ?? el.className) || '').split(/\\s+/)
      .filter(c => c).map(c => '.' + c).join(''),
    text: ((el.classList.contains('katex-display') || el.classList.contains('katex') ? 'math: ' : '')
           + (el.innerText || el.textContent || '')).replace(/[\\s\\u200b]+/g, ' ').trim().slice(0, 60),
    right}));
})(ROOT, LIMIT, SKIP)"""

WIDE_JS = OVERFLOW_JS.replace("ROOT", "document.querySelector('main')") \
    .replace("LIMIT", "document.querySelector('main').getBoundingClientRect().right").replace("SKIP", "null")
# At phone width, the document and each of the content's containers (mdBook's .content
# scrolls on its own) must not scroll sideways.
PHONE_JS = """({
  sideways: [document.documentElement, ...(() => {
      const up = []; for (let p = document.querySelector('main'); p !== document.body; p = p.parentElement) up.push(p);
      return up; })()]
    .filter(e => e === document.documentElement ? e.scrollWidth > WIDTH + 1
                 : ['auto', 'scroll'].includes(getComputedStyle(e).overflowX) && e.scrollWidth > e.clientWidth + 1)
    .map(e => ({what: e === document.documentElement ? 'the document'
                      : e.tagName.toLowerCase() + (e.className ? '.' + e.className : ''),
                width: e.scrollWidth})),
  overflow: """ + OVERFLOW_JS.replace("ROOT", "document.body").replace("LIMIT", "WIDTH") \
    .replace("SKIP", "'#mdbook-sidebar'") + """,
  plots: Array.from(document.querySelectorAll('.js-plotly-plot')).map(f => ({
    id: f.id, width: f.getBoundingClientRect().width,
    area: Math.max(0, ...Array.from(f.querySelectorAll('.nsewdrag')).map(d => d.getBoundingClientRect().width)),
  })),
})"""

# Screenshot sections: the ### headings under `## Experiment`, or else each ## holding a figure.
SECTIONS_JS = """(() => {
  const items = Array.from(document.querySelectorAll('main h2, main h3, main .js-plotly-plot'));
  const h2s = items.filter(e => e.tagName === 'H2');
  const experiment = h2s.find(h => h.textContent.trim().toLowerCase() === 'experiment');
  if (experiment) {
    const after = items.slice(items.indexOf(experiment) + 1);
    const end = after.findIndex(e => e.tagName === 'H2');
    return (end < 0 ? after : after.slice(0, end)).filter(e => e.tagName === 'H3').map(h => h.id);
  }
  return h2s.filter((h, i) => {
    const body = items.slice(items.indexOf(h) + 1, i + 1 < h2s.length ? items.indexOf(h2s[i + 1]) : undefined);
    return body.some(e => e.tagName !== 'H3');
  }).map(h => h.id);
})()"""


# The markdown side: what the page's source promises.

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
HEADING = re.compile(r"^ {0,3}(#{2,3})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
FIGURE_INCLUDE = re.compile(r"\{\{#include\s+generated/([^}\s]+\.html)\s*\}\}")


def promised_headings(source):
    """The ##/### headings outside code fences, as (level, text). A fence that is not closed before
    the end of the page or before another fence with a language (```rust) opens, which cannot
    close it, was meant to be closed: its lines still count as prose, so the headings a lost
    closing fence swallows are still expected."""
    lines = source.splitlines()
    code, fence = set(), None  # fence: (line number, marker) of the open block
    for i, line in enumerate(lines):
        if not (m := FENCE.match(line)):
            continue
        marker, info = m.group(1), line.strip()[len(m.group(1)):].strip()
        if fence is None:
            fence = (i, marker)
        elif marker[0] == fence[1][0] and len(marker) >= len(fence[1]) and not info:
            code.update(range(fence[0], i + 1))
            fence = None
        elif info:
            fence = (i, marker)
    return [(len(m.group(1)), m.group(2)) for i, line in enumerate(lines)
            if i not in code and (m := HEADING.match(line))]


def key(text):
    """Compares headings whatever the markup: math, code ticks, links, emphasis, punctuation."""
    text = re.sub(r"\{[#.][^}]*\}\s*$", "", text)  # {#id .class} attributes
    text = re.sub(r"\$\$?[^$]*\$\$?", " ", text)  # math (the DOM side drops .katex)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links
    return " ".join(re.sub(r"[\W_]+", " ", text.lower()).split())


def leaks(text, codes, figures):
    """Markdown, HTML or math source showing in the visible text, and figures or prose swallowed
    by code blocks. `figures` maps each included generated .html file to its source."""
    found = []
    for line in text.splitlines():
        for pattern in ("```", "|---", "| ---", '<span class="katex', "<div", "<script", "$$", "{{#include"):
            if pattern in line:
                found.append(f"source in the text ({pattern}): {line.strip()[:80]!r}")
        if re.match(r"\s*#{1,6} ", line):
            found.append(f"raw markdown heading in the text: {line.strip()[:80]!r}")
    figure_lines = {}  # a line of an included figure -> the figure (or "a figure" if shared)
    for name, source in figures.items():
        for line in (line.strip() for line in source.splitlines()):
            if len(line) >= 12:
                figure_lines[line] = name if figure_lines.get(line, name) == name else "a figure"
    for code in codes:
        lines = [line.strip() for line in code.splitlines()]
        swallowed = [f"{figure_lines[line]}: {line[:60]!r}" for line in lines if line in figure_lines]
        swallowed += [repr(p) for p in ("plotly-graph-div", "Plotly.newPlot") if p in code]
        if swallowed:
            found.append(f"figure source inside code ({swallowed[0]})")
        for line in code.splitlines():
            if re.match(r"\s*\|?\s*:?-{3,}:?\s*\|", line) or line.startswith("## "):
                found.append(f"markdown inside code (prose swallowed by a code block): {line.strip()[:80]!r}")
                break
    return list(dict.fromkeys(found))


# One page.

def evaluate(browser, session, expression):
    result = browser.call("Runtime.evaluate", session, expression=expression, returnByValue=True,
                          awaitPromise=True)
    if "exceptionDetails" in result:
        raise RuntimeError(f"page script failed: {result['exceptionDetails'].get('text')}")
    return result["result"].get("value")


def load(browser, session, url, size, mobile, want):
    """Loads url at a viewport size and waits until plotly has drawn `want` figures, or the count
    has not changed for 3 s, or FIGURE_WAIT has passed. Returns the figures drawn."""
    browser.call("Emulation.setDeviceMetricsOverride", session, width=size[0], height=size[1],
                 deviceScaleFactor=1, mobile=mobile)
    browser.events_of(session, "Page.loadEventFired")
    browser.call("Page.navigate", session, url=url)
    browser.wait_event(session, "Page.loadEventFired", FIGURE_WAIT)
    start = changed = time.monotonic()
    drawn = -1
    while True:
        count = evaluate(browser, session, FIGURES_JS)
        if count != drawn:
            drawn, changed = count, time.monotonic()
        now = time.monotonic()
        if drawn == want or now - changed > 3 or now - start > FIGURE_WAIT:
            return drawn
        time.sleep(0.25)


def screenshot(browser, session, path, scroll_to=None):
    """Captures the viewport, at the top of the page or with a heading just below the menu bar."""
    top = "0" if scroll_to is None else (
        f"document.getElementById({json.dumps(scroll_to)}).getBoundingClientRect().top + window.scrollY"
        " - document.getElementById('mdbook-menu-bar').offsetHeight - 8")
    evaluate(browser, session, f"window.scrollTo(0, {top})")
    time.sleep(0.3)  # let the menu bar settle after the scroll
    data = browser.call("Page.captureScreenshot", session, format="png")["data"]
    path.write_bytes(base64.b64decode(data))


def check_page(browser, name, md, html, shots):
    """Returns (summary, problems) for one page."""
    source = md.read_text()
    includes = FIGURE_INCLUDE.findall(source)
    want = len(includes)
    figures = {}
    for figure in dict.fromkeys(includes):
        path = md.parent / "generated" / figure
        figures[f"generated/{figure}"] = path.read_text() if path.exists() else ""
    target = browser.call("Target.createTarget", url="about:blank")["targetId"]
    session = browser.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    try:
        for domain in ("Page", "Network", "Runtime", "Log"):
            browser.call(f"{domain}.enable", session)
        url = html.resolve().as_uri()
        problems = []

        drawn = load(browser, session, url, WIDE, False, want)
        if drawn != want:
            problems.append(f"figures: {drawn} drawn, the markdown includes {want}")
        text = evaluate(browser, session, TEXT_JS)
        problems += leaks(text["text"], text["code"], figures)

        dom = evaluate(browser, session, HEADINGS_JS)
        sidebar = set(dom["sidebar"])
        for level, heading in promised_headings(source):
            match = [h for h in dom["headings"] if h["level"] == level and key(h["text"]) == key(heading)]
            if not match:
                problems.append(f"heading {'#' * level} {heading!r} is not an h{level} in the page")
            elif not any(f"#{h['id']}" in sidebar for h in match):
                problems.append(f"heading {'#' * level} {heading!r} is missing from the sidebar")

        for el in evaluate(browser, session, WIDE_JS):
            problems.append(f"wider than the column at {WIDE[0]} px: {el['what']} reaches {el['right']} px: "
                            f"{el['text']!r}")

        if shots:
            screenshot(browser, session, shots / f"{name}-top.png")
            for section in evaluate(browser, session, SECTIONS_JS):
                screenshot(browser, session, shots / f"{name}-{section}.png", section)

        load(browser, session, url, PHONE, True, want)
        phone = evaluate(browser, session, PHONE_JS.replace("WIDTH", str(PHONE[0])))
        for el in phone["sideways"]:
            problems.append(f"scrolls sideways at {PHONE[0]} px: {el['what']} is {el['width']} px wide")
        for el in phone["overflow"]:
            problems.append(f"wider than the screen at {PHONE[0]} px: {el['what']} reaches {el['right']} px: "
                            f"{el['text']!r}")
        for plot in phone["plots"]:
            if plot["area"] and plot["area"] < plot["width"] / 2:
                problems.append(f"figure {plot['id']} at {PHONE[0]} px: plotting area {plot['area']:.0f} px "
                                f"of {plot['width']:.0f} px (less than half)")
        if shots:
            screenshot(browser, session, shots / f"{name}-390.png")
            for section in evaluate(browser, session, SECTIONS_JS):
                screenshot(browser, session, shots / f"{name}-{section}-390.png", section)

        requests, errors = [], []
        for method, p in browser.events_of(session):
            if method == "Network.requestWillBeSent":
                if p["request"]["url"].split(":", 1)[0] not in ("file", "data", "blob"):
                    requests.append(p["request"]["url"])
            elif method == "Runtime.consoleAPICalled" and p["type"] in ("error", "assert"):
                errors.append("console.error: " + " ".join(
                    str(a.get("value", a.get("description", ""))) for a in p["args"]))
            elif method == "Runtime.exceptionThrown":
                d = p["exceptionDetails"]
                errors.append("uncaught: " + d.get("exception", {}).get("description", d.get("text", "")))
            elif method == "Log.entryAdded" and p["entry"]["level"] == "error":
                errors.append(f"log: {p['entry']['text']} {p['entry'].get('url', '')}".strip())
        requests, errors = list(dict.fromkeys(requests)), list(dict.fromkeys(errors))
        problems += [f"network request: {r}" for r in requests]
        problems += [f"console error: {e.splitlines()[0][:160]}" for e in errors]
        summary = f"{drawn}/{want} figures, {len(requests)} requests, {len(errors)} errors"
        return summary, problems
    finally:
        browser.deadline = None
        try:
            browser.call("Target.closeTarget", targetId=target)
        except Exception:
            pass
        browser.events = []


def pages(book):
    """(name, markdown, html) for every page SUMMARY.md links, in its order."""
    summary = (book / "src" / "SUMMARY.md").read_text()
    links = dict.fromkeys(re.findall(r"\]\(([^)\s]+\.md)\)", summary))
    return [(link[:-3].replace("/", "-"), book / "src" / link, book / "build" / (link[:-3] + ".html"))
            for link in links]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--book", default="book", type=Path, help="the book directory [book]")
    parser.add_argument("--shots", default="target/book-shots", type=Path,
                        help="where screenshots go [target/book-shots]")
    parser.add_argument("--page", default="", help="only pages whose name contains this")
    parser.add_argument("--timeout", default=120.0, type=float, help="seconds allowed per page [120]")
    args = parser.parse_args()

    if not os.access(CHROMIUM, os.X_OK):
        print(f"book-browser-test: no {CHROMIUM} (apt-get install chromium)")
        return 2
    if websocket is None:
        print("book-browser-test: needs the websocket-client package (pip install websocket-client)")
        return 2
    if not (args.book / "src" / "SUMMARY.md").exists() or not (args.book / "build" / "index.html").exists():
        print(f"book-browser-test: no built book in {args.book} (run `pg book` first)")
        return 2
    todo = [p for p in pages(args.book) if args.page in p[0]]
    if not todo:
        print(f"book-browser-test: no page of {args.book}/src/SUMMARY.md matches {args.page!r}")
        return 2
    args.shots.mkdir(parents=True, exist_ok=True)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # still close chromium when killed
    failed = 0
    try:
        browser = Browser()
    except (RuntimeError, OSError, websocket.WebSocketException) as e:
        print(f"book-browser-test: {e}")
        return 2
    try:
        for name, md, html in todo:
            if not html.exists():
                summary, problems = "not built", [f"{html} is missing"]
            else:
                browser.deadline = time.monotonic() + args.timeout
                try:
                    summary, problems = check_page(browser, name, md, html, args.shots)
                except PageTimeout:
                    summary, problems = "timed out", [f"the page took longer than {args.timeout:.0f} s"]
                except (RuntimeError, websocket.WebSocketException, OSError) as e:
                    summary, problems = "broke the test", [str(e)]
                    if browser.proc.poll() is not None:  # chromium died: start a fresh one
                        browser.close()
                        browser = Browser()
            failed += bool(problems)
            print(f"{'FAIL' if problems else 'ok  '} {name}: {summary}")
            for problem in problems:
                print(f"    {problem}")
            sys.stdout.flush()
    finally:
        browser.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
