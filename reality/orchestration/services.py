"""How each service's container is built: image, fixed loopback port, labels, readiness, storage.

Testcontainers' ``community`` modules give the PostgreSQL and Redis containers; this module adds
what the kit needs of them (see :func:`build_container`).
"""

from __future__ import annotations

import os
import socket
import threading

from docker.models.containers import Container
from testcontainers.community.postgres import PostgresContainer
from testcontainers.core.container import DockerContainer
from testcontainers.core.exceptions import ContainerStartException
from testcontainers.core.waiting_utils import WaitStrategy

from ..config import (
    LABEL_HOST,
    LABEL_PROJECT,
    LABEL_ROLE,
    LABEL_SERVICE,
    POSTGRES_DB,
    POSTGRES_PASSWORD,
    POSTGRES_USER,
    PROJECT,
)
from ..owners import owner_labels
from .waiting import LOOPBACK, PingWaitStrategy, QueryWaitStrategy

INTERNAL_PORTS = {"postgres": 5432, "redis": 6379}
#: Durability settings that only a throwaway database can afford: nothing here must survive a crash.
FAST_POSTGRES = ["postgres", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
PORT_ATTEMPTS = 3  # starts of one container when the port we picked was taken before Docker bound it


class FastPostgresContainer(PostgresContainer):
    """``PostgresContainer`` that waits only through its ``waiting_for`` strategy (a query from the host)."""

    def _connect(self) -> None:
        # DbContainer.start() always runs _connect (psql inside the container, polled once a second)
        # after the waiting_for strategy; Testcontainers has no public switch for it, so it is emptied.
        pass


def load(names: tuple[str, ...]) -> None:
    """Import what building and waiting for the named services needs (redis-py for Redis: 70 ms)."""
    if "redis" in names:
        import testcontainers.community.redis  # noqa: F401  (loads redis-py, which the probe uses too)


def build_container(name: str, image: str, port: int, role: str, *, fast_storage: bool, disposable: bool,
                    cancel: threading.Event, api_version: str | None = None) -> tuple[DockerContainer, WaitStrategy]:
    """The container for service ``name`` on host ``port``, not started, and the strategy that says it is ready.

    ``api_version``: the engine's API version, when a client of ours has already asked it; Testcontainers'
    own client then skips asking again (a round trip to the engine per container).
    """
    client_kw = {"version": api_version} if api_version else None
    readiness: WaitStrategy
    if name == "postgres":
        readiness = QueryWaitStrategy(
            f"postgresql://{POSTGRES_USER}:{POSTGRES_PASSWORD}@{LOOPBACK}:{port}/{POSTGRES_DB}", cancel)
        container: DockerContainer = FastPostgresContainer(
            image, username=POSTGRES_USER, password=POSTGRES_PASSWORD, dbname=POSTGRES_DB, driver=None,
            docker_client_kw=client_kw)
        if fast_storage:
            container.with_command(FAST_POSTGRES)
    else:
        # Imported here: it loads redis-py (70 ms), which a session that needs only PostgreSQL (the
        # lesson's `pytest tests/test_reality.py`) would pay for nothing.
        from testcontainers.community.redis import RedisContainer

        readiness = PingWaitStrategy(port, cancel)
        container = RedisContainer(image, docker_client_kw=client_kw)
    container.waiting_for(readiness)
    # A fixed host port (chosen free) survives a restart, so clients reconnect by themselves
    # after chaos; Docker would hand a restarted container a new random port otherwise.
    container.with_bind_ports(INTERNAL_PORTS[name], port)
    # Loopback only: on conference Wi-Fi nobody else may reach the show's databases. (Docker
    # takes an (address, port) pair; Testcontainers' with_bind_ports has no form for it.)
    container.ports[str(INTERNAL_PORTS[name])] = (LOOPBACK, port)  # type: ignore[assignment]
    container.with_kwargs(labels=project_labels(name, role), auto_remove=disposable)
    return container, readiness


def project_labels(service: str, role: str) -> dict[str, str]:
    """The kit's labels for a container of this process: project, service, role, owner, host."""
    return {
        LABEL_PROJECT: PROJECT,
        LABEL_SERVICE: service,
        LABEL_ROLE: role,
        **owner_labels(os.getpid()),
        LABEL_HOST: socket.gethostname(),
    }


def free_port() -> int:
    """A TCP port free on this host right now."""
    with socket.socket() as sock:
        sock.bind(("", 0))
        return sock.getsockname()[1]


def port_clash(exc: BaseException) -> bool:
    """Whether Docker refused a start because the host port is in use (its words vary by version)."""
    text = str(exc).lower()
    return "address already in use" in text or "port is already allocated" in text


def docker_container(container: DockerContainer | None) -> Container | None:
    """The Docker SDK's container behind a Testcontainers one, or ``None`` before Docker created it."""
    if container is None:
        return None
    try:
        return container.get_wrapped_container()
    except ContainerStartException:  # "Container is not started": Docker has not created it
        return None


def last_log_line(container: DockerContainer) -> str:
    """The container's last line of output (why it did not start), or an empty string."""
    try:
        out, err = container.get_logs()
    except Exception:  # never created, or already gone: there is no log to tell
        return ""
    lines = (out + err).decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else ""
