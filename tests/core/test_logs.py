"""Log set-up: key=value lines, written to the stderr of the moment. (The logger is put back
after each test by ``tests/conftest.py``.)"""

from __future__ import annotations

import io
import logging
import sys

import pytest

from shieldwall.logs import configure_logging


def test_records_go_to_the_stderr_of_the_moment_not_the_one_at_set_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A server thread that outlives a swapped and closed stderr (a test's capture, a
    daemon's redirect) must still log, not fail with "I/O operation on closed file"."""
    first = io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    configure_logging("info")
    first.close()
    now = io.StringIO()
    monkeypatch.setattr(sys, "stderr", now)
    logging.getLogger("shieldwall.test").info("http.request", extra={"request_id": "r-1"})
    line = now.getvalue()
    assert "Logging error" not in line
    assert "INFO shieldwall.test http.request request_id=r-1" in line


def test_the_level_filters_records(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(sys, "stderr", out)
    configure_logging("warning")
    log = logging.getLogger("shieldwall.test")
    log.info("quiet")
    log.warning("loud")
    assert "quiet" not in out.getvalue()
    assert "loud" in out.getvalue()
