"""What a section works with: the console, the participant's answers, the figures, the record of steps."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .measurements import Figures

#: The label ``role`` of the workshop's own containers (with this process's pid, it selects them).
ROLE = "workshop"


class BackToMenu(Exception):
    """The participant typed ``m``: leave the section (its containers are removed on the way out)."""


class CheckCancelled(BackToMenu):
    """Ctrl+C during a check: the check is stopped and the participant is back at the menu."""


class QuitWorkshop(Exception):
    """The participant typed ``q`` (or input ended)."""


#: Between the choices of a prompt ("Enter: go on  ·  m: menu  ·  q: quit").
CHOICE_SEPARATOR = "  ·  "


def prompt_lines(markup: str, width: int) -> Text:
    """A prompt that breaks between its choices on a narrow screen, never inside one ("m:" / "menu")."""
    text = Text.from_markup(markup)
    cuts, start = [], 0
    while (found := text.plain.find(CHOICE_SEPARATOR, start)) != -1:
        cuts += [found, found + len(CHOICE_SEPARATOR)]
        start = found + len(CHOICE_SEPARATOR)
    pieces = text.divide(cuts)
    choices, separators = pieces[0::2], pieces[1::2]
    lines = Text()
    used = 0
    for index, choice in enumerate(choices):
        if index:
            separator = separators[index - 1]
            if used + separator.cell_len + choice.cell_len > width - 1:  # -1: the cursor after the prompt
                lines.append("\n")
                used = 0
            else:
                lines.append_text(separator)
                used += separator.cell_len
        lines.append_text(choice)
        used += choice.cell_len
    return lines


def hanging(mark: str, text: str | Text) -> Table:
    """``mark text``, where the lines ``text`` wraps onto start under its first word, not under ``mark``."""
    line = Table.grid(padding=(0, 1, 0, 0))
    line.add_column(no_wrap=True)
    line.add_column()
    line.add_row(mark, text)
    return line


@dataclass(frozen=True)
class StepResult:
    """One checked step of a section: did what the workshop claims actually happen?"""

    section: str
    name: str
    ok: bool
    detail: str = ""


@dataclass
class Session:
    """State shared by the sections of one workshop run."""

    console: Console
    input: TextIO
    interactive: bool
    repo_root: Path
    exercise_dir: Path
    show_solution: bool = False
    figures: Figures = field(default_factory=Figures)
    results: list[StepResult] = field(default_factory=list)
    section: str = ""

    def ask(self, prompt: str) -> str:
        """Print ``prompt`` and read one line (lower-cased, stripped); end of input means quit."""
        self.console.print(prompt_lines(prompt, self.console.width), end=" ")
        line = self.input.readline()
        if line == "":
            self.console.print()
            raise QuitWorkshop()
        return line.strip().lower()

    def pause(self, next_step: str) -> None:
        """Wait for Enter before ``next_step`` (interactive only); ``m`` goes to the menu, ``q`` quits."""
        if not self.interactive:
            return
        while True:
            answer = self.ask(f"[bold cyan]⏎ Enter[/]: {next_step}  [dim]·  m: menu  ·  q: quit[/]")
            if answer == "":
                self.console.print()
                return
            if answer in ("m", "menu"):
                raise BackToMenu()
            if answer in ("q", "quit", "exit"):
                raise QuitWorkshop()
            self.console.print("[dim]Press Enter to go on, m for the menu, q to quit.[/]")

    def step(self, name: str, ok: bool, detail: str = "") -> bool:
        """Record and show whether a step did what it should."""
        self.results.append(StepResult(self.section, name, ok, detail))
        mark = "[bold green]✓[/]" if ok else "[bold red]✗[/]"
        self.console.print(hanging(mark, f"{name}" + (f" [dim]— {detail}[/]" if detail else "")))
        return ok

    def say(self, text: str = "") -> None:
        self.console.print(text)

    @property
    def failed(self) -> list[StepResult]:
        return [result for result in self.results if not result.ok]

    def quietly(self) -> "Session":
        """This session without its narration: no pause, nothing said, no step recorded.

        The figures are the same object, so a section run quietly measures for the others (the
        comparison runs the magic this way when section 2 was skipped). What Docker does is still
        printed on the console (see :func:`.infrastructure.section_infrastructure`).
        """
        return QuietSession(**{each.name: getattr(self, each.name) for each in fields(self)})


class QuietSession(Session):
    """A :class:`Session` that measures without telling (see :meth:`Session.quietly`)."""

    def say(self, text: str = "") -> None:
        pass

    def pause(self, next_step: str) -> None:
        pass

    def step(self, name: str, ok: bool, detail: str = "") -> bool:
        return ok
