"""setup.py: idempotent, non-interactive with --yes, one clear line when something is missing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from reality import machine_setup

ROOT = Path(__file__).resolve().parent.parent


def run_setup(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "setup.py", *args], cwd=ROOT, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, env={**os.environ, "COLUMNS": "160", **(env or {})}, timeout=300)


def test_a_second_run_skips_everything_and_says_what_is_ready():
    result = run_setup("--yes")

    assert result.returncode == 0, result.stdout + result.stderr
    for step in ("Python packages", "Docker", "PostgreSQL image", "Redis image", "Ryuk reaper"):
        assert step in result.stdout
    assert "already installed" in result.stdout
    assert "Ready." in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_an_unreachable_engine_is_one_line_and_a_failure(tmp_path):
    result = run_setup("--yes", env={"DOCKER_HOST": f"unix://{tmp_path}/nowhere.sock"})

    assert result.returncode == 1
    assert "Docker is not answering at DOCKER_HOST=" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_requirements_are_pinned_and_read_without_extras():
    pins = machine_setup.read_pins()

    assert pins["testcontainers"] == "4.15.0"
    assert pins["flask"] == "3.1.3"  # names are compared lower-cased
    assert all(version[0].isdigit() for version in pins.values())


def test_too_old_a_python_is_refused_with_what_to_do():
    step = machine_setup.check_python((3, 8))

    assert not step.ok
    assert "3.11" in step.detail
