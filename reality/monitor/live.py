"""The live monitor: a :class:`DockerWatcher` fills the state, a rich ``Live`` redraws the view.

``watch_containers.py`` calls :func:`run_monitor` with its Console and the Event its Ctrl+C sets.
"""

from __future__ import annotations

import threading
from typing import Callable

import docker
from rich.console import Console
from rich.live import Live

from .. import docker_engine
from .docker_feed import DockerWatcher
from .model import MonitorState
from .view import build_view


def run_monitor(console: Console, show_all: bool = False, stop: threading.Event | None = None,
                connect: Callable[[], docker.DockerClient] = docker_engine.connect, refresh: float = 0.25) -> int:
    """Show the live monitor until ``stop`` is set (Ctrl+C in ``watch_containers.py``); returns an exit code.

    Raises :class:`DockerUnavailable` when no engine answers at start, so the caller prints one line.
    """
    connect().close()  # fail fast, with the one-line how-to, before drawing anything
    stop = stop or threading.Event()
    state = MonitorState(show_all=show_all)
    watcher = DockerWatcher(state, connect).start()
    watcher.synced.wait(timeout=5)
    try:
        # Drawn by this loop only (no refresh thread), so a resize can clear the screen between two
        # frames: Live redraws over the lines it drew last, and after the terminal rewrapped them
        # at a new width those are no longer where it thinks, which left a stale line behind.
        # "crop", never "...": the view already fits the height (MonitorView).
        with Live(build_view(state), console=console, auto_refresh=False, vertical_overflow="crop",
                  transient=False, redirect_stdout=False, redirect_stderr=False) as live:
            size = console.size
            while not stop.wait(refresh):
                if console.is_terminal and console.size != size:
                    size = console.size
                    console.clear()
                live.update(build_view(state), refresh=True)
            live.update(build_view(state), refresh=True)
    finally:
        watcher.stop()
    return 0
