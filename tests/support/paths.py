"""Where things are: the repository's root (the one place that works it out) and the artifacts folder."""

from __future__ import annotations

from pathlib import Path

#: The repository's root: ``reality_engine.py``, ``reality/``, ``node_modules/`` are in it.
ROOT = Path(__file__).resolve().parent.parent.parent
#: ``artifacts/`` (gitignored): logs and terminal screens the tests keep for people to look at.
ARTIFACTS = ROOT / "artifacts"
