"""The workshop's flow: a menu, progress, Enter to go on, q to quit, and no container left behind.

    >>> Workshop(Console(file=io.StringIO()), interactive=False).run()   # doctest: +SKIP
    0
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TextIO

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from .. import docker_engine
from ..config import CHECKOUT, LABEL_PID, LABEL_ROLE
from ..orchestration import remove_containers
from ..errors import RealityError
from ..monitor import FitToWidth, footer_lines, load_rows
from .exercise import folder_problem
from .screens import display_path
from .sections import SECTIONS, Section
from .progress import FILE_NAME as PROGRESS_FILE
from .progress import Progress, format_duration
from .session import ROLE, BackToMenu, CheckCancelled, QuitWorkshop, Session
from .stopping import StopOnce, stopped_once

MOTTO = "If your tests don't face reality, your users will."


class Workshop:
    """One run of the workshop, interactive (menu, prompts) or not (every section, no input)."""

    def __init__(self, console: Console | None = None, input: TextIO | None = None, interactive: bool = True,
                 repo_root: Path = CHECKOUT, exercise_dir: Path | None = None, show_solution: bool = False,
                 start_at: int | None = None, restart: bool = False, command: str = "python3 workshop.py") -> None:
        self.console = console or Console()
        self.session = Session(self.console, input or sys.stdin, interactive, repo_root,
                               exercise_dir or repo_root / "exercise", show_solution)
        self.start_at = start_at
        # Kept between interactive runs (a participant comes back after a break); a non-interactive
        # run (CI) neither reads nor writes it.
        if restart:
            Progress(self.session.exercise_dir / PROGRESS_FILE).forget()
        self.progress = (Progress.load(self.session.exercise_dir) if interactive
                         else Progress(self.session.exercise_dir / PROGRESS_FILE))  # in memory only
        self.saved = False  # progress written by this run: the goodbye may promise it is kept
        self.command = command  # how to come back (with --exercise-dir when one was given)
        self._stopper: StopOnce | None = None
        # What the participant must still read when the menu comes back on a cleared screen: a
        # section's one-line error, or a hint about what they typed.
        self.notice: str | None = None

    # -- the whole run --------------------------------------------------------------------------

    def run(self) -> int:
        """Run the workshop; returns the exit code (0 fine, 1 a step failed, 2 unusable folder, 130 Ctrl+C)."""
        problem = folder_problem(self.session.exercise_dir)
        if problem:
            # Said before the first section, not after ten minutes of it when the hands-on begins.
            self.console.print(f"[bold red]✗[/] {problem}")
            return 2
        code = 0
        with stopped_once() as self._stopper:
            try:
                if self.session.interactive:
                    self._interactive()
                else:
                    self.console.print(self._welcome())
                    for section in SECTIONS:
                        if self.start_at is None or section.number >= self.start_at:
                            self._run_section(section)
                    self._finish()
            except QuitWorkshop:
                self.console.print(self._goodbye())
            except KeyboardInterrupt:
                self.console.print("\n[bold]Stopped (Ctrl+C).[/]")
                code = 130
            finally:
                self._leave_nothing_behind()
        if code == 0 and self.session.failed:
            code = 1
        return code

    def _interactive(self) -> None:
        pending = self.start_at
        while True:
            if pending is None:
                self._clear()
                self.console.print(self._welcome())
                if self.notice:
                    self.console.print(self.notice)
                    self.notice = None
                first_undone = next((s for s in SECTIONS if s.number not in self.done), SECTIONS[0])
                answer = self.session.ask(f"[bold cyan]⏎ Enter[/]: start {first_undone.number}. {first_undone.title}"
                                          f"  [dim]·  1-{len(SECTIONS)}: jump to a section  ·  q: quit[/]")
                if answer in ("q", "quit", "exit"):
                    raise QuitWorkshop()
                if answer == "":
                    pending = first_undone.number
                elif answer.isdigit() and 1 <= int(answer) <= len(SECTIONS):
                    pending = int(answer)
                else:
                    self.notice = f"[yellow]Type a section number (1-{len(SECTIONS)}), Enter, or q.[/]"
                    continue
            section = SECTIONS[pending - 1]
            pending = None
            try:
                if not self._run_section(section):
                    continue  # back to the menu, the error shown under it
                if len(self.done) == len(SECTIONS):
                    # The last section's verdict is read first; the summary then gets a screen of its own.
                    self.session.pause("see what this run checked")
                    self._clear()
                    self._finish()
                    return
                following = next((s for s in SECTIONS if s.number > section.number and s.number not in self.done),
                                 next(s for s in SECTIONS if s.number not in self.done))
                self.session.pause(f"go on to {following.number}. {following.title}")
                pending = following.number
            except CheckCancelled:
                # The check's pytest runs were stopped and the section's container removed on the
                # way here: Ctrl+C counts again from now on, at the menu.
                self.notice = ("[yellow]Check cancelled (Ctrl+C).[/] Back at the menu; your progress is kept. "
                               "[dim]Ctrl+C here ends the workshop.[/]")
                if self._stopper is not None:
                    self._stopper.rearm()
            except BackToMenu:
                continue

    @property
    def done(self) -> set[int]:
        return self.progress.done

    def _goodbye(self) -> str:
        if self.saved:
            where = display_path(self.progress.path)
            return (f"[bold]Bye![/] Your progress is kept in {where}. Come back any time:\n"
                    f"  [bold]{self.command}[/]")
        if self.done:  # done in an earlier run, nothing new to keep
            return f"[bold]Bye![/] Come back any time: [bold]{self.command}[/]"
        return "[bold]Bye![/]"

    def _run_section(self, section: Section) -> bool:
        """Run one section; ``False`` when the infrastructure failed (the one-line reason is shown)."""
        self.session.section = section.title
        self._clear()
        self.console.rule(f"[bold]{section.number}. {section.title}[/]  [dim]{self._duration(section)}[/]")
        self.console.print(self._progress(current=section.number))
        self.console.print()
        began = time.monotonic()
        try:
            section.run(self.session)
        except RealityError as exc:
            # Docker down, image missing: one actionable line, and the workshop goes on.
            self.session.step(f"{section.title} could not run", False, str(exc))
            if self._screen_clears():
                self.notice = f"[bold red]✗[/] {section.title} could not run [dim]—[/] {exc}"
            return False
        # Measured from the section's start to its end, reading included: what the labels show.
        self.progress.finish(section.number, time.monotonic() - began)
        if self.session.interactive:
            self.saved = self.progress.save() or self.saved
        return True

    def _duration(self, section: Section) -> str:
        """``took 1 min 05 s`` once done (measured), ``≈1 min`` before (from measured runs)."""
        if section.number in self.progress.seconds:
            return f"took {format_duration(self.progress.seconds[section.number])}"
        return f"≈{section.minutes} min"

    # -- screens --------------------------------------------------------------------------------

    def _screen_clears(self) -> bool:
        return self.session.interactive and self.console.is_terminal

    def _clear(self) -> None:
        """A fresh screen per section in a live terminal; transcripts (CI, tests, pipes) keep everything."""
        if self._screen_clears():
            self.console.clear()
        else:
            self.console.print()

    def _progress(self, current: int | None = None) -> FitToWidth:
        """One line per screen width, broken between sections, never inside one."""
        parts = [Text("Progress", style="dim")]
        for section in SECTIONS:
            if section.number in self.done:
                parts.append(Text(f"✓ {section.number} {section.title}", style="green"))
            elif section.number == current:
                parts.append(Text(f"▶ {section.number} {section.title}", style="bold cyan"))
            else:
                parts.append(Text(f"○ {section.number} {section.title}", style="dim"))
        left = sum(s.minutes for s in SECTIONS if s.number not in self.done)
        parts.append(Text(f"{len(self.done)}/{len(SECTIONS)} done" + (f" · ≈{left} min to go" if left else ""),
                          style="dim"))
        return FitToWidth(lambda console, width: footer_lines(parts, width, separator=Text("   ")))

    def _welcome(self) -> Panel:
        menu = Table.grid(padding=(0, 2))
        menu.add_column(justify="right", style="bold")
        menu.add_column(style="bold")
        menu.add_column(style="dim")
        menu.add_column(justify="right", style="dim")
        menu.add_column()
        for section in SECTIONS:
            status = Text("✓ done", style="green") if section.number in self.done else Text("")
            menu.add_row(str(section.number), section.title, section.summary, self._duration(section), status)
        return Panel(Group(Text(MOTTO, style="italic"), Text(""), menu, Text(""), self._progress()),
                     title="[bold]Reality Engine — the workshop[/]", title_align="left", border_style="cyan")

    def _finish(self) -> None:
        results = Table(title="What this run checked", title_justify="left", title_style="bold",
                        show_edge=False, header_style="bold")
        results.add_column("")
        results.add_column("Section", no_wrap=True)
        results.add_column("Step")
        for result in self.session.results:
            step = result.name + (f" — {result.detail}" if not result.ok and result.detail else "")
            results.add_row(Text("✓", style="bold green") if result.ok else Text("✗", style="bold red"),
                            result.section, step)
        self.console.print()
        self.console.print(results)
        failed = self.session.failed
        if failed:
            self.console.print(f"[bold red]{len(failed)} step(s) failed.[/] The first: {failed[0].name} — "
                               f"{failed[0].detail}")
        else:
            self.console.print(Panel(
                f"[bold]Done.[/] {MOTTO}\n\n"
                f"  Your exercise:      {display_path(self.session.exercise_dir)}/\n"
                "  Watch containers:   python3 watch_containers.py\n"
                "  Clean up after:     python3 cleanup.py",
                border_style="green"))

    def _leave_nothing_behind(self) -> None:
        """Whatever happened, no container of this workshop survives it (checked with Docker)."""
        try:
            client = docker_engine.connect(timeout=3)
        except RealityError:
            return
        try:
            labels = {LABEL_PID: str(os.getpid()), LABEL_ROLE: ROLE}
            removed = remove_containers(client, labels)
            if removed:
                self.console.print(f"[dim]Removed {len(removed)} container(s) that were still starting.[/]")
            left = load_rows(client, labels)
            if left:
                self.console.print(f"[bold red]{len(left)} container(s) could not be removed: "
                                   "run  python3 cleanup.py[/]")
            else:
                self.console.print("[dim]No container left behind (checked with Docker).[/]")
        finally:
            client.close()
