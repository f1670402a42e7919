"""What the show's boot runs beside the container starts, and how it ends when a start lingers.

Docker takes most of a boot starting PostgreSQL and Redis; the show uses that time. Each container
starts on a thread of its own (a greenlet with gevent), the web stack is imported meanwhile (with
gevent on a native thread, off the hub), and the votes table is created while the app is built.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
from typing import Any, Callable


def leave_out_asyncio_clients() -> None:
    """Keep aiohttp out of the show: python-socketio imports its asyncio client with the package, and
    that client loads aiohttp whenever it is installed (the benchmarks' phones need it). The show never
    uses it, and loading it cost 0.17 s of CPU in the middle of the boot, beside the container starts.

    A ``None`` in ``sys.modules`` makes ``import aiohttp`` raise ImportError, which python-engineio
    expects (aiohttp is optional there). A process that has loaded aiohttp already keeps it.
    """
    sys.modules.setdefault("aiohttp", None)  # type: ignore[arg-type]


_BACKGROUND_THREADS: list[threading.Thread] = []


def start_in_background(infra: Any, name: str) -> Callable[[], None]:
    """Start the ``name`` container on another thread; the returned function waits and re-raises a failure."""
    return in_background(lambda: infra.start(name), f"start-{name}")


def in_background(work: Callable[[], object], name: str) -> Callable[[], None]:
    """Run ``work`` on another thread (a greenlet with gevent); the returned function waits for it
    and re-raises its failure."""
    failure: list[BaseException] = []

    def run_work() -> None:
        try:
            work()
        except BaseException as exc:  # handed to the waiting caller, which decides
            failure.append(exc)

    thread = threading.Thread(target=run_work, name=name, daemon=True)
    _BACKGROUND_THREADS.append(thread)
    thread.start()

    def wait() -> None:
        while thread.is_alive():
            thread.join(0.1)  # short joins keep Ctrl+C responsive
        if failure:
            raise failure[0]

    return wait


def off_the_hub(mode: str, work: Callable[[], None]) -> None:
    """Run ``work`` (an import) where it stalls nothing: with gevent, on a native thread, since on the
    hub's thread it would stall every greenlet, a container's start and readiness polls included."""
    if mode == "gevent":
        import gevent

        gevent.get_hub().threadpool.apply(work)
    else:
        work()


def import_web_stack(mode: str) -> None:
    """Import everything ``create_app`` needs, so that building the app, once the databases answer, imports nothing.

    Left to ``create_app``, the routes and python-engineio's driver for ``mode`` (imported by name
    when the Socket.IO server is made) cost 50 ms after the databases were ready.
    """
    from . import votes, web  # noqa: F401
    from .web import routes, sockets  # noqa: F401

    try:
        importlib.import_module(f"engineio.async_drivers.{mode}")
    except ImportError:  # another python-engineio layout: create_app imports what it needs itself
        pass


def exit_now_if_a_start_lingers(code: int) -> None:
    """End the process at once when a container start (or the table's creation) is still waiting on a
    container we removed.

    Stopped during boot, a start can go on polling for a readiness that will never come (its
    container is gone) for many seconds, and Python waits for the executor threads a start uses
    before it exits. Everything that matters — containers, pid file — is cleaned up by now.
    """
    if any(thread.is_alive() for thread in _BACKGROUND_THREADS):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
