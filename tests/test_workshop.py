"""workshop.py: every section for real, driven non-interactively and by scripted keystrokes.

Each run starts real PostgreSQL containers through Infrastructure and runs real pytest subprocesses;
the transcripts are kept in artifacts/ for people to read. Here: the sections' flow, the menu, the
participant's file, one-line failures, the progress kept between runs. Elsewhere: stops and outages
(test_workshop_stops.py), the exercise checker (test_workshop_checks.py), the screens in a real
terminal (test_workshop_terminal.py); helpers in support/workshop.py.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from testcontainers.core.config import testcontainers_config

from reality.workshop import Workshop
from reality.workshop.exercise import SOLUTION

from support.paths import ROOT as REPO
from support.workshop import run_workshop, words, workshop_containers, write_answer


def test_non_interactive_runs_every_section_end_to_end(tmp_path, docker_client, artifacts_dir):
    code, out = run_workshop(tmp_path / "exercise", interactive=False)
    (artifacts_dir / "workshop_non_interactive.txt").write_text(out)

    assert code == 0, out
    # 1. The fantasy tests really ran, and the mock let the duplicate in.
    assert "✓ The fantasy tests pass — 3 passed" in out
    assert "✓ The mock accepts the duplicate vote — one phone, 2 votes counted" in out
    # 2. A real container, its measured start time, PostgreSQL's own words, and then nothing left.
    assert re.search(r"PostgreSQL ready in \d+\.\d\d s on port \d+", out)
    assert 'duplicate key value violates unique constraint "one_vote_per_voter"' in out
    assert "1 stored, 19 refused" in out
    assert "✓ The container is gone: nothing left behind" in out
    # 3. Both suites ran for real and the table carries this run's figures.
    assert "Mock vs Testcontainers — measured in this run" in out
    assert "4 passed" in out
    # 4. The hands-on solution was checked with and without the constraint.
    assert "✓ The solution proves the constraint" in out
    # Its table says which row catches the bug, and why the other one is not meant to fail.
    assert re.search(r"test_two_products_cannot_share_a_sku\s+passed / failed\s+catches a dropped constraint", out)
    assert re.search(r"test_different_skus_are_all_stored\s+passed / passed\s+passes either way", out)
    assert ("test_different_skus_are_all_stored passes either way: it is not meant to fail without the constraint "
            "(it checks: The constraint stops duplicates, not products: different SKUs all get in).") in words(out)
    assert "✗" not in out
    assert "No container left behind (checked with Docker)." in out
    assert workshop_containers(docker_client) == []
    assert (tmp_path / "exercise" / "test_product_sku.py").read_text().startswith('"""Hands-on')
    assert (tmp_path / "exercise" / "solution_product_sku.py").read_text() == SOLUTION
    assert not (tmp_path / "exercise" / ".workshop-progress.json").exists()  # CI keeps no participant's progress


def test_participant_jumps_to_hands_on_checks_the_skeleton_then_asks_for_the_solution(tmp_path, docker_client,
                                                                                       artifacts_dir):
    # 4: jump to hands-on · Enter: check my (unwritten) test · s: the solution · q: quit at the next pause
    code, out = run_workshop(tmp_path / "exercise", keys="4\n\ns\nq\n")
    (artifacts_dir / "workshop_scripted_hands_on.txt").write_text(out)

    assert code == 0, out
    assert "Your file is ready" in out
    # The panel names the fixture the test asks for, and what it gives.
    assert ("The db fixture (ask for it: def test_...(db):) gives your test a psycopg2 connection (autocommit) to "
            "a real PostgreSQL, with a fresh, empty products table for every test.") in words(out)
    assert "✗ Your test is not written yet." in out
    assert "One solution" in out
    assert "✓ The solution proves the constraint" in out
    assert "go on to 1. The problem" in out
    assert "Bye!" in out
    assert workshop_containers(docker_client) == []


def test_a_participants_file_is_checked_and_never_overwritten(tmp_path, docker_client):
    exercise = tmp_path / "exercise"
    exercise.mkdir()
    mine = ("def test_two_different_products(db):\n"
            "    db.cursor().execute(\"INSERT INTO products (sku, name, price_cents) VALUES ('A', 'Mug', 1)\")\n"
            "    db.cursor().execute(\"INSERT INTO products (sku, name, price_cents) VALUES ('B', 'Mug', 1)\")\n")
    (exercise / "test_product_sku.py").write_text(mine)

    code, out = run_workshop(exercise, keys="4\n\nq\n")

    assert code == 0, out
    assert "untouched by this run" in out
    assert "✗ Your test passes even without the constraint, so it proves nothing yet." in out
    assert (exercise / "test_product_sku.py").read_text() == mine
    assert not (exercise / "solution_product_sku.py").exists()  # never forced on anyone
    assert workshop_containers(docker_client) == []


def test_a_participants_own_answer_is_recorded_as_a_step(tmp_path, docker_client):
    write_answer(tmp_path / "exercise")
    out = io.StringIO()
    # 4: hands-on · Enter: check my test · q: quit at the next pause
    workshop = Workshop(Console(file=out, width=120, color_system=None), io.StringIO("4\n\nq\n"),
                        exercise_dir=tmp_path / "exercise")

    code = workshop.run()

    assert code == 0, out.getvalue()
    assert "✓ Your test proves the constraint — passes with UNIQUE (sku), fails without it" in out.getvalue()
    assert [(step.section, step.name, step.ok) for step in workshop.session.results] == [
        ("Hands-on", "Your test proves the constraint", True)]
    assert workshop_containers(docker_client) == []


def test_menu_navigation_back_to_menu_mid_section_removes_its_container(tmp_path, docker_client):
    # nonsense · 2: the magic · Enter: start PostgreSQL · m: back to the menu · q: quit
    code, out = run_workshop(tmp_path / "exercise", keys="x\n2\n\nm\nq\n")

    assert code == 0, out
    assert "Type a section number (1-4), Enter, or q." in out
    assert re.search(r"PostgreSQL ready in \d+\.\d\d s", out)
    assert out.count("Reality Engine — the workshop") == 3  # start, after the typo, after m
    assert workshop_containers(docker_client) == []


def test_end_of_input_quits_cleanly(tmp_path):
    code, out = run_workshop(tmp_path / "exercise", keys="")

    assert code == 0
    assert "Bye!" in out


def test_docker_unreachable_is_one_line_per_step_and_exit_1(tmp_path):
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock", "COLUMNS": "250"}
    result = subprocess.run(
        [sys.executable, "workshop.py", "--non-interactive", "--section", "2", "--exercise-dir", str(tmp_path / "ex")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120)

    assert result.returncode == 1
    assert "✗ The magic could not run — Docker is not answering at DOCKER_HOST=" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize("where", ["a file", "a folder under a file", "a place nothing can be created"])
def test_an_unusable_exercise_folder_is_one_line_and_a_failing_exit(tmp_path, where):
    (tmp_path / "notes.txt").write_text("not a folder\n")
    folder = {"a file": tmp_path / "notes.txt", "a folder under a file": tmp_path / "notes.txt" / "exercise",
              "a place nothing can be created": Path("/proc/reality-exercise")}[where]
    if where == "a place nothing can be created" and not Path("/proc/self").exists():
        pytest.skip("no /proc on this system")
    # One line however long the temporary folder's path (pytest-xdist's workers nest theirs deeper).
    env = {**os.environ, "COLUMNS": str(max(250, 3 * len(str(folder)) + 100))}
    result = subprocess.run(
        [sys.executable, "workshop.py", "--non-interactive", "--section", "4", "--exercise-dir", str(folder)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    out = result.stdout + result.stderr

    assert result.returncode != 0, out
    assert "Traceback" not in out and "Error:" not in out, out
    problem = [line for line in out.splitlines() if line.startswith("✗")]
    assert len(problem) == 1, out
    assert str(folder) in problem[0] and problem[0].endswith("Choose another folder with --exercise-dir."), out
    assert (tmp_path / "notes.txt").read_text() == "not a folder\n"  # nothing lost


def test_progress_is_kept_between_runs_and_the_goodbye_says_where(tmp_path):
    exercise = tmp_path / "exercise"
    # 1: the problem · Enter: run pytest · Enter: vote twice · q: quit at "go on to 2"
    code, first = run_workshop(exercise, keys="1\n\n\nq\n")
    progress = exercise / ".workshop-progress.json"

    assert code == 0, first
    assert progress.exists()
    assert f"Bye! Your progress is kept in {progress}. Come back any time: python3 workshop.py" \
        in " ".join(first.split())
    took = json.loads(progress.read_text())["seconds"]["1"]

    code, second = run_workshop(exercise, keys="q\n")  # a new run: the menu knows section 1 is done

    assert code == 0, second
    menu = second.split("Bye!")[0]
    assert "✓ 1 The problem" in menu and "1/4 done · ≈5 min to go" in menu
    assert re.search(r"1\s+The problem\s+mock tests pass while duplicates get in\s+took \d+ s\s+✓ done", menu), menu
    assert took >= 0 and "Enter: start 2. The magic" in menu

    code, fresh = run_workshop(exercise, keys="q\n", restart=True)
    assert "0/4 done" in fresh and not progress.exists()
    assert "Bye!" in fresh and "progress is kept" not in fresh  # nothing kept: nothing promised


def test_restart_forgets_the_progress_whatever_the_mode(tmp_path):
    exercise = tmp_path / "exercise"
    exercise.mkdir()
    for interactive in (True, False):
        (exercise / ".workshop-progress.json").write_text('{"version": 1, "seconds": {"1": 42.0}}')
        workshop = Workshop(Console(file=io.StringIO()), io.StringIO(""), interactive=interactive,
                            exercise_dir=exercise, restart=True)

        assert workshop.done == set() and not (exercise / ".workshop-progress.json").exists()
    assert Path(os.devnull).exists()


def test_a_damaged_progress_file_is_a_fresh_start(tmp_path):
    exercise = tmp_path / "exercise"
    exercise.mkdir()
    (exercise / ".workshop-progress.json").write_text("{not json")

    code, out = run_workshop(exercise, keys="q\n")

    assert code == 0 and "0/4 done" in out and "Traceback" not in out


def test_the_progress_file_is_ignored_by_git():
    for path in ("exercise/.workshop-progress.json", "my-exercise/.workshop-progress.json"):
        assert subprocess.run(["git", "check-ignore", "-q", path], cwd=REPO).returncode == 0, path


def test_the_reaper_note_wraps_under_its_own_text_at_120_columns(tmp_path, monkeypatch):
    # As on a participant's machine: nothing in the environment, no Ryuk image, so the workshop says it is off.
    monkeypatch.delenv("TESTCONTAINERS_RYUK_DISABLED", raising=False)
    monkeypatch.setattr(testcontainers_config, "ryuk_disabled", False)
    # 2: the magic · Enter at each of its prompts (start PostgreSQL, cast a vote, vote again, remove the
    # container), as a participant walks it · q: quit at "go on to 3"
    code, out = run_workshop(tmp_path / "exercise", keys="2\n\n\n\n\nq\n")

    assert code == 0, out
    for prompt in ("start PostgreSQL", "cast a vote from phone-1", "vote again from phone-1", "remove the container",
                   "go on to 3. Comparison"):
        assert f"⏎ Enter: {prompt}" in out, out
    assert "✓ PostgreSQL refuses the second vote" in out and "✓ The container is gone: nothing left behind" in out
    assert "✗" not in out and "Bye!" in out
    lines = out.splitlines()
    note = next(index for index, line in enumerate(lines) if "is not on this machine: reaper disabled" in line)
    assert lines[note].startswith("  • Ryuk")
    assert lines[note + 1].startswith("    ") and lines[note + 1].strip(), out  # indented under the text
