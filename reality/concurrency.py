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
        from gevent import monkey

        monkey.patch_all()
        # psycopg2 is C code that blocks the whole process on a slow query unless it is told to
        # wait the gevent way; the patched select() makes psycopg2's own helper cooperative.
        import psycopg2.extensions
        import psycopg2.extras

        psycopg2.extensions.set_wait_callback(psycopg2.extras.wait_select)
    return mode
