#!/usr/bin/env python3
"""Repair a broken virtualenv ("required file not found", missing pip): recreate it, reinstall requirements.

    python3 fix_venv.py              # the active $VIRTUAL_ENV, else .venv here when there is one
    python3 fix_venv.py --check      # only say what is wrong
    python3 fix_venv.py --venv DIR   # that virtualenv, created if missing (--venv alone: .venv here)

Where no virtualenv is in use (setup.py installed the packages into the interpreter itself, as on a
Codespace), it checks that the requirements import in this Python and creates nothing.

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


def check_this_python(requirements: Path, force: bool, use_a_venv: str) -> int:
    """No virtualenv in use: are the requirements importable in this interpreter? Changes nothing."""
    print(f"No virtualenv in use: the packages live in this Python ({sys.executable}), "
          "where setup.py installs them.")
    if force:
        print(f"Nothing to recreate without a virtualenv. To make one:  {use_a_venv}")
    try:
        checked, problems = venv_repair.requirement_problems(sys.executable, requirements)
    except RealityError as exc:
        print(f"✗ {exc}")
        return 1
    if not problems:
        print(f"✓ All {checked} packages of {requirements.name} import here, at the versions it pins.")
        return 0
    print("Found in this Python:")
    for problem in problems:
        print(f"  ✗ {problem}")
    install = shlex.join([sys.executable, "-m", "pip", "install", "-r", os.path.relpath(requirements)])
    print(f"Install them into this Python:  {install}")
    print(f"Or keep them in a virtualenv instead:  {use_a_venv}")
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Diagnose and repair this project's virtualenv.")
    parser.add_argument("--venv", type=Path, nargs="?", const=REPO / ".venv", metavar="DIR",
                        help="the virtualenv to check or repair, created if missing (--venv alone: .venv in the "
                             "repository). Default: the active one, else .venv in the repository if it exists; "
                             "with neither, this Python, where setup.py installed the packages")
    parser.add_argument("--requirements", type=Path,
                        help="what to reinstall (default: requirements.txt)")
    parser.add_argument("--check", action="store_true", help="only diagnose; exit 1 when something is broken")
    parser.add_argument("--force", action="store_true", help="recreate even when nothing looks broken")
    args = parser.parse_args(argv)
    requirements = args.requirements or REPO / "requirements.txt"
    # Commands we suggest name the venv and requirements again: a bare run may pick another venv
    # (after `deactivate`, say). The script is named as reached from here.
    again = ["--requirements", args.requirements] if args.requirements else []
    script = os.path.relpath(REPO / "fix_venv.py")

    target = venv_repair.choose_target(args.venv, os.environ.get("VIRTUAL_ENV"), REPO)
    if target.venv is None:
        return check_this_python(requirements, args.force, venv_repair.fix_command("--venv", *again, script=script))
    path = target.venv
    venv_named = args.venv or (path if target.named else None)
    repair_command = venv_repair.fix_command(*(["--venv", venv_named] if venv_named else []), *again, script=script)

    if not args.check and venv_repair.running_inside(path):
        # This interpreter lives in the virtualenv about to be recreated: start again from outside it,
        # naming the venv (outside it, the default would be another one).
        python = venv_repair.base_python()
        print(f"Running from {path}; starting again with {python}.", flush=True)
        given = sys.argv[1:] if argv is None else argv
        os.execv(python, [python, str(Path(__file__).resolve()), *given,
                          *([] if args.venv else ["--venv", str(path)])])

    diagnosis = venv_repair.diagnose(path)
    if diagnosis.healthy:
        print(f"✓ {path} is healthy: {diagnosis.version}, {diagnosis.pip}.")
        if not args.force:
            return 0
    else:
        print(f"Found in {path}:")
        for problem in diagnosis.problems:
            print(f"  ✗ {problem}")
        if not diagnosis.exists and not target.named:
            print(f"  (looked there because {target.why})")
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
