"""A participant's progress, kept between runs: which sections are done, and how long each took.

It lives in the exercise folder (``exercise/.workshop-progress.json``, ignored by git with the rest
of the participant's work), so deleting that folder, or ``workshop.py --restart``, starts afresh.

    >>> progress = Progress.load(Path("exercise"))      # doctest: +SKIP
    >>> progress.finish(1, seconds=63.0); progress.save()  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

FILE_NAME = ".workshop-progress.json"
VERSION = 1


@dataclass
class Progress:
    """Sections done (by number) and the seconds each took when it was done."""

    path: Path
    seconds: dict[int, float] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path) -> "Progress":
        """The progress kept in ``folder``; empty when there is none or it cannot be read (never an error)."""
        progress = cls(folder / FILE_NAME)
        try:
            data = json.loads(progress.path.read_text())
            progress.seconds = {int(number): float(seconds) for number, seconds in data["seconds"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            pass  # a missing or damaged file is a fresh start, not a failure
        return progress

    @property
    def done(self) -> set[int]:
        return set(self.seconds)

    def finish(self, number: int, seconds: float) -> None:
        self.seconds[number] = seconds

    def save(self) -> bool:
        """Write the file (atomically); ``False`` when the folder cannot hold it."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial = self.path.with_name(self.path.name + ".partial")
            partial.write_text(json.dumps({"version": VERSION,
                                           "seconds": {str(k): round(v, 1) for k, v in sorted(self.seconds.items())}},
                                          indent=2) + "\n")
            os.replace(partial, self.path)
        except OSError:
            return False
        return True

    def forget(self) -> None:
        self.seconds.clear()
        try:
            self.path.unlink()
        except OSError:  # not there, or not ours to remove: the run starts afresh all the same
            pass


def format_duration(seconds: float) -> str:
    """``45 s``, ``1 min 05 s``, ``12 min``."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} min" if minutes >= 10 or rest == 0 else f"{minutes} min {rest:02d} s"
