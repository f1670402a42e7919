#!/usr/bin/env python3
"""Repair a broken virtualenv ("required file not found", missing pip): recreate it, reinstall requirements.

    python3 fix_venv.py              # .venv here (or the active $VIRTUAL_ENV)
    python3 fix_venv.py --check      # only say what is wrong

Standard library only, on purpose: this is what people run when their packages are broken.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

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
    path = args.venv.absolute()

    if not args.check and venv_repair.running_inside(path):
        # This interpreter lives in the virtualenv about to be recreated: start again from outside it.
        python = venv_repair.base_python()
        print(f"Running from {path}; starting again with {python}.", flush=True)
        os.execv(python, [python, str(Path(__file__).resolve()), *(sys.argv[1:] if argv is None else argv)])

    diagnosis = venv_repair.diagnose(path)
    if diagnosis.healthy:
        print(f"✓ {path} is healthy: {diagnosis.version}, {diagnosis.pip}.")
        if not args.force:
            return 0
    else:
        print(f"Found in {path}:")
        for problem in diagnosis.problems:
            print(f"  ✗ {problem}")
        if args.check:
            print("Run  python3 fix_venv.py  to repair it.")
            return 1
    if args.check:
        return 0

    started = False

    def log(line: str) -> None:
        nonlocal started
        if not started:  # the header only once something is actually done
            print("Doing:")
            started = True
        print(f"  • {line}", flush=True)

    try:
        _, after = venv_repair.repair(path, args.requirements, force=args.force, log=log)
    except RealityError as exc:
        print(f"✗ {exc}")
        return 1
    assert after is not None
    print(f"✓ Repaired: {path} now runs {after.version} with {after.pip}, and {args.requirements.name} is installed.")
    print(f"Next: source {os.path.relpath(path / 'bin' / 'activate')}  (or open a new terminal).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
