"""The Docker engine as the tests see it: connecting, the session's containers, what a process left.

Product code that knows containers is imported here (and in :mod:`support.show`), so that tests
reach it through one place.
"""

from __future__ import annotations

import docker
import pytest

from reality import docker_engine
from reality.config import LABEL_PID
from reality.orchestration import Infrastructure, sweep_orphans
from reality.errors import RealityError

__all__ = ["Infrastructure", "RealityError", "connect_and_sweep", "connect_or_fail", "containers_of",
           "remove_containers_of"]


def connect_or_fail() -> docker.DockerClient:
    """A client for the real Docker engine; without one the test fails with one line saying what to do."""
    try:
        return docker_engine.connect()
    except RealityError as exc:
        pytest.fail(str(exc), pytrace=False)


def connect_and_sweep() -> docker.DockerClient | None:
    """A client for the engine, once containers a crashed or killed earlier run left (those whose process
    is gone) are removed; ``None`` without Docker (the tests that need it say so themselves)."""
    try:
        client = docker_engine.connect()
    except RealityError:
        return None
    try:
        sweep_orphans(client)
    except BaseException:
        client.close()
        raise
    return client


def session_infrastructure(role: str = "tests", **options: object) -> Infrastructure:
    """Testcontainers-run PostgreSQL and Redis for a test session (start them with ``start(name)``)."""
    try:
        return Infrastructure(role=role, **options)
    except RealityError as exc:  # Docker is not running: one line saying what to do
        pytest.fail(str(exc), pytrace=False)


def start_or_fail(infra: Infrastructure, name: str) -> None:
    try:
        infra.start(name)
    except RealityError as exc:
        pytest.fail(str(exc), pytrace=False)


def containers_of(client: docker.DockerClient, pid: int) -> list:
    """The containers labelled as started by process ``pid``.

    ``ignore_removed``: listing inspects each container afterwards, and one removed in between (what
    these tests watch happen) is left out instead of failing the listing.
    """
    return client.containers.list(all=True, filters={"label": f"{LABEL_PID}={pid}"}, ignore_removed=True)


def remove_containers_of(client: docker.DockerClient, pid: int) -> None:
    """Safety net for a failed test: force-remove whatever process ``pid`` left."""
    for container in containers_of(client, pid):
        try:
            container.remove(force=True, v=True)
        except docker.errors.NotFound:
            pass
