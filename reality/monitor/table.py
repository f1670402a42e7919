"""The container table, pure: rows in, a rich ``Table`` out, laid out for the width it is drawn at.

:func:`build_table` is what the monitor and the workshop's ``docker ps`` print; it reads a
:class:`~reality.monitor.model.MonitorState` and touches neither Docker nor the terminal.
"""

from __future__ import annotations

import time
from typing import Any, Iterable

from rich import box
from rich.cells import cell_len
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from ..vocabulary import DockerStatus
from .layout import FitToWidth, natural_width
from .model import ContainerRow, MonitorState

NO_CONTAINERS_YET = "No containers yet — run pytest, workshop.py or reality_engine.py and watch them appear."
STATUS_STYLES = {DockerStatus.RUNNING: "green", DockerStatus.CREATED: "yellow", DockerStatus.PAUSED: "yellow",
                 DockerStatus.RESTARTING: "yellow", DockerStatus.EXITED: "red", DockerStatus.DEAD: "red",
                 DockerStatus.REMOVING: "magenta"}


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


def started_by(row: ContainerRow, compact: bool = False) -> Text:
    """``Testcontainers``, plus the Reality Engine role (``tests``, ``show``, ``workshop``...) where labelled.

    ``compact`` (a narrow terminal) keeps only the role for the kit's containers: all of them are
    started through Testcontainers, and the role is what tells them apart.
    """
    text = Text()
    if row.by_testcontainers and not (compact and row.by_reality_engine):
        text.append("Testcontainers", style="blue")
    if row.by_reality_engine:
        if text:
            text.append(" · ", style="dim")
        elif not compact:
            text.append("Reality Engine · ", style="dim")
        text.append(row.role or "reality-engine", style="cyan")
    return text or Text("—", style="dim")


def short_image(image: str) -> str:
    """An image reference shortened to the part that tells images apart, still never mistaken for an
    official image: ``reality-engine/postgres:15-bookworm`` → ``…/postgres:15-bookworm`` (the ``…/``
    says a registry or namespace was left out), ``docker.io/library/redis:7`` → ``redis:7`` (official),
    ``ghcr.io/org/app@sha256:…`` → ``…/app@sha256:<12 hex>``, an image id → 12 hex."""
    if image.startswith("sha256:"):  # the image was untagged or deleted: Docker reports its id
        return image[len("sha256:"):][:12]
    name, _, digest = image.partition("@")
    path, _, short = name.rpartition("/")
    if path and path not in ("library", "docker.io/library", "index.docker.io/library"):
        short = "…/" + short
    if digest:
        algorithm, _, value = digest.partition(":")
        short += f"@{algorithm}:{value[:12]}" if value else f"@{digest}"
    return short


def image_labels(images: Iterable[str]) -> dict[str, str]:
    """Each image's short form, unless two different images would read the same: those stay whole."""
    readers: dict[str, set[str]] = {}
    for image in set(images):
        readers.setdefault(short_image(image), set()).add(image)
    return {image: short if len(same) == 1 else image for short, same in readers.items() for image in same}


#: Narrowest a name or an image is cut to (with an ellipsis) on a narrow terminal.
MIN_NAME_WIDTH = 10
MIN_IMAGE_WIDTH = 12


def container_table(rows: list[ContainerRow], now: float, title: str, empty: str, *, short_images: bool = False,
                    compact_owner: bool = False, gutter: int = 2, show_age: bool = True,
                    name_width: int | None = None, image_width: int | None = None, hidden: int = 0) -> Table:
    """The container table with one set of layout choices (each keyword can make it narrower).

    ``hidden`` containers did not fit the screen's height: a caption says how many.
    """
    labels = image_labels(row.image for row in rows) if short_images else {}
    # SIMPLE_HEAD draws a one-space divider between columns; the right padding adds the rest of the gutter.
    table = Table(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD, header_style="bold",
                  show_edge=False, pad_edge=False, padding=(0, gutter - 1, 0, 0))
    # Names and images are single words: "wrapping" them truncates with an ellipsis. Every cell
    # stays on one line: one row per container, whatever the width.
    table.add_column("Name", max_width=name_width, no_wrap=True, overflow="ellipsis")
    table.add_column("Image", max_width=image_width, no_wrap=True, overflow="ellipsis")
    table.add_column("Status", no_wrap=True)
    table.add_column("Ports", no_wrap=True)
    if show_age:
        table.add_column("Age", justify="right", no_wrap=True)
    table.add_column("Started by", no_wrap=True, overflow="ellipsis")
    for row in rows:
        ports = ", ".join(f"{host}→{inner}" for host, inner in row.ports) or "—"
        cells: list[RenderableType] = [
            Text(row.name, style="bold" if row.by_reality_engine else ""),
            labels.get(row.image, row.image),
            _status_text(row),
            ports,
        ]
        if show_age:
            cells.append(format_age(now - row.created if row.created else None))
        cells.append(started_by(row, compact=compact_owner))
        table.add_row(*cells)
    if not rows:
        table.caption = empty
        table.caption_justify = "left"
        table.min_width = len(empty)  # an empty table is narrow: don't fold the one line it has
    elif hidden:
        table.caption = f"… and {hidden} older (a taller terminal shows them)"
        table.caption_justify = "left"
        table.caption_style = "dim"
    return table


def fit_container_table(console: Console, width: int, rows: list[ContainerRow], now: float, title: str,
                        empty: str, hidden: int = 0) -> Table:
    """The widest layout of the container table that fits ``width`` columns, one line per container.

    What gives way, in order: ``Started by`` keeps only the role (the kit's containers all come
    from Testcontainers), the gutter between columns narrows to one space, the age goes, names are
    cut, images lose their registry and namespace to ``…/`` (never made to look official), then
    images are cut. Status and ports always stay whole.
    """
    choices: dict[str, Any] = {"hidden": hidden}
    table = container_table(rows, now, title, empty, **choices)
    for step in ({"compact_owner": True}, {"gutter": 1}, {"show_age": False}):
        if natural_width(console, table) <= width:
            return table
        choices.update(step)
        table = container_table(rows, now, title, empty, **choices)
    excess = natural_width(console, table) - width
    if excess <= 0 or not rows:
        return table
    widest_name = max(cell_len(row.name) for row in rows)
    cut = min(excess, max(0, widest_name - MIN_NAME_WIDTH))
    if cut:
        choices["name_width"] = widest_name - cut
        table = container_table(rows, now, title, empty, **choices)
        excess = natural_width(console, table) - width
    if excess > 0:
        choices["short_images"] = True
        table = container_table(rows, now, title, empty, **choices)
        excess = natural_width(console, table) - width
        if excess < 0 and "name_width" in choices:  # the short images freed room: give it back to the names
            choices["name_width"] = min(widest_name, choices["name_width"] - excess)
            table = container_table(rows, now, title, empty, **choices)
            excess = natural_width(console, table) - width
    if excess > 0:
        widest = max(cell_len(str(cell)) for cell in table.columns[1].cells)
        choices["image_width"] = max(MIN_IMAGE_WIDTH, widest - excess)
        table = container_table(rows, now, title, empty, **choices)
    return table


def build_table(state: MonitorState, now: float | None = None, title: str | None = None,
                empty: str | None = None, max_rows: int | None = None) -> FitToWidth:
    """The container table: name, image, status, ports, age, and who started each container.

    ``title`` and ``empty`` (the line shown when there is no container) replace the monitor's own.
    The table is laid out for the width it is printed at (:func:`fit_container_table`); with
    ``max_rows``, the oldest containers beyond it are counted in a caption instead of shown.
    """
    rows = state.rows()
    hidden = max(0, len(rows) - max_rows) if max_rows is not None else 0
    shown = rows[hidden:]  # the newest stay in sight: the one just started is the one people look for
    now = time.time() if now is None else now
    scope = "every container" if state.show_all else "started by Testcontainers or Reality Engine"
    title = title if title is not None else f"Containers — {scope}"
    empty = empty or ("No containers yet." if state.show_all else NO_CONTAINERS_YET)
    return FitToWidth(lambda console, width: fit_container_table(console, width, shown, now, title, empty, hidden))
