"""How the web server runs concurrent work: OS threads (default) or gevent greenlets.

Chosen with ``REALITY_ASYNC_MODE`` (``threading`` or ``gevent``). gevent must patch the standard
library before anything else imports it, so entry scripts call :func:`prepare` first thing.
"""

from __future__ import annotations

import os

MODES = ("threading", "gevent")
DEFAULT_MODE = "threading"


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
