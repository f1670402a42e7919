"""Docker's own event stream, followed in the background: a ``docker kill`` from a terminal is noticed.

The engine may go away (restarted, stopped) while a run goes on: :class:`DockerEvents` says so once,
keeps trying every second, and says so again when the engine answers.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

import docker

from .. import docker_engine

#: Seconds between attempts to reach an engine that stopped answering.
RETRY_SECONDS = 1.0


class DockerEvents:
    """Hands every container event carrying all of ``labels`` to ``on_event``, until ``stop`` is set.

    ``on_engine(True)`` / ``on_engine(False)``: the engine answers again / stopped answering.
    ``connect`` gives a client that answered a ping (``docker_engine.connect`` by default).
    """

    def __init__(self, labels: dict[str, str], on_event: Callable[[dict[str, Any]], None],
                 on_engine: Callable[[bool], None], stop: threading.Event,
                 connect: Callable[..., docker.DockerClient] = docker_engine.connect) -> None:
        self.labels = labels
        self.on_event = on_event
        self.on_engine = on_engine
        self.stop = stop
        self.connect = connect
        self.engine_up = True
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        """Follow the stream on a daemon thread (once; a second call does nothing)."""
        if self.thread is None:
            self.thread = threading.Thread(target=self._follow, name="docker-events", daemon=True)
            self.thread.start()

    def _follow(self) -> None:
        while not self.stop.is_set():
            client = None
            try:
                client = self.connect(timeout=5)
                self._engine(True)
                stream = client.events(decode=True, since=int(time.time()), filters={
                    "type": "container", "label": [f"{key}={value}" for key, value in self.labels.items()]})
                for event in stream:
                    if self.stop.is_set():
                        return
                    self.on_event(event)
            except Exception:  # engine gone or restarting (DockerUnavailable, a broken stream): keep trying
                if self.stop.is_set():
                    return
                self._engine(False)
                time.sleep(RETRY_SECONDS)
            finally:
                if client is not None:
                    client.close()

    def _engine(self, up: bool) -> None:
        if up != self.engine_up:
            self.engine_up = up
            self.on_engine(up)
