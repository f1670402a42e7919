"""Waiting in tests: always a bounded poll, never a bare sleep."""

from __future__ import annotations

import time
from typing import Any, Callable


def wait_for(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll ``condition`` until it returns something truthy (returned), or fail after ``timeout`` s.

    >>> wait_for(lambda: 42, 1, "the answer")
    42
    >>> wait_for(lambda: None, 0.01, "nothing", interval=0.005)
    Traceback (most recent call last):
    AssertionError: timed out after 0.01 s waiting for nothing
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)
