"""Where things are: the repository's root (the one place that works it out) and the artifacts folder."""

from __future__ import annotations

import os
from pathlib import Path

#: The repository's root: ``reality_engine.py``, ``reality/``, ``node_modules/`` are in it.
ROOT = Path(__file__).resolve().parent.parent.parent
#: ``artifacts/`` (gitignored): logs and terminal screens the tests keep for people to look at.
ARTIFACTS = ROOT / "artifacts"


def per_worker(path: Path, worker: str | None = None) -> Path:
    """``path``, named for this pytest-xdist worker when there are several (``show-server.gw1.log``).

    Two workers running the same fixture must not write one file: each would read the other's lines.

    >>> per_worker(Path("artifacts/show-server.log"), "gw1").name
    'show-server.gw1.log'
    >>> per_worker(Path("artifacts/show-server.log"), "").name
    'show-server.log'
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "") if worker is None else worker
    return path.with_name(f"{path.stem}.{worker}{path.suffix}") if worker else path
