#!/usr/bin/env python3
"""The 15-minute workshop: why tests against mocks lie, and how Testcontainers makes them face reality.

    python3 workshop.py                    # interactive: a menu, Enter to go on, q to quit
    python3 workshop.py --solution         # the hands-on section shows its solution
    python3 workshop.py --non-interactive  # every section end to end, no input (CI); exit 1 if a step failed
    python3 workshop.py --restart          # forget the progress kept from earlier runs
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
from pathlib import Path

from reality.project_venv import ensure_requirements

ensure_requirements()  # installed in .venv (PEP 668)? Run there. Installed nowhere? One line says what to do.

from rich.console import Console  # noqa: E402

from reality.workshop import SECTIONS, Workshop  # noqa: E402
from reality.workshop.stopping import STOP_SIGNALS  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Reality Engine's 15-minute interactive workshop.")
    parser.add_argument("--non-interactive", action="store_true",
                        help="run every section without input (hands-on with the solution); exit 1 if a step failed")
    parser.add_argument("--solution", action="store_true", help="show (and check) the hands-on solution")
    parser.add_argument("--section", type=int, choices=range(1, len(SECTIONS) + 1), metavar="N",
                        help=f"start at section N (1-{len(SECTIONS)})")
    parser.add_argument("--exercise-dir", type=Path, default=None,
                        help="where the hands-on file (and your progress) is kept (default: exercise/ in the repository)")
    parser.add_argument("--restart", action="store_true", help="forget the progress kept from earlier runs")
    args = parser.parse_args(argv)
    come_back = "python3 workshop.py" + (f" --exercise-dir {shlex.quote(str(args.exercise_dir))}"
                                         if args.exercise_dir else "")

    # During the run, Ctrl+C, a polite kill or the terminal closing stops the workshop once, cleanly
    # (every section removes its containers on the way out). Before it and once it has cleaned up, a
    # signal could only cut Python's own start-up or exit short, with a traceback.
    for stop_signal in STOP_SIGNALS:
        signal.signal(stop_signal, signal.SIG_IGN)
    workshop = Workshop(Console(), sys.stdin, interactive=not args.non_interactive,
                        exercise_dir=args.exercise_dir, show_solution=args.solution, start_at=args.section,
                        restart=args.restart, command=come_back)
    return workshop.run()


if __name__ == "__main__":
    sys.exit(main())
