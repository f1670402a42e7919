"""A real ``reality_engine.py`` process, its phones and its presenter (over real HTTP).

The show runs as a subprocess on a free port, exactly as a presenter starts it, with real PostgreSQL
and Redis containers. :class:`Phone` is one audience member (its own cookie jar), :class:`Presenter`
holds the token, :class:`SocketClient` is a dashboard on a real websocket. For what needs no real process, the app in this process is faster: :mod:`support.app`.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import psycopg2
import requests
import socketio
import websocket  # noqa: F401  websocket-client: without it python-socketio silently falls back to polling
from requests.adapters import HTTPAdapter

from reality import config
from reality.config import LABEL_PID, LABEL_SERVICE

from .docker import remove_containers_of
from .paths import ROOT, per_worker
from .waiting import wait_for

__all__ = ["OPTIONS", "QUESTION", "TOKEN", "Phone", "Presenter", "ShowProcess", "SocketClient", "free_port", "session_from",
           "show_command", "show_env"]

TOKEN = "presenter-token-for-tests"
QUESTION = "Which language do you write tests in?"
OPTIONS = ("Python", "JavaScript", "Go", "Rust", "Java")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def show_command(port: int, *extra: str, host: str = "127.0.0.1") -> list[str]:
    return [sys.executable, str(ROOT / "reality_engine.py"), "--host", host, "--port", str(port), *extra]


def show_env(runtime_dir: str, **extra: str) -> dict[str, str]:
    """The environment of a show under test: its own runtime dir (pid file), a known token."""
    env = dict(os.environ, REALITY_PRESENTER_TOKEN=TOKEN, REALITY_RUNTIME_DIR=runtime_dir, PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


@dataclass
class ShowProcess:
    """A running ``reality_engine.py`` and what the tests need to reach it."""

    process: subprocess.Popen
    port: int
    runtime_dir: str
    log_path: Path
    docker: docker.DockerClient
    base_url: str = ""
    token: str = TOKEN
    log_file: Any = field(default=None, repr=False)

    @classmethod
    def start(cls, client: docker.DockerClient, log_path: Path, *extra: str,
              env: dict[str, str] | None = None) -> "ShowProcess":
        log_path = per_worker(log_path)  # two pytest-xdist workers may start the same show
        # The port is picked here and bound by the child a moment later: if another program took it in
        # between, the show says so in one line and exits, and a new port is picked.
        for attempt in range(3):
            show = cls._launch(client, log_path, *extra, env=env)
            try:
                wait_for(show.ready, 90, "the show to boot (see " + str(log_path) + ")", interval=0.1)
                return show
            except BaseException:
                show.stop()
                if attempt < 2 and show.process.returncode == 1 and "is already in use" in show.log():
                    continue
                raise
        raise AssertionError("unreachable")

    @classmethod
    def _launch(cls, client: docker.DockerClient, log_path: Path, *extra: str,
                env: dict[str, str] | None = None) -> "ShowProcess":
        port = free_port()
        runtime_dir = tempfile.mkdtemp(prefix="reality-show-test-")
        log = open(log_path, "w")
        # All interfaces, as a presenter runs it: the phone address on the QR code is then reachable.
        process = subprocess.Popen(show_command(port, *extra, "--question", QUESTION, "--options", ",".join(OPTIONS),
                                                host="0.0.0.0"),
                                   cwd=ROOT, env=show_env(runtime_dir, **(env or {})), stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()  # the child holds its own copy of the descriptor
        return cls(process, port, runtime_dir, log_path, client, base_url=f"http://127.0.0.1:{port}")

    def ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"reality_engine.py exited with {self.process.returncode}:\n{self.log()}")
        try:
            health = requests.get(self.url("/api/health"), timeout=2).json()
        except requests.RequestException:
            return False
        return health["services"] == {"postgres": "up", "redis": "up"}

    def url(self, path: str) -> str:
        return self.base_url + path

    @property
    def cookie_name(self) -> str:
        """The show's cookie: named after its port, so two shows on one host never share it."""
        return f"reality-{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def health(self) -> dict:
        return requests.get(self.url("/api/health"), timeout=5).json()

    def results(self) -> dict:
        return requests.get(self.url("/api/results"), timeout=5).json()

    def feed(self, since: int = 0) -> list[dict]:
        return requests.get(self.url(f"/api/feed?since={since}"), timeout=5).json()["events"]

    def last_seq(self) -> int:
        events = self.feed()
        return events[-1]["seq"] if events else 0

    def wait_for_event(self, since: int, kind: str, action: str, timeout: float = 15) -> dict:
        """The first event of ``kind``/``action`` after ``since``."""
        def found() -> dict | None:
            return next((e for e in self.feed(since) if e["kind"] == kind and e["action"] == action), None)
        return wait_for(found, timeout, f"a {kind}/{action} event")

    def wait_for_service(self, name: str, state: str, timeout: float = 20) -> None:
        wait_for(lambda: self.health()["services"][name] == state, timeout, f"{name} to be {state}")

    def container(self, service: str):
        """The show's container for ``service`` (found by label, as cleanup.py finds it)."""
        found = self.docker.containers.list(all=True, filters={"label": [f"{LABEL_PID}={self.process.pid}",
                                                                         f"{LABEL_SERVICE}={service}"]},
                                            ignore_removed=True)
        assert len(found) == 1, f"expected one {service} container, found {len(found)}"
        return found[0]

    def database_rows(self) -> int:
        """Rows in the show's real ``votes`` table, read straight from PostgreSQL."""
        container = self.container("postgres")
        container.reload()
        port = container.ports["5432/tcp"][0]["HostPort"]
        with psycopg2.connect(host="127.0.0.1", port=port, user="test", password="test", dbname="test",
                              connect_timeout=5) as conn, conn.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM votes")
            count = cursor.fetchone()[0]
        conn.close()
        return count

    def pid_file(self) -> Path:
        return config.pid_file(self.port, ROOT, runtime=Path(self.runtime_dir))

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 15) -> int:
        """Signal the show and wait for it; whatever happens, no container of it is left."""
        try:
            if self.process.poll() is None:
                self.process.send_signal(signum)
                try:
                    self.process.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(5)
        finally:
            remove_containers_of(self.docker, self.process.pid)  # a safety net only: tests assert there are none
            shutil.rmtree(self.runtime_dir, ignore_errors=True)  # its pid file's folder, made for it
        return self.process.returncode


class Phone:
    """One audience member: a browser-like session with its own voter cookie."""

    def __init__(self, show: ShowProcess, open_page: bool = True) -> None:
        self.show = show
        self.http = requests.Session()
        if open_page:
            response = self.http.get(show.url("/qr"), timeout=5)
            assert response.status_code == 200
            assert self.http.cookies.get(show.cookie_name), "the phone page must give the phone a voter cookie"

    def vote(self, choice: str = "Python") -> requests.Response:
        return self.http.post(self.show.url("/api/vote"), json={"choice": choice}, timeout=10)


class Presenter:
    """The presenter's API client (Bearer token)."""

    def __init__(self, show: ShowProcess, token: str = TOKEN) -> None:
        self.show = show
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"

    def post(self, action: str, body: dict | None = None, timeout: float = 30) -> requests.Response:
        return self.http.post(self.show.url(f"/api/presenter/{action}"), json=body or {}, timeout=timeout)

    def ok(self, action: str, body: dict | None = None, timeout: float = 30) -> dict:
        response = self.post(action, body, timeout)
        assert response.status_code in (200, 202), f"{action}: {response.status_code} {response.text}"
        return response.json()

    def reset(self) -> None:
        self.ok("reset", timeout=60)


class _FromAddress(HTTPAdapter):
    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def session_from(address: str) -> requests.Session:
    """A requests session whose connections leave from ``address`` (every 127.x.y.z is this machine).

    The show budgets some things per client address (new voter identities, wrong presenter tokens):
    a test that spends such a budget on purpose does it from an address of its own, so the tests
    after it, from 127.0.0.1, are not refused for it.
    """
    session = requests.Session()
    adapter = _FromAddress(address)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class SocketClient:
    """A real Socket.IO client (websocket transport) that records what it receives."""

    def __init__(self, show, role: str = "dashboard", since: int = 0, token: str | None = None,
                 cookie: str | None = None) -> None:
        self.client = socketio.Client(reconnection=False)
        self.lock = threading.Lock()
        self.events: list[dict] = []
        self.batches: list[dict] = []
        self.tallies: list[dict] = []
        self.scenes: list[dict] = []
        self.hello: dict | None = None
        self.client.on("feed", self._on_feed)
        self.client.on("tally", lambda data: self._record(self.tallies, data))
        self.client.on("scene", lambda data: self._record(self.scenes, data))
        self.client.on("hello", self._on_hello)
        auth = {"role": role, "since": since}
        if token is not None:
            auth["token"] = token
        headers = {"Cookie": cookie} if cookie else {}
        self.client.connect(show.base_url, auth=auth, headers=headers, transports=["websocket"], wait_timeout=10)
        assert self.client.transport() == "websocket"

    def _record(self, bucket: list, data: dict) -> None:
        with self.lock:
            bucket.append(data)

    def _on_hello(self, data: dict) -> None:
        self.hello = data

    def _on_feed(self, payload: dict) -> None:
        with self.lock:
            self.batches.append(payload)
            self.events.extend(payload["events"])

    def seqs(self) -> list[int]:
        """Sequence numbers as a dashboard keeps them: replays overlapping the live stream dropped."""
        kept, last = [], 0
        with self.lock:
            for event in self.events:
                if event["seq"] > last:
                    kept.append(event["seq"])
                    last = event["seq"]
        return kept

    def close(self) -> None:
        """Drop the connection, like a phone leaving the Wi-Fi.

        (A polite disconnect makes websocket-client wait 3 s for a close frame the server has already
        sent: the client's reader thread consumed it. Shutting the socket down ends both at once.)
        """
        ws = getattr(self.client.eio, "ws", None)
        if ws is not None and ws.sock is not None:
            ws.sock.shutdown(socket.SHUT_RDWR)
        self.client.disconnect()
