"""The terminal container monitor: which containers exist, who started them, what just happened.

State is fed by Docker's own event stream (:class:`DockerWatcher`), so a container shows up and
disappears within a second of Docker creating or removing it. Rendering is pure:
:func:`build_table` and :func:`build_view` turn a :class:`MonitorState` into rich renderables, so
tests render into ``Console(file=io.StringIO())`` and the workshop reuses the same table as its
``docker ps``.

    >>> console = Console(file=io.StringIO(), width=120)          # doctest: +SKIP
    >>> console.print(build_view(MonitorState()))                 # doctest: +SKIP
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import docker
from docker.errors import DockerException, NotFound
from rich import box
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from . import docker_engine
from .owners import parse_docker_time
from .config import LABEL_PROJECT, LABEL_ROLE, LABEL_TESTCONTAINERS
from .errors import DockerUnavailable


#: Container actions that change what the table shows.
TRACKED_ACTIONS = {"create", "start", "restart", "pause", "unpause", "die", "kill", "stop", "destroy", "rename",
                   "oom", "update"}
#: Actions worth a line in the event log (the lifecycle a participant wants to see).
LOGGED_ACTIONS = {"create", "start", "restart", "die", "kill", "stop", "destroy", "oom", "pause", "unpause"}
LOG_LENGTH = 8
NO_CONTAINERS_YET = "No containers yet — run pytest, workshop.py or reality_engine.py and watch them appear."

ACTION_STYLES = {"create": "cyan", "start": "green", "restart": "green", "unpause": "green", "die": "red",
                 "kill": "bold red", "oom": "bold red", "stop": "yellow", "pause": "yellow", "destroy": "magenta"}
STATUS_STYLES = {"running": "green", "created": "yellow", "paused": "yellow", "restarting": "yellow",
                 "exited": "red", "dead": "red", "removing": "magenta"}


@dataclass
class ContainerRow:
    """One container as the table shows it."""

    id: str
    name: str
    image: str
    status: str
    created: float | None = None
    exit_code: int | None = None
    ports: list[tuple[str, str]] = field(default_factory=list)  # (host port, container port)
    labels: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_inspect(cls, attrs: dict[str, Any]) -> "ContainerRow":
        """Build a row from ``docker inspect`` output (``client.api.inspect_container``)."""
        config = attrs.get("Config") or {}
        state = attrs.get("State") or {}
        ports: list[tuple[str, str]] = []
        for container_port, bindings in sorted(((attrs.get("NetworkSettings") or {}).get("Ports") or {}).items()):
            # One binding per address family (0.0.0.0 and ::) for the same host port: show it once.
            for host_port in dict.fromkeys(b.get("HostPort", "") for b in bindings or []):
                if host_port:
                    ports.append((host_port, container_port.split("/")[0]))
        status = state.get("Status") or "unknown"
        return cls(
            id=attrs.get("Id", ""),
            name=(attrs.get("Name") or "").lstrip("/"),
            image=config.get("Image") or attrs.get("Image", ""),
            status=status,
            created=parse_docker_time(attrs.get("Created")),
            exit_code=state.get("ExitCode") if status in ("exited", "dead") else None,
            ports=ports,
            labels=dict(config.get("Labels") or {}),
        )

    @property
    def by_testcontainers(self) -> bool:
        return self.labels.get(LABEL_TESTCONTAINERS) == "true"

    @property
    def by_reality_engine(self) -> bool:
        return LABEL_PROJECT in self.labels

    @property
    def role(self) -> str:
        return self.labels.get(LABEL_ROLE, "")


@dataclass(frozen=True)
class LogEntry:
    """One line of the recent-events log."""

    ts: float
    action: str
    name: str
    image: str
    detail: str = ""


def is_kit_container(labels: dict[str, str]) -> bool:
    """Started by Testcontainers or by Reality Engine (the containers shown without ``--all``)."""
    return labels.get(LABEL_TESTCONTAINERS) == "true" or LABEL_PROJECT in labels


class MonitorState:
    """What the monitor knows; updated from Docker's event thread, read by the renderer (thread-safe)."""

    def __init__(self, show_all: bool = False, log_length: int = LOG_LENGTH) -> None:
        self.show_all = show_all
        self.engine_up = True
        self.lock = threading.RLock()
        self._rows: dict[str, ContainerRow] = {}
        self._log: deque[LogEntry] = deque(maxlen=log_length)

    def wants(self, labels: dict[str, str]) -> bool:
        return self.show_all or is_kit_container(labels)

    def upsert(self, row: ContainerRow) -> None:
        with self.lock:
            if self.wants(row.labels):
                self._rows[row.id] = row

    def remove(self, container_id: str) -> None:
        with self.lock:
            self._rows.pop(container_id, None)

    def replace_all(self, rows: Iterable[ContainerRow]) -> None:
        with self.lock:
            self._rows = {row.id: row for row in rows if self.wants(row.labels)}

    def rows(self) -> list[ContainerRow]:
        """Visible containers, oldest first."""
        with self.lock:
            return sorted(self._rows.values(), key=lambda row: (row.created or 0.0, row.name))

    def log(self) -> list[LogEntry]:
        with self.lock:
            return list(self._log)

    def set_engine(self, up: bool) -> None:
        with self.lock:
            self.engine_up = up

    def apply_event(self, event: dict[str, Any], inspect: Callable[[str], dict[str, Any] | None]) -> None:
        """Update from one Docker event; ``inspect(id)`` returns fresh ``docker inspect`` output or ``None``."""
        if event.get("Type", "container") != "container":
            return
        # exec events read "exec_start: sh -c ..."; keep the verb only.
        action = str(event.get("Action") or event.get("status") or "").split(":", 1)[0]
        if action not in TRACKED_ACTIONS:
            return
        container_id = event.get("id") or (event.get("Actor") or {}).get("ID", "")
        attributes = (event.get("Actor") or {}).get("Attributes") or {}
        if not self.wants(attributes):
            return
        if action in LOGGED_ACTIONS:
            detail = ""
            if action == "die":
                detail = f"exit code {attributes.get('exitCode', '?')}"
            elif action == "kill":
                detail = f"signal {attributes.get('signal', '?')}"
            timestamp = event.get("timeNano")
            with self.lock:
                self._log.append(LogEntry(timestamp / 1e9 if timestamp else time.time(), action,
                                          attributes.get("name", container_id[:12]), attributes.get("image", ""),
                                          detail))
        if action == "destroy":
            self.remove(container_id)
            return
        attrs = inspect(container_id)
        if attrs is None:  # removed again before we could look at it
            self.remove(container_id)
        else:
            self.upsert(ContainerRow.from_inspect(attrs))


# -- rendering (pure) ----------------------------------------------------------------------------

def format_age(seconds: float | None) -> str:
    """``42s``, ``3m 07s``, ``2h 05m``, ``3d 04h``."""
    if seconds is None:
        return "—"
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours:02d}h"


def _status_text(row: ContainerRow) -> Text:
    label = row.status if row.exit_code is None else f"{row.status} ({row.exit_code})"
    return Text(label, style=STATUS_STYLES.get(row.status, ""))


def started_by(row: ContainerRow, two_lines: bool = False) -> Text:
    """``Testcontainers``, plus the Reality Engine role (``tests``, ``show``, ``workshop``...) where labelled.

    ``two_lines`` puts the role on a line of its own, for a narrow terminal.
    """
    text = Text()
    if row.by_testcontainers:
        text.append("Testcontainers", style="blue")
    if row.by_reality_engine:
        if text:
            text.append("\n· " if two_lines else " · ", style="dim")
        else:
            text.append("Reality Engine" + ("\n· " if two_lines else " · "), style="dim")
        text.append(row.role or "reality-engine", style="cyan")
    return text or Text("—", style="dim")


def short_image(image: str) -> str:
    """The part of an image reference that tells images apart: ``reality-engine/postgres:15-bookworm`` →
    ``postgres:15-bookworm``, ``ghcr.io/org/app@sha256:…`` → ``app@sha256:<12 hex>``, an image id → 12 hex."""
    if image.startswith("sha256:"):  # the image was untagged or deleted: Docker reports its id
        return image[len("sha256:"):][:12]
    name, _, digest = image.partition("@")
    short = name.rsplit("/", 1)[-1]  # drop the registry and the namespace, keep repository:tag
    if digest:
        algorithm, _, value = digest.partition(":")
        short += f"@{algorithm}:{value[:12]}" if value else f"@{digest}"
    return short


def _image_labels(images: Iterable[str]) -> dict[str, str]:
    """Each image's short form, unless two different images would read the same: those stay whole."""
    readers: dict[str, set[str]] = {}
    for image in set(images):
        readers.setdefault(short_image(image), set()).add(image)
    return {image: short if len(same) == 1 else image for short, same in readers.items() for image in same}


class FitToWidth:
    """A renderable that is built for the width it is drawn at (the terminal's, in the live monitor).

    Rich alone shares out a narrow terminal by cutting the widest wrappable columns, whatever they
    hold; building for the width lets each view decide what gives way first.
    """

    def __init__(self, build: Callable[[Console, int], RenderableType]) -> None:
        self.build = build

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.build(console, options.max_width)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.build(console, options.max_width))


def natural_width(console: Console, renderable: RenderableType) -> int:
    """How wide ``renderable`` is when nothing constrains it."""
    return Measurement.get(console, console.options.update_width(10_000), renderable).maximum


#: Narrowest a name or an image is cut to (with an ellipsis) on a narrow terminal.
MIN_NAME_WIDTH = 10
MIN_IMAGE_WIDTH = 12


def container_table(rows: list[ContainerRow], now: float, title: str, empty: str, *, short_images: bool = False,
                    two_line_owner: bool = False, gutter: int = 2, name_width: int | None = None,
                    image_width: int | None = None) -> Table:
    """The container table with one set of layout choices (each keyword can make it narrower)."""
    labels = _image_labels(row.image for row in rows) if short_images else {}
    # SIMPLE_HEAD draws a one-space divider between columns; the right padding adds the rest of the gutter.
    table = Table(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD, header_style="bold",
                  show_edge=False, pad_edge=False, padding=(0, gutter - 1, 0, 0))
    # Names and images are single words: "wrapping" them truncates with an ellipsis. Only when even the
    # narrowest layout does not fit does rich narrow the wrappable columns (name, image, owner);
    # status, ports and age never wrap: they are what people look at.
    table.add_column("Name", max_width=name_width, overflow="ellipsis")
    table.add_column("Image", max_width=image_width, overflow="ellipsis")
    table.add_column("Status", no_wrap=True)
    table.add_column("Ports", no_wrap=True)
    table.add_column("Age", justify="right", no_wrap=True)
    table.add_column("Started by", overflow="ellipsis")
    for row in rows:
        ports = ", ".join(f"{host}→{inner}" for host, inner in row.ports) or "—"
        table.add_row(
            Text(row.name, style="bold" if row.by_reality_engine else ""),
            labels.get(row.image, row.image),
            _status_text(row),
            ports,
            format_age(now - row.created if row.created else None),
            started_by(row, two_lines=two_line_owner),
        )
    if not rows:
        table.caption = empty
        table.caption_justify = "left"
        table.min_width = len(empty)  # an empty table is narrow: don't fold the one line it has
    return table


def fit_container_table(console: Console, width: int, rows: list[ContainerRow], now: float, title: str,
                        empty: str) -> Table:
    """The widest layout of the container table that fits ``width`` columns.

    What gives way, in order, so that containers stay distinguishable: the image loses its registry
    and namespace (``reality-engine/postgres:15-bookworm`` → ``postgres:15-bookworm``), ``Started by``
    puts the role on a second line, the gutter between columns narrows to one space, names are cut,
    then images. Status, ports and age always stay whole.
    """
    choices: dict[str, Any] = {}
    table = container_table(rows, now, title, empty)
    for step in ({"short_images": True}, {"two_line_owner": True}, {"gutter": 1}):
        if natural_width(console, table) <= width:
            return table
        choices.update(step)
        table = container_table(rows, now, title, empty, **choices)
    excess = natural_width(console, table) - width
    if excess <= 0 or not rows:
        return table
    for index, column, floor in ((0, "name_width", MIN_NAME_WIDTH), (1, "image_width", MIN_IMAGE_WIDTH)):
        widest = max(cell_len(str(cell)) for cell in table.columns[index].cells)
        cut = min(excess, max(0, widest - floor))
        if cut:
            choices[column] = widest - cut
            excess -= cut
    return container_table(rows, now, title, empty, **choices)


def build_table(state: MonitorState, now: float | None = None, title: str | None = None,
                empty: str | None = None) -> FitToWidth:
    """The container table: name, image, status, ports, age, and who started each container.

    ``title`` and ``empty`` (the line shown when there is no container) replace the monitor's own.
    The table is laid out for the width it is printed at (:func:`fit_container_table`).
    """
    rows = state.rows()
    now = time.time() if now is None else now
    scope = "every container" if state.show_all else "started by Testcontainers or Reality Engine"
    title = title if title is not None else f"Containers — {scope}"
    empty = empty or ("No containers yet." if state.show_all else NO_CONTAINERS_YET)
    return FitToWidth(lambda console, width: fit_container_table(console, width, rows, now, title, empty))


def event_log(entries: list[LogEntry], short_images: bool = False) -> Table:
    """The recent events as a grid, images whole or in their short form."""
    labels = _image_labels(entry.image for entry in entries) if short_images else {}
    log = Table.grid(padding=(0, 1))
    log.add_column(style="dim", no_wrap=True)
    log.add_column(no_wrap=True, min_width=7)
    # Names and images give way on a narrow terminal (single words: they are cut with an ellipsis).
    log.add_column(max_width=30, overflow="ellipsis")
    log.add_column(style="dim", max_width=36, overflow="ellipsis")
    log.add_column(no_wrap=True)
    for entry in entries:
        log.add_row(time.strftime("%H:%M:%S", time.localtime(entry.ts)),
                    Text(entry.action, style=ACTION_STYLES.get(entry.action, "")),
                    entry.name, labels.get(entry.image, entry.image), entry.detail)
    return log


def build_log(state: MonitorState) -> RenderableType:
    """The last few Docker events, oldest first (images shortened when the whole ones do not fit)."""
    entries = state.log()
    if not entries:
        return Text("(none yet)", style="dim")

    def fit(console: Console, width: int) -> Table:
        whole = event_log(entries)
        return whole if natural_width(console, whole) <= width else event_log(entries, short_images=True)
    return FitToWidth(fit)


def build_view(state: MonitorState, now: float | None = None) -> RenderableType:
    """The whole screen: the table, the recent events, and how to leave."""
    with state.lock:
        engine_up = state.engine_up
        shown = len(state.rows())
    engine = Text("Docker engine: connected", style="green") if engine_up else \
        Text("Docker engine: unreachable — retrying every second (is dockerd still running?)", style="bold red")
    parts = [engine, Text(f"{shown} shown"), Text("Ctrl+C to quit", style="dim")]
    if not state.show_all:
        parts.append(Text("--all shows every container", style="dim"))
    return Group(build_table(state, now), Text(""), Text("Recent Docker events", style="bold"), build_log(state),
                 Text(""), FitToWidth(lambda console, width: footer_lines(parts, width)))


def footer_lines(parts: list[Text], width: int) -> Text:
    """``parts`` joined by `` · ``, breaking lines between parts rather than inside one."""
    separator = Text("  ·  ", style="dim")
    footer = Text()
    line_length = 0
    for part in parts:
        if line_length and line_length + separator.cell_len + part.cell_len > width:
            footer.append("\n")
            line_length = 0
        elif line_length:
            footer.append_text(separator)
            line_length += separator.cell_len
        footer.append_text(part)
        line_length += part.cell_len
    return footer


# -- following Docker ----------------------------------------------------------------------------

def inspector(client: docker.DockerClient) -> Callable[[str], dict[str, Any] | None]:
    """``inspect(id)`` for :meth:`MonitorState.apply_event`: ``None`` when the container is gone."""
    def inspect(container_id: str) -> dict[str, Any] | None:
        try:
            return client.api.inspect_container(container_id)
        except NotFound:
            return None
    return inspect


def load_rows(client: docker.DockerClient, labels: dict[str, str] | None = None) -> list[ContainerRow]:
    """Every container (optionally only those carrying all of ``labels``), inspected."""
    filters = {"label": [f"{key}={value}" for key, value in (labels or {}).items()]} if labels else None
    inspect = inspector(client)
    rows = []
    for summary in client.api.containers(all=True, filters=filters):
        attrs = inspect(summary["Id"])
        if attrs is not None:
            rows.append(ContainerRow.from_inspect(attrs))
    return rows


class DockerWatcher:
    """Keeps a :class:`MonitorState` in step with Docker: a snapshot, then the event stream.

    Runs in a background thread; when the engine goes away it says so in the state and retries
    every second, so the monitor survives a Docker restart.
    """

    def __init__(self, state: MonitorState, connect: Callable[[], docker.DockerClient] = docker_engine.connect) -> None:
        self.state = state
        self._connect = connect
        self._stop = threading.Event()
        self._stream: Any = None
        self._thread: threading.Thread | None = None
        self.synced = threading.Event()  # set once the first snapshot is in the state

    def start(self) -> "DockerWatcher":
        self._thread = threading.Thread(target=self._run, name="docker-events", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        stream = self._stream
        if stream is not None:
            try:
                stream.close()  # unblocks the thread waiting for the next event
            except Exception:
                pass
        if self._thread is not None:
            self._thread.join(timeout=2)

    def _run(self) -> None:
        while not self._stop.is_set():
            client = None
            try:
                client = self._connect()
                # Subscribe from just before the snapshot, so nothing between the two is missed;
                # a replayed event only re-inspects a container, which is harmless.
                since = int(time.time()) - 1
                self.state.replace_all(load_rows(client))
                self.state.set_engine(True)
                self.synced.set()
                self._stream = client.events(decode=True, since=since, filters={"type": "container"})
                inspect = inspector(client)
                for event in self._stream:
                    if self._stop.is_set():
                        return
                    self.state.apply_event(event, inspect)
                # The stream ends when the engine shuts down.
                raise DockerException("event stream ended")
            # ValueError: a half-written JSON event when the engine dies mid-stream.
            except (DockerUnavailable, DockerException, OSError, ValueError):
                if self._stop.is_set():
                    return
                self.state.set_engine(False)
                self._stop.wait(1.0)
            finally:
                if self._stream is not None:
                    self._stream.close()
                    self._stream = None
                if client is not None:
                    client.close()


def run_monitor(console: Console, show_all: bool = False, stop: threading.Event | None = None,
                connect: Callable[[], docker.DockerClient] = docker_engine.connect, refresh: float = 0.25) -> int:
    """Show the live monitor until ``stop`` is set (Ctrl+C in ``watch_containers.py``); returns an exit code.

    Raises :class:`DockerUnavailable` when no engine answers at start, so the caller prints one line.
    """
    from rich.live import Live

    connect().close()  # fail fast, with the one-line how-to, before drawing anything
    stop = stop or threading.Event()
    state = MonitorState(show_all=show_all)
    watcher = DockerWatcher(state, connect).start()
    watcher.synced.wait(timeout=5)
    try:
        with Live(build_view(state), console=console, refresh_per_second=max(1, round(1 / refresh)),
                  transient=False, redirect_stdout=False, redirect_stderr=False) as live:
            while not stop.wait(refresh):
                live.update(build_view(state))
            live.update(build_view(state))
    finally:
        watcher.stop()
    return 0
