"""The layers of the package, written down in `.importlinter` and checked here (README: "How it is built")."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support.paths import ROOT
ENTRY_SCRIPTS = ("reality_engine.py", "workshop.py", "watch_containers.py", "cleanup.py", "setup.py", "fix_venv.py")
#: What an entry script may import from the package: the entry points and the settings and checks it
#: runs before them, never the web app's internals, the containers or the database.
ENTRY_POINTS = {
    "reality", "reality.project_venv", "reality.concurrency", "reality.config", "reality.poll",
    "reality.public_url", "reality.show", "reality.workshop", "reality.workshop.stopping", "reality.errors",
    "reality.monitor", "reality.cleanup", "reality.cleanup_report", "reality.docker_engine", "reality.machine_setup",
    "reality.venv_repair",
}


def lint_imports(folder: Path) -> subprocess.CompletedProcess[str]:
    # import-linter's own command, run by this Python (a virtualenv's may have no `lint-imports` script
    # beside it when the package lives in the system's site-packages).
    command = [sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()"]
    return subprocess.run([*command, "--no-cache"], cwd=folder, capture_output=True, text=True, timeout=120)


def test_every_layer_contract_is_kept():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_web_module_that_imports_docker_breaks_a_contract(tmp_path):
    # The contracts bite: the same check on a copy where the web app reaches for Docker fails.
    shutil.copytree(ROOT / "reality", tmp_path / "reality", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    tally = tmp_path / "reality" / "web" / "tally.py"
    tally.write_text(tally.read_text() + "\nimport docker  # noqa\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "The web app knows URLs and clients" in result.stdout and "BROKEN" in result.stdout


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {name for name in names if name == "reality" or name.startswith("reality.")}


@pytest.mark.parametrize("script", ENTRY_SCRIPTS)
def test_an_entry_script_imports_only_the_packages_entry_points(script):
    reached = _imports(ROOT / script)
    assert reached, f"{script} should call into the package"
    assert reached <= ENTRY_POINTS, f"{script} reaches past the entry points: {sorted(reached - ENTRY_POINTS)}"


def test_testcontainers_label_names_restated_in_config_are_testcontainers_own():
    """config.py restates two of Testcontainers' label names so that tools need not import it: they must not drift."""
    from testcontainers.core import labels

    from reality import config

    assert config.LABEL_TESTCONTAINERS == labels.LABEL_TESTCONTAINERS
    assert config.LABEL_TC_SESSION == labels.LABEL_SESSION_ID
