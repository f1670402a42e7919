"""The show's app in this process: ``create_app`` on the real PostgreSQL (and Redis), no server, no port.

Flask's test client plays the phones and the presenter, Flask-SocketIO's test client the dashboards:
a contract test runs in milliseconds, through the same routes and socket handlers as the show. What
only a real process shows (signals, port binding, chaos kills, the browser, the WSGI server) is in
:mod:`support.show`.

    app = build_app(store)              # the tests' presenter TOKEN, the health probe run once
    phone = Phone(app)
    assert phone.vote("Go").status_code == 201

Product code the tests reach beyond ``create_app`` (the show's state, its broadcaster) is reached
here only, so a change inside the app is fixed in one place.
"""

from __future__ import annotations

import threading
from typing import Any, Iterator

import psycopg2
from flask import Flask
from flask.testing import FlaskClient

from reality.events import EventBus
from reality.public_url import PublicAddress, phone_url
from reality.votes import Store
from reality.web import create_app, shutdown, socketio

from .show import OPTIONS, QUESTION, TOKEN

__all__ = ["BEARER", "OPTIONS", "QUESTION", "TOKEN", "LocalShow", "Phone", "Presenter", "Socket", "broadcaster", "browser",
           "build_app", "close_app", "show_state", "socket_guard", "socketio", "traffic"]

BEARER = {"Authorization": f"Bearer {TOKEN}"}
#: The port the in-process show pretends to serve on: it names the cookie (``reality-5001``), as it does
#: for a show started with ``--port 5001``; nothing listens there.
PORT = 5001


def build_app(store: Store, *, redis_url: str | None = None, public: PublicAddress | None = None,
              **settings: Any) -> Flask:
    """The show's app on ``store``: threads (no gevent), a known token, the health probe run once.

    No task runs by itself (the health loop, the broadcaster): the test drives them. The probe's
    first round is run here, so PostgreSQL counts as up when it answers. ``settings`` override.
    """
    app = create_app({"PRESENTER_TOKEN": TOKEN, "ASYNC_MODE": "threading", "BACKGROUND_TASKS": False,
                      "REDIS_URL": redis_url, **settings}, bus=EventBus(), store=store, public=public)
    show_state(app).health.check_once()
    return app


def close_app(app: Flask) -> None:
    """Shut the app down, and close its health probe's PostgreSQL connection.

    The show leaves that connection to the process's exit (its health loop may be inside a query);
    here no loop runs, and a test session builds hundreds of apps on one PostgreSQL.
    """
    shutdown(app)
    probe = show_state(app).health.probes.get("postgres")
    if probe is not None and hasattr(probe, "close") and not app.config["BACKGROUND_TASKS"]:
        probe.close()


def show_state(app: Flask) -> Any:
    """The show's live state behind ``app`` (votes, mode, health, scenes)."""
    return app.extensions["reality"]


def broadcaster(app: Flask) -> Any:
    """The app's broadcaster (the one sender of feed, tally, health and scene updates): ``tick()`` is one round."""
    return app.extensions["reality.broadcaster"]


def socket_guard(app: Flask) -> Any:
    """The app's guard in front of python-socketio (malformed packets, floods)."""
    return app.extensions["reality.socket_guard"]


def traffic(app: Flask) -> Any:
    """The app's report of dropped traffic (what the terminal's summary lines count)."""
    return app.extensions["reality.traffic"]


def lan_address(port: int = PORT) -> PublicAddress:
    """Where phones would reach a show listening on all interfaces, as reality_engine.py works it out."""
    return phone_url(port, env={}, listen="0.0.0.0")


def browser(app: Flask, address: str = "127.0.0.1", **headers: str) -> FlaskClient:
    """Flask's test client as a browser (or a script) at client ``address``, sending ``headers`` with every request."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    for name, value in headers.items():
        client.environ_base["HTTP_" + name.upper().replace("-", "_")] = value
    return client


class Phone:
    """One audience member: its own cookie jar, the phone page opened (``open_page``) for its voter cookie."""

    def __init__(self, app: Flask, address: str = "127.0.0.1", open_page: bool = True) -> None:
        self.app = app
        self.http = browser(app, address)
        if open_page:
            page = self.http.get("/qr")
            assert page.status_code == 200, page.status_code
            assert self.cookie(), "the phone page must give the phone a voter cookie"

    def cookie(self) -> str | None:
        """The voter cookie's value (signed by the show)."""
        found = self.http.get_cookie(self.app.config["SESSION_COOKIE_NAME"])
        return found.value if found else None

    def vote(self, choice: str = "Python"):
        return self.http.post("/api/vote", json={"choice": choice})


class Presenter:
    """The presenter's API client (the Bearer token on every request)."""

    def __init__(self, app: Flask, token: str = TOKEN) -> None:
        self.http = browser(app, Authorization=f"Bearer {token}")

    def post(self, action: str, body: object = None):
        return self.http.post(f"/api/presenter/{action}", json=body if body is not None else {})

    def ok(self, action: str, body: object = None) -> dict:
        response = self.post(action, body)
        assert response.status_code in (200, 202), f"{action}: {response.status_code} {response.text}"
        return response.json

    def reset(self) -> None:
        self.ok("reset")


class Socket:
    """A Socket.IO connection through Flask-SocketIO's test client, recording what the show sent it.

    The received packets are read without taking them off the client's queue: the broadcaster adds
    to it from its own thread, and taking them off while it adds could drop one.
    """

    def __init__(self, app: Flask, *, role: str = "dashboard", since: int = 0, token: str | None = None,
                 browser: FlaskClient | None = None) -> None:
        """``browser``: a Flask test client whose cookies (a voter's, a presenter's session) the socket sends."""
        auth: dict[str, Any] = {"role": role, "since": since}
        if token is not None:
            auth["token"] = token
        self.client = socketio.test_client(app, flask_test_client=browser, auth=auth)
        assert self.client.is_connected()

    def received(self, name: str) -> list[Any]:
        """The first argument of every ``name`` event received so far, in order."""
        return [packet["args"][0] for packet in list(self.client.queue) if packet["name"] == name]

    @property
    def hello(self) -> dict | None:
        hellos = self.received("hello")
        return hellos[-1] if hellos else None

    def events(self) -> list[dict]:
        return [event for batch in self.received("feed") for event in batch["events"]]

    def seqs(self) -> list[int]:
        """Sequence numbers as a dashboard keeps them: replays overlapping the live stream dropped."""
        kept, last = [], 0
        for event in self.events():
            if event["seq"] > last:
                kept.append(event["seq"])
                last = event["seq"]
        return kept

    def call(self, event: str, data: object) -> Any:
        """Send ``event`` and return the show's answer (its acknowledgement)."""
        return self.client.emit(event, data, callback=True)

    def close(self) -> None:
        if self.client.is_connected():
            self.client.disconnect()


class LocalShow:
    """The whole show's app in this process, read the way the show's tests read a running show.

    Real PostgreSQL and Redis (the test session's containers), the show's question and options, a
    phone address as reality_engine.py computes it. No container control: chaos and recover need the
    real process (:mod:`support.show`).
    """

    def __init__(self, app: Flask, postgres_url: str) -> None:
        self.app = app
        self.postgres_url = postgres_url
        self.presenter = Presenter(app)
        self._broadcasting: threading.Thread | None = None
        self._sockets: list[Socket] = []

    @property
    def cookie_name(self) -> str:
        return self.app.config["SESSION_COOKIE_NAME"]

    @property
    def state(self) -> Any:
        return show_state(self.app)

    def phone(self, address: str = "127.0.0.1", open_page: bool = True) -> Phone:
        return Phone(self.app, address, open_page)

    def browser(self, address: str = "127.0.0.1", **headers: str) -> FlaskClient:
        return browser(self.app, address, **headers)

    def get(self, path: str, **options: Any):
        return self.app.test_client().get(path, **options)

    def results(self) -> dict:
        return self.get("/api/results").json

    def health(self) -> dict:
        return self.get("/api/health").json

    def feed(self, since: int = 0) -> list[dict]:
        return self.get(f"/api/feed?since={since}").json["events"]

    def last_seq(self) -> int:
        events = self.feed()
        return events[-1]["seq"] if events else 0

    def database_rows(self) -> int:
        """Rows in the real ``votes`` table, read straight from PostgreSQL."""
        with psycopg2.connect(self.postgres_url, connect_timeout=5) as conn, conn.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM votes")
            count = cursor.fetchone()[0]
        conn.close()
        return count

    def socket(self, **options: Any) -> Socket:
        """A dashboard (or ``role="phone"``) connected over Flask-SocketIO's test client; closed after the test."""
        connection = Socket(self.app, **options)
        self._sockets.append(connection)
        return connection

    def start_broadcasting(self) -> None:
        """Run the show's broadcaster (feed batches, tallies, scenes) on a thread, as the show runs it."""
        self._broadcasting = threading.Thread(target=broadcaster(self.app).run, name="broadcaster", daemon=True)
        self._broadcasting.start()

    def close(self) -> None:
        for connection in self._sockets:
            connection.close()
        close_app(self.app)  # stops the broadcaster too
        if self._broadcasting is not None:
            self._broadcasting.join(5)


def local_show(store: Store, postgres_url: str, redis_url: str, **settings: Any) -> Iterator[LocalShow]:
    """A :class:`LocalShow` for one test (a generator for a fixture: shut down after it)."""
    app = build_app(store, redis_url=redis_url, public=lan_address(), PORT=PORT, QUESTION=QUESTION,
                    OPTIONS=",".join(OPTIONS), TESTING=True, **settings)
    show = LocalShow(app, postgres_url)
    try:
        yield show
    finally:
        show.close()
