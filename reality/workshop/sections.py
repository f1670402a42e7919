"""The workshop's four sections: the problem, the magic, the comparison, hands-on (in :mod:`.hands_on`).

Each section tells, then shows, then checks: every claim on screen ("the mock accepted the duplicate",
"the container is gone") is a :meth:`Session.step` that fails the run if reality disagrees.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from rich.panel import Panel
from rich.text import Text

from ..votes import InMemoryVoteStore, VoteStore
from .hands_on import hands_on
from .infrastructure import docker_ps, section_infrastructure, start_postgres
from .measurements import (
    FANTASY_TESTS,
    RACE_THREADS,
    REALITY_TESTS,
    docstrings_of_tests,
    race,
    refused_duplicate,
    run_suite,
    timed,
)
from .screens import comparison_table, indented, pytest_says, suite_detail, suite_table
from .session import Session


@dataclass(frozen=True)
class Section:
    number: int
    title: str
    minutes: int  # the estimate shown until the participant's own run of it is measured
    summary: str
    run: Callable[[Session], None]


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
    session.say(suite_table(run, docstrings_of_tests(session.repo_root / FANTASY_TESTS),
                            f"$ pytest {FANTASY_TESTS}   →   {pytest_says(run)}"))
    session.step("The fantasy tests pass", run.all_passed, suite_detail(run))

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
    """Start a real PostgreSQL, vote, vote again, read PostgreSQL's own refusal, watch the container go.

    Run on :meth:`Session.quietly`, it only measures (for the comparison, when this section was skipped).
    """
    figures = session.figures
    session.say("[bold]Testcontainers[/] starts a real PostgreSQL 15 in a throwaway container, for this run only.\n"
                "[dim]Tip: in a second terminal, run  python3 watch_containers.py  "
                "to watch it appear and disappear.[/]")
    session.pause("start PostgreSQL")
    with section_infrastructure(session) as infra:
        start_postgres(session, infra)
        table, running = docker_ps(infra, "$ docker ps   (this workshop's containers)")
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
        table, figures.left_behind = docker_ps(infra, "$ docker ps   (after the test)")
        session.say(table)
        session.step("The container is gone: nothing left behind", figures.left_behind == 0,
                     f"removed in {figures.removed_seconds:.2f} s")
    session.say(Panel(f"[bold]Started, used, gone.[/] A real database in {figures.start_seconds:.2f} s, "
                      "its real error, and no trace afterwards. That is the whole trick.", border_style="green"))


# -- 3. the comparison ---------------------------------------------------------------------------

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
        the_magic(session.quietly())
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
                 f"fantasy: {suite_detail(fantasy, wall=False)}; reality: {suite_detail(reality, wall=False)}")
    session.step("Every figure measured in this run", None not in (
        figures.start_seconds, figures.duplicate_error, figures.pg_race_total, figures.mock_race_total))


#: Estimates from measured read-through runs: about a minute each for sections 1-3 (reading
#: included; the machine's part is seconds), and the three minutes the exercise asks for writing.
#: Once a participant finishes a section, its label shows their own measured time instead.
SECTIONS = (
    Section(1, "The problem", 1, "mock tests pass while duplicates get in", the_problem),
    Section(2, "The magic", 1, "a real PostgreSQL in a second, its real error, then gone", the_magic),
    Section(3, "Comparison", 1, "mock vs Testcontainers, with this run's figures", the_comparison),
    Section(4, "Hands-on", 3, "your own test, checked against a real database", hands_on),
)
