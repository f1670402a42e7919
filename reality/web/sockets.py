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
"""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import Any

from flask import current_app, request, session
from flask_socketio import SocketIO, emit, join_room

from ..events import Event
from . import socketio
from . import presenter
from .state import ShowState

log = logging.getLogger(__name__)

TICK = 0.05
FEED_INTERVAL = 0.1
TALLY_INTERVAL = 0.15
PHONE_TALLY_INTERVAL = 0.5
DASHBOARDS = "dashboards"
PHONES = "phones"
ROLE = "socket_role"


def feed_payload(events: list[Event], gap: int = 0) -> dict[str, Any]:
    return {"events": [event.to_dict() for event in events], "gap": gap}


class Broadcaster:
    """The single sender of feed, tally, health and scene updates (see the module docstring)."""

    def __init__(self, server: SocketIO, state: ShowState) -> None:
        self.server = server
        self.state = state
        self._events: deque[Event] = deque()
        self._catch_ups: deque[tuple[str, int]] = deque()
        self._stopped = False
        self._last_feed = 0.0
        # Per room: (what was last sent, when).
        self._tallies: dict[str, tuple[tuple[int, str, bool] | None, float]] = {DASHBOARDS: (None, 0.0), PHONES: (None, 0.0)}
        self._sent_health: tuple | None = None
        self._sent_scene: int | None = None
        # Runs under the bus's lock, in publishing order: appending keeps that order.
        self._unsubscribe = state.bus.subscribe(self._events.append)

    def catch_up(self, sid: str, since: int) -> None:
        """Replay events after ``since`` to ``sid``, then keep it in the live feed."""
        self._catch_ups.append((sid, since))

    def run(self) -> None:
        while not self._stopped:
            self.server.sleep(TICK)
            try:
                self.tick()
            except Exception:  # a bad round must not end live updates for the rest of the show
                log.exception("broadcast round failed")

    def tick(self) -> None:
        now = time.monotonic()
        while self._catch_ups:
            sid, since = self._catch_ups.popleft()
            held = self.state.bus.history(since)
            gap = max(0, held[0].seq - since - 1) if held and since > 0 else 0
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
        tally_key = (self.state.results_cache.version, self.state.mode, self.state.votes_stored())
        results = None
        for room, interval in ((DASHBOARDS, TALLY_INTERVAL), (PHONES, PHONE_TALLY_INTERVAL)):
            sent, at = self._tallies[room]
            if tally_key != sent and now - at >= interval:
                results = results or self.state.results()
                self.server.emit("tally", results, to=room)
                self._tallies[room] = (tally_key, now)
        limiter = self.state.limiter
        health_key = (self.state.version, self.state.health.version, limiter.backend, limiter.enabled,
                      self.state.tests.running)
        if health_key != self._sent_health:
            self.server.emit("health", self.state.health_document(), to=DASHBOARDS)
            self._sent_health = health_key
        if self.state.scenes.version != self._sent_scene:
            self.server.emit("scene", self.state.scenes.snapshot(), to=DASHBOARDS)
            self._sent_scene = self.state.scenes.version

    def stop(self) -> None:
        self._stopped = True
        self._unsubscribe()


def _state() -> ShowState:
    return current_app.extensions["reality"]


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
    state = _state()
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
        _state().scenes.apply(data["action"], data.get("index"))
    except ValueError as exc:
        return {"ok": False, "status": 400, "message": str(exc)}
    return {"ok": True, "status": 200, "scene": _state().scenes.snapshot()}
