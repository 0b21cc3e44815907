"""jwst_reffiles prints: every call into it redirects ``sys.stdout``.  Two runs on worker threads (the
analysis runs sections two at a time, the app serves several sessions) must not leave
``sys.stdout`` pointing at one of their buffers."""

from __future__ import annotations

import ast
import sys
import threading
import time

from core.readnoise.reffiles import quiet_reffiles
from tests.conftest import ROOT


def test_two_threads_leave_stdout_as_it_was():
    """Thread A enters at 0 s and leaves at 0.3 s, thread B enters at 0.1 s and leaves at 0.4 s.  With
    two unguarded ``redirect_stdout`` blocks A restores the original stream and B then restores A's
    buffer, so sys.stdout ends as a StringIO (this test fails that way without the lock)."""
    before = sys.stdout
    seen = []

    def run(delay):
        time.sleep(delay)
        with quiet_reffiles() as log:
            print("jwst_reffiles chatter")
            time.sleep(0.3)
        seen.append(log.getvalue())

    threads = [threading.Thread(target=run, args=(d,)) for d in (0.0, 0.1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sys.stdout is before
    assert seen == ["jwst_reffiles chatter\n"] * 2  # each run's output went to its own buffer


def test_every_stdout_redirect_in_core_goes_through_the_lock():
    """No other ``redirect_stdout`` in core/: a new call into jwst_reffiles must use quiet_reffiles."""
    offenders = []
    for path in (ROOT / "core").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr == "redirect_stdout":
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == ["core/readnoise/reffiles.py:" + str(_quiet_line())], offenders


def _quiet_line() -> int:
    src = (ROOT / "core" / "readnoise" / "reffiles.py").read_text().splitlines()
    return next(i for i, line in enumerate(src, 1) if "redirect_stdout(" in line)
