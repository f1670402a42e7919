"""Run the entry scripts where their packages are: in ``.venv`` (or ``venv``) when installed there.

Where the OS manages its Python (PEP 668: Debian 12, Ubuntu 23.04 and later), ``setup.py`` installs the
requirements into ``.venv``. ``python3 reality_engine.py`` right after it then starts the OS's Python,
which has none of them: instead of a ``ModuleNotFoundError`` the script runs again with ``.venv``'s
Python. Standard library only: it runs before anything that needs the requirements.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import sys
from pathlib import Path

from .config import CHECKOUT as ROOT  # the repository root, named once

PROJECT_VENV = ROOT / ".venv"
#: Where the scripts look for the packages, in order: setup.py's .venv, then the original kit's venv/.
PROJECT_VENVS = (PROJECT_VENV, ROOT / "venv")

#: Import names of the run-time requirements (requirements.txt) the entry scripts need. pytest and
#: pytest-xdist too: the show's test run and the workshop's checks start pytest, and pytest.ini loads
#: xdist by name, so a pytest without it stops at its start.
RUNTIME_MODULES = ("flask", "flask_socketio", "gevent", "testcontainers", "docker", "psycopg2", "redis", "limits",
                   "qrcode", "rich", "psutil", "pytest", "xdist")

#: Set on the relaunch, so a virtualenv that lacks the packages too is reported, not relaunched again.
RELAUNCHED = "REALITY_RELAUNCHED_IN_VENV"


def missing_modules(modules: tuple[str, ...] = RUNTIME_MODULES) -> list[str]:
    return [name for name in modules if importlib.util.find_spec(name) is None]


def in_virtualenv() -> bool:
    return sys.prefix != sys.base_prefix


def ensure_requirements(modules: tuple[str, ...] = RUNTIME_MODULES) -> None:
    """Return if this Python has ``modules``; else relaunch this script in the checkout's virtualenv
    (``.venv``, else ``venv``), or exit with one line naming the command that repairs it."""
    missing = missing_modules(modules)
    if not missing:
        return
    found = next((folder for folder in PROJECT_VENVS if (folder / "bin" / "python").exists()), None)
    if not in_virtualenv() and found is not None and not os.environ.get(RELAUNCHED):
        os.environ[RELAUNCHED] = "1"
        python = found / "bin" / "python"
        os.execv(python, [str(python), *sys.argv])
    where = f"the virtualenv {sys.prefix}" if in_virtualenv() else f"this Python ({sys.executable})"
    if in_virtualenv() or any(folder.exists() for folder in PROJECT_VENVS):
        advice = f"`{repair_command()}` repairs it"
    else:
        advice = "run `python3 setup.py --yes` first"
    sys.exit(f"✗ Reality Engine's packages are not installed in {where} (no {missing[0]}): {advice}.")


def repair_command() -> str:
    """The fix_venv.py command that finds the virtualenv in question (the same rule as fix_venv.py)."""
    script = os.path.relpath(ROOT / "fix_venv.py")
    in_view = os.environ.get("VIRTUAL_ENV") or ""
    venv = Path(sys.prefix)
    # A bare run looks at the active virtualenv and at .venv and venv here; name any other one.
    if in_virtualenv() and not _same(venv, in_view) and not any(_same(venv, folder) for folder in PROJECT_VENVS):
        return shlex.join(["python3", script, "--venv", str(venv)])
    return shlex.join(["python3", script])


def _same(one: Path, other: str | Path) -> bool:
    try:
        return bool(other) and one.resolve() == Path(other).resolve()
    except OSError:
        return False
