"""What cleanup found and did, drawn for a terminal: one rich table and one summary line (pure builders).

:mod:`reality.cleanup` finds and removes; this module only renders its :class:`~reality.cleanup.Plan`
and :class:`~reality.cleanup.Outcome` values, so tests render into ``Console(file=io.StringIO())``.
"""

from __future__ import annotations

from pathlib import Path

from rich import box
from rich.table import Table
from rich.text import Text

from .cleanup import Outcome, Plan
from .config import CHECKOUT
from .owners import is_kit_object, same_checkout

NOUNS = {"pid file": ("stale pid file", "stale pid files"), "process": ("process", "processes"),
         "container": ("container", "containers"), "network": ("network", "networks"),
         "volume": ("volume", "volumes")}


def _whose(recorded: str | None, checkout: Path) -> str:
    if not recorded:
        return "an unknown checkout"
    return "this checkout" if same_checkout(recorded, checkout) else "another checkout"


def build_report(plan: Plan, outcomes: list[Outcome] | None = None, checkout: Path = CHECKOUT) -> Table:
    """One table: every item found, and what was (or, in a dry run, would be) done with it."""
    dry_run = outcomes is None
    results = {id(outcome.item): outcome for outcome in outcomes or []}
    title = "Cleanup — dry run: nothing changed" if dry_run else "Cleanup"
    table = Table(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD, header_style="bold")
    table.add_column("What", no_wrap=True)
    table.add_column("Name", max_width=48, overflow="fold")
    table.add_column("Action", no_wrap=True)
    table.add_column("Why", ratio=1)
    for item in plan.items:
        name = Text(item.name)
        if item.detail:
            name.append(f"\n{item.detail}", style="dim")
        if item.kind != "cache" and (item.checkout or is_kit_object(getattr(item.target, "labels", None) or {})):
            # Short here; another checkout's path is in its reason, and this one's above the table.
            name.append(f"\nfrom {_whose(item.checkout, checkout)}", style="dim")
        why = Text(item.reason, style="dim" if not item.remove else "")
        if not item.remove:
            action = Text("kept", style="cyan")
        elif dry_run:
            action = Text("would remove", style="yellow")
        else:
            outcome = results.get(id(item))
            if outcome is None:
                action = Text("skipped", style="dim")
            elif outcome.done:
                action = Text(outcome.message, style="green")
            else:
                action = Text("FAILED", style="bold red")
                why = Text(outcome.message, style="red")
        table.add_row(item.kind, name, action, why)
    if not plan.items:
        table.caption = "Nothing left behind: no kit containers, networks, volumes, running show or caches."
        table.caption_justify = "left"
    return table


def summary(plan: Plan, outcomes: list[Outcome] | None = None) -> str:
    """One line: how many of each kind were removed (or would be), and how many were kept."""
    dry_run = outcomes is None
    done = plan.to_remove() if dry_run else [o.item for o in outcomes or [] if o.done]
    failed = [] if dry_run else [o for o in outcomes or [] if not o.done]
    counts = []
    for kind, (one, many) in NOUNS.items():
        n = sum(1 for item in done if item.kind == kind)
        if n:
            counts.append(f"{n} {one if n == 1 else many}")
    caches = sum(len(item.target) for item in done if item.kind == "cache")
    if caches:
        counts.append(f"{caches} cache folder{'s' if caches != 1 else ''}")
    verb = "Would remove" if dry_run else "Removed"
    line = f"{verb} {', '.join(counts)}." if counts else ("Nothing to remove." if dry_run else "Nothing removed.")
    kept = len(plan.kept())
    if kept:
        line += f" Kept {kept}: not ours, another checkout's, or still in use (the Why column says which)."
    if failed:
        line += f" {len(failed)} failed."
    return line
