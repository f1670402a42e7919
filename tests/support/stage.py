"""A show's app served over real HTTP in this process (Werkzeug's server, real PostgreSQL), for a
browser to look at: a test sets up what the room would see (votes, a refused second vote, a test run,
a scene) directly, in milliseconds, instead of through a real ``reality_engine.py``.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Iterator

import requests
from werkzeug.serving import make_server

from support.app import build_app, close_app
from support.show import TOKEN

BEARER = {"Authorization": f"Bearer {TOKEN}"}


class Stage:
    """A show served in this process (real PostgreSQL) whose state a test can set up directly."""

    def __init__(self, base: str, app: Any) -> None:
        self.base = base
        self.app = app
        self.state = app.extensions["reality"]

    def post(self, action: str, body: dict) -> dict:
        answer = requests.post(f"{self.base}/api/presenter/{action}", json=body, headers=BEARER, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def scene(self, index: int) -> None:
        self.post("scene", {"action": "goto", "index": index})

    def vote(self, choice: str, times: int = 1) -> None:
        for _ in range(times):
            phone = requests.Session()
            phone.get(f"{self.base}/qr", timeout=10)
            assert phone.post(f"{self.base}/api/vote", json={"choice": choice}, timeout=10).status_code == 201

    def second_vote(self, choice: str) -> None:
        phone = requests.Session()
        phone.get(f"{self.base}/qr", timeout=10)
        phone.post(f"{self.base}/api/vote", json={"choice": choice}, timeout=10)
        assert phone.post(f"{self.base}/api/vote", json={"choice": choice}, timeout=10).status_code == 409

    def tests_ran(self) -> None:
        """What a finished test run leaves (the real run is in test_show_browser.py: it takes a minute)."""
        names = {"fantasy": ["vote is saved", "voting twice does not crash", "tally counts every vote"],
                 "reality": ["a vote is stored in postgres", "second vote from same phone is refused",
                             "repeated duplicates all fail and leave one row", "different phones are all counted"]}
        self.state.tests.results = [{"suite": suite, "name": name, "nodeid": f"tests/test_{suite}.py::test_{name}",
                                     "outcome": "passed", "duration_ms": 12.5, "failure": ""}
                                    for suite, listed in names.items() for name in listed]
        self.state.tests.summary = {"passed": 7, "failed": 0, "error": 0, "skipped": 0, "seconds": 3.2,
                                    "exit_code": 0, "fantasy_ms": 37, "reality_ms": 50}


def stage_app(store: Any, **settings: Any) -> Any:
    """The show's app on ``store`` (:func:`support.app.build_app`) with its background tasks running: a
    browser's pages get the tally and the feed pushed as the room's would."""
    return build_app(store, BACKGROUND_TASKS=True, **settings)


@contextmanager
def served(app: Any) -> Iterator[str]:
    """``app`` on Werkzeug's server in this process, its base URL, until the block ends (then shut down)."""
    # Port 0: the kernel picks a free port as the server binds (a port picked first and bound later can
    # be taken in between).
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        close_app(app)


@contextmanager
def served_stage(store: Any, question: str, options: list[str]) -> Iterator[Stage]:
    """The show's app with ``question`` and ``options`` served in this process, on ``store``, until the block ends."""
    app = stage_app(store, QUESTION=question, OPTIONS=options)
    with served(app) as base:
        assert app.extensions["reality"].health.wait_until("postgres", "up", 30)
        yield Stage(base, app)
