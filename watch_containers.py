#!/usr/bin/env python3
"""Watch containers come and go, live: the second terminal of the workshop.

    python3 watch_containers.py          # containers started by Testcontainers or Reality Engine
    python3 watch_containers.py --all    # every container on this Docker engine
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from reality.project_venv import ensure_requirements

ensure_requirements()  # installed in .venv (PEP 668)? Run there. Installed nowhere? One line says what to do.

from rich.console import Console  # noqa: E402

from reality.errors import RealityError  # noqa: E402
from reality.monitor import run_monitor  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Live table of containers, fed by Docker's event stream.")
    parser.add_argument("--all", action="store_true", help="show every container, not only the kit's")
    args = parser.parse_args(argv)

    console = Console()
    stop = threading.Event()
    # Ctrl+C (and a polite kill) just ends the loop: the screen stays readable, no traceback.
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        code = run_monitor(console, show_all=args.all, stop=stop)
    except RealityError as exc:
        console.print(f"[bold red]{exc}[/]", soft_wrap=True)
        return 1
    console.print("[dim]Monitor stopped.[/]")
    return code


if __name__ == "__main__":
    sys.exit(main())
