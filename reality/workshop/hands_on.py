"""Section 4, hands-on: the participant writes a test for a product table whose SKU must be unique,
and a real PostgreSQL judges it (see :mod:`.judge`), on a database replaced if it stops answering."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import psycopg2
from rich.panel import Panel
from rich.syntax import Syntax

from ..orchestration import Infrastructure
from .exercise import SOLUTION, Exercise
from .infrastructure import section_infrastructure, start_postgres
from .judge import Verdict, check
from .screens import display_path, render_verdict
from .session import BackToMenu, CheckCancelled, QuitWorkshop, Session


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
    start_postgres(session, infra)


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
    with section_infrastructure(session) as infra:
        start_postgres(session, infra)
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
