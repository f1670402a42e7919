"""The monitor's whole screen, pure: the container table, the recent Docker events, and how to leave.

:func:`build_view` lays a :class:`~reality.monitor.model.MonitorState` out for the terminal's width
and height; tests print it into ``Console(file=io.StringIO())``.

    >>> import io; from rich.console import Console
    >>> out = io.StringIO()
    >>> Console(file=out, width=80, height=12, color_system=None).print(build_view(MonitorState()))
    >>> "Ctrl+C to quit" in out.getvalue()
    True
"""

from __future__ import annotations

import time

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.table import Table
from rich.text import Text

from ..vocabulary import DockerAction
from .layout import FitToWidth, footer_lines, height_of, natural_width
from .model import LogEntry, MonitorState
from .table import MIN_NAME_WIDTH, build_table, image_labels

ACTION_STYLES = {DockerAction.CREATE: "cyan", DockerAction.START: "green", DockerAction.RESTART: "green",
                 DockerAction.UNPAUSE: "green", DockerAction.DIE: "red", DockerAction.KILL: "bold red",
                 DockerAction.OOM: "bold red", DockerAction.STOP: "yellow", DockerAction.PAUSE: "yellow",
                 DockerAction.DESTROY: "magenta"}


def event_log(entries: list[LogEntry], short_images: bool = False, name_width: int | None = None) -> Table:
    """The recent events as a grid, one line each: images whole or in their short form."""
    labels = image_labels(entry.image for entry in entries) if short_images else {}
    log = Table.grid(padding=(0, 1))
    log.add_column(style="dim", no_wrap=True)
    log.add_column(no_wrap=True, min_width=7)
    # Names and images give way on a narrow terminal (single words: they are cut with an ellipsis).
    log.add_column(max_width=name_width or 30, no_wrap=True, overflow="ellipsis")
    log.add_column(style="dim", max_width=36, no_wrap=True, overflow="ellipsis")
    log.add_column(no_wrap=True)
    for entry in entries:
        log.add_row(time.strftime("%H:%M:%S", time.localtime(entry.ts)),
                    Text(entry.action, style=ACTION_STYLES.get(entry.action, "")),
                    entry.name, labels.get(entry.image, entry.image), entry.detail)
    return log


def fit_event_log(console: Console, width: int, entries: list[LogEntry]) -> Table:
    """The event log's widest layout that fits: names are cut first, then images shortened to ``…/``."""
    log = event_log(entries)
    excess = natural_width(console, log) - width
    if excess <= 0:
        return log
    widest = min(30, max(cell_len(entry.name) for entry in entries))
    name_width = max(MIN_NAME_WIDTH, widest - excess)
    log = event_log(entries, name_width=name_width)
    excess = natural_width(console, log) - width
    if excess <= 0:
        return log
    log = event_log(entries, short_images=True, name_width=name_width)
    excess = natural_width(console, log) - width
    # The short images freed room: give it back to the names.
    return event_log(entries, short_images=True, name_width=min(widest, name_width - excess)) if excess < 0 else log


def build_log(state: MonitorState, limit: int | None = None) -> RenderableType:
    """The last few Docker events (the latest ``limit``), oldest first, one line each."""
    entries = state.log()
    if limit is not None:
        entries = entries[len(entries) - limit:] if limit > 0 else []
    if not entries:
        return Text("(none yet)", style="dim")
    return FitToWidth(lambda console, width: fit_event_log(console, width, entries))


class MonitorView:
    """The whole screen, laid out for the terminal's width and height.

    Nothing is ever cut to ``...`` by the terminal's height: the footer (how to leave) always shows,
    the table keeps as many containers as fit (the rest are counted), and the event log shows as
    many of the latest events as the remaining lines hold.
    """

    def __init__(self, state: MonitorState, now: float | None = None, height: int | None = None) -> None:
        self.state = state
        self.now = now
        self.height = height

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        # Live draws one line short of the terminal so the cursor has a line of its own.
        height = (self.height or options.height or options.max_height) - 1
        state = self.state
        with state.lock:
            engine_up = state.engine_up
            rows = state.rows()
            events = state.log()
        engine = Text("Docker engine: connected", style="green") if engine_up else \
            Text("Docker engine: unreachable — retrying every second (is dockerd still running?)", style="bold red")
        # How many containers the monitor follows (the table may show the newest only, its caption says so).
        count = f"{len(rows)} container" + ("" if len(rows) == 1 else "s")
        parts = [engine, Text(count), Text("Ctrl+C to quit", style="dim")]
        if not state.show_all:
            parts.append(Text("--all shows every container", style="dim"))
        footer = footer_lines(parts, width)
        room = height - height_of(console, footer, width) - 1  # the blank line above the footer
        max_rows = len(rows)
        table = build_table(state, self.now, max_rows=max_rows)
        # The table gives up rows (counted in its caption) until the events get three lines: a blank
        # one, their heading, and at least one event (or "none yet").
        while max_rows > 1 and height_of(console, table, width) > room - 3:
            max_rows -= 1
            table = build_table(state, self.now, max_rows=max_rows)
        left = room - height_of(console, table, width) - 2  # lines for events, under the blank and heading
        heading = Text("Recent Docker events", style="bold")
        if events and left < len(events):
            heading.append(f"  (latest {left} of {len(events)}; a taller terminal shows more)"
                           if left > 0 else "  (a taller terminal shows them)", style="dim")
        yield table
        if left >= 0:
            yield Text("")
            yield heading
            if events:
                if left > 0:
                    yield build_log(state, limit=min(left, len(events)))
            elif left > 0:
                yield Text("(none yet)", style="dim")
        yield Text("")
        yield footer


def build_view(state: MonitorState, now: float | None = None, height: int | None = None) -> RenderableType:
    """The whole screen: the table, the recent events, and how to leave (fitted to the terminal)."""
    return MonitorView(state, now, height)
