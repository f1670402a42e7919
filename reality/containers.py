"""Container orchestration: the only module that knows Testcontainers.

:class:`Infrastructure` starts PostgreSQL and Redis (in parallel), waits until each answers, hands out
connection URLs, kills, stops and recovers each one, and reports every lifecycle step as an event on
an :class:`~reality.events.EventBus`. Containers carry Testcontainers' ``org.testcontainers.*`` labels and
the project's own, so that :func:`remove_containers` (and ``cleanup.py``) can always find them, with or
without the Ryuk reaper.

    >>> with Infrastructure(role="example") as infra:           # doctest: +SKIP
    ...     infra.start("postgres")
    ...     psycopg2.connect(infra.postgres_url)
"""

from __future__ import annotations

import atexit
import os
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import docker
import psycopg2
import redis
from docker.errors import DockerException, NotFound
from redis.backoff import NoBackoff
from redis.retry import Retry
from testcontainers.community.postgres import PostgresContainer
from testcontainers.community.redis import RedisContainer
from testcontainers.core.config import testcontainers_config
from testcontainers.core.container import DockerContainer
from testcontainers.core.labels import LABEL_SESSION_ID, SESSION_ID
from testcontainers.core.waiting_utils import WaitStrategy, WaitStrategyTarget

from . import docker_engine
from .config import (
    CHECKOUT,
    LABEL_HOST,
    LABEL_PID,
    LABEL_PROJECT,
    LABEL_ROLE,
    LABEL_SERVICE,
    POSTGRES_DB,
    POSTGRES_PASSWORD,
    POSTGRES_USER,
    PROJECT,
    SERVICE_NAMES,
    SERVICES,
)
from .errors import ContainerStartError, DockerUnavailable, RealityError
from .events import EventBus
from .owners import UNKNOWN_CHECKOUT, kit_verdict, owner_labels, parse_docker_time
from .provision import RYUK_IMAGE, ImageResolution, is_present, resolve_image

#: How often readiness is probed. Testcontainers' default is one second, which alone would double
#: the time a test session waits for a container that is ready in 0.3 s.
POLL_INTERVAL = 0.02
STARTUP_TIMEOUT = 60
#: How long a stop waits for container starts under way to give up (one readiness poll, normally).
STOP_WAIT = 5.0

#: Durability settings that only a throwaway database can afford: nothing here must survive a crash.
FAST_POSTGRES = ["postgres", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]

NAMES = SERVICE_NAMES
#: Containers publish their ports on loopback only, and are reached there (see ``_build``)
#: unless their bridge address answers (see ``Infrastructure._locate``).
LOOPBACK = "127.0.0.1"
INTERNAL_PORTS = {"postgres": 5432, "redis": 6379}
#: How long a bridge address may take to accept a connection before the published port is used.
DIRECT_PROBE_TIMEOUT = 0.2


def direct_connect_wanted() -> bool:
    """Whether to try the containers' bridge addresses (Linux, unless ``REALITY_DIRECT_CONNECT=0``)."""
    return sys.platform.startswith("linux") and os.environ.get("REALITY_DIRECT_CONNECT", "1").strip() != "0"


class StartCancelled(Exception):
    """The run is shutting down: a container's readiness is no longer awaited."""


class _CancellableWait(WaitStrategy):
    """A wait that gives up at the next poll once ``cancel`` is set (Ctrl+C during boot)."""

    def __init__(self, cancel: threading.Event | None = None) -> None:
        super().__init__()
        self.cancel = cancel or threading.Event()
        self.with_poll_interval(POLL_INTERVAL).with_startup_timeout(STARTUP_TIMEOUT)

    def _check(self, probe) -> bool:
        if self.cancel.is_set():
            raise StopIteration  # ends Testcontainers' poll loop at once
        return probe()

    def _wait(self, probe, what: str) -> None:
        if not self._poll(lambda: self._check(probe)):
            if self.cancel.is_set():
                raise StartCancelled(f"stopped waiting for {what}: shutting down")
            raise TimeoutError(f"{what} did not answer within {STARTUP_TIMEOUT} s")


class QueryWaitStrategy(_CancellableWait):
    """Ready when PostgreSQL answers ``SELECT 1`` from the host, polled every ``POLL_INTERVAL``."""

    def __init__(self, cancel: threading.Event | None = None) -> None:
        super().__init__(cancel)
        self.with_transient_exceptions(psycopg2.OperationalError)

    def wait_until_ready(self, container: WaitStrategyTarget) -> None:
        def answers() -> bool:
            url = container.get_connection_url(host=LOOPBACK, driver=None)
            with psycopg2.connect(url, connect_timeout=2) as conn:
                with conn.cursor() as cursor:
                    cursor.execute("SELECT 1")
            conn.close()
            return True

        self._wait(answers, "PostgreSQL")


class PingWaitStrategy(_CancellableWait):
    """Ready when Redis answers ``PING`` from the host, polled every ``POLL_INTERVAL``."""

    def __init__(self, cancel: threading.Event | None = None) -> None:
        super().__init__(cancel)
        self.with_transient_exceptions(redis.exceptions.ConnectionError)

    def wait_until_ready(self, container: WaitStrategyTarget) -> None:
        def pong() -> bool:
            # No retries inside the probe: redis-py's default back-off (with jitter, up to a second)
            # would hold a refused PING while the next poll, 20 ms later, could already succeed.
            client = redis.Redis(host=LOOPBACK, port=container.get_exposed_port(INTERNAL_PORTS["redis"]),
                                 socket_connect_timeout=1, socket_timeout=1, retry=Retry(NoBackoff(), 0))
            try:
                return client.ping()
            finally:
                client.close()

        self._wait(pong, "Redis")


class FastPostgresContainer(PostgresContainer):
    """``PostgresContainer`` whose readiness check is a query from the host (see :class:`QueryWaitStrategy`)."""

    def __init__(self, *args, cancel: threading.Event | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.cancel = cancel

    def _connect(self) -> None:
        QueryWaitStrategy(self.cancel).wait_until_ready(self)


PORT_ATTEMPTS = 3  # starts of one container when the port we picked was taken before Docker bound it


def _port_clash(exc: BaseException) -> bool:
    """Whether Docker refused a start because the host port is in use (its words vary by version)."""
    text = str(exc).lower()
    return "address already in use" in text or "port is already allocated" in text


def free_port() -> int:
    """A TCP port free on this host right now."""
    with socket.socket() as sock:
        sock.bind(("", 0))
        return sock.getsockname()[1]


def project_labels(service: str, role: str) -> dict[str, str]:
    return {
        LABEL_PROJECT: PROJECT,
        LABEL_SERVICE: service,
        LABEL_ROLE: role,
        **owner_labels(os.getpid()),
        LABEL_HOST: socket.gethostname(),
    }


def configure_reaper(client: docker.DockerClient) -> str | None:
    """Disable Ryuk when its image is not on this machine; returns a note saying so, or ``None``.

    Testcontainers would otherwise try to pull it and fail on a machine with no registry. Our own
    cleanup (context managers, signal handlers, labels, ``cleanup.py``) covers what Ryuk would do.
    """
    if testcontainers_config.ryuk_disabled:
        return None
    if os.environ.get("TESTCONTAINERS_RYUK_DISABLED") is None and not is_present(client, testcontainers_config.ryuk_image):
        testcontainers_config.ryuk_disabled = True
        return (f"Ryuk ({RYUK_IMAGE}) is not on this machine: reaper disabled; "
                "Reality Engine removes its own containers (and cleanup.py catches leftovers).")
    return None


def reaper_environment() -> dict[str, str]:
    """This process's reaper setting, for a child process that starts containers of its own."""
    return {"TESTCONTAINERS_RYUK_DISABLED": "true"} if testcontainers_config.ryuk_disabled else {}


@dataclass
class Service:
    """One backing service of a run and where it stands."""

    name: str
    image: ImageResolution | None = None
    state: str = "stopped"  # starting | up | down | stopped
    host_port: int | None = None
    #: The container's own address on Docker's bridge, when it answers from here (else None: the
    #: published port on loopback is used).
    direct: tuple[str, int] | None = None
    container: DockerContainer | None = None
    startup_seconds: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def container_id(self) -> str | None:
        wrapped = self.container._container if self.container else None
        return wrapped.id if wrapped else None


class Infrastructure:
    """PostgreSQL and Redis for one run (the show, a test session, the workshop).

    ``disposable`` containers are created with Docker's auto-remove: stopping one kills it and does
    not wait for Docker to delete it (about 0.2 s of a test session's end). Not for the show: a
    container killed by chaos must stay, to be restarted with its data.

    ``direct``: hand out the containers' bridge addresses when they answer (see :meth:`_locate`). Only
    for a run that follows Docker's events (:meth:`watch`, as the show does): Docker can give a dead
    container's address to the next container it starts, so an address must be dropped as soon as
    its container dies, and a run that does not watch would not know.
    """

    def __init__(
        self,
        bus: EventBus | None = None,
        role: str = "show",
        images: dict[str, str | None] | None = None,
        fast_storage: bool = True,
        client: docker.DockerClient | None = None,
        disposable: bool = False,
        direct: bool = False,
    ) -> None:
        self.bus = bus or EventBus()
        self.role = role
        self.pins = images or {}
        self.fast_storage = fast_storage
        self.disposable = disposable
        self.direct = direct
        self.client = client or docker_engine.connect()
        self.services = {name: Service(name) for name in SERVICES}
        self._closing = threading.Event()
        self._in_flight = 0  # container starts under way
        self._settled = threading.Condition()
        self._expected_exits: set[str] = set()
        self._watcher: threading.Thread | None = None
        self.engine_up = True
        note = configure_reaper(self.client)
        if note:
            self.bus.publish("system", "note", note)
        atexit.register(self.stop_all)

    # -- starting -------------------------------------------------------------------------------

    def start(self, *names: str) -> "Infrastructure":
        """Start the named services (all by default) in parallel and wait until each is ready."""
        names = names or SERVICES
        if len(names) == 1:
            self._start_one(names[0])
            return self
        with ThreadPoolExecutor(max_workers=len(names), thread_name_prefix="start") as pool:
            futures = [pool.submit(self._start_one, name) for name in names]
            errors = [f.exception() for f in futures if f.exception()]
        if errors:
            raise errors[0]
        return self

    def _build(self, name: str, port: int) -> DockerContainer:
        resolution = self.services[name].image
        assert resolution is not None
        if name == "postgres":
            container: DockerContainer = FastPostgresContainer(
                resolution.image, username=POSTGRES_USER, password=POSTGRES_PASSWORD, dbname=POSTGRES_DB,
                driver=None, cancel=self._closing,
            )
            if self.fast_storage:
                container.with_command(FAST_POSTGRES)
        else:
            container = RedisContainer(resolution.image)
            container.waiting_for(PingWaitStrategy(self._closing))
        # A fixed host port (chosen free) survives a restart, so clients reconnect by themselves
        # after chaos; Docker would hand a restarted container a new random port otherwise.
        container.with_bind_ports(INTERNAL_PORTS[name], port)
        # Loopback only: on conference Wi-Fi nobody else may reach the show's databases. (Docker
        # takes an (address, port) pair; Testcontainers' with_bind_ports has no form for it.)
        container.ports[str(INTERNAL_PORTS[name])] = (LOOPBACK, port)
        container.with_kwargs(labels=project_labels(name, self.role), auto_remove=self.disposable)
        return container

    def _start_one(self, name: str, port: int | None = None) -> Service:
        with self._settled:
            self._in_flight += 1
        try:
            return self._start_locked(name, port)
        finally:
            with self._settled:
                self._in_flight -= 1
                self._settled.notify_all()

    def _start_locked(self, name: str, port: int | None) -> Service:
        service = self.services[name]
        with service.lock:
            if self._closing.is_set():
                raise RealityError("Shutting down: not starting anything.")
            if service.image is None:
                service.image = resolve_image(self.client, name, self.pins.get(name))
            image = service.image.image
            if not service.image.present:
                self.bus.publish("container", "pulling", f"Pulling {image}", service=name, image=image)
            service.state = "starting"
            service.host_port = port or free_port()
            self.bus.publish("container", "starting", f"Starting {NAMES[name]} ({image})", service=name,
                             image=image, port=service.host_port)
            began = time.perf_counter()
            # A port we picked ourselves can be taken by someone else before Docker binds it: pick again.
            for attempt in range(1, PORT_ATTEMPTS + 1):
                container = self._build(name, service.host_port)
                service.container = container
                try:
                    container.start()
                    break
                except BaseException as exc:
                    if not isinstance(exc, Exception) or self._closing.is_set():
                        # Ctrl+C or a stop mid-start: no half-started container stays behind.
                        self._remove(container)
                        service.container = None
                        service.state = "stopped"
                        if isinstance(exc, Exception):
                            raise RealityError("Shut down while starting.") from exc
                        raise
                    if port is None and attempt < PORT_ATTEMPTS and _port_clash(exc):
                        self._remove(container)
                        service.host_port = free_port()
                        continue
                    # Docker and readiness errors alike end in one line
                    service.state = "down"
                    logs = _tail_logs(container)
                    self._remove(container)
                    service.container = None
                    self.bus.publish("container", "failed", f"{NAMES[name]} failed to start: {_one_line(exc)}",
                                     service=name, image=image, logs=logs)
                    raise ContainerStartError(f"{NAMES[name]} ({image}) did not start: {_one_line(exc)}"
                                              + (f" — last log line: {logs}" if logs else "")) from exc
            if self._closing.is_set():
                # Ctrl+C arrived while this container was starting: it must not outlive the run.
                self._remove(container)
                raise RealityError("Shut down while starting.")
            service.startup_seconds = time.perf_counter() - began
            self._locate(service)
            service.state = "up"
            self.bus.publish("container", "ready",
                             f"{NAMES[name]} ready in {service.startup_seconds:.2f} s on port {service.host_port}",
                             service=name, image=image, port=service.host_port,
                             duration_ms=round(service.startup_seconds * 1000), container=service.container_id)
            return service

    # -- connection details ---------------------------------------------------------------------

    @property
    def postgres_url(self) -> str:
        """``postgresql://`` URL of the running PostgreSQL (read it again after a recover: it can change)."""
        host, port = self.address("postgres")
        return f"postgresql://{POSTGRES_USER}:{POSTGRES_PASSWORD}@{host}:{port}/{POSTGRES_DB}"

    @property
    def redis_url(self) -> str:
        """``redis://`` URL of the running Redis (read it again after a recover: it can change)."""
        host, port = self.address("redis")
        return f"redis://{host}:{port}/0"

    def address(self, name: str) -> tuple[str, int]:
        """Where clients reach the service: its bridge address when that answered, else the published port."""
        service = self.services[name]
        if service.host_port is None:
            raise RealityError(f"{NAMES[name]} has not been started.")
        return service.direct or (LOOPBACK, service.host_port)

    def _locate(self, service: Service) -> None:
        """Find the container's bridge address, if it answers from here; called after every (re)start.

        Through the published port every PostgreSQL and Redis round trip crosses Docker's userland
        proxy, a process of its own: on Linux the bridge address skips it (less CPU, lower latency).
        A restarted or replaced container can come back at another address, so this runs after each
        start. Docker Desktop and rootless Docker do not route to bridge addresses from the host: the
        connection attempt fails and the published port is used, as before; so it is with a remote
        engine, which is not even tried.
        """
        service.direct = None
        wrapped = service.container._container if service.container else None
        # Only with an engine on this machine (its Unix socket): a remote engine's bridge addresses
        # could name something else here.
        local_engine = self.client.api.base_url.startswith("http+docker://")
        if wrapped is None or not self.direct or not local_engine or not direct_connect_wanted():
            return
        try:
            wrapped.reload()
            networks = wrapped.attrs.get("NetworkSettings", {}).get("Networks") or {}
        except DockerException:
            return
        port = INTERNAL_PORTS[service.name]
        for network in networks.values():
            ip = (network or {}).get("IPAddress")
            if ip and _answers(ip, port):
                service.direct = (ip, port)
                return

    def state(self, name: str) -> str:
        return self.services[name].state

    # -- chaos and recovery ---------------------------------------------------------------------

    def kill(self, name: str) -> None:
        """Kill the service's container for real (SIGKILL); it stays around for :meth:`recover`."""
        service = self.services[name]
        wrapped = service.container._container if service.container else None
        if wrapped is None or service.state != "up":
            raise RealityError(f"{NAMES[name]} is not running, nothing to kill.")
        self._expected_exits.add(wrapped.id)
        # Before the kill: a dead container's bridge address never answers (connections hang until
        # their timeout instead of being refused), and Docker may give it to the next container it
        # starts. Its published port refuses at once. Back to the bridge after a recover.
        service.direct = None
        try:
            wrapped.kill()
        except DockerException as exc:
            self._locate(service)  # still alive
            raise RealityError(f"Could not kill {NAMES[name]}: {_one_line(exc)}") from exc
        service.state = "down"
        self.bus.publish("container", "killed", f"{NAMES[name]} container killed", service=name,
                         container=wrapped.id)

    def recover(self, name: str) -> bool:
        """Bring the service back on the same port; returns True when its data survived.

        The killed container is restarted when it still exists (its data survives); otherwise a
        fresh, empty one starts in its place.
        """
        service = self.services[name]
        wrapped = service.container._container if service.container else None
        began = time.perf_counter()
        if service.state == "up":
            return True
        if wrapped is not None:
            try:
                self.bus.publish("container", "starting", f"Restarting {NAMES[name]}", service=name,
                                 port=service.host_port)
                service.state = "starting"
                wrapped.start()
                _wait_until_ready(service.container)
                self._locate(service)  # a restarted container may have another bridge address
                service.state = "up"
                # PostgreSQL's files live in the container and survive; Redis keeps nothing on disk.
                kept = "data kept" if name == "postgres" else "in-memory data starts empty"
                self.bus.publish("container", "restarted",
                                 f"{NAMES[name]} back in {time.perf_counter() - began:.2f} s, {kept}",
                                 service=name, port=service.host_port, fresh=False,
                                 duration_ms=round((time.perf_counter() - began) * 1000))
                return True
            except (DockerException, TimeoutError, RuntimeError):
                self._remove(service.container)  # gone or broken: replace it below
        service.container = None
        self._start_one(name, port=service.host_port)
        self.bus.publish("container", "restarted", f"{NAMES[name]} replaced by a fresh, empty container",
                         service=name, port=service.host_port, fresh=True,
                         duration_ms=round((time.perf_counter() - began) * 1000))
        return False

    # -- watching Docker ------------------------------------------------------------------------

    def watch(self) -> None:
        """Follow Docker's own events in the background, so a ``docker kill`` from a terminal is noticed."""
        if self._watcher is None:
            self._watcher = threading.Thread(target=self._follow_events, name="docker-events", daemon=True)
            self._watcher.start()

    def _follow_events(self) -> None:
        while not self._closing.is_set():
            try:
                client = docker.from_env(timeout=5)
                client.ping()
                if not self.engine_up:
                    self.engine_up = True
                    self.bus.publish("system", "docker-up", "Docker engine reachable again")
                since = time.time()
                stream = client.events(decode=True, since=int(since), filters={
                    "type": "container", "label": f"{LABEL_PID}={os.getpid()}"})
                for event in stream:
                    if self._closing.is_set():
                        return
                    self._on_docker_event(event)
            except Exception:  # engine gone or restarting: say so once, keep trying
                if self._closing.is_set():
                    return
                if self.engine_up:
                    self.engine_up = False
                    self.bus.publish("system", "docker-down",
                                     "Docker engine unreachable: containers cannot be managed until it is back")
                time.sleep(1.0)

    def _on_docker_event(self, event: dict) -> None:
        action = event.get("status") or event.get("Action")
        attributes = event.get("Actor", {}).get("Attributes", {})
        name = attributes.get(LABEL_SERVICE)
        container_id = event.get("id", "")
        if name not in self.services or action not in ("die", "start"):
            return
        service = self.services[name]
        if service.container_id != container_id:
            return
        if action == "die":
            if container_id in self._expected_exits:
                self._expected_exits.discard(container_id)
                return
            if service.state == "up":
                service.state = "down"
                service.direct = None  # see kill()
                self.bus.publish("container", "killed", f"{NAMES[name]} died outside the app (docker kill?)",
                                 service=name, container=container_id, external=True)
        elif action == "start" and service.state == "down":
            self._locate(service)
            service.state = "up"
            self.bus.publish("container", "restarted", f"{NAMES[name]} started again outside the app",
                             service=name, container=container_id, external=True, fresh=False)

    # -- stopping -------------------------------------------------------------------------------

    def stop(self, name: str) -> None:
        service = self.services[name]
        if service.container is not None:
            if service.container_id:
                self._expected_exits.add(service.container_id)
            if self.disposable:
                _dispose(service.container._container)
            else:
                self._remove(service.container)
            service.container = None
            service.state = "stopped"
            self.bus.publish("container", "stopped", f"{NAMES[name]} container removed", service=name)

    def stop_all(self) -> None:
        """Remove every container this run started (safe to call twice, or from a signal handler)."""
        first = not self._closing.is_set()
        self._closing.set()
        # Starts under way notice the flag at their next readiness poll and remove their own
        # container; wait for them, so that none creates one after the sweep below.
        with self._settled:
            self._settled.wait_for(lambda: self._in_flight == 0, timeout=STOP_WAIT)
        # Plain threads, not an executor: this also runs from atexit, when executors refuse work.
        stoppers = [threading.Thread(target=self.stop, args=(name,)) for name in self.services]
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join()
        if first:
            # Anything still being created when the stop began carries this process's labels.
            remove_containers(self.client, {LABEL_PID: str(os.getpid()), LABEL_ROLE: self.role},
                              dispose=self.disposable)

    def __enter__(self) -> "Infrastructure":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop_all()

    @staticmethod
    def _remove(container: DockerContainer | None) -> None:
        if container is None or container._container is None:
            return
        try:
            container._container.remove(force=True, v=True)
        except NotFound:
            pass
        except DockerException:
            pass  # engine gone: cleanup.py or the next run's sweep will catch it


def _answers(host: str, port: int) -> bool:
    """Whether something accepts a TCP connection at ``host:port`` within ``DIRECT_PROBE_TIMEOUT``."""
    try:
        with socket.create_connection((host, port), timeout=DIRECT_PROBE_TIMEOUT):
            return True
    except OSError:
        return False


def _wait_until_ready(container: DockerContainer) -> None:
    if isinstance(container, PostgresContainer):
        container._connect()
    elif container._wait_strategy is not None:
        container._wait_strategy.wait_until_ready(container)


def remove_containers(client: docker.DockerClient, labels: dict[str, str], dispose: bool = False) -> list[str]:
    """Force-remove every container carrying all of ``labels``; returns their names.

    ``dispose``: kill the auto-remove ones instead and let Docker remove them without waiting.
    """
    filters = {"label": [f"{key}={value}" for key, value in labels.items()]}
    removed = []
    try:
        for container in client.containers.list(all=True, filters=filters, ignore_removed=True):
            try:
                if dispose:
                    _dispose(container)
                else:
                    container.remove(force=True, v=True)
                removed.append(container.name)
            except NotFound:
                pass
    except DockerException:
        pass
    return removed


#: How a disposable container is ended without waiting: Docker waits for a SIGKILLed container to
#: exit (0.2 s for PostgreSQL here), not for other signals. PostgreSQL's SIGQUIT is its "immediate
#: shutdown" and Redis's SIGTERM a quick one; both exit at once, and auto-remove does the rest.
DISPOSE_SIGNALS = {"postgres": "SIGQUIT", "redis": "SIGTERM"}


def _dispose(container: docker.models.containers.Container | None) -> None:
    """End an auto-remove container and leave its removal to Docker; force-remove any other."""
    if container is None:
        return
    try:
        container.reload()  # the state Docker has now, not the one this object was made with
        # Created but never started, Docker would not remove it by itself.
        if container.attrs.get("HostConfig", {}).get("AutoRemove") and container.status != "created":
            try:
                container.kill(signal=DISPOSE_SIGNALS.get(container.labels.get(LABEL_SERVICE, ""), "SIGKILL"))
            except DockerException:
                pass  # already exiting or gone: Docker removes it
            return
        container.remove(force=True, v=True)
    except NotFound:
        pass
    except DockerException:
        pass  # already being removed, or the engine is gone: cleanup.py or the next run's sweep catch it


@dataclass
class Sweep:
    """What a sweep removed (this checkout's leftovers) and what it kept (other checkouts' leftovers)."""

    removed: list[str] = field(default_factory=list)
    kept: dict[str, list[str]] = field(default_factory=dict)  # checkout -> container names
    checkout: Path = CHECKOUT

    def lines(self) -> list[str]:
        """What the show's terminal says about it: which checkout the leftovers came from."""
        said = []
        if self.removed:
            said.append(f"Removed {len(self.removed)} container(s) left by an earlier run of this checkout "
                        f"({self.checkout}) that was killed.")
        for checkout, names in self.kept.items():
            whose = (f"another checkout ({checkout})" if checkout != UNKNOWN_CHECKOUT
                     else "a checkout not recorded (an older kit's)")
            said.append(f"Kept {len(names)} container(s) left by a killed run of {whose}: "
                        "`python3 cleanup.py --all-checkouts` removes them.")
        return said


def sweep_orphans(client: docker.DockerClient, checkout: Path = CHECKOUT) -> Sweep:
    """Remove ``checkout``'s containers of earlier runs on this host whose process is gone (our own reaper).

    Other checkouts' leftovers are reported, never removed: the rule is :func:`reality.owners.kit_verdict`.
    """
    sweep = Sweep(checkout=checkout)
    host = socket.gethostname()
    try:
        containers = client.containers.list(all=True, filters={"label": [f"{LABEL_PROJECT}={PROJECT}", f"{LABEL_HOST}={host}"]},
                                            ignore_removed=True)
    except DockerException:
        return sweep
    for container in containers:
        if not container.labels.get(LABEL_PID, "").isdigit():
            continue  # made by hand with the project's label: not ours to judge
        created = parse_docker_time(container.attrs.get("Created"))
        verdict = kit_verdict(container.labels, created, checkout=checkout)
        if verdict.elsewhere:
            if not kit_verdict(container.labels, created, all_checkouts=True).remove:
                continue  # another checkout's run that is still going: nothing to say
            sweep.kept.setdefault(verdict.elsewhere, []).append(container.name)
            continue
        if not verdict.remove:
            continue
        try:
            container.remove(force=True, v=True)
            sweep.removed.append(container.name)
        except DockerException:
            pass
    return sweep


def _one_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _tail_logs(container: DockerContainer) -> str:
    try:
        out, err = container.get_logs()
    except Exception:
        return ""
    lines = (out + err).decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else ""


def session_labels() -> dict[str, str]:
    """Labels that select this process's Testcontainers session."""
    return {LABEL_SESSION_ID: SESSION_ID}


__all__: Iterable[str] = [
    "Infrastructure", "configure_reaper", "reaper_environment", "remove_containers", "sweep_orphans", "DockerUnavailable",
]
