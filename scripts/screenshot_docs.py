"""Look at the built website in a real browser: serve `site/`, open the key pages in headless
Chromium, check that the figures and the maths rendered, and save screenshots.

    mkdocs build                         # makes site/
    python scripts/screenshot_docs.py    # screenshots go to build/screenshots/
    python scripts/screenshot_docs.py --width 1280 400    # a desktop and a phone width

For every page in PAGES it checks, in the page as the browser rendered it:

* the title;
* at least the expected number of build-time figures (an inline SVG inside `.tinyseq-figure`,
  drawn by the page's code), each with a visible size;
* that KaTeX typeset every maths span (`.arithmatex` holds `.katex`, and no `.katex-error`);
* that no code block failed (markdown-exec would show a Python traceback);
* that nothing is cut off: no display formula or code block wider than the column without a
  way to scroll it, and no page wider than the window;
* on tutorial pages, the download links of the notebook and the script.

It saves a screenshot of the top of each page at every `--width`, one of every figure (cropped
to it, at the first width), one of the widest display formula at each width, and with `--dark`
the top of each page in the dark palette.

The site is served on 127.0.0.1 only, on a free port, and the server stops when the script ends.
Chromium comes from Debian's package (`apt-get install chromium`); it runs headless with a fresh
profile and is driven over the DevTools protocol through a pipe (no network port is opened).
Exit status 0 when every check passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import base64
import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Page:
    path: str            # URL path under the site root
    title: str           # text the page title must contain
    figures: int = 0     # at least this many build-time figures
    maths: bool = False  # the page must have typeset maths
    downloads: bool = False  # the page links to its notebook and its script


PAGES = [
    Page("", "tinyseq"),
    Page("tutorials/00-build-an-engine/", "Build the engine yourself", figures=1, maths=True, downloads=True),
    Page("tutorials/01-autograd/", "Autograd from scratch", figures=3, maths=True, downloads=True),
    Page("tutorials/02-recurrent-networks/", "Recurrent networks", figures=3, maths=True, downloads=True),
    Page("tutorials/03-vanishing-gradients/", "Vanishing gradients", figures=3, maths=True, downloads=True),
    Page("tutorials/04-lstm/", "The LSTM", figures=2, maths=True, downloads=True),
    Page("tutorials/05-long-term-dependencies/", "Long-term dependencies", figures=2, maths=True, downloads=True),
    Page("tutorials/06-imdb-sentiment/", "IMDB", figures=1, maths=True, downloads=True),
    Page("tutorials/07-samples-timesteps-features/", "Samples, timesteps", figures=2, downloads=True),
    Page("tutorials/08-fused-kernel/", "fused kernel", figures=2, maths=True, downloads=True),
    Page("tutorials/09-gru/", "GRU", figures=3, maths=True, downloads=True),
    Page("how-to/draw-a-graph/", "Draw a graph", figures=3),
    Page("how-to/use-your-own-data/", "Use your own data"),
    Page("reference/cli/", "Command line"),
    Page("reference/api/tensor/", "Tensors"),
    Page("reference/api/nn/", "Layers"),
    Page("explanation/engine-design/", "design"),
    Page("explanation/seeds-and-schedules/", "One run is one draw", figures=2),
]

# Facts about a rendered page, computed in the browser.
FACTS_JS = """(() => {
  const figures = [...document.querySelectorAll('.tinyseq-figure')].map(f => {
    const svg = f.querySelector('svg');
    const r = (svg || f).getBoundingClientRect();
    return {svg: !!svg, x: r.left + scrollX, y: r.top + scrollY, width: r.width, height: r.height};
  });
  const spans = [...document.querySelectorAll('.arithmatex')];
  const text = document.body.innerText;
  // Content wider than its box that the reader cannot scroll to: cut off.
  const cut = [...document.querySelectorAll('.katex-display, .md-typeset pre, .md-typeset pre > code')]
    .filter(e => e.scrollWidth > e.clientWidth + 1 && !['auto', 'scroll'].includes(getComputedStyle(e).overflowX))
    .map(e => e.className || e.tagName);
  // Plain-text blocks (the command line's help) must show every line without scrolling.
  const hidden = [...document.querySelectorAll('.md-typeset div.highlight:not([class*="language-"]) pre > code')]
    .filter(e => e.scrollWidth > e.clientWidth + 1).length;
  const displays = [...document.querySelectorAll('.katex-display')].map(e => {
    const r = e.getBoundingClientRect();
    return {x: r.left + scrollX, y: r.top + scrollY, width: r.width, height: r.height, inner: e.scrollWidth};
  });
  const links = [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'));
  return JSON.stringify({
    title: document.title,
    figures,
    maths: spans.length,
    typeset: spans.filter(s => s.querySelector('.katex')).length,
    katexErrors: document.querySelectorAll('.katex-error').length,
    tracebacks: (text.match(/Traceback \\(most recent call last\\)/g) || []).length,
    height: document.documentElement.scrollHeight,
    cut,
    hidden,
    pageTooWide: document.documentElement.scrollWidth > innerWidth + 1,
    widestDisplay: displays.sort((a, b) => b.inner - a.inner)[0] || null,
    notebook: links.some(h => h.endsWith('.ipynb')),
    script: links.some(h => /downloads\\/\\d\\d_\\w+\\.py$/.test(h)),
  });
})()"""


class Chromium:
    """Headless Chromium driven over the DevTools protocol on a pipe (fds 3 and 4)."""

    def __init__(self, executable, profile):
        to_browser_read, self._to_browser = os.pipe()
        self._from_browser, from_browser_write = os.pipe()
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
                 "--disable-extensions", "--mute-audio", f"--user-data-dir={profile}",
                 "--remote-debugging-pipe", "about:blank"]
        command = " ".join(["exec", _quote(executable), *map(_quote, flags),
                            f"3<&{to_browser_read}", f"4>&{from_browser_write}"])
        self.process = subprocess.Popen(["sh", "-c", command], pass_fds=(to_browser_read, from_browser_write),
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser_read)
        os.close(from_browser_write)
        self._next_id, self._buffer, self._events = 0, b"", []
        target = next(t for t in self.call("Target.getTargets")["targetInfos"] if t["type"] == "page")
        self.session = self.call("Target.attachToTarget", targetId=target["targetId"], flatten=True)["sessionId"]
        self.call("Page.enable", session=True)
        self.call("Runtime.enable", session=True)

    def call(self, method, session=False, timeout=60, **params):
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self._events.append(reply)

    def wait_for_event(self, method, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            for i, event in enumerate(self._events):
                if event.get("method") == method:
                    return self._events.pop(i)
            self._events.append(self._read(deadline))

    def _read(self, deadline):
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def open(self, url, width, height, dark=False):
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=width, height=height,
                  deviceScaleFactor=1, mobile=False)
        self.call("Emulation.setEmulatedMedia", session=True,
                  features=[{"name": "prefers-color-scheme", "value": "dark" if dark else "light"}])
        for _ in range(2):  # the second time without the palette the first load remembered
            self._events.clear()
            self.call("Page.navigate", session=True, url=url)
            self.wait_for_event("Page.loadEventFired")
            self.call("Runtime.evaluate", session=True, expression="localStorage.clear(); sessionStorage.clear()")
        time.sleep(0.6)  # let the theme's entrance animations finish
        return self.facts(settle=True)

    def facts(self, settle=False):
        """The page's FACTS_JS; with settle, wait (up to 5 s) until the maths stops changing."""
        previous, deadline = None, time.monotonic() + 5
        while True:
            facts = json.loads(self.call("Runtime.evaluate", session=True, expression=FACTS_JS,
                                         returnByValue=True)["result"]["value"])
            if not settle or facts == previous or time.monotonic() > deadline:
                return facts
            previous = facts
            time.sleep(0.3)

    def screenshot(self, path, x=None, y=None, width=None, height=None):
        """The viewport as it is shown; or, given a region, that region of the whole page."""
        if x is None:
            data = self.call("Page.captureScreenshot", session=True, format="png")["data"]
        else:  # (a region beyond the viewport renders the fixed header oddly: crops only)
            clip = {"x": x, "y": y, "width": width, "height": height, "scale": 1}
            data = self.call("Page.captureScreenshot", session=True, format="png", clip=clip,
                             captureBeyondViewport=True)["data"]
        Path(path).write_bytes(base64.b64decode(data))
        return path

    def close(self):
        try:
            self.call("Browser.close", timeout=10)
        except Exception:  # noqa: BLE001 (closing anyway)
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        os.close(self._to_browser)
        os.close(self._from_browser)


def _quote(text):
    return "'" + str(text).replace("'", "'\\''") + "'"


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("screenshot_docs: Chromium was not found; install it with `apt-get install -y chromium`")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(site):
    """Serve `site` on 127.0.0.1 on a free port, in a background thread."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def problems_of(page, facts):
    problems = []
    if page.title.lower() not in facts["title"].lower():
        problems.append(f"title {facts['title']!r} lacks {page.title!r}")
    drawn = [f for f in facts["figures"] if f["svg"] and f["width"] > 20 and f["height"] > 20]
    if len(drawn) < page.figures:
        problems.append(f"{len(drawn)} visible figures (inline SVG), expected at least {page.figures}")
    if len(drawn) < len(facts["figures"]):
        problems.append(f"{len(facts['figures']) - len(drawn)} figures without a visible SVG")
    if page.maths and facts["maths"] == 0:
        problems.append("no maths on the page")
    if facts["typeset"] < facts["maths"]:
        problems.append(f"{facts['maths'] - facts['typeset']} of {facts['maths']} maths spans not typeset by KaTeX")
    if facts["katexErrors"]:
        problems.append(f"{facts['katexErrors']} KaTeX errors")
    if facts["tracebacks"]:
        problems.append(f"{facts['tracebacks']} Python tracebacks in the page")
    if facts["cut"]:
        problems.append(f"{len(facts['cut'])} blocks cut off at the column's edge: {sorted(set(facts['cut']))}")
    if facts["hidden"]:
        problems.append(f"{facts['hidden']} plain-text blocks with lines hidden past the column's edge")
    if facts["pageTooWide"]:
        problems.append("the page is wider than the window")
    if page.downloads and not (facts["notebook"] and facts["script"]):
        problems.append("no download link for the notebook and the script")
    return problems


def shoot(browser, base, page, stem, width, args, figures):
    """Open one page at one width, report its problems and save its screenshots; 1 if it failed."""
    facts = browser.open(base + page.path, width, args.height)
    problems = problems_of(page, facts)
    print(f"{'ok  ' if not problems else 'FAIL'} /{page.path:40} {width:5} px  {len(facts['figures'])} figures, "
          f"{facts['typeset']}/{facts['maths']} maths typeset")
    for problem in problems:
        print(f"       - {problem}")
    name = f"{stem}-{width}px"
    shots = [browser.screenshot(args.out / f"{name}.png")]
    display = facts["widestDisplay"]
    if display and display["width"] and display["height"]:
        shots.append(browser.screenshot(args.out / f"{name}-widest-maths.png", x=max(0, display["x"] - 8),
                                        y=max(0, display["y"] - 8), width=display["width"] + 16,
                                        height=display["height"] + 16))
    for number, figure in enumerate(facts["figures"] if figures else [], 1):
        if figure["width"] and figure["height"]:
            pad = 8
            shots.append(browser.screenshot(
                args.out / f"{stem}-figure{number}.png", x=max(0, figure["x"] - pad),
                y=max(0, figure["y"] - pad), width=figure["width"] + 2 * pad,
                height=figure["height"] + 2 * pad))
    if args.dark:
        browser.open(base + page.path, width, args.height, dark=True)
        shots.append(browser.screenshot(args.out / f"{name}-dark.png"))
    print("       " + ", ".join(Path(s).name for s in shots))
    return int(bool(problems))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, default=ROOT / "site", help="the built site (default: site/)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "screenshots",
                        help="where to save the PNG screenshots (default: build/screenshots/)")
    parser.add_argument("--width", type=int, nargs="+", default=[1280],
                        help="window widths in pixels, e.g. 1280 400 (default: 1280)")
    parser.add_argument("--height", type=int, default=1000)
    parser.add_argument("--dark", action="store_true", help="also shoot the top of each page in the dark palette")
    parser.add_argument("--pages", nargs="*", help="only these page paths, e.g. tutorials/01-autograd/")
    args = parser.parse_args(argv)

    if not (args.site / "index.html").is_file():
        sys.exit(f"screenshot_docs: {args.site}/index.html not found; run `mkdocs build` first")
    pages = [p for p in PAGES if args.pages is None or p.path in args.pages]
    args.out.mkdir(parents=True, exist_ok=True)
    server = serve(args.site)
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    failures = 0
    with tempfile.TemporaryDirectory(prefix="tinyseq-chromium-") as profile:
        browser = Chromium(find_chromium(), profile)
        try:
            for page in pages:
                stem = page.path.strip("/").replace("/", "_") or "home"
                for number, width in enumerate(args.width):
                    failures += shoot(browser, base, page, stem, width, args, figures=number == 0)
        finally:
            browser.close()
            server.shutdown()
    print(f"{len(pages) * len(args.width) - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
