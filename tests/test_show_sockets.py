"""Socket.IO against the real show, over real websockets: the feed, the tally, the presenter's keys.

A dashboard must receive every event, in sequence order, with nothing lost — also across a reconnect —
and the tally must arrive coalesced (fewer messages than votes) and end equal to the database.
"""

from __future__ import annotations

import socket
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import socketio
import websocket  # noqa: F401  websocket-client: without it python-socketio silently falls back to polling

from support.show import TOKEN
from support.waiting import wait_for


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


@pytest.fixture
def dashboard(show):
    clients: list[SocketClient] = []

    def connect(**kwargs) -> SocketClient:
        client = SocketClient(show, **kwargs)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()


def test_a_dashboard_receives_every_event_in_sequence_order(fresh_show, dashboard, new_phone):
    client = dashboard()
    wait_for(lambda: client.events, 10, "the catch-up batch")

    phones = [new_phone() for _ in range(12)]
    for phone in phones:
        assert phone.vote("Go").status_code == 201
        assert phone.vote("Go").status_code == 409

    last = fresh_show.last_seq()
    wait_for(lambda: client.seqs() and client.seqs()[-1] >= last, 10, "the live feed to catch up")
    seqs = client.seqs()
    first = seqs[0]
    assert seqs == list(range(first, last + 1)), "events lost or reordered"
    assert (client.events[0]["kind"], client.events[0]["action"]) == ("system", "reset")  # history since the reset
    received = [e for e in client.events if e["kind"] == "vote"]
    assert [e["action"] for e in received].count("accepted") == 12
    assert [e["action"] for e in received].count("refused") == 12


def test_a_reconnecting_dashboard_gets_exactly_what_it_missed(fresh_show, dashboard, new_phone):
    first = dashboard()
    new_phone().vote("Rust")
    seen = wait_for(lambda: first.seqs() and first.seqs()[-1] >= fresh_show.last_seq() and first.seqs()[-1], 10,
                    "the first dashboard to see the vote")
    first.close()

    for _ in range(5):
        new_phone().vote("Java")  # published while the dashboard is away

    again = dashboard(since=seen)
    last = fresh_show.last_seq()
    wait_for(lambda: again.seqs() and again.seqs()[-1] >= last, 10, "the catch-up")
    assert again.seqs() == list(range(seen + 1, last + 1))
    assert again.batches[0]["gap"] == 0


def test_tally_updates_are_coalesced_and_end_equal_to_the_database(fresh_show, dashboard, new_phone):
    client = dashboard()
    wait_for(lambda: client.tallies, 10, "the first tally")
    phones = [new_phone() for _ in range(40)]

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda phone: phone.vote("Python").status_code, phones))

    assert statuses == [201] * 40
    wait_for(lambda: client.tallies[-1]["total"] == 40, 10, "the tally to reach 40")
    assert fresh_show.database_rows() == 40
    assert client.tallies[-1]["counts"]["Python"] == 40
    # Broadcasts are paced by time, not by votes: far fewer tally messages than votes.
    updates = [t for t in client.tallies if t["total"] > 0]
    assert len(updates) < 40


def test_a_phone_gets_the_tally_but_not_the_feed(fresh_show, dashboard, new_phone):
    phone_socket = dashboard(role="phone")
    watcher = dashboard()
    new_phone().vote("Go")
    wait_for(lambda: phone_socket.tallies and phone_socket.tallies[-1]["total"] == 1, 10, "the phone's tally")
    wait_for(lambda: any(e["kind"] == "vote" for e in watcher.events), 10, "the dashboard's feed")
    assert phone_socket.events == [] and phone_socket.scenes == []


@pytest.mark.parametrize("token", [None, "wrong-token", ""])
def test_scene_keys_need_the_presenter_and_nothing_happens_without(fresh_show, dashboard, token):
    client = dashboard(token=token) if token is not None else dashboard()
    wait_for(lambda: client.hello is not None, 10, "the server's hello")
    assert client.hello["presenter"] is False

    answer = client.client.call("scene", {"action": "next"}, timeout=5)

    assert answer["ok"] is False and answer["status"] == 403
    assert requests.get(fresh_show.url("/api/scene"), timeout=5).json()["index"] == 0


def test_the_presenter_steps_scenes_over_the_socket_and_every_dashboard_follows(fresh_show, dashboard):
    projector = dashboard()
    wait_for(lambda: projector.scenes, 10, "the projector's first scene")
    laptop = dashboard(token=TOKEN)
    wait_for(lambda: laptop.hello, 10, "the hello")
    assert laptop.hello["presenter"] is True

    answer = laptop.client.call("scene", {"action": "next"}, timeout=5)

    assert answer["ok"] is True and answer["scene"]["index"] == 1
    wait_for(lambda: projector.scenes[-1]["index"] == 1, 10, "the projector to follow")
    assert projector.scenes[-1]["scene"]["key"] == "qr-voting"
    bad = laptop.client.call("scene", {"action": "goto", "index": "x"}, timeout=5)
    assert bad["ok"] is False and bad["status"] == 400


def test_a_browser_session_logged_in_as_presenter_is_a_presenter_on_the_socket(fresh_show, dashboard):
    browser = requests.Session()
    browser.get(fresh_show.url(f"/?token={TOKEN}"), timeout=5)
    cookie = f"{fresh_show.cookie_name}={browser.cookies[fresh_show.cookie_name]}"
    client = dashboard(cookie=cookie)
    wait_for(lambda: client.hello, 10, "the hello")
    assert client.hello["presenter"] is True
    assert client.client.call("scene", {"action": "next"}, timeout=5)["ok"] is True


def test_dashboards_that_leave_before_their_catch_up_are_skipped_not_a_traceback(show, dashboard):
    """A page closed at once (a phone leaving the Wi-Fi) must not break the broadcaster's round."""
    for _ in range(10):
        SocketClient(show).close()
    watcher = dashboard()
    # Catch-ups are served in the order the dashboards connected: once this one has its batch, the
    # broadcaster has been through every one of those that left.
    wait_for(lambda: watcher.batches, 10, "the catch-up")
    assert "broadcast round failed" not in show.log()
