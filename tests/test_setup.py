"""setup.py: idempotent, non-interactive with --yes, one clear line when something is missing."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys

import pytest
from rich.console import Console

from reality import machine_setup

from support.paths import ROOT


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


def test_the_kits_modules_are_compiled_even_where_python_writes_no_bytecode(tmp_path):
    """compile_kit writes what Python would not (PYTHONDONTWRITEBYTECODE), and a broken module is a failed step."""
    package = tmp_path / "kit"
    package.mkdir()
    (package / "module.py").write_text("VALUE = 1\n")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); from pathlib import Path; "
            f"from reality import machine_setup; step = machine_setup.compile_kit((Path({str(package)!r}),)); "
            "print(step.ok, step.detail)")

    compiled = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)

    assert compiled.stdout.startswith("True"), compiled.stdout + compiled.stderr
    assert [path.name.split(".")[0] for path in (package / "__pycache__").iterdir()] == ["module"]
    (package / "broken.py").write_text("def broken(:\n")
    failed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert failed.stdout.splitlines()[-1].startswith("False") and "do not compile" in failed.stdout, failed.stdout
    if os.geteuid() == 0:  # run as `sudo python3 setup.py`: nothing owned by root is left in the checkout
        (package / "broken.py").unlink()
        shutil.rmtree(package / "__pycache__")
        under_sudo = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                    env={**env, "SUDO_USER": "participant"}, timeout=60)
        assert under_sudo.stdout.startswith("True not compiled under sudo"), under_sudo.stdout + under_sudo.stderr
        assert not (package / "__pycache__").exists()


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


def rendered_next_steps(activate: str | None, show_needs_activate: bool, width: int = 80) -> list[str]:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    machine_setup.print_next_steps(console, machine_setup.next_steps(activate, show_needs_activate))
    return console.file.getvalue().splitlines()


LESSON_THEN_SUITE = ["python3 -m pytest tests/test_fantasy.py -v", "python3 -m pytest tests/test_reality.py -v",
                     "python3 -m pytest -n auto --dist loadgroup -v"]


@pytest.mark.parametrize("activate, show_needs_activate", [
    (None, False),                                                  # packages in this Python
    ("source .venv/bin/activate", False),                           # PEP 668: setup.py made .venv
    ("source '/home/participant/workshops/2026 testcontainers/reality-engine-checkout/envs/py311/bin/activate'",
     True),                                                          # a virtualenv elsewhere, longer than 80
])
def test_set_up_ends_with_the_lesson_then_the_suite_each_command_whole_at_80_columns(activate, show_needs_activate):
    lines = rendered_next_steps(activate, show_needs_activate)
    commands = [line.strip() for line in lines if line.startswith("    ")]

    assert commands[-3:] == LESSON_THEN_SUITE  # the last lines, in this order
    assert "python3 reality_engine.py" in commands
    if activate:
        # Activation comes before the first command that needs it, on its own line, never broken.
        assert activate in commands
        first_needing_it = "python3 reality_engine.py" if show_needs_activate else LESSON_THEN_SUITE[0]
        assert commands.index(activate) < commands.index(first_needing_it)
    for line in lines:  # labels fit; nothing is a broken piece of a command
        assert len(line) <= 80 or line.strip() in commands


def test_a_real_run_at_80_columns_ends_with_the_lesson_and_the_suite():
    result = run_setup("--yes", env={"COLUMNS": "80"})

    assert result.returncode == 0, result.stdout + result.stderr
    last = [line.strip() for line in result.stdout.splitlines() if line.strip()][-6:]
    assert [line for line in last if line.startswith("python3 -m pytest")] == LESSON_THEN_SUITE
    assert last[-1] == LESSON_THEN_SUITE[-1]
