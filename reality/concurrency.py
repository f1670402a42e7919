"""How the web server runs concurrent work: gevent greenlets (default) or OS threads.

The mode is chosen with ``REALITY_ASYNC_MODE`` (read by :func:`reality.config.async_mode`). gevent
must patch the standard library before anything else imports it, so entry scripts call
:func:`prepare` first thing. Both modes run the same code: background work uses
``socketio.start_background_task`` and ``socketio.sleep``, nothing blocks a handler for long. What
each mode achieves on a 2-core machine is in the README's "Measured" section.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterator


def prepare(mode: str) -> str:
    """Patch the process for ``mode`` (a no-op for threading); returns the mode."""
    if mode == "gevent":
        from .green import use_gevent

        use_gevent()  # monkey-patching, and psycopg2 made cooperative
    return mode


def patched_for_gevent() -> bool:
    """True when this process was monkey-patched for gevent (by :func:`prepare` or anyone else)."""
    monkey = sys.modules.get("gevent.monkey")
    return bool(monkey and monkey.is_module_patched("socket"))


@contextmanager
def quick_handoffs(interval: float = 0.0005) -> Iterator[None]:
    """Pass the GIL between threads every ``interval`` seconds, instead of Python's 5 ms, in the block.

    At the show's boot one thread imports the web stack (0.4 s of pure Python) while another starts
    the containers (with gevent: a native thread imports while the hub's thread starts them; with
    threading: the main thread imports while a start thread runs). Each step of a Docker call or a
    readiness poll waits for the GIL, up to the switch interval every time. Measured on 2 cores with
    gevent: both containers ready 0.95 s after their start with 5 ms, 0.7 s with 0.5 ms.
    """
    previous = sys.getswitchinterval()
    sys.setswitchinterval(interval)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)
