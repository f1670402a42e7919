"""How the web server runs concurrent work: gevent greenlets (default) or OS threads.

Chosen with ``REALITY_ASYNC_MODE`` (``gevent`` or ``threading``). gevent must patch the standard
library before anything else imports it, so entry scripts call :func:`prepare` first thing.

Measured on this project's 2-core machine (500 phones, 50 at a time, each: open /qr, vote, vote again;
load generator on the same machine): gevent's server 344 phones/s, first-vote p99 125 ms, 2.6 ms of
server CPU per phone; Werkzeug with threads 183 phones/s, p99 114 ms at that lower rate, 4.6 ms of CPU
per phone (a thread and a new TCP connection per request: Werkzeug's development server has no
keep-alive). Both keep the same code: background work uses ``socketio.start_background_task`` and
``socketio.sleep``, nothing blocks a handler for long.
"""

from __future__ import annotations

import os

MODES = ("threading", "gevent")
DEFAULT_MODE = "gevent"


def selected_mode() -> str:
    """The async mode asked for by ``REALITY_ASYNC_MODE``; ValueError for an unknown one."""
    mode = os.environ.get("REALITY_ASYNC_MODE", "").strip() or DEFAULT_MODE
    if mode not in MODES:
        raise ValueError(f"REALITY_ASYNC_MODE={mode!r} is not a mode: use {' or '.join(MODES)}.")
    return mode


def prepare() -> str:
    """Patch the process for the selected mode (a no-op for threading); returns the mode."""
    mode = selected_mode()
    if mode == "gevent":
        from .green import use_gevent

        use_gevent()  # monkey-patching, and psycopg2 made cooperative
    return mode


def patched_for_gevent() -> bool:
    """True when this process was monkey-patched for gevent (by :func:`prepare` or anyone else)."""
    import sys

    monkey = sys.modules.get("gevent.monkey")
    return bool(monkey and monkey.is_module_patched("socket"))
