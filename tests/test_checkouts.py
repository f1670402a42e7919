"""Two checkouts of the kit side by side on one machine, as at a workshop on a shared server.

Each clone runs a real show (its own PostgreSQL and Redis) with the same per-user run-time folder, as
two people's shows would. One clone's cleanup.py must stop only its own show and containers, name the
other's checkout when it lists it, and "port taken" must blame the show that really holds the port.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reality.config import LABEL_CHECKOUT
from support.docker import containers_of, remove_containers_of
from support.paths import ROOT
from support.show import free_port, show_env
from support.waiting import wait_for

COPIED = ("reality_engine.py", "cleanup.py", "requirements.txt")


def clone(into: Path) -> Path:
    """A copy of this checkout's code (the working tree, as a second `git clone` would hold it)."""
    shutil.copytree(ROOT / "reality", into / "reality", ignore=shutil.ignore_patterns("__pycache__"))
    for name in COPIED:
        shutil.copy(ROOT / name, into / name)
    return into.resolve()


class Show:
    """A real reality_engine.py started from one clone."""

    def __init__(self, checkout: Path, runtime: Path, port: int, log: Path) -> None:
        self.checkout, self.port, self.log_path = checkout, port, log
        with open(log, "w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "reality_engine.py", "--host", "127.0.0.1", "--port", str(port)],
                cwd=checkout, env=show_env(str(runtime)), stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL)

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def live(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"the show of {self.checkout} exited:\n{self.log()}")
        return "Reality Engine is live" in self.log()


def start_shows(checkouts: list[Path], runtime: Path, logs: Path) -> list[Show]:
    """One show per checkout, booting together; a port taken in between is picked again."""
    shows = [Show(checkout, runtime, free_port(), logs / f"show-{checkout.name}.log") for checkout in checkouts]
    for index, show in enumerate(shows):
        for _ in range(3):
            try:
                wait_for(show.live, 120, f"the show of {show.checkout} to boot", interval=0.1)
                break
            except AssertionError:
                if "is already in use" not in show.log():
                    raise
                show = shows[index] = Show(show.checkout, runtime, free_port(), show.log_path)
    return shows


def run(checkout: Path, runtime: Path, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *command], cwd=checkout, capture_output=True, text=True, timeout=180,
                          stdin=subprocess.DEVNULL, env={**show_env(str(runtime)), "COLUMNS": "250"})


def row(output: str, text: str) -> str:
    """The report's line that names ``text`` (each item's first line carries its action and reason)."""
    return next((line for line in output.splitlines() if text in line), "")


@pytest.fixture
def two_shows(tmp_path, docker_client):
    runtime = tmp_path / "run"  # shared, as every show of one user shares the temp folder
    a, b = clone(tmp_path / "clone-a"), clone(tmp_path / "clone-b")
    shows: list[Show] = []
    try:
        shows = start_shows([a, b], runtime, tmp_path)
        yield shows[0], shows[1], runtime
    finally:
        for show in shows:
            if show.process.poll() is None:
                show.process.terminate()
                try:
                    show.process.wait(20)
                except subprocess.TimeoutExpired:
                    show.process.kill()
                    show.process.wait(5)
            remove_containers_of(docker_client, show.pid)


def test_one_checkouts_cleanup_leaves_the_other_checkouts_show_running(two_shows, docker_client, artifacts_dir):
    show_a, show_b, runtime = two_shows
    containers_a = containers_of(docker_client, show_a.pid)
    assert len(containers_a) == 2 and {c.labels[LABEL_CHECKOUT] for c in containers_a} == {str(show_a.checkout)}

    dry = run(show_b.checkout, runtime, "cleanup.py", "--dry-run", "--root", str(show_b.checkout))
    (artifacts_dir / "cleanup_two_checkouts_dry_run.txt").write_text(dry.stdout)

    assert dry.returncode == 0, dry.stdout + dry.stderr
    mine, theirs = row(dry.stdout, f"pid {show_b.pid}, port"), row(dry.stdout, f"pid {show_a.pid}, port")
    assert "would remove" in mine
    assert "kept" in theirs and f"checkout {show_a.checkout}'s show: --all-checkouts stops it" in theirs
    for container in containers_a:
        assert "kept" in row(dry.stdout, container.name)
        assert f"another checkout's ({show_a.checkout})" in row(dry.stdout, container.name)
    for container in containers_of(docker_client, show_b.pid):
        assert "would remove" in row(dry.stdout, container.name)
    assert dry.stdout.startswith(f"Checkout: {show_b.checkout}\n")
    assert "from another checkout" in dry.stdout and "from this checkout" in dry.stdout

    real = run(show_b.checkout, runtime, "cleanup.py", "--root", str(show_b.checkout))

    assert real.returncode == 0, real.stdout + real.stderr
    assert show_b.process.wait(20) == 0
    assert containers_of(docker_client, show_b.pid) == []
    assert show_a.process.poll() is None, "the other checkout's show was stopped"
    assert {c.id for c in containers_of(docker_client, show_a.pid)} == {c.id for c in containers_a}

    # The port of A's show, tried from B: A's show is named, B's cleanup.py (which would not stop it) is not.
    from_b = run(show_b.checkout, runtime, "reality_engine.py", "--host", "127.0.0.1", "--port", str(show_a.port))
    assert from_b.returncode == 1
    assert (f"Port {show_a.port} is already in use by a show of checkout {show_a.checkout} "
            f"(reality_engine.py, pid {show_a.pid}), not this checkout's") in from_b.stderr
    assert "cleanup.py" not in from_b.stderr and "Traceback" not in from_b.stderr

    # Tried from A itself: its own earlier show, which its cleanup.py stops (that show alone, --port).
    from_a = run(show_a.checkout, runtime, "reality_engine.py", "--host", "127.0.0.1", "--port", str(show_a.port))
    assert from_a.returncode == 1
    assert f"an earlier show of this checkout (reality_engine.py, pid {show_a.pid})" in from_a.stderr
    assert f"`python3 cleanup.py --port {show_a.port}`" in from_a.stderr

    # Asked explicitly, B's cleanup.py stops every checkout's show.
    everything = run(show_b.checkout, runtime, "cleanup.py", "--all-checkouts", "--root", str(show_b.checkout))
    assert everything.returncode == 0, everything.stdout + everything.stderr
    assert show_a.process.wait(20) == 0
    assert containers_of(docker_client, show_a.pid) == []
    assert not list(runtime.rglob("show-*.json"))
    assert os.path.isdir(show_a.checkout)  # nothing of the checkout itself is touched
