"""What state PostgreSQL, Redis and Docker are in, known without asking them on the request path.

State comes from two sources: lifecycle events (a container starting, killed, restarted — published
by the orchestration, including a ``docker kill`` typed in a terminal) and a background probe that
asks each service once a second (four times a second while something is down or starting). Request
handlers only read the result, so ``/api/health`` and ``/api/results`` answer at once even while a
service hangs, and votes fail fast with 503 while PostgreSQL is known to be down.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

import psycopg2

from ..config import SERVICE_NAMES as NAMES
from ..config import SERVICES
from ..events import Event, EventBus

STEADY_INTERVAL = 1.0
ALERT_INTERVAL = 0.25

#: Container lifecycle action -> service state. "ready" and "restarted" mean the container answers;
#: the app counts the service as up only once its own probe (and reconnection) succeeded.
_EVENT_STATES = {"pulling": "starting", "starting": "starting", "ready": "starting", "restarted": "starting",
                 "killed": "down", "failed": "down", "stopped": "stopped"}


class PostgresProbe:
    """``SELECT 1`` over one dedicated connection, so a busy vote pool never looks like an outage."""

    def __init__(self, dsn: str | Callable[[], str], timeout: float = 1.0) -> None:
        self._dsn = dsn  # a URL, or a function returning the current one (it can change on recover)
        self.timeout = timeout
        self._conn: psycopg2.extensions.connection | None = None

    def __call__(self) -> None:
        try:
            if self._conn is None or self._conn.closed:
                dsn = self._dsn() if callable(self._dsn) else self._dsn
                self._conn = psycopg2.connect(dsn, connect_timeout=max(1, round(self.timeout)),
                                              options=f"-c statement_timeout={int(self.timeout * 1000)}",
                                              application_name="reality-engine-health")
                self._conn.autocommit = True
            with self._conn.cursor() as cursor:
                cursor.execute("SELECT 1")
        except psycopg2.Error:
            self.close()
            raise

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except psycopg2.Error:
                pass
            self._conn = None


class HealthMonitor:
    """Service states for the dashboard and the vote path, kept fresh in the background.

    ``probes`` maps a service to a callable that returns when the service answers and raises
    otherwise; ``on_up`` maps a service to work to do before it counts as up again (reconnect a
    pool, create the schema in a fresh database). Both run on the monitor's loop, never on a request.
    """

    def __init__(self, bus: EventBus, probes: dict[str, Callable[[], object]],
                 on_up: dict[str, Callable[[], str | None]] | None = None,
                 initial: dict[str, str] | None = None, after_round: Callable[[], None] | None = None) -> None:
        self.bus = bus
        self.probes = probes
        self.on_up = on_up or {}
        self.after_round = after_round
        self.states = {name: (initial or {}).get(name, "starting") for name in SERVICES}
        self.docker = "up"
        self.version = 0
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._unsubscribe = bus.subscribe(self._on_event)

    # -- reading ----------------------------------------------------------------------------------

    def usable(self, name: str) -> bool:
        return self.states.get(name) == "up"

    def snapshot(self) -> dict[str, str]:
        return dict(self.states)

    # -- events (called under the bus's lock: record and wake the loop, never publish here) ---------

    def _on_event(self, event: Event) -> None:
        if event.kind == "container" and event.service in self.states:
            new = _EVENT_STATES.get(event.action)
            # "ready"/"restarted" after the probe already confirmed the service change nothing.
            if new is not None and not (event.action in ("ready", "restarted") and self.states[event.service] == "up"):
                self._set(event.service, new)
        elif event.kind == "system" and event.action in ("docker-down", "docker-up"):
            self.docker = "down" if event.action == "docker-down" else "up"
            self.version += 1
        else:
            return
        self._wake.set()

    def _set(self, name: str, state: str) -> bool:
        with self._lock:
            if self.states[name] == state:
                return False
            self.states[name] = state
            self.version += 1
            return True

    def report_failure(self, name: str) -> None:
        """A request just found ``name`` unreachable: stop sending it work until a probe says otherwise."""
        if self.states.get(name) == "up" and self._set(name, "down"):
            self.bus.publish("service", "down", f"{NAMES[name]} stopped answering: "
                             + ("votes get 503 until it is back" if name == "postgres" else "rate limit runs locally"),
                             service=name)
        self._wake.set()

    # -- the loop ---------------------------------------------------------------------------------

    def check_once(self) -> None:
        """Probe every service once and publish what changed."""
        for name, probe in self.probes.items():
            state = self.states[name]
            try:
                probe()
            except Exception:
                # A container that is (re)starting fails probes by nature; only an "up" one going
                # quiet is news. Killed ones were announced by their own event.
                if state == "up" and self._set(name, "down"):
                    self.bus.publish("service", "down", f"{NAMES[name]} stopped answering", service=name)
                continue
            if state != "up":
                note = None
                hook = self.on_up.get(name)
                if hook is not None:
                    try:
                        note = hook()
                    except Exception:
                        continue  # not really back yet (schema, pool): next round
                # An empty note means the hook's own events already said it.
                if self._set(name, "up") and note != "":
                    self.bus.publish("service", "up", note or f"{NAMES[name]} answers", service=name)

    def run(self) -> None:
        """Probe until :meth:`stop`; call from a background task."""
        while not self._stopped.is_set():
            self.check_once()
            if self.after_round is not None:
                try:
                    self.after_round()
                except Exception:
                    pass  # a failed extra never stops the probes
            calm = all(state == "up" for state in self.states.values())
            self._wake.wait(STEADY_INTERVAL if calm else ALERT_INTERVAL)
            self._wake.clear()

    def wait_until(self, name: str, state: str, timeout: float) -> bool:
        """Block until ``name`` is in ``state`` (True) or ``timeout`` passes (False)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.states.get(name) == state:
                return True
            self._wake.set()
            time.sleep(0.02)
        return self.states.get(name) == state

    def stop(self) -> None:
        self._stopped.set()
        self._wake.set()
        self._unsubscribe()
