"""A circuit breaker per classifier, so a service that is down costs nothing per scan.

States: *closed* (calls go through; failures in a row are counted), *open* (after
``failures`` failed calls in a row: every call is refused with :class:`CircuitOpen` for
``open_seconds``), *half-open* (after that: one trial call goes through while others are still
refused; its success closes the breaker, its failure opens it again for ``open_seconds``).

State lives in the process (each server process has its own breaker); it needs no database
because it only saves time, it decides nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import StrEnum
from typing import TypeVar

from shieldwall.integrations.classifiers.base import CircuitOpen

T = TypeVar("T")
Clock = Callable[[], float]


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(self, *, failures: int, open_seconds: float, clock: Clock = time.monotonic):
        if failures < 1 or open_seconds <= 0:
            raise ValueError("a breaker needs failures >= 1 and open_seconds > 0")
        self.failures = failures
        self.open_seconds = open_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._failed_in_row = 0
        self._opened_at: float | None = None
        self._trial_running = False

    @property
    def state(self) -> BreakerState:
        with self._lock:
            return self._state()

    def _state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at >= self.open_seconds:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def _admit(self) -> bool:
        """Whether this call may go through; True for the one half-open trial."""
        with self._lock:
            state = self._state()
            if state is BreakerState.CLOSED:
                return False
            if state is BreakerState.HALF_OPEN and not self._trial_running:
                self._trial_running = True
                return True
            if state is BreakerState.HALF_OPEN:
                message = "not called: a trial call after repeated failures is under way"
            else:
                assert self._opened_at is not None
                wait = max(0.0, self.open_seconds - (self._clock() - self._opened_at))
                message = (
                    f"not called: it failed {self._failed_in_row} times in a row; "
                    f"the next try is in {wait:.0f} s"
                )
        raise CircuitOpen(message)

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` unless the breaker is open; record its success or failure."""
        trial = self._admit()
        try:
            result = fn()
        except BaseException:
            with self._lock:
                self._failed_in_row += 1
                if trial:
                    self._trial_running = False
                    self._opened_at = self._clock()
                elif self._failed_in_row >= self.failures and self._opened_at is None:
                    self._opened_at = self._clock()
            raise
        with self._lock:
            self._failed_in_row = 0
            self._opened_at = None
            self._trial_running = False
        return result
