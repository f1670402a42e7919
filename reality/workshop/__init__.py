"""The 15-minute terminal workshop: the problem, the magic, the comparison, and a hands-on exercise.

``runner`` holds the flow (menu, progress, prompts), ``session`` what a section works with, ``sections``
the first three sections and ``hands_on`` the fourth, ``infrastructure`` a section's containers,
``screens`` what the workshop draws (pure rich builders), ``exercise`` the hands-on files, ``judge``
their checking and ``judge_plugin`` what the check sees from inside a participant's pytest run,
``products_db`` the exercise's database fixture, ``measurements`` the figures measured in the run,
``pytest_runs`` running pytest for real (on :mod:`reality.pytest_runner`), ``progress`` what is kept
between runs.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Workshop", "SECTIONS"]


def __getattr__(name: str) -> Any:
    # Imported on first use: the exercise's conftest imports ``products_db`` from this package in a
    # fresh pytest process for every check, and should not pay for Testcontainers and rich to do so.
    if name == "Workshop":
        from .runner import Workshop
        return Workshop
    if name == "SECTIONS":
        from .sections import SECTIONS
        return SECTIONS
    raise AttributeError(name)
