"""One-time set-up for Reality Engine (a script, not a packaging file).

    python3 setup.py --yes                 # packages, Docker, images: everything, no questions
    python3 setup.py --save images.tar     # ... then write the images to a bundle for a USB stick
    python3 setup.py --load images.tar     # a laptop at the workshop: images from the bundle, no download

Runs on the standard library until the requirements are installed, so it works on a fresh machine.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from reality import machine_setup
from reality.project_venv import PROJECT_VENV


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Set this machine up for the Reality Engine workshop.")
    parser.add_argument("-y", "--yes", action="store_true", help="answer yes to every question (non-interactive)")
    parser.add_argument("--install-docker", action="store_true",
                        help="install and start Debian's Docker engine if none is reachable (Debian/Ubuntu, root)")
    parser.add_argument("--venv", nargs="?", const=".venv", metavar="DIR",
                        help="install into a virtualenv (created if needed; default .venv)")
    parser.add_argument("--load", type=Path, metavar="FILE", help="load images from a bundle written by --save")
    parser.add_argument("--save", type=Path, metavar="FILE", help="write the images into a bundle (.tar or .tar.gz)")
    parser.add_argument("--build", choices=("auto", "always", "never"), default="auto",
                        help="build drop-in images from Debian's packages: when pulling fails (auto), always, never")
    parser.add_argument("--with-browser", action="store_true",
                        help="also install Chromium and zbar for the browser tests (Debian/Ubuntu, root)")
    return parser.parse_args(argv)


def asker(assume_yes: bool):
    def ask(question: str) -> bool:
        if assume_yes:
            return True
        if not sys.stdin.isatty():
            print(f"{question} -> no (not a terminal; pass --yes to agree)")
            return False
        return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")

    return ask


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    python = machine_setup.check_python()
    if not python.ok:
        print(python.detail)
        return 1
    print(f"Python: {python.detail}")

    venv_dir = Path(args.venv).resolve() if args.venv else None
    if venv_dir is None and machine_setup.externally_managed():
        venv_dir = Path(".venv").resolve()
        print(f"This Python is managed by the OS (PEP 668): using a virtualenv in {venv_dir}")
    if venv_dir is not None and Path(sys.prefix).resolve() != venv_dir:
        venv_python = machine_setup.create_virtualenv(venv_dir, print)
        # Go on inside the virtualenv, so every later step sees the packages installed there.
        os.execv(str(venv_python), [str(venv_python), __file__, *(argv if argv is not None else sys.argv[1:])])

    steps = [python, machine_setup.install_requirements(print)]
    if not steps[-1].ok:
        print(steps[-1].detail)
        return 1

    from rich.console import Console

    console = Console()
    log = console.print
    steps.append(machine_setup.compile_kit())
    steps.append(machine_setup.install_frontend(log))
    docker = machine_setup.ensure_docker(log, asker(args.yes), install=args.install_docker or args.yes)
    steps.append(docker)
    if docker.ok:
        steps += machine_setup.provision_images(console, load=args.load, build=args.build)
        if args.save:
            steps.append(machine_setup.save_images(args.save))
    if args.with_browser:
        steps.append(machine_setup.install_browser(log))
    console.print(machine_setup.summary(steps))
    failed = [step for step in steps if not step.ok]
    if failed:
        console.print(f"[red]{len(failed)} step(s) need attention[/red]: {failed[0].detail}")
        return 1
    activate = None
    if machine_setup.in_virtualenv() and os.environ.get("VIRTUAL_ENV") != sys.prefix:
        # Installed into a virtualenv this shell has not activated: pytest needs it activated; the
        # scripts find .venv by themselves (reality/project_venv.py), but not a virtualenv elsewhere.
        activate = f"source {shlex.quote(os.path.relpath(sys.prefix))}/bin/activate"
    show_needs_activate = activate is not None and Path(sys.prefix).resolve() != PROJECT_VENV.resolve()
    machine_setup.print_next_steps(console, machine_setup.next_steps(activate, show_needs_activate))
    return 0


if __name__ == "__main__":
    sys.exit(main())
