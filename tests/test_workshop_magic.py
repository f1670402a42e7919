"""The magic section run quietly: what the comparison does when a participant skipped section 2.

One function does the magic, narrated or not (``the_magic(session.quietly())``); run quietly it
measures every figure the comparison needs on a real PostgreSQL, says nothing, records no step and
still shows what Docker does. The narrated run is covered end to end by tests/test_workshop.py.
"""

from __future__ import annotations

import io

from rich.console import Console

from reality.workshop.infrastructure import our_containers
from reality.workshop.sections import the_magic
from reality.workshop.session import Session
from support.paths import ROOT as REPO



def test_the_magic_run_quietly_measures_everything_and_narrates_nothing(tmp_path, docker_client):
    out = io.StringIO()
    session = Session(Console(file=out, width=120, color_system=None), io.StringIO(""), interactive=True,
                      repo_root=REPO, exercise_dir=tmp_path / "exercise")

    the_magic(session.quietly())

    figures = session.figures  # the quiet run filled the session's own figures
    assert figures.start_seconds is not None and figures.image
    assert figures.insert_ms is not None
    assert "duplicate key" in figures.duplicate_error and figures.duplicate_code == "23505"
    assert figures.pg_race_total == 1
    assert figures.removed_seconds is not None and figures.left_behind == 0
    assert session.results == []  # no step recorded: the comparison records its own
    transcript = out.getvalue()
    assert "PostgreSQL" in transcript and "(measured by this run)" in transcript  # Docker's doings, shown
    assert "Enter" not in transcript and "✓" not in transcript and "Started, used, gone" not in transcript
    labels = [f"{key}={value}" for key, value in our_containers().items()]
    assert docker_client.containers.list(all=True, filters={"label": labels}) == []
