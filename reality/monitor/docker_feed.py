"""Following Docker: the containers listed and inspected, then Docker's event stream, into a MonitorState.

The only part of the monitor that talks to Docker; the client comes from
:func:`reality.docker_engine.connect` (or the ``connect`` a test passes in).
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

import docker
from docker.errors import DockerException, NotFound

from .. import docker_engine
from ..errors import DockerUnavailable
from .model import CONTAINER_EVENT, ContainerRow, MonitorState


def inspector(client: docker.DockerClient) -> Callable[[str], dict[str, Any] | None]:
    """``inspect(id)`` for :meth:`MonitorState.apply_event`: ``None`` when the container is gone."""
    def inspect(container_id: str) -> dict[str, Any] | None:
        try:
            return client.api.inspect_container(container_id)
        except NotFound:
            return None
    return inspect


def load_rows(client: docker.DockerClient, labels: dict[str, str] | None = None) -> list[ContainerRow]:
    """Every container (optionally only those carrying all of ``labels``), inspected."""
    filters = {"label": [f"{key}={value}" for key, value in (labels or {}).items()]} if labels else None
    inspect = inspector(client)
    rows = []
    for summary in client.api.containers(all=True, filters=filters):
        attrs = inspect(summary["Id"])
        if attrs is not None:
            rows.append(ContainerRow.from_inspect(attrs))
    return rows


class DockerWatcher:
    """Keeps a :class:`MonitorState` in step with Docker: a snapshot, then the event stream.

    Runs in a background thread; when the engine goes away it says so in the state and retries
    every second, so the monitor survives a Docker restart.
    """

    def __init__(self, state: MonitorState, connect: Callable[[], docker.DockerClient] = docker_engine.connect) -> None:
        self.state = state
        self._connect = connect
        self._stop = threading.Event()
        self._stream: Any = None
        self._thread: threading.Thread | None = None
        self.synced = threading.Event()  # set once the first snapshot is in the state

    def start(self) -> "DockerWatcher":
        self._thread = threading.Thread(target=self._run, name="docker-events", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        stream = self._stream
        if stream is not None:
            try:
                stream.close()  # unblocks the thread waiting for the next event
            except Exception:
                pass
        if self._thread is not None:
            self._thread.join(timeout=2)

    def _run(self) -> None:
        while not self._stop.is_set():
            client = None
            try:
                client = self._connect()
                # Subscribe from just before the snapshot, so nothing between the two is missed;
                # a replayed event only re-inspects a container, which is harmless.
                since = int(time.time()) - 1
                self.state.replace_all(load_rows(client))
                self.state.set_engine(True)
                self.synced.set()
                self._stream = client.events(decode=True, since=since, filters={"type": CONTAINER_EVENT})
                inspect = inspector(client)
                for event in self._stream:
                    if self._stop.is_set():
                        return
                    self.state.apply_event(event, inspect)
                # The stream ends when the engine shuts down.
                raise DockerException("event stream ended")
            # ValueError: a half-written JSON event when the engine dies mid-stream.
            except (DockerUnavailable, DockerException, OSError, ValueError):
                if self._stop.is_set():
                    return
                self.state.set_engine(False)
                self._stop.wait(1.0)
            finally:
                if self._stream is not None:
                    self._stream.close()
                    self._stream = None
                if client is not None:
                    client.close()
