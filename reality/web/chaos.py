"""Chaos and recovery: killing a service's container for real, bringing it back, and reconnecting.

:class:`Chaos` kills and recovers through the orchestration's controller (the web app knows no
containers); :class:`Reconnection` is what the health monitor runs before a service that answers
again counts as up (fresh pooled connections, the schema in a fresh database, a re-read tally);
:class:`ServiceChanges` remembers since when each service is in its state, for the chaos tiles.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Protocol

from ..config import SERVICE_NAMES as NAMES
from ..config import SERVICES
from ..errors import RealityError, first_line
from ..events import EventBus
from ..votes import StoreBusy, StoreUnavailable, VoteStore
from ..vocabulary import ChaosAction, Kind, Mode, ServiceState
from .answers import ActionRefused, Obstacle
from .ballot import Ballot
from .health import HealthMonitor

#: How long a Recover waits for the app to use the service again before answering.
RECOVER_WAIT = 15.0


class Controller(Protocol):
    """What the show needs from container orchestration (``reality.orchestration.Infrastructure`` fits)."""

    def kill(self, name: str) -> None: ...
    def recover(self, name: str) -> bool: ...
    def state(self, name: str) -> ServiceState: ...


class Chaos:
    """The presenter's Kill and Recover buttons: one action at a time (``control``), answers as values."""

    def __init__(self, *, infra: Controller | None, health: HealthMonitor, bus: EventBus, ballot: Ballot,
                 control: threading.Lock) -> None:
        self.infra = infra
        self.health = health
        self.bus = bus
        self.ballot = ballot
        self._control = control

    def _controller(self) -> Controller:
        if self.infra is None:
            raise ActionRefused(Obstacle.NOT_NOW,
                                "This app was started without container control: nothing to kill or recover.")
        if self.health.docker == ServiceState.DOWN:
            raise ActionRefused(Obstacle.SERVICE_DOWN,
                                "The Docker engine is unreachable: containers cannot be killed or recovered now.")
        return self.infra

    @staticmethod
    def _target(target: object) -> str:
        if target not in SERVICES:
            raise ActionRefused(Obstacle.BAD_INPUT, "target must be “redis” or “postgres”.")
        return str(target)

    def kill(self, target: object) -> str:
        """Kill a service's container for real."""
        name = self._target(target)
        infra = self._controller()
        with self._control:
            if self.health.down(name):
                raise ActionRefused(Obstacle.NOT_NOW, f"{NAMES[name]} is already down: press Recover to bring it back.")
            consequence = ("votes keep working, the rate limit falls back to local memory" if name == "redis"
                           else "votes will be refused with a clear 503 until it is back")
            self.bus.publish(Kind.CHAOS, ChaosAction.KILL, f"Chaos! Killing {NAMES[name]}: {consequence}", service=name)
            try:
                infra.kill(name)
            except RealityError as exc:
                raise ActionRefused(Obstacle.NOT_NOW, str(exc)) from exc
        # The container's "killed" event marks it down and wakes the health loop, which moves the
        # rate limit to local memory at once (see ShowState.maintain).
        return f"{NAMES[name]} killed: {consequence}."

    def recover(self, target: object) -> tuple[str, bool]:
        """Bring a service back; returns (message, whether its data survived)."""
        name = self._target(target)
        infra = self._controller()
        with self._control:
            if self.health.usable(name):
                return f"{NAMES[name]} is already up.", True
            self.bus.publish(Kind.CHAOS, ChaosAction.RECOVER, f"Recovering {NAMES[name]}…", service=name)
            try:
                kept = infra.recover(name)
            # Docker itself may be failing (engine restarting, image removed): one line, no 500.
            except Exception as exc:
                reason = first_line(exc)
                self.bus.publish(Kind.CHAOS, ChaosAction.FAILED, f"{NAMES[name]} could not be recovered: {reason}",
                                 service=name)
                raise ActionRefused(Obstacle.SERVICE_DOWN, f"{NAMES[name]} could not be recovered: {reason}") from exc
        if not self.health.wait_until(name, ServiceState.UP, RECOVER_WAIT):
            raise ActionRefused(Obstacle.SERVICE_DOWN,
                                f"{NAMES[name]} restarted but does not answer yet: try Recover again.")
        if name == "redis":
            return "Redis is back: the rate limit is counted in Redis again.", kept
        if kept:
            # PostgreSQL's own count: in fantasy mode the tally on screen is the mock's.
            try:
                stored = self.ballot.real_store.total()
            except (StoreUnavailable, StoreBusy):
                stored = self.ballot.results_cache.snapshot()["total"]
            return f"PostgreSQL is back with its data: {stored} vote(s) kept.", True
        return "PostgreSQL is back as a fresh, empty database: earlier votes are gone.", False

    def recover_all(self) -> None:
        """Bring back every probed service that is down (before a reset), when Docker answers."""
        if self.infra is None or self.health.docker != ServiceState.UP:
            return
        for name in SERVICES:
            if self.health.down(name) and self.health.probed(name):
                self.recover(name)


class Reconnection:
    """Before a service counts as up again: PostgreSQL's pool renewed, its schema, the tally re-read.

    ``notice`` puts a line on the dashboard that stays (a fresh, empty database is news the
    presenter must not miss).
    """

    def __init__(self, ballot: Ballot, notice: Callable[[str], None]) -> None:
        self.ballot = ballot
        self.notice = notice
        self._seen_up: set[str] = set()

    def before_up(self, name: str) -> str | None:
        first = name not in self._seen_up
        if name == "redis":
            self._seen_up.add(name)
            # After an outage the rate limiter announces the return itself ("counted in Redis again").
            return "Redis answers: the rate limit is counted in Redis" if first else ""
        return self._postgres_back(first)

    def _postgres_back(self, first: bool) -> str:
        ballot = self.ballot
        store = ballot.real_store
        before = ballot.results_cache.snapshot()["total"] if ballot.mode == Mode.REALITY else None
        if isinstance(store, VoteStore):
            if not first:
                store.reconnect()  # pooled connections from before the outage are dead sockets
            store.init_schema()  # a fresh container has no table yet
        total = store.total()
        self._seen_up.add("postgres")
        ballot.reload_results()
        if first:
            return "PostgreSQL answers: ready for votes"
        if before and total == 0:
            # Said out loud on the dashboard: a fresh container is an empty database.
            self.notice(f"PostgreSQL came back as a fresh, empty database: the {before} earlier vote(s) are gone.")
            return f"PostgreSQL answers again, as a fresh, empty database: the {before} earlier vote(s) are gone"
        if before is not None and total < before:
            return f"PostgreSQL answers again: {total} of {before} vote(s) kept"
        if total == 0:
            return "PostgreSQL answers again: votes are accepted"
        return f"PostgreSQL answers again: votes are accepted, all {total} vote(s) kept"


class ServiceChanges:
    """Since when each service is in its state, with the room's counts at that moment.

    The chaos tiles show "down since 14:02:11 · 12 votes refused meanwhile": the room's counts now
    minus the counts recorded here. Recorded when a health document first sees the change (the
    broadcaster asks for one as soon as a state changes).
    """

    def __init__(self, ballot: Ballot) -> None:
        self.ballot = ballot
        self._changes: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def seen(self, states: dict[str, str]) -> dict[str, dict[str, Any]]:
        with self._lock:
            for name, state in states.items():
                known = self._changes.get(name)
                if known is None or known["state"] != state:
                    self._changes[name] = {"state": state, "since": round(time.time(), 3),
                                           "total": self.ballot.results_cache.snapshot()["total"],
                                           "outage_refused": self.ballot.counters.outage_refused}
            return {name: dict(change) for name, change in self._changes.items()}

    def clear(self) -> None:
        """The chaos tiles count from a clean slate."""
        with self._lock:
            self._changes.clear()
