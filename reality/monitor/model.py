"""What the monitor knows: the containers seen and the recent events, kept from Docker's event stream.

No Docker client and no rich here: :meth:`MonitorState.apply_event` takes the event as Docker sends
it and an ``inspect(id)`` function (:mod:`reality.monitor.docker_feed` gives the real one), so the
model is fed by hand in tests.

    >>> state = MonitorState()
    >>> state.apply_event({"Type": "container", "Action": "destroy", "id": "abc",
    ...                    "Actor": {"Attributes": {"name": "pg", "org.testcontainers": "true"}}},
    ...                   inspect=lambda container_id: None)
    >>> [(entry.action, entry.name) for entry in state.log()]
    [('destroy', 'pg')]
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from ..config import LABEL_PROJECT, LABEL_ROLE, LABEL_TESTCONTAINERS
from ..owners import parse_docker_time
from ..vocabulary import DockerAction, DockerStatus

#: Docker's event ``Type`` for a container (the stream also carries networks, images, volumes).
CONTAINER_EVENT = "container"
#: Container actions that change what the table shows.
TRACKED_ACTIONS = frozenset(DockerAction)
#: Actions worth a line in the event log (the lifecycle a participant wants to see).
LOGGED_ACTIONS = frozenset(DockerAction) - {DockerAction.RENAME, DockerAction.UPDATE}
LOG_LENGTH = 8

#: ``docker inspect``'s statuses after which the exit code is worth showing.
ENDED = (DockerStatus.EXITED, DockerStatus.DEAD)


@dataclass
class ContainerRow:
    """One container as the table shows it."""

    id: str
    name: str
    image: str
    status: str
    created: float | None = None
    exit_code: int | None = None
    ports: list[tuple[str, str]] = field(default_factory=list)  # (host port, container port)
    labels: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_inspect(cls, attrs: dict[str, Any]) -> "ContainerRow":
        """Build a row from ``docker inspect`` output (``client.api.inspect_container``)."""
        config = attrs.get("Config") or {}
        state = attrs.get("State") or {}
        ports: list[tuple[str, str]] = []
        for container_port, bindings in sorted(((attrs.get("NetworkSettings") or {}).get("Ports") or {}).items()):
            # One binding per address family (0.0.0.0 and ::) for the same host port: show it once.
            for host_port in dict.fromkeys(b.get("HostPort", "") for b in bindings or []):
                if host_port:
                    ports.append((host_port, container_port.split("/")[0]))
        status = state.get("Status") or "unknown"
        return cls(
            id=attrs.get("Id", ""),
            name=(attrs.get("Name") or "").lstrip("/"),
            image=config.get("Image") or attrs.get("Image", ""),
            status=status,
            created=parse_docker_time(attrs.get("Created")),
            exit_code=state.get("ExitCode") if status in ENDED else None,
            ports=ports,
            labels=dict(config.get("Labels") or {}),
        )

    @property
    def by_testcontainers(self) -> bool:
        return self.labels.get(LABEL_TESTCONTAINERS) == "true"

    @property
    def by_reality_engine(self) -> bool:
        return LABEL_PROJECT in self.labels

    @property
    def role(self) -> str:
        return self.labels.get(LABEL_ROLE, "")


@dataclass(frozen=True)
class LogEntry:
    """One line of the recent-events log."""

    ts: float
    action: str
    name: str
    image: str
    detail: str = ""


def is_kit_container(labels: dict[str, str]) -> bool:
    """Started by Testcontainers or by Reality Engine (the containers shown without ``--all``)."""
    return labels.get(LABEL_TESTCONTAINERS) == "true" or LABEL_PROJECT in labels


def _detail(action: str, attributes: dict[str, str]) -> str:
    """What the log line adds to the action: the exit code of a ``die``, the signal of a ``kill``."""
    if action == DockerAction.DIE:
        return f"exit code {attributes.get('exitCode', '?')}"
    if action == DockerAction.KILL:
        return f"signal {attributes.get('signal', '?')}"
    return ""


class MonitorState:
    """What the monitor knows; updated from Docker's event thread, read by the renderer (thread-safe)."""

    def __init__(self, show_all: bool = False, log_length: int = LOG_LENGTH) -> None:
        self.show_all = show_all
        self.engine_up = True
        self.lock = threading.RLock()
        self._rows: dict[str, ContainerRow] = {}
        self._log: deque[LogEntry] = deque(maxlen=log_length)

    def wants(self, labels: dict[str, str]) -> bool:
        return self.show_all or is_kit_container(labels)

    def upsert(self, row: ContainerRow) -> None:
        with self.lock:
            if self.wants(row.labels):
                self._rows[row.id] = row

    def remove(self, container_id: str) -> None:
        with self.lock:
            self._rows.pop(container_id, None)

    def replace_all(self, rows: Iterable[ContainerRow]) -> None:
        with self.lock:
            self._rows = {row.id: row for row in rows if self.wants(row.labels)}

    def rows(self) -> list[ContainerRow]:
        """Visible containers, oldest first."""
        with self.lock:
            return sorted(self._rows.values(), key=lambda row: (row.created or 0.0, row.name))

    def log(self) -> list[LogEntry]:
        with self.lock:
            return list(self._log)

    def set_engine(self, up: bool) -> None:
        with self.lock:
            self.engine_up = up

    def apply_event(self, event: dict[str, Any], inspect: Callable[[str], dict[str, Any] | None]) -> None:
        """Update from one Docker event; ``inspect(id)`` returns fresh ``docker inspect`` output or ``None``."""
        if event.get("Type", CONTAINER_EVENT) != CONTAINER_EVENT:
            return
        # exec events read "exec_start: sh -c ..."; keep the verb only.
        action = str(event.get("Action") or event.get("status") or "").split(":", 1)[0]
        if action not in TRACKED_ACTIONS:
            return
        container_id = event.get("id") or (event.get("Actor") or {}).get("ID", "")
        attributes = (event.get("Actor") or {}).get("Attributes") or {}
        if not self.wants(attributes):
            return
        if action in LOGGED_ACTIONS:
            timestamp = event.get("timeNano")
            with self.lock:
                self._log.append(LogEntry(timestamp / 1e9 if timestamp else time.time(), action,
                                          attributes.get("name", container_id[:12]), attributes.get("image", ""),
                                          _detail(action, attributes)))
        if action == DockerAction.DESTROY:
            self.remove(container_id)
            return
        attrs = inspect(container_id)
        if attrs is None:  # removed again before we could look at it
            self.remove(container_id)
        else:
            self.upsert(ContainerRow.from_inspect(attrs))
