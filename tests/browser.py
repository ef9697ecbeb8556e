"""Headless Chromium for the tests that look at a page costlab writes (the HTML report, the what-if
charts): Debian's `chromium` (`make test` installs it where missing), driven over the DevTools
protocol on a pipe (--remote-debugging-pipe) with the standard library only: no driver package, no
browser download. Import with `from browser import ...` (pytest puts tests/ on sys.path)."""

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
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

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
    with open_page(html_path, binary, width=width, timeout=timeout) as page:
        count = page.wait(f"document.querySelectorAll({json.dumps(selector)}).length >= {int(expected)} "
                          f"&& document.querySelectorAll({json.dumps(selector)}).length", timeout) or 0
        if not count:
            count = page.js(f"document.querySelectorAll({json.dumps(selector)}).length")
        time.sleep(0.3)  # let the last chart finish drawing before the picture
        title = page.js("document.title")
        page.screenshot(screenshot, width)
        return {"errors": page.errors(), "count": count, "title": title}


class Page:
    """One tab with a page loaded: evaluate JavaScript, screenshot, print to PDF, read the console."""

    def __init__(self, browser: Browser, session: str):
        self.b, self.session = browser, session

    def send(self, method: str, params: dict | None = None, timeout: float = 60) -> dict:
        return self.b.send(method, params, session=self.session, timeout=timeout)

    def js(self, expression: str, timeout: float = 60):
        """The value of a JavaScript expression (promises awaited); a thrown error fails the test."""
        reply = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True},
                          timeout)
        if "exceptionDetails" in reply:
            raise AssertionError(f"{expression}: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def wait(self, expression: str, timeout: float = 60):
        deadline = time.monotonic() + timeout
        while True:
            value = self.js(expression)
            if value or time.monotonic() > deadline:
                return value
            time.sleep(0.1)

    def screenshot(self, path: Path, width: int) -> Path:
        size = self.send("Page.getLayoutMetrics")["cssContentSize"]
        shot = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                    "clip": {"x": 0, "y": 0, "width": width,
                                                             "height": min(size["height"], 16000), "scale": 1}})
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def pdf(self) -> bytes:
        out = self.send("Page.printToPDF", {"printBackground": True, "preferCSSPageSize": True}, timeout=120)
        return base64.b64decode(out["data"])

    def errors(self) -> list[str]:
        errors = []
        for e in self.b.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
            elif m == "Runtime.exceptionThrown":
                errors.append(p.get("exceptionDetails", {}).get("exception", {}).get("description")
                              or p.get("exceptionDetails", {}).get("text", "exception"))
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                errors.append(p["entry"].get("text", ""))
        return errors


@contextmanager
def open_page(html_path: Path, binary: str, width: int = 1400, timeout: float = 60) -> Iterator[Page]:
    """A headless Chromium with html_path loaded (the load event fired) in a `width` px wide tab."""
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
            yield Page(b, session)
        finally:
            b.close()


def keep_artifact(path: Path) -> None:
    """Copy a screenshot or PDF to $COSTLAB_ARTIFACTS when set (it stays in pytest's temp folder too)."""
    if os.environ.get("COSTLAB_ARTIFACTS"):
        Path(os.environ["COSTLAB_ARTIFACTS"]).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(os.environ["COSTLAB_ARTIFACTS"]) / path.name)


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def chromium_or_fail() -> str:
    """The browser binary; a failure (not a skip) when it is missing: `make test` installs it."""
    path = find_chromium()
    if path is None:
        pytest.fail("no chromium on PATH: `make test` installs Debian's chromium (apt-get install chromium)")
    return path
