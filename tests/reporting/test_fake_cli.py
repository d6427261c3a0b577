"""``shieldwall dev fake-cybertipline`` serves the fake over real HTTP in its own process."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from shieldwall.devtools.fake_cybertipline import PASSWORD, USERNAME
from shieldwall.integrations.cybertipline.client import CyberTiplineClient, Refused


def test_dev_fake_cybertipline_serves_status_and_checks_credentials() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "shieldwall", "dev", "fake-cybertipline", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.search(r"(http://127\.0\.0\.1:\d+/ispws)", line)
        assert found, line
        with CyberTiplineClient(found.group(1), USERNAME, PASSWORD, timeout=5) as client:
            assert client.status().ok
        with (
            CyberTiplineClient(found.group(1), USERNAME, "wrong", timeout=5) as client,
            pytest.raises(Refused) as refused,
        ):
            client.status()
        assert refused.value.status == 401
    finally:
        proc.terminate()
        proc.wait(timeout=10)
