"""workshop.py stopped or thrown off: Ctrl+C (once, twice, again and again, swallowed by Python), a
killed database while the participant writes or a check runs. Whatever happens, the participant's work
and progress are kept, the verdict blames nothing that was not the test's fault, and no container,
pytest child or traceback is left behind.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest
from rich.console import Console

from reality.config import LABEL_PID, LABEL_ROLE
from reality.workshop import Workshop, stopping
from reality.workshop.exercise import Exercise
from reality.workshop.stopping import Stop, stopped_once

from support.paths import ROOT as REPO
from support.workshop import PARTICIPANT_ANSWER, run_workshop, workshop_containers, write_answer


class KeysWhile:
    """Scripted keystrokes; ``meanwhile[n]`` happens just before line ``n`` is typed (the world moving on)."""

    def __init__(self, lines: list[str], meanwhile: dict[int, Callable[[], None]]) -> None:
        self.lines, self.meanwhile, self.typed = lines, meanwhile, 0

    def readline(self) -> str:
        if self.typed >= len(self.lines):
            return ""
        self.meanwhile.get(self.typed, lambda: None)()
        self.typed += 1
        return self.lines[self.typed - 1]


def kill_workshop_database(docker_client) -> None:
    """``docker kill`` this process's workshop PostgreSQL, and wait until it is really dead."""
    running = [c for c in workshop_containers(docker_client) if c.status == "running"]
    assert len(running) == 1, running
    running[0].kill()
    running[0].wait()


def test_a_database_killed_while_the_participant_writes_is_replaced_before_the_check(tmp_path, docker_client):
    write_answer(tmp_path / "exercise")
    out = io.StringIO()
    # 4: hands-on · (the container is killed) Enter: check my test · q: quit at the next pause
    keys = KeysWhile(["4\n", "\n", "q\n"], {1: lambda: kill_workshop_database(docker_client)})
    code = Workshop(Console(file=out, width=120, color_system=None), keys, exercise_dir=tmp_path / "exercise").run()
    transcript = out.getvalue()

    assert code == 0, transcript
    assert "The exercise's PostgreSQL is gone (its container was stopped or killed?): starting a fresh one" \
        in transcript
    assert transcript.count("PostgreSQL ready in") == 2
    assert "✓ Your test proves the constraint — passes with UNIQUE (sku), fails without it" in transcript
    assert "could not run" not in transcript and "Connection refused" not in transcript
    assert workshop_containers(docker_client) == []


def test_a_database_killed_during_a_check_is_not_blamed_on_the_test(tmp_path, docker_client):
    # The participant's test kills its own database the first time it runs on the real table: the
    # database dies in the middle of a check, as it would if someone ran docker kill right then.
    marker = tmp_path / "killed-once"
    labels = [f"{LABEL_PID}={os.getpid()}", f"{LABEL_ROLE}=workshop"]
    kills_its_database = PARTICIPANT_ANSWER.replace(
        "def test_two_products_cannot_share_a_sku(db):\n",
        "def test_two_products_cannot_share_a_sku(db):\n"
        "    import os, pathlib, docker\n"
        f"    marker = pathlib.Path({str(marker)!r})\n"
        "    if os.environ['REALITY_EXERCISE_SCHEMA'] == 'unique' and not marker.exists():\n"
        "        marker.write_text('killed')\n"
        f"        for container in docker.from_env().containers.list(filters={{'label': {labels!r}}}):\n"
        "            container.kill()\n"
        "            container.wait()\n")
    write_answer(tmp_path / "exercise", kills_its_database)

    # 4: hands-on · Enter: check (the database dies) · Enter: check again · q: quit at the next pause
    code, out = run_workshop(tmp_path / "exercise", keys="4\n\n\nq\n")

    assert code == 0, out
    assert marker.exists()
    assert ("The exercise's PostgreSQL went away during the check (its container was stopped or killed?), "
            "so the result says nothing about the test: starting a fresh one.") in " ".join(out.split())
    assert "fails on the real table" not in out and "could not run" not in out
    assert "✓ Your test proves the constraint — passes with UNIQUE (sku), fails without it" in out
    assert workshop_containers(docker_client) == []


def test_ctrl_c_while_postgres_runs_stops_cleanly_and_leaves_no_container(tmp_path, docker_client):
    workshop = subprocess.Popen(
        [sys.executable, "workshop.py", "--section", "2", "--exercise-dir", str(tmp_path / "exercise")],
        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        workshop.stdin.write("\n")  # Enter: start PostgreSQL
        workshop.stdin.flush()
        deadline = time.monotonic() + 60
        while not workshop_containers(docker_client, workshop.pid):
            assert workshop.poll() is None, workshop.stdout.read()
            assert time.monotonic() < deadline, "the workshop never started PostgreSQL"
            time.sleep(0.05)  # each look is a Docker API call: not too often while it starts one
        workshop.send_signal(signal.SIGINT)
        out, _ = workshop.communicate(timeout=60)
    finally:
        if workshop.poll() is None:
            workshop.kill()

    assert workshop.returncode == 130, out
    assert "Stopped (Ctrl+C)." in out
    assert "Traceback" not in out
    assert workshop_containers(docker_client, workshop.pid) == []


HELD_CHECK = (
    "import os, pathlib, time\n\n"
    "def test_two_products_cannot_share_a_sku(db):\n"
    "    pathlib.Path(os.environ['HELD_DIR'], str(os.getpid())).write_text('running')\n"
    "    time.sleep(60)\n")
#: Added to the held check's conftest: how long a traceback pytest is left to format once the check is stopped.
HELD_TRACEBACK = (
    "\n\ndef pytest_keyboard_interrupt(excinfo):\n"
    "    import os, pathlib\n"
    "    pathlib.Path(os.environ['HELD_DIR'], f'{os.getpid()}.traceback').write_text(str(len(excinfo.traceback)))\n")


def process_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its parent counts as ended)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def start_a_held_check(tmp_path: Path, docker_client) -> tuple[subprocess.Popen, list[int], Path]:
    """workshop.py at the hands-on, checking a test that takes a minute; returns once both checks are inside it."""
    exercise, held = tmp_path / "exercise", tmp_path / "held"
    held.mkdir()
    Exercise(exercise).create()
    (exercise / "test_product_sku.py").write_text(HELD_CHECK)  # a test that takes a minute
    with (exercise / "conftest.py").open("a") as conftest:
        conftest.write(HELD_TRACEBACK)
    # Done in an earlier run: sections 1 and 2 (what a cancelled check must not lose).
    (exercise / ".workshop-progress.json").write_text('{"version": 1, "seconds": {"1": 61.0, "2": 75.0}}')
    workshop = subprocess.Popen(
        [sys.executable, "workshop.py", "--section", "4", "--exercise-dir", str(exercise)],
        cwd=REPO, env={**os.environ, "HELD_DIR": str(held), "COLUMNS": "250"},
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    workshop.stdin.write("\n")  # Enter: check my test
    workshop.stdin.flush()
    children: list[int] = []
    deadline = time.monotonic() + 90
    while len(children) < 2:  # both checks (with and without the constraint) are inside the test
        assert workshop.poll() is None, workshop.stdout.read()
        assert time.monotonic() < deadline, "the check never got to the participant's test"
        time.sleep(0.02)
        children = [int(path.name) for path in held.iterdir() if path.name.isdigit()]
    return workshop, children, exercise


def end_it_all(workshop: subprocess.Popen, children: list[int], docker_client) -> None:
    """Whatever the test saw: no workshop, no sleeping pytest, no container left."""
    if workshop.poll() is None:
        workshop.kill()
        workshop.wait()
        for container in workshop_containers(docker_client, workshop.pid):
            container.remove(force=True)
    for pid in children:
        if process_alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("presses", [1, 2], ids=["once", "twice"])
def test_ctrl_c_during_a_check_cancels_it_and_goes_back_to_the_menu(tmp_path, docker_client, presses):
    workshop, children, exercise = start_a_held_check(tmp_path, docker_client)
    try:
        for press in range(presses):  # an impatient participant presses twice
            if press:
                time.sleep(0.2)
            workshop.send_signal(signal.SIGINT)
        # Well inside the minute the test sleeps: the check's pytest runs are stopped at once.
        deadline = time.monotonic() + 30
        while any(process_alive(pid) for pid in children):
            assert time.monotonic() < deadline, "the check's pytest runs outlived the Ctrl+C"
            time.sleep(0.02)
        # Each run ended without formatting the whole traceback of its interrupt (pytest's and pluggy's
        # frames, with their source: 0.3 s of CPU each) to print its last line: the judge's plugin cut it.
        assert [(tmp_path / "held" / f"{pid}.traceback").read_text() for pid in children] == ["1", "1"]
        deadline = time.monotonic() + 30
        while workshop_containers(docker_client, workshop.pid):  # the section's database goes with it
            assert time.monotonic() < deadline, "the hands-on database outlived the cancelled check"
            time.sleep(0.05)  # a Docker API call each time, while the workshop removes the container
        assert workshop.poll() is None, "the workshop ended instead of going back to the menu"
        out, _ = workshop.communicate("q\n", timeout=60)  # at the menu: q quits
    finally:
        end_it_all(workshop, children, docker_client)

    assert workshop.returncode == 0, out
    assert "Check cancelled (Ctrl+C). Back at the menu; your progress is kept." in out
    assert out.count("Reality Engine — the workshop") == 1  # the menu, after the cancelled check
    assert "2/4 done" in out and "took 1 min 01 s" in out and "took 1 min 15 s" in out  # progress kept
    assert json.loads((exercise / ".workshop-progress.json").read_text())["seconds"] == {"1": 61.0, "2": 75.0}
    assert "Stopped (Ctrl+C)." not in out and "Traceback" not in out and "Exception ignored" not in out, out
    assert "Bye!" in out


def test_ctrl_c_pressed_again_and_again_during_a_check_ends_the_workshop_cleanly(tmp_path, docker_client):
    # A participant in a panic: the first press cancels the check, a later one (at the menu) ends the workshop.
    workshop, children, exercise = start_a_held_check(tmp_path, docker_client)
    try:
        deadline = time.monotonic() + 60
        while workshop.poll() is None and time.monotonic() < deadline:
            workshop.send_signal(signal.SIGINT)
            time.sleep(0.05)
        out, _ = workshop.communicate(timeout=30)
    finally:
        end_it_all(workshop, children, docker_client)

    assert workshop.returncode == 130, out
    assert "Stopped (Ctrl+C)." in out
    assert "Traceback" not in out and "Exception ignored" not in out, out
    assert [pid for pid in children if process_alive(pid)] == []
    assert workshop_containers(docker_client, workshop.pid) == []


class StopInAFinalizer:
    """Sends a Ctrl+C as it is collected: the handler runs inside its finalizer, where no exception gets out."""

    def __del__(self) -> None:
        signal.raise_signal(signal.SIGINT)


@pytest.mark.parametrize("alarm", [True, False], ids=["raised again", "no alarm on this platform"])
def test_a_ctrl_c_python_swallowed_in_a_finalizer_is_not_lost(monkeypatch, alarm):
    """The race behind a workshop that ignored every Ctrl+C after one: the stop was raised in a finalizer.

    A garbage Docker client closing its sockets, say, collected just as Ctrl+C came: Python printed
    "Exception ignored" and went on, and the workshop took every later Ctrl+C for one it was already
    handling. Now the stop comes back by itself (an alarm, where there is one), and the next Ctrl+C counts.
    """
    if not alarm:
        monkeypatch.setattr(stopping, "RETRY_SIGNAL", None)
    with pytest.raises(Stop), stopped_once() as stopper:
        StopInAFinalizer()  # collected at once
        assert not stopper.stopping  # nothing is handling a stop: the next one must count
        if not alarm:
            signal.raise_signal(signal.SIGINT)  # the participant presses again
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the workshop at work (a check, the menu)
            time.sleep(0.01)
    assert stopper.stopping and not stopper.lost
