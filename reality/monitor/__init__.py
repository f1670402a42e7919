"""The terminal container monitor: which containers exist, who started them, what just happened.

One concern per module:

- :mod:`.model` — what is known: the containers seen and the recent events (no Docker, no rich);
- :mod:`.docker_feed` — Docker I/O: the listing, then the event stream, into the model;
- :mod:`.layout`, :mod:`.table`, :mod:`.view` — rendering, pure: the model in, rich renderables out,
  so tests print into ``Console(file=io.StringIO())`` and the workshop reuses the table as its ``docker ps``;
- :mod:`.live` — the loop that redraws the view (``watch_containers.py``).

The names below are the monitor's public face, for the entry script, the workshop and the tests.
"""

from __future__ import annotations

from .docker_feed import DockerWatcher, inspector, load_rows
from .layout import FitToWidth, footer_lines, height_of, natural_width
from .live import run_monitor
from .model import LOG_LENGTH, ContainerRow, LogEntry, MonitorState, is_kit_container
from .table import (
    MIN_IMAGE_WIDTH,
    MIN_NAME_WIDTH,
    NO_CONTAINERS_YET,
    build_table,
    container_table,
    fit_container_table,
    format_age,
    short_image,
    started_by,
)
from .view import build_log, build_view, event_log

__all__ = [
    "LOG_LENGTH", "MIN_IMAGE_WIDTH", "MIN_NAME_WIDTH", "NO_CONTAINERS_YET", "ContainerRow", "DockerWatcher",
    "FitToWidth", "LogEntry", "MonitorState", "build_log", "build_table", "build_view", "container_table",
    "event_log", "fit_container_table", "footer_lines", "format_age", "height_of", "inspector",
    "is_kit_container", "load_rows", "natural_width", "run_monitor", "short_image", "started_by",
]
