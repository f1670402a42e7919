#!/usr/bin/env python3
"""Repair a broken virtualenv ("required file not found", missing pip): recreate it, reinstall requirements.

    python3 fix_venv.py              # .venv here (or the active $VIRTUAL_ENV)
    python3 fix_venv.py --check      # only say what is wrong

Standard library only, on purpose: this is what people run when their packages are broken.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from reality import venv_repair
from reality.errors import RealityError

REPO = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Diagnose and repair this project's virtualenv.")
    parser.add_argument("--venv", type=Path,
                        help="the virtualenv to repair (default: $VIRTUAL_ENV, else .venv in the repository)")
    parser.add_argument("--requirements", type=Path,
                        help="what to reinstall (default: requirements.txt)")
    parser.add_argument("--check", action="store_true", help="only diagnose; exit 1 when the virtualenv is broken")
    parser.add_argument("--force", action="store_true", help="recreate even when nothing looks broken")
    args = parser.parse_args(argv)
    path = (args.venv or Path(os.environ.get("VIRTUAL_ENV") or REPO / ".venv")).absolute()
    requirements = args.requirements or REPO / "requirements.txt"
    # What to type to repair exactly this: the venv and requirements named again, since a bare run may
    # pick another venv (after `deactivate`, say), and the script as reached from here.
    venv_named = args.venv or os.environ.get("VIRTUAL_ENV")
    repair_command = venv_repair.fix_command(*(["--venv", venv_named] if venv_named else []),
                                             *(["--requirements", args.requirements] if args.requirements else []),
                                             script=os.path.relpath(REPO / "fix_venv.py"))

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
            print(f"Run  {repair_command}  to repair it.")
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
        _, after = venv_repair.repair(path, requirements, force=args.force, log=log)
    except RealityError as exc:
        print(f"✗ {exc}")
        return 1
    assert after is not None
    print(f"✓ Repaired: {path} now runs {after.version} with {after.pip}, and {requirements.name} is installed.")
    print(f"Next: source {shlex.quote(os.path.relpath(path / 'bin' / 'activate'))}  (or open a new terminal).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
