"""What state PostgreSQL, Redis and Docker are in, known without asking them on the request path.

State comes from two sources: lifecycle events (a container starting, killed, restarted — published
by the orchestration, including a ``docker kill`` typed in a terminal) and the monitor's own probes,
which ask each service once a second (four times a second while something is down or starting) over
a connection of their own. Request handlers only read the result, so ``/api/health`` and
``/api/results`` answer at once even while a service hangs, and votes fail fast with 503 while
PostgreSQL is known to be down. "Is Redis up?" is answered here, by a PING, and nowhere else.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Protocol

import psycopg2
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ..config import SERVICE_NAMES as NAMES
from ..config import SERVICES
from ..events import Event, EventBus
from ..vocabulary import ContainerAction, Kind, ServiceState, SystemAction

STEADY_INTERVAL = 1.0
ALERT_INTERVAL = 0.25

#: Container lifecycle action -> service state. "ready" and "restarted" mean the container answers;
#: the app counts the service as up only once its own probe (and reconnection) succeeded.
_EVENT_STATES = {ContainerAction.PULLING: ServiceState.STARTING, ContainerAction.STARTING: ServiceState.STARTING,
                 ContainerAction.READY: ServiceState.STARTING, ContainerAction.RESTARTED: ServiceState.STARTING,
                 ContainerAction.KILLED: ServiceState.DOWN, ContainerAction.FAILED: ServiceState.DOWN,
                 ContainerAction.STOPPED: ServiceState.STOPPED}

Address = str | Callable[[], str]  # a URL, or a function returning the current one (it can change on recover)


def _current(address: Address) -> str:
    return address() if callable(address) else address


class PostgresProbe:
    """``SELECT 1`` over one dedicated connection, so a busy vote pool never looks like an outage."""

    def __init__(self, dsn: Address, timeout: float = 1.0) -> None:
        self._dsn = dsn
        self.timeout = timeout
        self._conn: psycopg2.extensions.connection | None = None

    def __call__(self) -> None:
        try:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg2.connect(_current(self._dsn), connect_timeout=max(1, round(self.timeout)),
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


class RedisProbe:
    """``PING`` over a client of its own: short timeouts, no retries (a dead Redis answers in a blink)."""

    def __init__(self, url: Address, timeout: float = 0.5) -> None:
        self._url = url
        self.timeout = timeout
        self._client: redis.Redis | None = None

    def __call__(self) -> None:
        try:
            if self._client is None:
                self._client = redis.Redis.from_url(_current(self._url), socket_timeout=self.timeout,
                                                    socket_connect_timeout=self.timeout, retry=Retry(NoBackoff(), 0))
            self._client.ping()
        except redis.RedisError:
            self.close()  # a recovered Redis may answer at another address: the next probe reads it again
            raise

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except redis.RedisError:
                pass


class Readiness(Protocol):
    """Work to do before a service that answers again counts as up (reconnect a pool, create the schema).

    Returns the note to publish (``None``: the default "… answers", ``""``: nothing, its own events
    said it); raising means "not really back yet": the next round tries again.
    """

    def before_up(self, name: str) -> str | None: ...


class HealthMonitor:
    """Service states for the dashboard and the vote path, kept fresh by its own probes.

    ``postgres`` and ``redis`` are the services' addresses (none: that service is not probed);
    ``readiness`` runs on the monitor's round, never on a request (see :class:`Readiness`).
    """

    def __init__(self, bus: EventBus, *, postgres: Address | None = None, redis_url: Address | None = None,
                 initial: dict[str, str] | None = None, readiness: Readiness | None = None) -> None:
        self.bus = bus
        self.probes: dict[str, Callable[[], object]] = {}
        if postgres is not None:
            self.probes["postgres"] = PostgresProbe(postgres)
        if redis_url is not None:
            self.probes["redis"] = RedisProbe(redis_url)
        self.readiness = readiness
        self.states = {name: (initial or {}).get(name, ServiceState.STARTING) for name in SERVICES}
        if "redis" not in self.probes:
            self.states["redis"] = ServiceState.STOPPED  # no Redis configured: the limit runs locally
        self.docker = ServiceState.UP
        self.version = 0
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._unsubscribe = bus.subscribe(self._on_event)

    # -- reading ----------------------------------------------------------------------------------

    def usable(self, name: str) -> bool:
        return self.states.get(name) == ServiceState.UP

    def down(self, name: str) -> bool:
        """Down or stopped: the presenter's Recover brings it back (starting is on its way already)."""
        return self.states.get(name) in (ServiceState.DOWN, ServiceState.STOPPED)

    def probed(self, name: str) -> bool:
        return name in self.probes

    def snapshot(self) -> dict[str, str]:
        return dict(self.states)

    # -- events (called under the bus's lock: record and wake the loop, never publish here) ---------

    def _on_event(self, event: Event) -> None:
        if event.kind == Kind.CONTAINER and event.service in self.states:
            new = _EVENT_STATES.get(event.action)
            # "ready"/"restarted" after the probe already confirmed the service change nothing.
            settled = event.action in (ContainerAction.READY, ContainerAction.RESTARTED) and self.usable(event.service)
            if new is not None and not settled:
                self._set(event.service, new)
        elif event.kind == Kind.SYSTEM and event.action in (SystemAction.DOCKER_DOWN, SystemAction.DOCKER_UP):
            self.docker = ServiceState.DOWN if event.action == SystemAction.DOCKER_DOWN else ServiceState.UP
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
        if self.usable(name) and self._set(name, ServiceState.DOWN):
            self.bus.publish(Kind.SERVICE, ServiceState.DOWN, f"{NAMES[name]} stopped answering: "
                             + ("votes get 503 until it is back" if name == "postgres" else "rate limit runs locally"),
                             service=name)
        self._wake.set()

    # -- the rounds -------------------------------------------------------------------------------

    def check_once(self) -> None:
        """Probe every service once and publish what changed."""
        for name, probe in self.probes.items():
            state = self.states[name]
            try:
                probe()
            except Exception:
                # A container that is (re)starting fails probes by nature; only an "up" one going
                # quiet is news. Killed ones were announced by their own event.
                if state == ServiceState.UP and self._set(name, ServiceState.DOWN):
                    self.bus.publish(Kind.SERVICE, ServiceState.DOWN, f"{NAMES[name]} stopped answering", service=name)
                continue
            if state != ServiceState.UP:
                note = None
                if self.readiness is not None:
                    try:
                        note = self.readiness.before_up(name)
                    except Exception:
                        continue  # not really back yet (schema, pool): next round
                # An empty note means the readiness work's own events already said it.
                if self._set(name, ServiceState.UP) and note != "":
                    self.bus.publish(Kind.SERVICE, ServiceState.UP, note or f"{NAMES[name]} answers", service=name)

    def pause(self) -> None:
        """Wait until the next round is due: soon while something is not up, or at once on news."""
        calm = all(state == ServiceState.UP for state in self.states.values())
        self._wake.wait(STEADY_INTERVAL if calm else ALERT_INTERVAL)
        self._wake.clear()

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

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
