"""The lifecycle of one run's PostgreSQL and Redis: start, hand out addresses, kill, recover, stop.

:class:`Infrastructure` starts both services in parallel, waits until each answers, and reports
every step as an event on an :class:`~reality.events.EventBus`. Its containers carry Testcontainers'
``org.testcontainers.*`` labels and the kit's own, so that a stop (and ``cleanup.py``) can always find
them, with or without the Ryuk reaper.

    >>> with Infrastructure(role="example") as infra:           # doctest: +SKIP
    ...     infra.start("postgres")
    ...     psycopg2.connect(infra.postgres_url)

Longer than 300 lines on purpose: one class whose start, chaos, Docker's events and stop share each
service's lock and state and the run's shutdown flag; the parts that stand alone are its neighbours
(``services``, ``waiting``, ``addresses``, ``docker_events``, ``leftovers``, ``reaper``).
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Mapping

import docker
from docker.errors import DockerException, NotFound
from testcontainers.core.container import DockerContainer
from testcontainers.core.waiting_utils import WaitStrategy

from .. import docker_engine
from ..config import (
    LABEL_PID,
    LABEL_ROLE,
    LABEL_SERVICE,
    POSTGRES_DB,
    POSTGRES_PASSWORD,
    POSTGRES_USER,
    SERVICE_NAMES,
    SERVICES,
)
from ..errors import ContainerStartError, RealityError, first_line
from ..events import EventBus
from ..provision import ImageResolution, resolve_image
from ..vocabulary import ContainerAction, DockerAction, Kind, ServiceState, SystemAction
from . import addresses, services
from .docker_events import DockerEvents
from .leftovers import dispose_container, remove_containers
from .reaper import configure_reaper
from .services import INTERNAL_PORTS, PORT_ATTEMPTS, build_container, docker_container, last_log_line, port_clash
from .waiting import LOOPBACK

NAMES = SERVICE_NAMES
#: How long a stop waits for container starts under way to give up (one readiness poll, normally).
STOP_WAIT = 5.0


@dataclass
class Service:
    """One backing service of a run and where it stands."""

    name: str
    image: ImageResolution | None = None
    state: ServiceState = ServiceState.STOPPED
    host_port: int | None = None
    #: The container's own address on Docker's bridge, when it answers from here (else None: the
    #: published port on loopback is used).
    direct: tuple[str, int] | None = None
    container: DockerContainer | None = None
    readiness: WaitStrategy | None = None  # how this container says it is ready (again, after a restart)
    startup_seconds: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def container_id(self) -> str | None:
        wrapped = docker_container(self.container)
        return wrapped.id if wrapped else None


class Infrastructure:
    """PostgreSQL and Redis for one run (the show, a test session, the workshop).

    ``disposable`` containers are created with Docker's auto-remove: stopping one kills it and does
    not wait for Docker to delete it (about 0.2 s of a test session's end). Not for the show: a
    container killed by chaos must stay, to be restarted with its data.

    ``direct``: hand out the containers' bridge addresses when they answer (see
    :mod:`~reality.orchestration.addresses`). Only for a run that follows Docker's events
    (:meth:`watch`, as the show does): Docker can give a dead container's address to the next
    container it starts, so an address must be dropped as soon as its container dies, and a run that
    does not watch would not know.

    ``resolved``: the images already chosen (:func:`~reality.provision.require_images`), so that a
    start does not inspect them again; a service without one has its image chosen at its first start.

    Nothing process-wide happens in the constructor: the reaper setting and the exit hook are set
    at the first start and the hook is removed by :meth:`stop_all`.
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
        resolved: Mapping[str, ImageResolution] | None = None,
    ) -> None:
        self.bus = bus or EventBus()
        self.role = role
        self.pins = images or {}
        self.fast_storage = fast_storage
        self.disposable = disposable
        self.direct = direct
        self.client = client or docker_engine.connect()
        self.services = {name: Service(name) for name in SERVICES}
        for name, choice in (resolved or {}).items():  # images the caller has chosen already (require_images)
            self.services[name].image = choice
        self._closing = threading.Event()
        self._in_flight = 0  # container starts under way
        self._settled = threading.Condition()
        self._opening = threading.Lock()  # held while the reaper is decided: no start goes ahead of it
        self._opened = False  # the reaper decided and the exit hook registered (at the first start)
        # The engine our clients reach (docker_engine.connect reads DOCKER_HOST, else the local socket).
        self._docker_host = os.environ.get("DOCKER_HOST")
        self._api_version: str | None = None  # handed to Testcontainers' clients (decided in _open)
        self._expected_exits: set[str] = set()
        self._events: DockerEvents | None = None

    @property
    def engine_up(self) -> bool:
        """Whether Docker answers, as the event stream last found (True until :meth:`watch` says otherwise)."""
        return self._events.engine_up if self._events else True

    # -- starting -------------------------------------------------------------------------------

    def prepare(self, *names: str) -> None:
        """Load, on this thread, what starting the named services (all by default) needs.

        The show starts the containers on one thread while another imports the web stack: had the
        starting thread to import redis-py then, it would wait on that module's import lock for the
        other thread's whole import (0.8 s of the show's boot, measured). :meth:`start` calls it too.
        """
        services.load(names or SERVICES)

    def start(self, *names: str) -> "Infrastructure":
        """Start the named services (all by default) in parallel and wait until each is ready."""
        names = names or SERVICES
        self.prepare(*names)
        if len(names) == 1:
            self._start_one(names[0])
            return self
        with ThreadPoolExecutor(max_workers=len(names), thread_name_prefix="start") as pool:
            futures = [pool.submit(self._start_one, name) for name in names]
            errors = [f.exception() for f in futures if f.exception()]
        if errors:
            raise errors[0]
        return self

    def _shared_api_version(self) -> str | None:
        """Our client's API version, for Testcontainers' client to skip asking for it again, when both
        reach the same engine; ``None`` (it asks its own) when Testcontainers is set to another
        (``tc.host`` in ~/.testcontainers.properties, a Docker context of its own)."""
        from testcontainers.core.docker_client import get_docker_host

        theirs = get_docker_host()
        return self.client.api.api_version if theirs == self._docker_host else None

    def _open(self) -> None:
        """Once per run, before its first container: Testcontainers' reaper, the API version its clients
        are handed, and a stop at interpreter exit."""
        with self._opening:
            if self._opened:
                return
            note = configure_reaper(self.client)
            self._api_version = self._shared_api_version()
            atexit.register(self.stop_all)
            self._opened = True
        if note:
            self.bus.publish(Kind.SYSTEM, SystemAction.NOTE, note)

    def _start_one(self, name: str, port: int | None = None) -> Service:
        self._open()
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
                self.bus.publish(Kind.CONTAINER, ContainerAction.PULLING, f"Pulling {image}", service=name, image=image)
            service.state = ServiceState.STARTING
            service.host_port = port or services.free_port()
            self.bus.publish(Kind.CONTAINER, ContainerAction.STARTING, f"Starting {NAMES[name]} ({image})",
                             service=name, image=image, port=service.host_port)
            began = time.perf_counter()
            # A port we picked ourselves can be taken by someone else before Docker binds it: pick again.
            for attempt in range(1, PORT_ATTEMPTS + 1):
                container, service.readiness = build_container(
                    name, image, service.host_port, self.role, fast_storage=self.fast_storage,
                    disposable=self.disposable, cancel=self._closing, api_version=self._api_version)
                service.container = container
                try:
                    container.start()
                    break
                except BaseException as exc:
                    if not isinstance(exc, Exception) or self._closing.is_set():
                        # Ctrl+C or a stop mid-start: no half-started container stays behind.
                        self._remove(container)
                        service.container = None
                        service.state = ServiceState.STOPPED
                        if isinstance(exc, Exception):
                            raise RealityError("Shut down while starting.") from exc
                        raise
                    if port is None and attempt < PORT_ATTEMPTS and port_clash(exc):
                        self._remove(container)
                        service.host_port = services.free_port()
                        continue
                    # Docker and readiness errors alike end in one line
                    service.state = ServiceState.DOWN
                    logs = last_log_line(container)
                    self._remove(container)
                    service.container = None
                    self.bus.publish(Kind.CONTAINER, ContainerAction.FAILED,
                                     f"{NAMES[name]} failed to start: {first_line(exc)}",
                                     service=name, image=image, logs=logs)
                    raise ContainerStartError(f"{NAMES[name]} ({image}) did not start: {first_line(exc)}"
                                              + (f" — last log line: {logs}" if logs else "")) from exc
            if self._closing.is_set():
                # Ctrl+C arrived while this container was starting: it must not outlive the run.
                self._remove(container)
                raise RealityError("Shut down while starting.")
            service.startup_seconds = time.perf_counter() - began
            self._locate(service)
            service.state = ServiceState.UP
            self.bus.publish(Kind.CONTAINER, ContainerAction.READY,
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
        """Find the container's bridge address, if it answers from here; called after every (re)start."""
        service.direct = None
        wrapped = docker_container(service.container)
        if (wrapped is None or not self.direct or not addresses.local_engine(self.client)
                or not addresses.direct_connect_wanted()):
            return
        service.direct = addresses.bridge_address(wrapped, INTERNAL_PORTS[service.name])

    def state(self, name: str) -> ServiceState:
        return self.services[name].state

    # -- chaos and recovery ---------------------------------------------------------------------

    def kill(self, name: str) -> None:
        """Kill the service's container for real (SIGKILL); it stays around for :meth:`recover`."""
        service = self.services[name]
        wrapped = docker_container(service.container)
        if wrapped is None or service.state != ServiceState.UP:
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
            raise RealityError(f"Could not kill {NAMES[name]}: {first_line(exc)}") from exc
        service.state = ServiceState.DOWN
        self.bus.publish(Kind.CONTAINER, ContainerAction.KILLED, f"{NAMES[name]} container killed", service=name,
                         container=wrapped.id)

    def recover(self, name: str) -> bool:
        """Bring the service back on the same port; returns True when its data survived.

        The killed container is restarted when it still exists (its data survives); otherwise a
        fresh, empty one starts in its place.
        """
        service = self.services[name]
        wrapped = docker_container(service.container)
        began = time.perf_counter()
        if service.state == ServiceState.UP:
            return True
        if wrapped is not None and service.readiness is not None:
            try:
                self.bus.publish(Kind.CONTAINER, ContainerAction.STARTING, f"Restarting {NAMES[name]}",
                                 service=name, port=service.host_port)
                service.state = ServiceState.STARTING
                wrapped.start()
                service.readiness.wait_until_ready(service.container)
                self._locate(service)  # a restarted container may have another bridge address
                service.state = ServiceState.UP
                # PostgreSQL's files live in the container and survive; Redis keeps nothing on disk.
                kept = "data kept" if name == "postgres" else "in-memory data starts empty"
                self.bus.publish(Kind.CONTAINER, ContainerAction.RESTARTED,
                                 f"{NAMES[name]} back in {time.perf_counter() - began:.2f} s, {kept}",
                                 service=name, port=service.host_port, fresh=False,
                                 duration_ms=round((time.perf_counter() - began) * 1000))
                return True
            except (DockerException, TimeoutError, RuntimeError):
                self._remove(service.container)  # gone or broken: replace it below
        service.container = None
        self._start_one(name, port=service.host_port)
        self.bus.publish(Kind.CONTAINER, ContainerAction.RESTARTED,
                         f"{NAMES[name]} replaced by a fresh, empty container",
                         service=name, port=service.host_port, fresh=True,
                         duration_ms=round((time.perf_counter() - began) * 1000))
        return False

    # -- watching Docker ------------------------------------------------------------------------

    def watch(self) -> None:
        """Follow Docker's own events in the background, so a ``docker kill`` from a terminal is noticed."""
        if self._events is None:
            self._events = DockerEvents({LABEL_PID: str(os.getpid())}, self._on_docker_event, self._on_engine,
                                        self._closing)
            self._events.start()

    def _on_engine(self, up: bool) -> None:
        if up:
            self.bus.publish(Kind.SYSTEM, SystemAction.DOCKER_UP, "Docker engine reachable again")
        else:
            self.bus.publish(Kind.SYSTEM, SystemAction.DOCKER_DOWN,
                             "Docker engine unreachable: containers cannot be managed until it is back")

    def _on_docker_event(self, event: dict[str, Any]) -> None:
        action = event.get("status") or event.get("Action")  # Docker's own words: "die", "start", …
        attributes = event.get("Actor", {}).get("Attributes", {})
        name = attributes.get(LABEL_SERVICE)
        container_id = event.get("id", "")
        if name not in self.services or action not in (DockerAction.DIE, DockerAction.START):
            return
        service = self.services[name]
        if service.container_id != container_id:
            return
        if action == DockerAction.DIE:
            if container_id in self._expected_exits:
                self._expected_exits.discard(container_id)
                return
            if service.state == ServiceState.UP:
                service.state = ServiceState.DOWN
                service.direct = None  # see kill()
                self.bus.publish(Kind.CONTAINER, ContainerAction.KILLED,
                                 f"{NAMES[name]} died outside the app (docker kill?)",
                                 service=name, container=container_id, external=True)
        elif action == DockerAction.START and service.state == ServiceState.DOWN:
            self._locate(service)
            service.state = ServiceState.UP
            self.bus.publish(Kind.CONTAINER, ContainerAction.RESTARTED, f"{NAMES[name]} started again outside the app",
                             service=name, container=container_id, external=True, fresh=False)

    # -- stopping -------------------------------------------------------------------------------

    def stop(self, name: str) -> str | None:
        """Remove (or, disposable, end) the service's container; returns its id once Docker took the order."""
        service = self.services[name]
        ended = None
        if service.container is not None:
            wrapped = docker_container(service.container)
            if wrapped is not None:
                self._expected_exits.add(wrapped.id)
            done = dispose_container(wrapped) if self.disposable else self._remove(service.container)
            ended = wrapped.id if done and wrapped is not None else None
            service.container = None
            service.state = ServiceState.STOPPED
            self.bus.publish(Kind.CONTAINER, ContainerAction.STOPPED, f"{NAMES[name]} container removed", service=name)
        return ended

    def stop_all(self) -> None:
        """Remove every container this run started (safe to call twice, or from a signal handler)."""
        first = not self._closing.is_set()
        self._closing.set()
        atexit.unregister(self.stop_all)  # done now: nothing left for the interpreter's exit
        # Starts under way notice the flag at their next readiness poll and remove their own
        # container; wait for them, so that none creates one after the sweep below.
        with self._settled:
            self._settled.wait_for(lambda: self._in_flight == 0, timeout=STOP_WAIT)
        # The containers Docker took the order for: the sweep below leaves them alone (looking at a
        # container Docker is taking down waits for Docker), and tries again for any other.
        ended: list[str | None] = []
        # Plain threads, not an executor: this also runs from atexit, when executors refuse work.
        stoppers = [threading.Thread(target=lambda name=name: ended.append(self.stop(name)))
                    for name in self.services]
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join()
        if first:
            # Anything still being created when the stop began carries this process's labels.
            remove_containers(self.client, {LABEL_PID: str(os.getpid()), LABEL_ROLE: self.role},
                              dispose=self.disposable, skip={container_id for container_id in ended if container_id})

    def __enter__(self) -> "Infrastructure":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop_all()

    @staticmethod
    def _remove(container: DockerContainer | None) -> bool:
        """Force-remove a container with its volumes (Testcontainers' ``stop``); True when it is gone."""
        if container is None:
            return True
        try:
            container.stop(force=True, delete_volume=True)
        except NotFound:
            return True
        except DockerException:
            return False  # the engine is gone, or refused: cleanup.py or the next run's sweep will catch it
        return True
