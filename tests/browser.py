"""Start the app on a free loopback port and drive it with Playwright in Debian's Chromium.

Used by the browser tests and by `python tests/browser.py screenshot DATA_ROOT OUT_DIR` for looking
at pages by hand.  Never downloads a browser: it uses /usr/bin/chromium.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_app(data_root: Path, port: int | None = None, env: dict | None = None, timeout: float = 60):
    """Run ``streamlit run app.py`` bound to 127.0.0.1; yield its base URL; stop it afterwards."""
    port = port or free_port()
    import tempfile

    # Each app gets its own result store unless told otherwise: results stored by other tests must not
    # turn a "Compute" button into an instant result.
    results = tempfile.mkdtemp(prefix="darks-results-")
    e = dict(os.environ, DARKS_DATA_ROOT=str(data_root), DARKS_RESULTS_DIR=results)
    e.update(env or {})
    log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"streamlit-{port}.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, env=e, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited early; see {log.name}")
            try:
                with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.3)
        else:
            raise RuntimeError("streamlit did not become healthy in time")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@contextlib.contextmanager
def chromium(viewport=(1500, 2200)):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            ctx = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, accept_downloads=True)
            yield ctx
        finally:
            browser.close()


def wait_idle(page, timeout=120_000):
    """Wait until Streamlit has finished running the script (no 'Running...' status widget)."""
    page.wait_for_timeout(400)
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout)
    page.wait_for_timeout(400)


def pick_option(page, key: str, option: str):
    """Choose ``option`` in the selectbox with widget key ``key`` (a combobox; no-op if already chosen)."""
    combo = page.locator(f".st-key-{key}").get_by_role("combobox")
    if combo.input_value() == option:
        return
    combo.click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_idle(page)
    assert combo.input_value() == option, f"{key} did not switch to {option}"


def goto_page(page, url, title):
    page.get_by_role("link", name=title).first.click()
    wait_idle(page)


def select_demo_files(page):
    """On the Data page: use every valid file shown."""
    page.get_by_role("button", name="Use these").click()
    wait_idle(page)


if __name__ == "__main__" and sys.argv[1:2] == ["screenshot"]:
    data_root, out = Path(sys.argv[2]), Path(sys.argv[3])
    pages = sys.argv[4:] or ["Data", "Readnoise"]
    out.mkdir(parents=True, exist_ok=True)
    with running_app(data_root, env={k: v for k, v in os.environ.items() if k == "DARKS_RESULTS_DIR"}) as url, \
            chromium((1500, 2400)) as ctx:
        page = ctx.new_page()
        page.goto(url)
        wait_idle(page)
        for title in pages:
            goto_page(page, url, title)
            if title == "Data":
                select_demo_files(page)
            btn = page.get_by_role("button", name="Compute")
            if btn.count():
                btn.first.click()
                wait_idle(page, 300_000)
                page.wait_for_timeout(1500)  # the page reruns once the result is there: draw that
                wait_idle(page, 300_000)
            page.screenshot(path=str(out / f"{title.replace(' ', '_').replace('/', '')}.png"), full_page=True)
            print("saved", title)
