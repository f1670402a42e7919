"""The workshop's pytest runs: :mod:`reality.pytest_runner`'s, and no container a child started outlives it.

The command is the one a participant types (``python3 -m pytest PATHS``), with the runner's plugin to
read each result and whatever the caller adds; pytest.ini's own options apply as they do by hand, so
the figures shown match theirs. Ctrl+C while it runs stops the children (letting them clean up), then
goes on as the KeyboardInterrupt it is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ..config import LABEL_PID
from ..orchestration import remove_containers
from ..docker_engine import connect
from ..errors import RealityError
from ..pytest_results import TestResult
from ..pytest_runner import NO_TESTS_COLLECTED, PytestProcess, PytestRun
from ..pytest_runner import run_pytest as run_children

__all__ = ["NO_TESTS_COLLECTED", "PytestRun", "TestResult", "run_pytest", "run_pytest_at_once"]


def run_pytest(paths: list[Path], cwd: Path, env: dict[str, str] | None = None, timeout: float = 180,
               extra_args: Sequence[str] = ()) -> PytestRun:
    """``python -m pytest PATHS`` in ``cwd``, with ``env`` on top of this process's environment."""
    return run_pytest_at_once(paths, cwd, [env or {}], timeout, extra_args)[0]


def run_pytest_at_once(paths: list[Path], cwd: Path, envs: list[dict[str, str]], timeout: float = 180,
                       extra_args: Sequence[str] = (),
                       leftovers: list[dict[str, str]] | None = None) -> list[PytestRun]:
    """One ``python -m pytest PATHS`` per environment in ``envs``, all running at the same time.

    A child that starts containers labelled with its pid must not leave them behind; ``leftovers``
    holds, per child, the labels of containers it may start itself (a participant's own
    PostgresContainer): whatever carries them is removed once the child has ended, as its own are.
    """
    started: list[PytestProcess] = []
    try:
        return run_children(paths, cwd, envs, timeout, extra_args, on_start=started.append)
    finally:
        _remove_child_containers([{LABEL_PID: str(child.process.pid)} for child in started]
                                 + [labels for labels in (leftovers or [])[:len(started)] if labels])


def _remove_child_containers(selections: list[dict[str, str]]) -> None:
    """Whatever containers the children labelled (with their pid, or their Testcontainers session) must not
    outlive them: each selection of labels, removed through one client (a connection costs 30 ms)."""
    if not selections:
        return
    try:
        client = connect(timeout=3)
    except RealityError:  # no Docker: nothing the children could have started
        return
    try:
        for labels in selections:
            remove_containers(client, labels)
    finally:
        client.close()
