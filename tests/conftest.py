"""Shared fixtures: one real PostgreSQL container for the whole test session.

Starting a container is the slow part (about half a second), so it happens once; each test then gets
an empty ``votes`` table, which keeps the tests independent of each other.
"""

from __future__ import annotations

import signal
from typing import Iterator

import pytest

from reality import docker_engine
from reality.errors import RealityError
from reality.orchestration import Infrastructure, sweep_orphans
from reality.votes import VoteStore


def pytest_configure(config: pytest.Config) -> None:
    # A SIGTERM (a CI timeout, `kill`) should unwind like Ctrl+C, so fixtures remove their containers.
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGHUP, interrupt)  # the terminal closed


def pytest_sessionstart(session: pytest.Session) -> None:
    # Containers a crashed or killed earlier run left on this machine would otherwise linger (and
    # their pid labels could be mistaken for a new process's): remove those whose process is gone.
    try:
        client = docker_engine.connect()
    except RealityError:
        return  # no Docker: the tests that need it say so themselves
    try:
        sweep_orphans(client)
    finally:
        client.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a real PostgreSQL 15, started by Testcontainers once per test session."""
    try:
        # Disposable: Docker removes the container after the session, nobody waits for it.
        infra = Infrastructure(role="tests", disposable=True)
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


@pytest.fixture
def make_app(votes: VoteStore) -> Iterator:
    """Builds the show's app in this process: ``make_app(store=None, **settings)``.

    On the real vote store (emptied) unless given another, with no background tasks and the health
    probe run once (PostgreSQL known up, as the loop's first round would say); settings override the
    defaults, ``PRESENTER_TOKEN`` included. Every app built is shut down after the test.
    """
    from reality.events import EventBus
    from reality.web import create_app, shutdown

    apps = []

    def make(store: VoteStore | None = None, **settings):
        app = create_app({"PRESENTER_TOKEN": "a-presenter-token-for-in-process-tests", "ASYNC_MODE": "threading",
                          "BACKGROUND_TASKS": False, **settings}, bus=EventBus(), store=store or votes)
        app.extensions["reality"].health.check_once()
        apps.append(app)
        return app

    yield make
    for app in apps:
        shutdown(app)


# -- Shared by the workshop tools' tests (workshop, monitor, cleanup): Docker access and artifacts --

import os  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable  # noqa: E402

import docker  # noqa: E402


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
    """The shared show after a reset: no votes, no limits, an empty feed, reality mode, first scene.

    The theme is the room's, so a reset keeps it: put back the one the show started with (dark),
    which an earlier test (the contract's fuzz among them) may have switched.
    """
    presenter.reset()
    presenter.ok("theme", {"theme": "dark"})
    return show


@pytest.fixture
def new_phone(show):
    """Makes audience members: ``new_phone()`` is a phone that has opened /qr (and got its cookie)."""
    from show_helpers import Phone

    return lambda: Phone(show)


class Terminal:
    """A real terminal (tmux, 120x40) running one command, to see screens as a person would.

    Each terminal has a tmux server of its own. With one shared server, a session started just as the
    previous test's last session closed could reach a server on its way out ("server exited
    unexpectedly").
    """

    def __init__(self, name: str, folder: Path) -> None:
        self.name = name
        # Set in the server's own configuration, so it holds before the command runs: a command that
        # ends at once leaves its last screen readable.
        config = folder / "tmux.conf"
        config.write_text("set-option -g remain-on-exit on\n")
        self._tmux = ["tmux", "-S", str(folder / "socket"), "-f", str(config)]

    def tmux(self, *arguments: str, **options) -> subprocess.CompletedProcess:
        return subprocess.run([*self._tmux, *arguments], **options)

    def start(self, command: str, cwd: Path) -> None:
        # os.environ, not the raw process environment: something in a test run exports COLUMNS=80 at
        # the C level, and the program under test must take its size from the terminal.
        environment = {key: value for key, value in os.environ.items() if key not in ("COLUMNS", "LINES")}
        self.tmux("new-session", "-d", "-s", self.name, "-x", "120", "-y", "40", "-c", str(cwd), command,
                  check=True, env=environment)

    def resize(self, columns: int, rows: int) -> None:
        self.tmux("resize-window", "-t", self.name, "-x", str(columns), "-y", str(rows), check=True)

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", self.name, *keys, check=True)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.name, capture_output=True, text=True).stdout

    def wait_for(self, condition: Callable[[str], bool] | str, what: str = "", timeout: float = 60) -> str:
        """The screen, once ``condition`` (a text on screen, or a test of the screen) holds."""
        check = (lambda screen: condition in screen) if isinstance(condition, str) else condition
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if check(screen):
                return screen
            assert time.monotonic() < deadline, f"timed out waiting for {what or condition!r}; screen:\n{screen}"
            time.sleep(0.1)

    def close(self) -> None:
        self.tmux("kill-server", capture_output=True)


def require_tool(found: bool, what: str, how: str) -> None:
    """Skip a test whose tool is missing on a participant's machine; fail it in CI (CI=true), never skip."""
    if found:
        return
    message = f"{what} is not installed ({how})"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message + ": CI must run every test", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def needs_tool() -> Callable[[bool, str, str], None]:
    """``needs_tool(found, what, how)``: skipped without the tool on a laptop, failed without it in CI."""
    return require_tool


@pytest.fixture
def terminal(tmp_path_factory) -> Iterator[Terminal]:
    """A tmux terminal of 120x40 (skipped where tmux is not installed: `apt-get install tmux`)."""
    require_tool(shutil.which("tmux") is not None, "tmux", "apt-get install tmux")
    term = Terminal(f"reality-test-{uuid.uuid4().hex[:8]}", tmp_path_factory.mktemp("tmux"))
    yield term
    term.close()
