#!/usr/bin/env python3
"""Repair a broken virtualenv ("required file not found", missing pip): recreate it, reinstall requirements.

    python3 fix_venv.py              # the active $VIRTUAL_ENV, and .venv or venv here, active or not
    python3 fix_venv.py --check      # only say what is wrong, and the exact command that repairs it
    python3 fix_venv.py --venv DIR   # that virtualenv, created if missing (--venv alone: .venv here)

A virtualenv is broken when its interpreter is gone, pip (module or scripts) is missing, it was moved,
or it lacks the packages of requirements.txt (what the entry scripts need to run).

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


def summarised(diagnosis: venv_repair.Diagnosis, requirements_name: str) -> list[str]:
    """The problems found, with a long run of missing packages said in one line (an empty venv: all of them)."""
    missing = [problem for problem in diagnosis.package_problems if problem.endswith(" is not installed")]
    if len(missing) <= 3:
        return diagnosis.all_problems
    names = ", ".join(problem.split("==")[0] for problem in missing[:3])
    others = [problem for problem in diagnosis.package_problems if problem not in missing]
    return [*diagnosis.problems, f"{len(missing)} of the {diagnosis.packages_checked} packages of "
            f"{requirements_name} are not installed ({names}, …)", *others]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Diagnose and repair this project's virtualenv.")
    parser.add_argument("--venv", type=Path, nargs="?", const=REPO / ".venv", metavar="DIR",
                        help="the virtualenv to check or repair, created if missing (--venv alone: .venv in the "
                             "repository). Default: the active one, and .venv and venv in the repository, active or "
                             "not; with none, this Python, where setup.py installed the packages")
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

    targets = venv_repair.choose_targets(args.venv, os.environ.get("VIRTUAL_ENV"), REPO)
    if not targets:
        return check_this_python(requirements, args.force, venv_repair.fix_command("--venv", *again, script=script))

    if not args.check:
        inside = next((target for target in targets if venv_repair.running_inside(target.venv)), None)
        if inside is not None:
            # This interpreter lives in a virtualenv that may be recreated: start again from outside it.
            # $VIRTUAL_ENV keeps that venv in view there (outside it, it would not be looked at).
            python = venv_repair.base_python()
            print(f"Running from {inside.venv}; starting again with {python}.", flush=True)
            given = sys.argv[1:] if argv is None else argv
            if args.venv is None:
                os.environ["VIRTUAL_ENV"] = str(inside.venv)
            os.execv(python, [python, str(Path(__file__).resolve()), *given])

    if not requirements.is_file():
        print(f"✗ No requirements file at {requirements}.")
        return 1
    broken = []  # (target, its diagnosis)
    for target in targets:
        diagnosis = venv_repair.diagnose(target.venv, requirements)
        if diagnosis.healthy:
            print(f"✓ {target.venv} is healthy: {diagnosis.version}, {diagnosis.pip}, and the "
                  f"{diagnosis.packages_checked} packages of {requirements.name} import.")
            if args.force:
                broken.append((target, diagnosis))
            continue
        broken.append((target, diagnosis))
        print(f"Found in {target.venv}:")
        for problem in summarised(diagnosis, requirements.name):
            print(f"  ✗ {problem}")
        if not diagnosis.exists and not target.named:
            print(f"  (looked there because {target.why})")
    if args.check:
        if broken and not args.venv and not any(target.named for target, _ in broken):
            # All found in the checkout: a bare run finds them again, whatever is active by then.
            them = "it" if len(broken) == 1 else "them"
            print(f"Run  {venv_repair.fix_command(*again, script=script)}  to repair {them}.")
            return 1
        for target, _ in broken:
            command = venv_repair.fix_command("--venv", target.venv, *again, script=script)
            print(f"Run  {command}  to repair it.")
        return 1 if broken else 0

    started = False

    def log(line: str) -> None:
        nonlocal started
        if not started:  # the header only once something is actually done
            print("Doing:")
            started = True
        print(f"  • {line}", flush=True)

    code = 0
    for target, before in broken:
        started = False
        try:
            _, after = venv_repair.repair(target.venv, requirements, force=args.force, log=log, before=before)
        except RealityError as exc:
            print(f"✗ {exc}")
            code = 1
            continue
        assert after is not None
        print(f"✓ Repaired: {target.venv} now runs {after.version} with {after.pip}, and {requirements.name} "
              "is installed.")
        print(f"Next: source {shlex.quote(os.path.relpath(target.venv / 'bin' / 'activate'))}  "
              "(or open a new terminal).")
    return code


if __name__ == "__main__":
    sys.exit(main())
