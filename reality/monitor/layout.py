"""Fitting rich renderables to a terminal: measure them, and build them for the width they are drawn at.

Shared by the monitor's views and the workshop's screens (its ``docker ps`` and its footers).
"""

from __future__ import annotations

from typing import Callable

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.measure import Measurement
from rich.text import Text


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


def height_of(console: Console, renderable: RenderableType, width: int) -> int:
    """How many lines ``renderable`` takes at ``width`` columns."""
    return len(console.render_lines(renderable, console.options.update(width=width, height=None), pad=False))


def footer_lines(parts: list[Text], width: int, separator: Text | None = None) -> Text:
    """``parts`` joined by `` · `` (or ``separator``), breaking lines between parts rather than inside one."""
    separator = separator if separator is not None else Text("  ·  ", style="dim")
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
