#!/usr/bin/env python3
"""Repair a broken virtualenv ("required file not found", missing pip): recreate it, reinstall requirements.

    python3 fix_venv.py              # .venv here (or the active $VIRTUAL_ENV)
    python3 fix_venv.py --check      # only say what is wrong
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rich.console import Console

from reality import venv_repair
from reality.errors import RealityError

REPO = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Diagnose and repair this project's virtualenv.")
    parser.add_argument("--venv", type=Path, default=Path(os.environ.get("VIRTUAL_ENV") or REPO / ".venv"),
                        help="the virtualenv to repair (default: $VIRTUAL_ENV, else .venv in the repository)")
    parser.add_argument("--requirements", type=Path, default=REPO / "requirements.txt",
                        help="what to reinstall (default: requirements.txt)")
    parser.add_argument("--check", action="store_true", help="only diagnose; exit 1 when the virtualenv is broken")
    parser.add_argument("--force", action="store_true", help="recreate even when nothing looks broken")
    args = parser.parse_args(argv)
    console = Console(highlight=False)
    path = args.venv.absolute()

    if not args.check and venv_repair.running_inside(path):
        # This interpreter lives in the virtualenv about to be recreated: start again from outside it.
        python = venv_repair.base_python()
        console.print(f"[dim]Running from {path}; starting again with {python}.[/]")
        os.execv(python, [python, str(Path(__file__).resolve()), *(sys.argv[1:] if argv is None else argv)])

    diagnosis = venv_repair.diagnose(path)
    if diagnosis.healthy:
        console.print(f"[green]✓[/] {path} is healthy: {diagnosis.version}, {diagnosis.pip}.")
        if not args.force:
            return 0
    else:
        console.print(f"[bold]Found[/] in {path}:")
        for problem in diagnosis.problems:
            console.print(f"  [red]✗[/] {problem}")
        if args.check:
            console.print("Run [bold]python3 fix_venv.py[/] to repair it.")
            return 1
    if args.check:
        return 0

    said_doing = []

    def log(line: str) -> None:
        if not said_doing:
            console.print("[bold]Doing:[/]")
            said_doing.append(True)
        console.print(f"  • {line}")

    try:
        _, after = venv_repair.repair(path, args.requirements, force=args.force, log=log)
    except RealityError as exc:
        console.print(f"[bold red]{exc}[/]", soft_wrap=True)
        return 1
    assert after is not None
    console.print(f"[green]✓ Repaired:[/] {path} now runs {after.version} with {after.pip}, "
                  f"and {args.requirements.name} is installed.")
    activate = path / "bin" / "activate"
    console.print(f"Next: [bold]source {os.path.relpath(activate)}[/] (or open a new terminal).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
