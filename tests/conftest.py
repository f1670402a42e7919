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


# -- The show's tests (test_show_*.py): one running reality_engine.py shared by the whole session ----
# Booting the show (two containers and the web server) is the slow part, so it happens once; tests
# that need a clean slate use `fresh_show`, which resets it through the presenter API.

@pytest.fixture(scope="session")
def show(docker_client: docker.DockerClient, artifacts_dir: Path):
    """A real ``reality_engine.py`` on a free port, with its own PostgreSQL and Redis containers."""
    from show_helpers import ShowProcess

    running = ShowProcess.start(docker_client, artifacts_dir / "show-server.log")
    yield running
    running.stop()  # SIGTERM, as a presenter's terminal would; removes its containers


@pytest.fixture
def presenter(show):
    """The presenter's API client, authorized with the token."""
    from show_helpers import Presenter

    return Presenter(show)


@pytest.fixture
def fresh_show(show, presenter):
    """The shared show after a reset: no votes, no limits, an empty feed, reality mode, first scene."""
    presenter.reset()
    return show


@pytest.fixture
def new_phone(show):
    """Makes audience members: ``new_phone()`` is a phone that has opened /qr (and got its cookie)."""
    from show_helpers import Phone

    return lambda: Phone(show)
