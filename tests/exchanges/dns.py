"""A resolver outage at the operating system's seam (``socket.getaddrinfo``)."""

from __future__ import annotations

import socket
from typing import Any


class FlakyDns:
    """``socket.getaddrinfo`` for the name ``host``: a resolver timeout (``EAI_AGAIN``) for
    the first ``failures`` lookups and while ``down``, loopback otherwise. Other names
    resolve as usual."""

    def __init__(self, host: str, failures: int) -> None:
        self.host = host
        self.failures = failures
        self.lookups = 0
        self.down = False
        self._real = socket.getaddrinfo

    def __call__(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != self.host:
            return self._real(host, port, *args, **kwargs)
        self.lookups += 1
        if self.down or self.lookups <= self.failures:
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return self._real("127.0.0.1", port, *args, **kwargs)
