"""Socket.IO: the live feed and tally pushed to dashboards and phones, and the presenter's scene keys.

Nothing is sent per vote. One background task, the :class:`Broadcaster`, wakes every 50 ms and sends
what changed since its last round: the new events as one ``feed`` batch to the dashboards (at most
every 100 ms), the tally to the dashboards (at most every 150 ms) and to the phones (at most every
500 ms: hundreds of phones are most of the sockets, and a person reading a phone does not need more),
only when it changed, and the health and scene documents to the dashboards when they changed. Work
therefore grows with time, not with votes × clients.

The feed is ordered and complete: every event carries its sequence number, a dashboard that
(re)connects says the last one it saw, and the broadcaster — the only sender of feed batches — replays
what it missed before adding it to the room, so nothing arrives twice out of order or not at all.

Client events cost bounded work (a phone socket needs no login, so anyone in the room can send them):
a connection has at most one pending catch-up (repeats merge into the lowest ``since``), a replay
sends at most :data:`REPLAY_LIMIT` events (older ones are reported as ``gap``), the broadcaster yields
between clients, malformed packets are dropped and counted (:mod:`.traffic`), and a connection that
sends more than :data:`EVENT_BURST` events at once or :data:`EVENTS_PER_SECOND` for long is
disconnected (:class:`SocketGuard`).

A little over 300 lines: the three parts of one Socket.IO server — what it sends (the
broadcaster), what it lets in (the guard) and its handlers — around the same server and rooms.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Any, Callable, Hashable

import socketio as python_socketio
from flask import current_app, request, session
from flask_socketio import SocketIO, emit, join_room

from ..events import Event, missed_before
from . import socketio
from . import presenter
from .api import show
from .http_limits import claim_cut_off, shut_down
from .state import ShowState
from .traffic import FLOODING, TokenBucket, TrafficReport

log = logging.getLogger(__name__)

TICK = 0.05
FEED_INTERVAL = 0.1
TALLY_INTERVAL = 0.15
PHONE_TALLY_INTERVAL = 0.5
DASHBOARDS = "dashboards"
PHONES = "phones"
ROLE = "socket_role"
#: Events replayed to one dashboard per catch-up; the feed holds 500 and a dashboard shows far fewer.
REPLAY_LIMIT = 200
#: A connection's event budget (a token bucket): a dashboard sends a catch-up per reconnect and a
#: presenter a scene key per press, far below this; 3,000 catch-ups in a burst are not a person.
EVENTS_PER_SECOND = 20.0
EVENT_BURST = 100
#: Socket.IO packet types a client may send (binary ones: this app never uses them, and a binary
#: packet makes the library wait for attachments, holding memory per connection).
CLIENT_PACKET_TYPES = {python_socketio.packet.CONNECT, python_socketio.packet.DISCONNECT,
                       python_socketio.packet.EVENT, python_socketio.packet.ACK}
CUT_OFF_MEMORY = 10_000
MALFORMED = "malformed Socket.IO packets"


def feed_payload(events: list[Event], gap: int = 0) -> dict[str, Any]:
    return {"events": [event.to_dict() for event in events], "gap": gap}


def replay(held: list[Event], since: int, limit: int = REPLAY_LIMIT) -> tuple[list[Event], int]:
    """The newest ``limit`` of ``held`` (events after ``since``) and how many before them are not sent."""
    gap = missed_before(held, since)
    if len(held) > limit:
        gap += len(held) - limit
        held = held[-limit:]
    return held, gap


class Broadcaster:
    """The single sender of feed, tally, health and scene updates (see the module docstring)."""

    def __init__(self, server: SocketIO, state: ShowState) -> None:
        self.server = server
        self.state = state
        self._events: deque[Event] = deque()
        # At most one pending catch-up per connection (sid → lowest since asked), in arrival order.
        self._catch_ups: dict[str, int] = {}
        self._catch_ups_lock = threading.Lock()
        self._stopped = False
        self._last_feed = 0.0
        # Per room: (what was last sent, when).
        self._tallies: dict[str, tuple[Hashable, float]] = {DASHBOARDS: (None, 0.0), PHONES: (None, 0.0)}
        self._sent_health: Hashable = None
        self._sent_scene: int | None = None
        # Runs under the bus's lock, in publishing order: appending keeps that order.
        self._unsubscribe = state.bus.subscribe(self._events.append)

    def catch_up(self, sid: str, since: int) -> None:
        """Replay events after ``since`` to ``sid``, then keep it in the live feed.

        Repeats before the next round merge into one, replaying from the lowest ``since`` asked.
        """
        with self._catch_ups_lock:
            pending = self._catch_ups.get(sid)
            self._catch_ups[sid] = since if pending is None else min(pending, since)

    def _next_catch_up(self) -> tuple[str, int] | None:
        with self._catch_ups_lock:
            if not self._catch_ups:
                return None
            sid = next(iter(self._catch_ups))
            return sid, self._catch_ups.pop(sid)

    def run(self) -> None:
        while not self._stopped:
            self.server.sleep(TICK)
            try:
                self.tick()
            except Exception:  # a bad round must not end live updates for the rest of the show
                log.exception("broadcast round failed")

    def tick(self) -> None:
        now = time.monotonic()
        while (pending := self._next_catch_up()) is not None:
            self.server.sleep(0)  # one dashboard's replay at a time: votes and pages go in between
            sid, since = pending
            held, gap = replay(self.state.bus.history(since), since)
            self.server.emit("feed", feed_payload(held, gap), to=sid)
            try:
                self.server.server.enter_room(sid, DASHBOARDS, namespace="/")
            except (KeyError, ValueError):  # python-socketio's words for "no such sid", by its state
                # Gone before its first round (a page closed at once, a phone leaving the Wi-Fi):
                # nothing to join, and the other catch-ups and this round's updates still go out.
                continue
            # What changed between the connect and joining the room would otherwise wait for the next change.
            self.server.emit("tally", self.state.results(), to=sid)
            self.server.emit("health", self.state.health_document(), to=sid)
            self.server.emit("scene", self.state.scenes.snapshot(), to=sid)
        if self._events and now - self._last_feed >= FEED_INTERVAL:
            batch = []
            while self._events:
                batch.append(self._events.popleft())
            self.server.emit("feed", feed_payload(batch), to=DASHBOARDS)
            self._last_feed = now
        # Readiness too: a phone's fine print says when votes are not being stored (PostgreSQL down).
        tally_key = self.state.results_version()
        results = None
        for room, interval in ((DASHBOARDS, TALLY_INTERVAL), (PHONES, PHONE_TALLY_INTERVAL)):
            sent, at = self._tallies[room]
            if tally_key != sent and now - at >= interval:
                results = results or self.state.results()
                self.server.emit("tally", results, to=room)
                self._tallies[room] = (tally_key, now)
        health_key = self.state.health_version()
        if health_key != self._sent_health:
            self.server.emit("health", self.state.health_document(), to=DASHBOARDS)
            self._sent_health = health_key
        if self.state.scenes.version != self._sent_scene:
            self.server.emit("scene", self.state.scenes.snapshot(), to=DASHBOARDS)
            self._sent_scene = self.state.scenes.version

    def stop(self) -> None:
        self._stopped = True
        self._unsubscribe()


class SocketGuard:
    """Checks every Socket.IO packet before python-socketio handles it.

    Installed in front of the library's Engine.IO message handler: a packet that does not decode, or
    is of a type a client never sends here, is dropped and counted; a connection past its event
    budget is disconnected (once) and what it still sends is dropped. Neither prints a traceback.
    (Under gevent the server also meters a websocket's bytes as they are read: ``reality.web.gevent_server``.)
    """

    def __init__(self, server: python_socketio.Server, report: TrafficReport, rate: float = EVENTS_PER_SECOND,
                 burst: float = EVENT_BURST, clock: Callable[[], float] = time.monotonic) -> None:
        self.server = server
        self.report = report
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        # Cut-off connections, remembered past their disconnect (packets already read still arrive,
        # and must not open a new budget); the oldest forgotten beyond CUT_OFF_MEMORY.
        self._cut_off: dict[str, None] = {}
        self._handle = server.eio.handlers["message"]
        self._handle_disconnect = server.eio.handlers["disconnect"]

    def install(self) -> None:
        self.server.eio.on("message", self.on_message)
        self.server.eio.on("disconnect", self.on_disconnect)

    def on_message(self, eio_sid: str, data: object) -> None:
        if eio_sid in self._cut_off or self._closing(eio_sid):
            return  # disconnecting (its last packets are still being read): costs nothing
        now = self.clock()
        bucket = self._buckets.get(eio_sid)
        if bucket is None:
            bucket = self._buckets[eio_sid] = TokenBucket(self.rate, self.burst, now)
        if not bucket.take(now):
            self._cut_off[eio_sid] = None
            if len(self._cut_off) > CUT_OFF_MEMORY:
                del self._cut_off[next(iter(self._cut_off))]
            if claim_cut_off(self.server.environ.get(eio_sid) or {}):  # not already, for its bytes
                self.report.record(FLOODING, eio_sid)
            self._cut(eio_sid)
            return
        if not self._well_formed(data):
            self.report.record(MALFORMED, eio_sid)
            return
        try:
            self._handle(eio_sid, data)
        except Exception:  # a well-formed packet that fails is this server's bug: show it in full
            log.exception("Socket.IO event failed")

    def _closing(self, eio_sid: str) -> bool:
        # Closing (and its disconnect handler run) while still listed: packets read before the close
        # must not start a new budget for it.
        connection = self.server.eio.sockets.get(eio_sid)
        return connection is not None and (connection.closing or connection.closed)

    def _cut(self, eio_sid: str) -> None:
        """End a flooding connection now: its TCP socket first, so the rest of its flood is never parsed."""
        environ = self.server.environ.get(eio_sid) or {}  # python-socketio's environ of the connection
        if environ.get("HTTP_UPGRADE", "").lower() == "websocket" and shut_down(environ):
            # Its reader ends, and python-engineio closes the connection when the packets already
            # read are drained (dropped above), after which nothing comes from it.
            return
        # Long-polling (or a websocket upgraded from it): the library closes it; later posts get 400.
        self.server.start_background_task(self.server.eio.disconnect, eio_sid)

    def on_disconnect(self, eio_sid: str, *reason: object) -> Any:
        self._buckets.pop(eio_sid, None)
        return self._handle_disconnect(eio_sid, *reason)

    def _well_formed(self, data: object) -> bool:
        if not isinstance(data, str):
            return False
        try:
            packet = self.server.packet_class(encoded_packet=data)
        except Exception:  # whatever the decoder throws at bad input (ValueError, TypeError, …)
            return False
        if packet.packet_type not in CLIENT_PACKET_TYPES or packet.attachment_count:
            return False
        if packet.packet_type == python_socketio.packet.EVENT:  # ["name", ...arguments]
            return isinstance(packet.data, list) and bool(packet.data) and isinstance(packet.data[0], str)
        if packet.packet_type == python_socketio.packet.ACK:
            return isinstance(packet.data, list)
        return packet.data is None or isinstance(packet.data, dict)  # CONNECT's auth, DISCONNECT


def _broadcaster() -> Broadcaster:
    return current_app.extensions["reality.broadcaster"]


def _since(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _is_presenter() -> bool:
    # The same proof as HTTP, checked on every use: a logout (or a new token) ends a socket's rights too.
    return presenter.session_is_presenter(session)


@socketio.on("connect")
def on_connect(auth: object = None) -> bool:
    auth = auth if isinstance(auth, dict) else {}
    state = show()
    if "token" in auth and presenter.try_token(auth["token"]) is None:  # a wrong one counts against the address
        presenter.grant(session)
    emit("tally", state.results())
    session[ROLE] = "dashboard" if auth.get("role") == "dashboard" else "phone"
    if session[ROLE] == "phone":
        join_room(PHONES)
    else:
        # Joins the dashboards' room through the broadcaster, after replaying the missed events.
        emit("health", state.health_document())
        emit("scene", state.scenes.snapshot())
        emit("hello", {"presenter": _is_presenter(), "run": state.run_id})
        _broadcaster().catch_up(request.sid, _since(auth.get("since")))
    return True


@socketio.on("catch_up")
def on_catch_up(data: object = None) -> None:
    if session.get(ROLE) != "dashboard":
        return  # phones get the tally, not the feed
    since = _since(data.get("since")) if isinstance(data, dict) else 0
    _broadcaster().catch_up(request.sid, since)


@socketio.on("scene")
def on_scene(data: object = None) -> dict[str, Any]:
    """Presenter only: ``{"action": "next"|"previous"|"goto"|"start"|"pause"|"restart", "index": n}``."""
    if not _is_presenter():
        return {"ok": False, "status": 403, "message": "Presenter only: log in on the dashboard first."}
    if not isinstance(data, dict) or not isinstance(data.get("action"), str):
        return {"ok": False, "status": 400, "message": "Send {\"action\": \"next\"} or similar."}
    try:
        show().scenes.apply(data["action"], data.get("index"))
    except ValueError as exc:
        return {"ok": False, "status": 400, "message": str(exc)}
    return {"ok": True, "status": 200, "scene": show().scenes.snapshot()}
