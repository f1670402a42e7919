"""The entry scripts find the packages setup.py installed into .venv, or say in one line what to do.

Where the OS manages its Python (PEP 668), setup.py installs into .venv, and a presenter then types
``python3 reality_engine.py`` with the OS's Python. Here that Python is this very interpreter started
with ``-S`` (no site-packages): it has the standard library and none of the requirements.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ENTRY_SCRIPTS = ("reality_engine.py", "workshop.py", "watch_containers.py", "cleanup.py")


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of the package and the entry scripts, with no .venv yet."""
    repo = tmp_path / "repo"
    shutil.copytree(REPO / "reality", repo / "reality", ignore=shutil.ignore_patterns("__pycache__"))
    for script in ENTRY_SCRIPTS:
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
