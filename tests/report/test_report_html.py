"""The HTML report in a real headless Chromium (Debian's `chromium`; `make test` installs it where
missing): the page loads offline with no console errors, every chart draws an SVG, and the run
leaves a screenshot (report_html.png in pytest's temp folder, and in $COSTLAB_ARTIFACTS if set).

Chromium is driven over the DevTools protocol on a pipe (--remote-debugging-pipe), with the
standard library only: no driver package, no browser download.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import struct
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from costlab.config import load_config
from costlab.ingest import ingest_paths
from costlab.report import SECTIONS, build_report, render, window
from costlab.report.charts import CHARTS
from costlab.open import open_store

from helpers import EXAMPLES

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-sync",
         "--disable-dev-shm-usage", "--mute-audio", "--hide-scrollbars", "--remote-debugging-pipe"]

def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    def __init__(self, binary: str, profile: str):
        to_child_r, self._to_child_w = os.pipe()
        self._from_child_r, from_child_w = os.pipe()

        def wire():  # the child reads commands on fd 3 and writes replies on fd 4
            r, w = os.dup(to_child_r), os.dup(from_child_w)  # out of the way of 3 and 4 first
            os.dup2(r, 3)
            os.dup2(w, 4)
            os.set_inheritable(3, True)
            os.set_inheritable(4, True)

        # close_fds would run after preexec_fn and close 3 and 4 again; the pipes' own ends are
        # non-inheritable (PEP 446), so nothing else leaks into the browser.
        self.proc = subprocess.Popen([binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                     close_fds=False, preexec_fn=wire,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_child_r)
        os.close(from_child_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict] = []

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no reply from chromium")
            ready, _, _ = select.select([self._from_child_r], [], [], left)
            if ready:
                chunk = os.read(self._from_child_r, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the pipe")
                self._buf += chunk
        msg, _, self._buf = self._buf.partition(b"\0")
        return json.loads(msg)

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 30) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_child_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        for i, e in enumerate(self.events):
            if e.get("method") == method:
                return self.events[i]
        while True:
            e = self._read(deadline)
            self.events.append(e)
            if e.get("method") == method:
                return e

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_child_w)
        os.close(self._from_child_r)


def load_page(html_path: Path, screenshot: Path, selector: str, expected: int, binary: str, width: int = 1200,
              timeout: float = 60) -> dict:
    """Open html_path, wait until `expected` elements match `selector`, screenshot the full page.

    Returns {"errors": [console errors and exceptions], "count": elements matched, "title": page title}.
    """
    with tempfile.TemporaryDirectory(prefix="costlab-chromium-") as profile:
        b = Browser(binary, profile)
        try:
            target = b.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = b.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Runtime.enable", "Log.enable", "Page.enable"):
                b.send(domain, session=session)
            b.send("Emulation.setDeviceMetricsOverride",
                   {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False}, session=session)
            b.send("Page.navigate", {"url": html_path.resolve().as_uri()}, session=session)
            b.wait_for("Page.loadEventFired", timeout)
            deadline = time.monotonic() + timeout
            count = 0
            while time.monotonic() < deadline:
                count = b.send("Runtime.evaluate", {"expression": f"document.querySelectorAll({json.dumps(selector)}).length",
                                                    "returnByValue": True}, session=session)["result"]["value"]
                if count >= expected:
                    break
                time.sleep(0.1)
            time.sleep(0.3)  # let the last chart finish drawing before the picture
            title = b.send("Runtime.evaluate", {"expression": "document.title", "returnByValue": True},
                           session=session)["result"]["value"]
            size = b.send("Page.getLayoutMetrics", session=session)["cssContentSize"]
            shot = b.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                     "clip": {"x": 0, "y": 0, "width": width,
                                                              "height": min(size["height"], 16000), "scale": 1}},
                          session=session, timeout=timeout)
            screenshot.write_bytes(base64.b64decode(shot["data"]))
            errors = []
            for e in b.events:
                m, p = e.get("method"), e.get("params", {})
                if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                    errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
                elif m == "Runtime.exceptionThrown":
                    errors.append(p.get("exceptionDetails", {}).get("exception", {}).get("description")
                                  or p.get("exceptionDetails", {}).get("text", "exception"))
                elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                    errors.append(p["entry"].get("text", ""))
            return {"errors": errors, "count": count, "title": title}
        finally:
            b.close()


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def chromium() -> str:
    path = find_chromium()
    if path is None:
        pytest.fail("no chromium on PATH: `make test` installs Debian's chromium (apt-get install chromium)")
    return path


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> tuple[Path, dict]:
    base = tmp_path_factory.mktemp("html")
    config = load_config(EXAMPLES / "costlab.toml")
    with open_store(base / "example.duckdb", config) as store:
        assert not ingest_paths(store, [str(EXAMPLES)]).failed
        # A feature name that would run as script if it were not escaped: the page must stay clean.
        store.execute("insert into requests (request_id, ts, source, model, input_tokens, output_tokens, status, feature, latency_ms) "
                      "values ('evil', '2026-11-12 10:00:00+00', 'canonical', 'claude-haiku-5-5', 10, 1, 'ok', "
                      "'</script><script>console.error(\"injected\")</script>', 50)")
        report = build_report(store, window.week("2026-W46"), sections=[s for s in SECTIONS if not s.optional])
    path = base / "report.html"
    path.write_text(render(report, "html"), encoding="utf-8")
    return path, report


@pytest.mark.slow  # starts Chromium
def test_html_report_renders_every_chart_offline_with_no_console_errors(chromium, page, tmp_path_factory):
    path, report = page
    shot = tmp_path_factory.getbasetemp() / "report_html.png"
    expected = [name for name, _ in CHARTS if name != "whatif_pareto"]  # this page has no what-if section
    result = load_page(path, shot, ".chart svg", len(expected), chromium)
    assert result["errors"] == []
    assert result["count"] == len(expected) == 4
    assert result["title"] == "costlab weekly report: 2026-W46 (against 2026-W45)"
    width, height = png_size(shot.read_bytes())
    assert width == 1200 and height > 2000
    if os.environ.get("COSTLAB_ARTIFACTS"):
        Path(os.environ["COSTLAB_ARTIFACTS"]).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(os.environ["COSTLAB_ARTIFACTS"]) / "report_html.png")


def test_html_report_needs_no_network(page):
    path, _ = page
    text = path.read_text(encoding="utf-8")
    assert "<script src" not in text and "<link rel=\"stylesheet\"" not in text
    assert "&lt;/script&gt;&lt;script&gt;console.error" in text


@pytest.mark.slow  # starts Chromium
def test_html_report_draws_the_whatif_pareto_chart_when_replays_judged_every_tier(new_store, chromium, tmp_path):
    from helpers import W46, judge_every_tier

    from costlab.config import Config
    from costlab.generate import generate_sql
    from costlab.report import charts
    from costlab.report.settings import parse

    with new_store(tmp_path / "judged.duckdb") as store:
        store.execute(f"insert into requests by name {generate_sql(4000, seed=3, start='2026-11-02', days=14)}")
        judge_every_tier(store)
        settings = parse({"target_split": {"haiku": 70, "sonnet": 25, "opus": 5}})
        report = build_report(store, W46, settings, sections=[s for s in SECTIONS if s.name in ("headline", "whatif")])
    names = [name for name, _ in charts.specs(report)]
    assert names == ["whatif_pareto"]
    path = tmp_path / "whatif.html"
    path.write_text(render(report, "html"), encoding="utf-8")
    result = load_page(path, tmp_path / "whatif.png", ".chart svg", 1, chromium)
    assert result["errors"] == [] and result["count"] == 1
