"""A conference room is a load test: bursts of phones, chaos in the middle, and nothing lost.

Every test talks to a real ``reality_engine.py`` with real PostgreSQL and Redis containers. Loads are
bounded in size and time; waits are bounded polls. Speed targets live in ``bench/crowd.py``, not here.
"""

from __future__ import annotations

import os
import socket
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from support.docker import containers_of
from support.show import Phone, ShowProcess, SocketClient
from support.waiting import wait_for

#: No single request may take longer than this, whatever is being killed meanwhile.
REQUEST_TIMEOUT = 5


def vote_all(phones: list[Phone], workers: int = 20, on_answer=None) -> dict[Phone, int]:
    """Every phone votes once, ``workers`` at a time; returns each phone's status code."""
    answers: dict[Phone, int] = {}
    lock = threading.Lock()

    def vote(phone: Phone) -> None:
        status = phone.http.post(phone.show.url("/api/vote"), json={"choice": "Python"},
                                 timeout=REQUEST_TIMEOUT).status_code
        with lock:
            answers[phone] = status
            if on_answer:
                on_answer(len(answers))

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(vote, phones))
    return answers


def test_no_vote_is_lost_when_redis_is_killed_in_the_middle_of_a_burst(fresh_show, presenter, new_phone):
    during, after = [new_phone() for _ in range(40)], [new_phone() for _ in range(20)]
    dashboard = SocketClient(fresh_show)
    started = threading.Event()
    try:
        with ThreadPoolExecutor(1) as chaos:
            killed = chaos.submit(lambda: started.wait(30) and presenter.ok("chaos", {"target": "redis"}))
            answers = vote_all(during, on_answer=lambda done: done >= 10 and started.set())
            assert killed.result()["target"] == "redis"
        answers.update(vote_all(after))  # Redis is certainly dead now: the local fallback counts
        assert fresh_show.health()["services"]["redis"] == "down"

        statuses = Counter(answers.values())
        assert statuses == Counter({201: len(during) + len(after)}), statuses  # nobody refused, nothing lost
        accepted = statuses[201]
        assert fresh_show.database_rows() == accepted
        assert fresh_show.results()["total"] == accepted
        wait_for(lambda: dashboard.tallies and dashboard.tallies[-1]["total"] == accepted, 5,
                 "the dashboard's tally to count every accepted vote")
    finally:
        dashboard.close()
        presenter.ok("recover", {"target": "redis"})
    fresh_show.wait_for_service("redis", "up")


def test_fifty_simultaneous_votes_from_one_phone_count_exactly_once(fresh_show, presenter, new_phone):
    presenter.ok("rate-limit", {"enabled": False})  # 50 requests from one phone would be rate limited
    try:
        phone = new_phone()
        cookie = phone.http.cookies[fresh_show.cookie_name]
        start = threading.Barrier(50)

        def vote(_: int) -> int:
            session = requests.Session()  # its own connection, the same voter cookie
            session.cookies.set(fresh_show.cookie_name, cookie)
            start.wait(10)
            return session.post(fresh_show.url("/api/vote"), json={"choice": "Go"}, timeout=REQUEST_TIMEOUT).status_code

        with ThreadPoolExecutor(50) as pool:
            statuses = Counter(pool.map(vote, range(50)))
    finally:
        presenter.ok("rate-limit", {"enabled": True})

    assert statuses == Counter({201: 1, 409: 49})
    assert fresh_show.database_rows() == 1
    assert fresh_show.results()["counts"]["Go"] == 1


def test_killing_postgres_under_load_answers_503_fast_never_500_and_recovers(fresh_show, presenter, new_phone):
    during, after = [new_phone() for _ in range(20)], [new_phone() for _ in range(20)]
    started = threading.Event()
    try:
        with ThreadPoolExecutor(1) as chaos:
            killed = chaos.submit(lambda: started.wait(30) and presenter.ok("chaos", {"target": "postgres"}))
            answers = vote_all(during, on_answer=lambda done: done >= 5 and started.set())
            killed.result()
        answers.update(vote_all(after))  # the database is certainly down now
        # Every request answered within REQUEST_TIMEOUT (requests would have raised otherwise).
        assert set(answers.values()) <= {201, 503}, Counter(answers.values())
        assert all(answers[phone] == 503 for phone in after)
        assert fresh_show.process.poll() is None, "the show must survive its database dying"
    finally:
        recovered = presenter.ok("recover", {"target": "postgres"})
    assert recovered["data_kept"] is True

    again = {phone: phone.vote("Python").status_code for phone in during + after}
    assert all(again[phone] == 409 for phone, status in answers.items() if status == 201)  # kept, still unique
    assert set(again.values()) <= {201, 409}
    # Every phone now has exactly one vote: none lost, none doubled.
    assert fresh_show.database_rows() == len(answers) == fresh_show.results()["total"]


class DockerSocketProxy:
    """A stand-in for the Docker engine's socket that can go away: it forwards to the real one."""

    def __init__(self, path: Path, target: str = "/var/run/docker.sock") -> None:
        self.path, self.target = path, target
        self.connections: list[socket.socket] = []
        self.listener: socket.socket | None = None

    def start(self) -> None:
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(str(self.path))
        self.listener.listen(64)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX)
            upstream.connect(self.target)
            self.connections += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self) -> None:
        """The engine becomes unreachable: no new connections, and the open ones (event stream) drop."""
        if self.listener is not None:
            self.listener.close()
            self.listener = None
        self.path.unlink(missing_ok=True)
        for connection in self.connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            connection.close()
        self.connections.clear()


@pytest.mark.skipif(os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock") != "unix:///var/run/docker.sock",
                    reason="the proxy stands in for this machine's default Docker socket")
def test_docker_engine_unreachable_mid_show_is_shown_and_votes_go_on(docker_client, artifacts_dir, monkeypatch,
                                                                     tmp_path):
    proxy = DockerSocketProxy(Path(f"/tmp/reality-docker-{os.getpid()}.sock"))
    proxy.start()
    monkeypatch.setenv("DOCKER_HOST", f"unix://{proxy.path}")
    show = ShowProcess.start(docker_client, artifacts_dir / "show-docker-unreachable.log")
    try:
        since = show.last_seq()
        proxy.stop()

        show.wait_for_event(since, "system", "docker-down")
        assert show.health()["docker"] == "down"
        assert Phone(show).vote("Rust").status_code == 201  # PostgreSQL and Redis are still there
        assert show.results()["total"] == 1

        proxy.start()
        show.wait_for_event(since, "system", "docker-up")
        assert show.health()["docker"] == "up"
    finally:
        if proxy.listener is None:
            proxy.start()  # the show needs its engine back to remove its containers
        show.stop()
        proxy.stop()
    assert containers_of(docker_client, show.process.pid) == []
