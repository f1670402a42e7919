"""Shared fixtures: one real PostgreSQL container for the whole test session.

Starting a container is the slow part (about half a second), so it happens once; each test then gets
an empty ``votes`` table, which keeps the tests independent of each other.
"""

from __future__ import annotations

import signal
from typing import Iterator

import pytest

from reality.containers import Infrastructure
from reality.errors import RealityError
from reality.votes import VoteStore


def pytest_configure(config: pytest.Config) -> None:
    # A SIGTERM (a CI timeout, `kill`) should unwind like Ctrl+C, so fixtures remove their containers.
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a real PostgreSQL 15, started by Testcontainers once per test session."""
    try:
        infra = Infrastructure(role="tests")
    except RealityError as exc:  # Docker is not running: one line saying what to do
        pytest.fail(str(exc), pytrace=False)
    with infra:  # removes the container however the session ends, Ctrl+C included
        try:
            infra.start("postgres")
        except RealityError as exc:
            pytest.fail(str(exc), pytrace=False)
        yield infra.postgres_url


@pytest.fixture(scope="session")
def _vote_store(postgres_url: str) -> Iterator[VoteStore]:
    store = VoteStore(postgres_url)
    store.init_schema()
    yield store
    store.close()


@pytest.fixture
def votes(_vote_store: VoteStore) -> VoteStore:
    """The application's vote store on the real database, emptied before each test."""
    _vote_store.reset()
    return _vote_store


# -- Shared by the workshop tools' tests (workshop, monitor, cleanup): Docker access and artifacts --

from pathlib import Path  # noqa: E402

import docker  # noqa: E402

from reality import docker_engine  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    """A client for the real Docker engine (the test fails with one line when none answers)."""
    try:
        client = docker_engine.connect()
    except RealityError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield client
    client.close()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """``artifacts/`` (gitignored): terminal screens captured by the tests, kept for people to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
