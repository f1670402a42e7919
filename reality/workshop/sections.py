"""The workshop's four sections: the problem, the magic, the comparison, hands-on.

Each section tells, then shows, then checks: every claim on screen ("the mock accepted the duplicate",
"the container is gone") is a :meth:`Session.step` that fails the run if reality disagrees.
"""

from __future__ import annotations

import os
import re
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import psycopg2
from rich import box
from rich.padding import Padding
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from ..config import LABEL_PID, LABEL_ROLE
from ..orchestration import Infrastructure
from ..events import Event, EventBus
from ..monitor import FitToWidth, MonitorState, build_table, load_rows
from ..votes import InMemoryVoteStore, VoteStore
from .exercise import SOLUTION, Exercise, Verdict, check, render_verdict
from .measurements import (
    FANTASY_TESTS,
    Figures,
    RACE_THREADS,
    REALITY_TESTS,
    docstrings_of_tests,
    race,
    refused_duplicate,
    run_suite,
    timed,
)
from .pytest_runner import PytestRun
from .session import ROLE, BackToMenu, CheckCancelled, QuitWorkshop, Session, hanging


@dataclass(frozen=True)
class Section:
    number: int
    title: str
    minutes: int  # the estimate shown until the participant's own run of it is measured
    summary: str
    run: Callable[[Session], None]


# -- shared bits ---------------------------------------------------------------------------------

def display_path(path: Path) -> str:
    """``exercise/test_product_sku.py`` when under the current folder, else the absolute path."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def indented(text: str) -> Padding:
    """Two spaces in, and so are the lines it wraps onto."""
    return Padding(text, (0, 0, 0, 2))


def _infrastructure(session: Session) -> Infrastructure:
    """Infrastructure for this section; its lifecycle events are printed as they happen."""
    bus = EventBus()

    def show(event: Event) -> None:
        # Hanging indents: a long note (the reaper's) wraps under its own text, not at the margin.
        if event.kind == "container" and event.action in ("pulling", "starting"):
            session.say(hanging("  [cyan]•[/]", event.message))
        elif event.kind == "container" and event.action == "ready":
            session.say(hanging("  [green]•[/]", f"{event.message} [dim](measured by this run)[/]"))
        elif event.kind == "container" and event.action == "failed":
            session.say(hanging("  [red]•[/]", event.message))
        elif event.kind == "system" and event.action == "note":
            session.say(hanging("  [dim]•[/]", f"[dim]{event.message}[/]"))

    bus.subscribe(show)
    return Infrastructure(bus, role=ROLE)


def _start_postgres(session: Session, infra: Infrastructure) -> None:
    with session.console.status("Starting PostgreSQL with Testcontainers…"):
        infra.start("postgres")
    service = infra.services["postgres"]
    session.figures.start_seconds = service.startup_seconds
    session.figures.image = service.image.image if service.image else None


def _our_containers() -> dict[str, str]:
    return {LABEL_PID: str(os.getpid()), LABEL_ROLE: ROLE}


def _docker_ps(infra: Infrastructure, title: str) -> tuple[FitToWidth, int]:
    """This workshop's containers as Docker lists them right now, and how many there are."""
    state = MonitorState(show_all=True)
    state.replace_all(load_rows(infra.client, _our_containers()))
    table = build_table(state, title=title, empty="(no containers: this workshop has nothing running)")
    return table, len(state.rows())


def _outcome_text(outcome: str) -> Text:
    style = {"passed": "bold green", "failed": "bold red", "error": "bold red", "skipped": "yellow"}.get(outcome, "")
    return Text(outcome.upper(), style=style)


def _suite_table(run: PytestRun, docstrings: dict[str, str], title: str) -> Table:
    # Light lines, and the docstrings' shared "Passes. The lie:" said once in the header: the table,
    # its title and the prompt after it fit a screen of 80x15.
    table = Table(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD, show_edge=False,
                  pad_edge=False, header_style="bold")
    table.add_column("Test", no_wrap=True)
    table.add_column("Result", no_wrap=True)
    table.add_column("The lie (from its docstring)")
    for test in run.tests:
        lie = re.sub(r"^Passes\.\s+The lie:\s*", "", docstrings.get(test.name, ""))
        table.add_row(test.name, _outcome_text(test.outcome), Text(lie, style="dim"))
    return table


def pytest_says(run: PytestRun) -> str:
    """What pytest itself printed at the end ("3 passed in 0.01s"), from its own report."""
    if run.reported_seconds is None:
        return run.summary()
    return f"{run.summary()} in {run.reported_seconds:.2f}s"


def _suite_detail(run: PytestRun, wall: bool = True) -> str:
    detail = pytest_says(run) + (f", {run.seconds:.2f} s with Python's start-up" if wall else "")
    problems = [test for test in run.tests if test.outcome in ("failed", "error")]
    if problems:
        detail += f": {problems[0].explanation(1)}"
    elif not run.tests:
        detail += f": {run.output.strip().splitlines()[-1] if run.output.strip() else 'pytest printed nothing'}"
    return detail


# -- 1. the problem ------------------------------------------------------------------------------

def the_problem(session: Session) -> None:
    """Run the fantasy tests for real; they pass, and the duplicate still gets in."""
    figures = session.figures
    session.say("Most test suites talk to a [bold]mock[/]: a stand-in for the database that is fast, easy, "
                "and has none of its rules.\nThis project's [bold]tests/test_fantasy.py[/] tests the vote store "
                "that way. Let's run it — for real, with pytest.")
    session.pause(f"run  pytest {FANTASY_TESTS}")
    with session.console.status(f"pytest {FANTASY_TESTS}…"):
        figures.fantasy = run_suite(session.repo_root, FANTASY_TESTS)
    run = figures.fantasy
    session.say(_suite_table(run, docstrings_of_tests(session.repo_root / FANTASY_TESTS),
                             f"$ pytest {FANTASY_TESTS}   →   {pytest_says(run)}"))
    session.step("The fantasy tests pass", run.all_passed, _suite_detail(run))

    session.say("All green. Now the same mock, and the question the tests never ask: "
                "[italic]what if one phone votes twice?[/]")
    session.pause("vote twice from phone-1")
    mock = InMemoryVoteStore()
    mock.cast("phone-1", "Python")
    mock.cast("phone-1", "Python")
    figures.mock_duplicate_total = mock.total()
    session.say(indented(f"mock.cast('phone-1', 'Python') twice  →  no error, counts = {mock.counts()}"))
    session.step("The mock accepts the duplicate vote", figures.mock_duplicate_total == 2,
                 f"one phone, {figures.mock_duplicate_total} votes counted")
    figures.mock_race_total = race(InMemoryVoteStore(), "phone-2")
    session.step(f"{RACE_THREADS} simultaneous votes from one phone: the mock counts them all",
                 figures.mock_race_total == RACE_THREADS, f"{figures.mock_race_total} votes counted")
    session.say(Panel("[bold]All green, all wrong.[/] The tests pass, and one phone counts as two — or twenty.\n"
                      "The bug ships to production, where the audience finds it for you.",
                      border_style="red"))


# -- 2. the magic --------------------------------------------------------------------------------

def the_magic(session: Session) -> None:
    """Start a real PostgreSQL, vote, vote again, read PostgreSQL's own refusal, watch the container go."""
    figures = session.figures
    session.say("[bold]Testcontainers[/] starts a real PostgreSQL 15 in a throwaway container, for this run only.\n"
                "[dim]Tip: in a second terminal, run  python3 watch_containers.py  "
                "to watch it appear and disappear.[/]")
    session.pause("start PostgreSQL")
    with _infrastructure(session) as infra:
        _start_postgres(session, infra)
        table, running = _docker_ps(infra, "$ docker ps   (this workshop's containers)")
        session.say(table)
        session.step("A real PostgreSQL container is running", running == 1,
                     f"ready in {figures.start_seconds:.2f} s, image {figures.image}")

        session.pause("cast a vote from phone-1")
        store = VoteStore(infra.postgres_url)
        try:
            store.init_schema()
            store.reset()
            _, figures.insert_ms = timed(lambda: store.cast("phone-1", "Python"))
            session.say(indented(f"INSERT INTO votes (voter_id, choice) VALUES ('phone-1', 'Python')  →  stored in "
                        f"{figures.insert_ms:.1f} ms, counts = {store.counts()}"))

            session.pause("vote again from phone-1")
            error = refused_duplicate(store, "phone-1", "Rust")
            if error is not None:
                figures.duplicate_error = (error.pgerror or str(error)).strip()
                figures.duplicate_code = error.pgcode
                session.say(Panel(Text(figures.duplicate_error, style="bold"),
                                  title=f"PostgreSQL says (SQLSTATE {error.pgcode}, {type(error).__name__})",
                                  title_align="left", border_style="green"))
            session.step("PostgreSQL refuses the second vote", error is not None and store.total() == 1,
                         f"its own UNIQUE constraint, not our code; {store.total()} vote stored")

            figures.pg_race_total = race(store, "phone-2")
            session.step(f"{RACE_THREADS} simultaneous votes from one phone: PostgreSQL keeps one",
                         figures.pg_race_total == 1,
                         f"{figures.pg_race_total} stored, {RACE_THREADS - figures.pg_race_total} refused")
        finally:
            store.close()

        session.pause("remove the container")
        _, removed_ms = timed(infra.stop_all)
        figures.removed_seconds = removed_ms / 1000
        table, figures.left_behind = _docker_ps(infra, "$ docker ps   (after the test)")
        session.say(table)
        session.step("The container is gone: nothing left behind", figures.left_behind == 0,
                     f"removed in {figures.removed_seconds:.2f} s")
    session.say(Panel(f"[bold]Started, used, gone.[/] A real database in {figures.start_seconds:.2f} s, "
                      "its real error, and no trace afterwards. That is the whole trick.", border_style="green"))


def _measure_postgres_quietly(session: Session) -> None:
    """The magic section's figures without its narration (when someone jumps straight to the comparison)."""
    figures = session.figures
    with _infrastructure(session) as infra:
        _start_postgres(session, infra)
        store = VoteStore(infra.postgres_url)
        try:
            store.init_schema()
            store.reset()
            _, figures.insert_ms = timed(lambda: store.cast("phone-1", "Python"))
            error = refused_duplicate(store, "phone-1", "Rust")
            if error is not None:
                figures.duplicate_error = (error.pgerror or str(error)).strip()
                figures.duplicate_code = error.pgcode
            figures.pg_race_total = race(store, "phone-2")
        finally:
            store.close()
        _, removed_ms = timed(infra.stop_all)
        figures.removed_seconds = removed_ms / 1000
        figures.left_behind = len(load_rows(infra.client, _our_containers()))


# -- 3. the comparison ---------------------------------------------------------------------------

def _seconds(value: float | None) -> str:
    if value is None:
        return "not measured"
    if value < 0.001:
        return "under 1 ms"
    return f"{value * 1000:.1f} ms" if value < 0.1 else f"{value:.2f} s"


def _refusal(error: str | None) -> Text:
    """PostgreSQL's refusal in a few words: the constraint it names, else its first line."""
    if not error:
        return Text("NOT refused", style="red")
    named = re.search(r'constraint "([^"]+)"', error)
    reason = f"UNIQUE {named.group(1)}" if named else error.splitlines()[0].removeprefix("ERROR:").strip()
    return Text(f"refused ({reason})", style="green")


def comparison_table(figures: Figures, fantasy: PytestRun, reality: PytestRun) -> Table:
    """Mock against Testcontainers, one line per question (it fits an 80-column screen, header included)."""
    table = Table(title="Mock vs Testcontainers — measured in this run", title_justify="left", title_style="bold",
                  header_style="bold", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("", style="bold")
    table.add_column("Mock (in-memory list)")
    table.add_column("Real PostgreSQL 15", overflow="fold")
    table.add_row("pytest says", f"{pytest_says(fantasy)}", f"{pytest_says(reality)}")
    table.add_row("Wall time, start-up incl.", _seconds(fantasy.seconds), _seconds(reality.seconds))
    table.add_row("Container start", "none: a Python object", _seconds(figures.start_seconds))
    table.add_row("Image", "—", figures.image or "—")
    table.add_row("One phone votes twice", Text(f"accepted: {figures.mock_duplicate_total} votes", style="red"),
                  _refusal(figures.duplicate_error))
    table.add_row(f"{RACE_THREADS} votes at once", Text(f"{figures.mock_race_total} counted", style="red"),
                  Text(f"{figures.pg_race_total} counted, {RACE_THREADS - (figures.pg_race_total or 0)} refused",
                       style="green" if figures.pg_race_total == 1 else "red"))
    table.add_row("Duplicate-vote bug", Text("missed (all green)", style="bold red"),
                  Text("caught", style="bold green") if figures.duplicate_error else Text("missed", style="bold red"))
    table.add_row("Left behind", "nothing (never existed)",
                  ("nothing" + (f" (removed in {figures.removed_seconds:.2f} s)"
                                if figures.removed_seconds is not None else ""))
                  if figures.left_behind == 0 else Text(f"{figures.left_behind} container(s)!", style="bold red"))
    return table


def the_comparison(session: Session) -> None:
    """Mock against Testcontainers, side by side, with this run's figures."""
    figures = session.figures
    session.say("Same vote store, same questions, two kinds of test. Both suites now run for real, "
                "one after the other; every figure below is measured in this run.")
    session.pause(f"run  pytest {FANTASY_TESTS}  and  pytest {REALITY_TESTS}")
    if figures.mock_duplicate_total is None:
        mock = InMemoryVoteStore()
        mock.cast("phone-1", "Python")
        mock.cast("phone-1", "Python")
        figures.mock_duplicate_total = mock.total()
        figures.mock_race_total = race(InMemoryVoteStore(), "phone-2")
    if figures.pg_race_total is None:
        session.say("[dim]Section 2 was skipped: measuring a real PostgreSQL now.[/]")
        _measure_postgres_quietly(session)
    with session.console.status(f"pytest {FANTASY_TESTS}…"):
        figures.fantasy = run_suite(session.repo_root, FANTASY_TESTS)
    with session.console.status(f"pytest {REALITY_TESTS} (starts its own PostgreSQL)…"):
        figures.reality = run_suite(session.repo_root, REALITY_TESTS)
    fantasy, reality = figures.fantasy, figures.reality

    session.say(comparison_table(figures, fantasy, reality))
    extra = reality.seconds - fantasy.seconds
    if extra > 0:
        session.say(f"The mock is [bold]{extra:.1f} s[/] faster. PostgreSQL is [bold]right[/]: "
                    f"{extra:.1f} s buys tests that fail for the right reason.")
    else:
        session.say("The mock is not even faster here. PostgreSQL is [bold]right[/].")
    session.step("Both suites ran", fantasy.all_passed and reality.all_passed,
                 f"fantasy: {_suite_detail(fantasy, wall=False)}; reality: {_suite_detail(reality, wall=False)}")
    session.step("Every figure measured in this run", None not in (
        figures.start_seconds, figures.duplicate_error, figures.pg_race_total, figures.mock_race_total))


# -- 4. hands-on ---------------------------------------------------------------------------------

def _database_answers(dsn: str) -> bool:
    """True when PostgreSQL accepts a connection and answers a query."""
    try:
        with closing(psycopg2.connect(dsn, connect_timeout=3)) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except psycopg2.Error:
        return False


def _replace_database(session: Session, infra: Infrastructure) -> None:
    """A fresh PostgreSQL in place of one that stopped answering (the exercise keeps no data in it)."""
    infra.stop("postgres")
    _start_postgres(session, infra)


def _check_on_a_live_database(session: Session, infra: Infrastructure, test_file: Path, status: str,
                              subject: str = "Your test") -> Verdict | None:
    """:func:`check` on a PostgreSQL that answers; ``None`` when it went away during the check.

    A killed container (``docker kill``, a crash) would make every test fail with "connection
    refused", and the verdict would blame the test: the database is replaced instead, in one line.
    """
    try:
        if not _database_answers(infra.postgres_url):
            session.say("[yellow]![/] The exercise's PostgreSQL is gone (its container was stopped or killed?): "
                        "starting a fresh one before the check.")
            _replace_database(session, infra)
        with session.console.status(f"{status}  [dim](Ctrl+C cancels the check)[/]" if session.interactive else status):
            verdict = check(test_file, infra.postgres_url, session.repo_root, subject=subject)
    except KeyboardInterrupt:
        if not session.interactive:
            raise  # no menu to go back to: Ctrl+C ends the run
        # A test that hangs (a sleep, a lock) must not cost the participant the whole workshop:
        # its pytest runs are stopped by now; leaving the section removes the database.
        raise CheckCancelled() from None
    if _database_answers(infra.postgres_url):
        return verdict
    session.say("[yellow]![/] The exercise's PostgreSQL went away during the check (its container was stopped or "
                "killed?), so the result says nothing about the test: starting a fresh one.")
    _replace_database(session, infra)
    return None


def _show_and_check_solution(session: Session, exercise: Exercise, infra: Infrastructure) -> bool:
    path = exercise.write_solution()
    session.say(Panel(Syntax(SOLUTION, "python", theme="ansi_dark", background_color="default", word_wrap=True),
                      title=f"One solution — {display_path(path)}", title_align="left", border_style="cyan"))
    status = "Checking the solution against a real PostgreSQL, with and without UNIQUE (sku)…"
    verdict = _check_on_a_live_database(session, infra, path, status, subject="The solution")
    if verdict is None:  # the solution is known to be right: once more, on the fresh database
        verdict = _check_on_a_live_database(session, infra, path, status, subject="The solution")
    if verdict is None:
        return session.step("The solution proves the constraint", False,
                            "the exercise's PostgreSQL went away during two checks in a row: is something "
                            "killing containers?")
    session.say(render_verdict(verdict))
    return session.step("The solution proves the constraint", verdict.proves,
                        "passes with UNIQUE (sku), fails without it" if verdict.proves else verdict.headline)


def hands_on(session: Session) -> None:
    """The participant writes a test for a product table whose SKU must be unique; a real database judges it."""
    exercise = Exercise(session.exercise_dir)
    written = exercise.create()
    where = display_path(exercise.test_file)
    if exercise.test_file in written:
        session.say(f"Your file is ready: [bold]{where}[/] (a skeleton with hints). "
                    f"Open it in your editor (in Codespaces: [bold]code {where}[/]).")
    else:
        session.say(f"Your file is still there, untouched by this run: [bold]{where}[/]. "
                    f"Open it in your editor (in Codespaces: [bold]code {where}[/]).")
    session.say(Panel(
        "An online shop keeps its products in PostgreSQL:\n"
        "    [bold]products (id, sku, name, price_cents)[/]  with  [bold]UNIQUE (sku)[/]\n"
        "Write a test proving that two products can never share a SKU.\n"
        "[bold]How it is checked:[/] your test runs twice against a real PostgreSQL —\n"
        "  1. with UNIQUE (sku): it must [green]pass[/];\n"
        "  2. without the constraint: it must [red]fail[/] — otherwise it proves nothing.\n\n"
        # Last, so that on a short screen what the test is given stays in sight above the prompt.
        "[bold]The db fixture[/] (ask for it: [bold]def test_...(db):[/]) gives your test a psycopg2 connection "
        "(autocommit) to a real PostgreSQL, with a fresh, empty products table for every test. "
        "[dim]Or bring your own container and table: that is judged the same way.[/]\n"
        "[dim]Hint: insert a product, insert another with the same SKU, and expect "
        "psycopg2.errors.UniqueViolation (pytest.raises).[/]",
        title="Hands-on — about 3 minutes", title_align="left", border_style="cyan"))
    with _infrastructure(session) as infra:
        _start_postgres(session, infra)
        if session.show_solution or not session.interactive:
            _show_and_check_solution(session, exercise, infra)
            return
        while True:
            # The file's name only: its whole path (shown above) could fill a narrow screen's line.
            answer = session.ask(f"[bold cyan]⏎ Enter[/]: check {exercise.test_file.name}  [dim]·  s: show the "
                                 "solution  ·  m: menu  ·  q: quit[/]")
            if answer in ("m", "menu"):
                raise BackToMenu()
            if answer in ("q", "quit", "exit"):
                raise QuitWorkshop()
            if answer in ("s", "solution"):
                _show_and_check_solution(session, exercise, infra)
                return
            if answer:
                session.say("[dim]Press Enter to check your test, s for the solution, m for the menu, q to quit.[/]")
                continue
            verdict = _check_on_a_live_database(
                session, infra, exercise.test_file,
                f"Running {where} against a real PostgreSQL, with and without the constraint…")
            if verdict is None:
                continue  # the fresh database is up: Enter checks again
            session.say(render_verdict(verdict))
            if verdict.proves:
                # Only the answer that proves it is a step: attempts before it are how one learns.
                session.step("Your test proves the constraint", True, "passes with UNIQUE (sku), fails without it")
                session.say("[bold green]Well done: that test would stop anyone from shipping a shop that sells "
                            "two products under one SKU.[/]")
                return


#: Estimates from measured read-through runs: about a minute each for sections 1-3 (reading
#: included; the machine's part is seconds), and the three minutes the exercise asks for writing.
#: Once a participant finishes a section, its label shows their own measured time instead.
SECTIONS = (
    Section(1, "The problem", 1, "mock tests pass while duplicates get in", the_problem),
    Section(2, "The magic", 1, "a real PostgreSQL in a second, its real error, then gone", the_magic),
    Section(3, "Comparison", 1, "mock vs Testcontainers, with this run's figures", the_comparison),
    Section(4, "Hands-on", 3, "your own test, checked against a real database", hands_on),
)
