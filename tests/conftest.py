"""The suite's fixtures (what they build lives in ``tests/support/``).

- Real services: ``postgres_url`` and ``redis_url`` (Testcontainers, started once per test session,
  only when a test asks), ``votes`` (the app's vote store, emptied before each test), ``docker_client``.
- The show's app in this process (milliseconds a test): ``make_app``, ``app``, ``client``,
  ``local_show`` (with Redis and the show's question, phones, presenter and dashboards).
- A real ``reality_engine.py`` (what needs a real process: signals, chaos kills, the browser, the
  server): ``show``, ``fresh_show``, ``presenter``, ``new_phone``.
- The browser (Debian's Chromium, driven by Playwright): ``browser``, ``open_page``; ``stage`` (the show's
  app served over real HTTP in this process, for the browser to look at).
- Workshop tools: ``artifacts_dir``, ``terminal`` (tmux), ``needs_tool``.
"""

from __future__ import annotations

import gc
import shutil
import signal
import sys
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Callable, Iterator

import pytest

# pytest puts this folder on sys.path for the suite; a pytest that loads this file as a plugin
# (``-p tests.conftest``: the child sessions of test_interrupts.py) does not, and needs `support`.
if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

from support.paths import ARTIFACTS  # noqa: E402
from support.terminal import Terminal, require_tool  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    # A SIGTERM (a CI timeout, `kill`) should unwind like Ctrl+C, so fixtures remove their containers.
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGHUP, interrupt)  # the terminal closed
    # A suite started as a script's background job inherits an ignored SIGINT (the shell's rule for
    # such jobs), and every child would inherit it too: the tests that press Ctrl+C on a pytest child,
    # a workshop or a show would then wait on a child that cannot hear it.
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_finish(session: pytest.Session) -> None:
    # What exists once the tests are collected is the program itself (modules, classes, functions):
    # the garbage collector need not walk it again and again. At its exit pytest collects garbage
    # five times over (to bring out exceptions raised in finalizers, its "unraisable" warnings);
    # with this, those passes walk only the objects made since: 0.1 s of the lesson's one-second
    # `pytest tests/test_reality.py`, and every object a test made is still looked at.
    gc.freeze()


# -- real services: started once per session, only when a test asks for them ---------------------------

# Docker and Testcontainers are imported by the fixtures that need them, not here: a run without
# containers (the lesson's `pytest tests/test_fantasy.py`, the mock that needs nothing) pays neither
# for importing them nor for asking Docker anything.

@pytest.fixture(scope="session")
def _engine():
    """The session's client for the Docker engine (``None`` without one), shared by its fixtures.

    Before this session's first container: containers a crashed or killed earlier run left on this
    machine would otherwise linger (and their pid labels could be mistaken for a new process's), so
    those whose process is gone are removed.
    """
    from support.docker import connect_and_sweep

    client = connect_and_sweep()
    yield client
    if client is not None:
        client.close()


@pytest.fixture(scope="session")
def _services(_engine):
    from support.docker import session_infrastructure

    # Disposable: Docker removes the containers after the session, nobody waits for it. Without an
    # engine, Infrastructure says in one line how to start one.
    infra = session_infrastructure(role="tests", disposable=True, client=_engine)
    with infra:  # removes the containers however the session ends, Ctrl+C included
        yield infra


@pytest.fixture(scope="session")
def postgres_url(_services) -> str:
    """URL of a real PostgreSQL 15, started by Testcontainers once per test session."""
    from support.docker import start_or_fail

    start_or_fail(_services, "postgres")
    return _services.postgres_url


@pytest.fixture(scope="session")
def redis_url(_services) -> str:
    """URL of a real Redis 7, started by Testcontainers once per test session (the rate limit's store)."""
    from support.docker import start_or_fail

    start_or_fail(_services, "redis")
    return _services.redis_url


@pytest.fixture(scope="session")
def _vote_store(postgres_url: str):
    from reality.votes import VoteStore

    store = VoteStore(postgres_url)
    store.init_schema()
    yield store
    store.close()


@pytest.fixture
def votes(_vote_store):
    """The application's vote store on the real database, emptied before each test."""
    _vote_store.reset()
    return _vote_store


@pytest.fixture(scope="session")
def docker_client(_engine):
    """A client for the real Docker engine (the test fails with one line when none answers)."""
    if _engine is not None:
        return _engine
    from support.docker import connect_or_fail

    return connect_or_fail()


# -- the show's app in this process ---------------------------------------------------------------------

@pytest.fixture
def make_app(votes) -> Iterator[Callable]:
    """Builds the show's app in this process: ``make_app(store=None, **settings)``.

    On the real vote store (emptied) unless given another, no background tasks and the health probe run once (PostgreSQL known up, as the loop's first round
    would say); settings override the defaults, ``PRESENTER_TOKEN`` included. Every app built is shut
    down after the test.
    """
    from support.app import build_app, close_app

    apps = []

    def make(store=None, **settings):
        app = build_app(store or votes, **settings)
        apps.append(app)
        return app

    yield make
    for app in apps:
        close_app(app)


@pytest.fixture
def app(make_app):
    """The show's app on the real PostgreSQL (emptied), PostgreSQL known up, no background tasks."""
    return make_app(TESTING=True)


@pytest.fixture
def client(app):
    """Flask's test client for ``app``."""
    return app.test_client()


@pytest.fixture
def local_show(votes, postgres_url, redis_url):
    """The whole show's app in this process, on the session's real PostgreSQL (emptied) and Redis.

    Read like the real ``show`` (``results()``, ``health()``, ``feed()``, ``phone()``, ``presenter``,
    ``socket()``); without container control, so chaos and recover stay with the real process.
    """
    from support.app import local_show

    yield from local_show(votes, postgres_url, redis_url)


# -- a real reality_engine.py: one shared by the whole session -------------------------------------------
# Booting the show (two containers and the web server) is the slow part, so it happens once; tests
# that need a clean slate use `fresh_show`, which resets it through the presenter API.

@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """``artifacts/`` (gitignored): terminal screens captured by the tests, kept for people to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def show(docker_client, artifacts_dir: Path):
    """A real ``reality_engine.py`` on a free port, with its own PostgreSQL and Redis containers."""
    from support.show import ShowProcess

    running = ShowProcess.start(docker_client, artifacts_dir / "show-server.log")
    yield running
    running.stop()  # SIGTERM, as a presenter's terminal would; removes its containers


@pytest.fixture
def presenter(show):
    """The presenter's API client, authorized with the token."""
    from support.show import Presenter

    return Presenter(show)


@pytest.fixture
def fresh_show(show, presenter):
    """The shared show after a reset: no votes, no limits, an empty feed, reality mode, first scene.

    The theme is the room's, so a reset keeps it: put back the one the show started with (dark),
    which an earlier test may have switched.
    """
    presenter.reset()
    presenter.ok("theme", {"theme": "dark"})
    return show


@pytest.fixture
def new_phone(show):
    """Makes audience members: ``new_phone()`` is a phone that has opened /qr (and got its cookie)."""
    from support.show import Phone

    return lambda: Phone(show)


# -- the browser: one Chromium for the test process, its contexts handed from test to test ----------------

@pytest.fixture(scope="session")
def browser(needs_tool):
    """Debian's Chromium, driven by Playwright: one for the test process (each pytest-xdist worker)."""
    from support import browser as chromium  # Playwright is imported by the tests that use it, not here

    needs_tool(Path(chromium.CHROMIUM).exists(), chromium.CHROMIUM,
               "python3 setup.py --with-browser, or apt-get install chromium")
    with chromium.launch() as launched:
        yield launched


@pytest.fixture(scope="session")
def _contexts(browser):
    from support.browser import ContextPool

    return ContextPool(browser)


@pytest.fixture
def open_page(_contexts):
    """``open_page(url, before_load=None, **context_options)``: a new page at ``url`` in a context no other
    page of the test shares (its own cookies); ``before_load(page)`` runs first. Contexts are handed
    on to the next test, emptied: see ``support.browser.ContextPool``."""
    with _contexts.opener() as open_page:
        yield open_page


@pytest.fixture
def stage(votes) -> Iterator[Callable]:
    """``stage(question, options)``: the show's app served over real HTTP in this process, on the session's
    PostgreSQL (``support.stage.Stage``: its state set up directly), until the test ends."""
    from support.stage import served_stage

    with ExitStack() as running:
        yield lambda question, options: running.enter_context(served_stage(votes, question, options))


# -- workshop tools ----------------------------------------------------------------------------------------

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
