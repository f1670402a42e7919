#!/usr/bin/env python3
"""Clean up between demos and after the workshop: the show, leftover containers, networks, volumes, caches.

    python3 cleanup.py --dry-run     # list what would go, change nothing
    python3 cleanup.py               # do it, then say what was removed

Only what Reality Engine created from this checkout is removed (by its labels and pid files): other
checkouts' shows and containers on the same machine are listed and kept. Images are always kept.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reality.project_venv import ensure_requirements

ensure_requirements()  # installed in .venv (PEP 668)? Run there. Installed nowhere? One line says what to do.

from rich.console import Console  # noqa: E402

from reality import cleanup, docker_engine  # noqa: E402
from reality.cleanup_report import build_report, summary  # noqa: E402
from reality.config import CHECKOUT as REPO  # noqa: E402  (this checkout: the folder holding this script)
from reality.errors import DockerUnavailable  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Remove what Reality Engine left behind (never anything else).")
    parser.add_argument("--dry-run", action="store_true", help="list what would be removed, change nothing")
    parser.add_argument("--force", action="store_true",
                        help="also remove the kit's containers whose process is still running")
    parser.add_argument("--include-testcontainers", action="store_true",
                        help="also remove containers, networks and volumes that carry only Testcontainers' labels "
                             "(they may belong to another project's tests)")
    parser.add_argument("--all-checkouts", action="store_true",
                        help="also stop the shows and remove the containers of other checkouts (clones) of the kit "
                             "on this machine, which may be other people's")
    parser.add_argument("--port", type=int, metavar="PORT",
                        help="stop only the show on this port (other shows of this checkout keep running)")
    parser.add_argument("--root", type=Path, default=REPO,
                        help="where to clear pytest caches (default: this repository)")
    args = parser.parse_args(argv)

    console = Console()
    try:
        client = docker_engine.connect(timeout=5)
    except DockerUnavailable as exc:
        client = None
        console.print(f"[bold red]{exc}[/] [dim](containers not checked; the show and caches still are)[/]",
                      soft_wrap=True)

    plan = cleanup.plan_cleanup(client, args.root.resolve(), force=args.force,
                                include_testcontainers=args.include_testcontainers, checkout=REPO,
                                all_checkouts=args.all_checkouts, port=args.port)
    outcomes = None if args.dry_run else cleanup.execute(plan)
    console.print(f"[dim]Checkout: {REPO}[/]", soft_wrap=True)
    console.print(build_report(plan, outcomes, checkout=REPO))
    for note in plan.notes:
        console.print(f"[yellow]{note}[/]")
    console.print(f"[bold]{summary(plan, outcomes)}[/] [dim]Images are kept: the next run needs them.[/]")
    if args.dry_run and plan.to_remove():
        console.print("[dim]Run without --dry-run to remove them.[/]")
    failed = outcomes is not None and any(not outcome.done for outcome in outcomes)
    return 1 if failed or not plan.docker_ok else 0


if __name__ == "__main__":
    sys.exit(main())
