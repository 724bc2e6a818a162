"""Drive headless Chromium through the DevTools protocol, for the report and web-map tests.

No extra package: Chromium is started with ``--remote-debugging-pipe``, which speaks the same
DevTools protocol as the websocket endpoint but over two pipes (file descriptors 3 and 4,
messages separated by NUL bytes), as Puppeteer's ``pipe: true`` does.

``Chromium().load(path)`` opens a file in a fresh tab and returns a :class:`Page` with every
console message, uncaught exception, log entry and network request of the load, a
``evaluate(js)`` for the DOM, and ``screenshot(path)`` of the full page.

Also a script: ``python tests/browser.py out/report.html out/report_screenshot.png`` writes a
screenshot and prints the console errors and requests it saw.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Chromium", "Page", "chromium_binary"]

_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium_binary() -> str:
    """Path of the Chromium binary (``MINEWATCH_CHROMIUM`` or the first on ``PATH``)."""
    explicit = os.environ.get("MINEWATCH_CHROMIUM")
    if explicit:
        return explicit
    for name in _NAMES:
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError("no Chromium on PATH: run `make system-deps` (Debian's chromium package) "
                       "or set MINEWATCH_CHROMIUM")


_LAUNCH = """import os, sys
read, write = int(sys.argv[1]), int(sys.argv[2])
os.dup2(read, 3, inheritable=True)
os.dup2(write, 4, inheritable=True)
os.close(read)
os.close(write)
os.execvp(sys.argv[3], sys.argv[3:])
"""


def _renumber(fd: int, lowest: int = 10) -> int:
    """Move a file descriptor to the first free number >= ``lowest``."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, lowest)
    os.close(fd)
    return moved


class ProtocolError(RuntimeError):
    """Chromium answered a DevTools command with an error."""


@dataclass
class Page:
    """One loaded page: what happened during the load, and access to its DOM."""

    browser: Chromium
    session: str
    url: str
    console: list[dict] = field(default_factory=list)     # Runtime.consoleAPICalled params
    exceptions: list[dict] = field(default_factory=list)  # Runtime.exceptionThrown params
    log: list[dict] = field(default_factory=list)         # Log.entryAdded entries
    requests: list[str] = field(default_factory=list)     # URLs of Network.requestWillBeSent
    failed: list[dict] = field(default_factory=list)      # Network.loadingFailed params

    def evaluate(self, expression: str, timeout: float = 10.0):
        """Value of a JavaScript expression in the page (awaits promises)."""
        result = self.browser.send("Runtime.evaluate",
                                   {"expression": expression, "returnByValue": True,
                                    "awaitPromise": True}, session=self.session,
                                   timeout=timeout)
        if "exceptionDetails" in result:
            raise ProtocolError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    def errors(self) -> list[str]:
        """Console errors/warnings, uncaught exceptions and error log entries, as text."""
        found = []
        for call in self.console:
            if call.get("type") in ("error", "warning", "assert"):
                text = " ".join(str(a.get("value", a.get("description", "")))
                                for a in call.get("args", []))
                found.append(f"console.{call['type']}: {text}")
        for exc in self.exceptions:
            details = exc.get("exceptionDetails", {})
            found.append("exception: " + str(details.get("exception", {}).get(
                "description", details.get("text"))))
        for entry in self.log:
            if entry.get("level") in ("error", "warning"):
                found.append(f"log.{entry['level']} ({entry.get('source')}): {entry.get('text')}"
                             f" {entry.get('url', '')}".rstrip())
        return found

    def external_requests(self) -> list[str]:
        """Requests other than the page itself and ``data:`` URIs."""
        return [u for u in self.requests if u != self.url and not u.startswith("data:")]

    def screenshot(self, path: str | Path, width: int = 1280) -> Path:
        """Write a PNG of the whole page (``width`` CSS px wide, full height)."""
        height = int(self.evaluate(
            "Math.max(document.documentElement.scrollHeight, document.body ? "
            "document.body.scrollHeight : 0, 600)"))
        height = min(height, 16000)
        self.browser.send("Emulation.setDeviceMetricsOverride",
                          {"width": width, "height": height, "deviceScaleFactor": 1,
                           "mobile": False}, session=self.session)
        data = self.browser.send("Page.captureScreenshot",
                                 {"format": "png", "captureBeyondViewport": True},
                                 session=self.session, timeout=60)["data"]
        path = Path(path)
        path.write_bytes(base64.b64decode(data))
        return path


class Chromium:
    """A headless Chromium driven over ``--remote-debugging-pipe``; use as a context manager."""

    def __init__(self, width: int = 1280, height: int = 900) -> None:
        self._profile = tempfile.mkdtemp(prefix="minewatch-chromium-")
        cmd_read, self._to_browser = os.pipe()     # browser reads commands on fd 3
        self._from_browser, resp_write = os.pipe()  # and writes replies on fd 4
        args = [chromium_binary(), "--headless=new", "--remote-debugging-pipe",
                f"--user-data-dir={self._profile}", f"--window-size={width},{height}",
                "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-default-apps", "--mute-audio",
                "--hide-scrollbars", "--disable-gpu", "--disable-dev-shm-usage",
                "--allow-file-access-from-files", "about:blank"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium refuses to run as root with the sandbox

        # fds 3 and 4 of the browser are wired by a tiny Python launcher that execs Chromium
        # (no preexec_fn, so thread-safe), from copies numbered 10 and up so that neither dup2
        # overwrites the other's source
        cmd_read, resp_write = _renumber(cmd_read), _renumber(resp_write)
        self._process = subprocess.Popen(
            [sys.executable, "-c", _LAUNCH, str(cmd_read), str(resp_write), *args],
            pass_fds=(cmd_read, resp_write), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(cmd_read)
        os.close(resp_write)
        self._next_id = 0
        self._replies: dict[int, dict] = {}
        self._events: queue.Queue[dict] = queue.Queue()
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.send("Browser.getVersion", timeout=30)

    # --- protocol ---------------------------------------------------------------------------
    def _read(self) -> None:
        buffer = b""
        with os.fdopen(self._from_browser, "rb", buffering=0) as pipe:
            while True:
                chunk = pipe.read(1 << 16)
                if not chunk:
                    break
                buffer += chunk
                while b"\0" in buffer:
                    raw, buffer = buffer.split(b"\0", 1)
                    message = json.loads(raw)
                    if "id" in message:
                        with self._cond:
                            self._replies[message["id"]] = message
                            self._cond.notify_all()
                    else:
                        self._events.put(message)
        with self._cond:
            self._cond.notify_all()

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = 20.0) -> dict:
        """Send one DevTools command and wait for its reply."""
        with self._cond:
            self._next_id += 1
            ident = self._next_id
        message = {"id": ident, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        with self._cond:
            while ident not in self._replies:
                left = deadline - time.monotonic()
                if left <= 0 or self._process.poll() is not None:
                    raise TimeoutError(f"no reply to {method} within {timeout} s "
                                       f"(chromium exit code {self._process.poll()})")
                self._cond.wait(min(left, 0.5))
            reply = self._replies.pop(ident)
        if "error" in reply:
            raise ProtocolError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def _drain(self, page: Page, until: float, stop_on: str | None = None) -> bool:
        """Record events for ``page`` until the time ``until``; True when ``stop_on`` came."""
        while True:
            left = until - time.monotonic()
            if left <= 0:
                return False
            try:
                event = self._events.get(timeout=min(left, 0.1))
            except queue.Empty:
                continue
            if event.get("sessionId") != page.session:
                continue
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled":
                page.console.append(params)
            elif method == "Runtime.exceptionThrown":
                page.exceptions.append(params)
            elif method == "Log.entryAdded":
                page.log.append(params["entry"])
            elif method == "Network.requestWillBeSent":
                page.requests.append(params["request"]["url"])
            elif method == "Network.loadingFailed":
                page.failed.append(params)
            if stop_on is not None and method == stop_on:
                return True

    def load(self, path: str | Path, settle: float = 1.0, timeout: float = 30.0) -> Page:
        """Open a local file in a new tab; wait for ``load`` and ``settle`` quiet seconds."""
        url = Path(path).resolve().as_uri()
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget",
                            {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session, url)
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable", session=session)
        self.send("Page.navigate", {"url": url}, session=session)
        if not self._drain(page, time.monotonic() + timeout, stop_on="Page.loadEventFired"):
            raise TimeoutError(f"{url}: no load event within {timeout} s")
        self._drain(page, time.monotonic() + settle)
        return page

    def close(self) -> None:
        """Close the browser and remove its profile folder."""
        try:
            self.send("Browser.close", timeout=5)
        except (TimeoutError, ProtocolError, OSError):
            pass
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        os.close(self._to_browser)
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python tests/browser.py PAGE.html SCREENSHOT.png", file=sys.stderr)
        return 2
    with Chromium() as browser:
        page = browser.load(argv[0])
        page.screenshot(argv[1])
        for line in page.errors():
            print(line)
        for url in page.external_requests():
            print("request:", url)
    print(f"wrote {argv[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
