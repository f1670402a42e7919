"""The entry scripts find the packages setup.py installed into .venv, or say in one line what to do.

Where the OS manages its Python (PEP 668), setup.py installs into .venv, and a presenter then types
``python3 reality_engine.py`` with the OS's Python. Here that Python is this very interpreter started
with ``-S`` (no site-packages): it has the standard library and none of the requirements.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from reality import venv_repair
from reality.machine_setup import read_pins

from support.paths import ROOT as REPO
ENTRY_SCRIPTS = ("reality_engine.py", "workshop.py", "watch_containers.py", "cleanup.py")


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of the package and the entry scripts, with no .venv yet."""
    repo = tmp_path / "repo"
    shutil.copytree(REPO / "reality", repo / "reality", ignore=shutil.ignore_patterns("__pycache__"))
    for script in (*ENTRY_SCRIPTS, "fix_venv.py", "requirements.txt"):
        shutil.copy(REPO / script, repo / script)
    return repo


def run_without_site_packages(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-S", *args], cwd=repo, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("script", ENTRY_SCRIPTS)
def test_a_python_without_the_packages_runs_the_script_in_dot_venv(checkout, script):
    # .venv sees this interpreter's packages, as if setup.py had installed them there.
    venv.create(checkout / ".venv", system_site_packages=True, with_pip=False)
    result = run_without_site_packages(checkout, script, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage:") and script in result.stdout


def test_with_no_packages_anywhere_the_script_says_to_run_setup(checkout):
    result = run_without_site_packages(checkout, "reality_engine.py")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip() == (f"✗ Reality Engine's packages are not installed in this Python ({sys.executable})"
                                     " (no flask): run `python3 setup.py --yes` first.")


def test_a_dot_venv_without_the_packages_is_tried_once_then_named(checkout):
    venv.create(checkout / ".venv", system_site_packages=False, with_pip=False)
    result = run_without_site_packages(checkout, "watch_containers.py")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"not installed in the virtualenv {checkout / '.venv'}" in lines[0] and "fix_venv.py" in lines[0]


def test_the_original_kits_venv_folder_is_used_too(checkout):
    venv.create(checkout / "venv", system_site_packages=True, with_pip=False)
    result = run_without_site_packages(checkout, "cleanup.py", "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage:")


def fix_venv_check(checkout: Path, python: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([python, "fix_venv.py", "--check"], cwd=checkout, capture_output=True, text=True,
                          timeout=300, env=env, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("folder", [".venv", "venv"])
def test_a_venv_without_the_packages_is_broken_for_fix_venv_too_active_or_not(checkout, folder):
    """The entry script's advice and fix_venv.py agree: no loop of "run fix_venv.py" / "healthy"."""
    env = venv.EnvBuilder(with_pip=False)
    env.create(checkout / folder)
    python = str(checkout / folder / "bin" / "python")
    outside = {key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"}
    activated = {**outside, "VIRTUAL_ENV": str(checkout / folder),
                 "PATH": f"{checkout / folder / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}

    # Not active: the Python outside any virtualenv (the suite itself may run from one).
    for state, interpreter, environment in (("active", python, activated),
                                            ("not active", venv_repair.base_python(), outside)):
        script = subprocess.run([interpreter, *(["-S"] if state == "not active" else []), "workshop.py"],
                                cwd=checkout, capture_output=True, text=True, timeout=120, env=environment,
                                stdin=subprocess.DEVNULL)
        assert script.returncode == 1, (state, script.stderr)
        advice = script.stderr.strip().split("`")[1]
        assert advice == "python3 fix_venv.py", (state, script.stderr)

        # What the advice names, run as typed (python3 is the venv's own when it is active).
        check = fix_venv_check(checkout, interpreter, environment)

        assert check.returncode == 1, (state, check.stdout)
        assert f"Found in {checkout / folder}:" in check.stdout
        assert f"{checkout / folder} is healthy" not in check.stdout
        pins = len(read_pins(checkout / "requirements.txt"))
        assert f"  ✗ {pins} of the {pins} packages of requirements.txt are not installed (" in check.stdout
        assert "Run  python3 fix_venv.py" in check.stdout and "to repair it." in check.stdout


def test_a_venv_elsewhere_gets_the_command_that_names_it(checkout, tmp_path):
    elsewhere = tmp_path / "my env"
    venv.create(elsewhere, with_pip=False)
    env = {key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"}  # used, not activated
    script = subprocess.run([str(elsewhere / "bin" / "python"), "reality_engine.py"], cwd=checkout,
                            capture_output=True, text=True, timeout=120, env=env, stdin=subprocess.DEVNULL)
    advice = script.stderr.strip().split("`")[1]
    assert shlex.split(advice) == ["python3", "fix_venv.py", "--venv", str(elsewhere)]
    check = subprocess.run([sys.executable, *shlex.split(advice)[1:], "--check"], cwd=checkout,
                           capture_output=True, text=True, timeout=300, env=env)
    assert check.returncode == 1 and f"Found in {elsewhere}:" in check.stdout
