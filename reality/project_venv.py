"""Run the entry scripts where their packages are: in ``.venv`` when ``setup.py`` installed there.

Where the OS manages its Python (PEP 668: Debian 12, Ubuntu 23.04 and later), ``setup.py`` installs the
requirements into ``.venv``. ``python3 reality_engine.py`` right after it then starts the OS's Python,
which has none of them: instead of a ``ModuleNotFoundError`` the script runs again with ``.venv``'s
Python. Standard library only: it runs before anything that needs the requirements.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT_VENV = ROOT / ".venv"

#: Import names of the run-time requirements (requirements.txt) the entry scripts need.
RUNTIME_MODULES = ("flask", "flask_socketio", "gevent", "testcontainers", "docker", "psycopg2", "redis", "limits",
                   "qrcode", "rich", "psutil")

#: Set on the relaunch, so a virtualenv that lacks the packages too is reported, not relaunched again.
RELAUNCHED = "REALITY_RELAUNCHED_IN_VENV"


def missing_modules(modules: tuple[str, ...] = RUNTIME_MODULES) -> list[str]:
    return [name for name in modules if importlib.util.find_spec(name) is None]


def in_virtualenv() -> bool:
    return sys.prefix != sys.base_prefix


def ensure_requirements(modules: tuple[str, ...] = RUNTIME_MODULES) -> None:
    """Return if this Python has ``modules``; else relaunch this script in ``.venv``, or exit with one line."""
    missing = missing_modules(modules)
    if not missing:
        return
    python = PROJECT_VENV / "bin" / "python"
    if not in_virtualenv() and python.exists() and not os.environ.get(RELAUNCHED):
        os.environ[RELAUNCHED] = "1"
        os.execv(python, [str(python), *sys.argv])
    where = f"the virtualenv {sys.prefix}" if in_virtualenv() else f"this Python ({sys.executable})"
    advice = ("`python3 fix_venv.py` repairs it" if in_virtualenv() or PROJECT_VENV.exists()
              else "run `python3 setup.py --yes` first")
    sys.exit(f"✗ Reality Engine's packages are not installed in {where} (no {missing[0]}): {advice}.")
