"""Find and remove what the kit left behind: a running show, containers, networks, volumes, pytest caches.

The project's own label (``dev.reality-engine.project``) is the criterion for removal: containers,
networks and volumes without it were not made by this kit and are never touched. Objects that carry
only Testcontainers' labels may belong to another project's tests; they are listed, and removed only
when asked explicitly (``include_testcontainers``). Images are never removed: the next run needs them.

A kit container whose owning process is still running on this host (a test session in another
terminal, a workshop in progress) is kept unless ``force`` is given, so that cleaning up between
demos never pulls the database out from under a run that is still going.

Several checkouts of the kit may share a machine (a workshop room, a shared server): cleanup stops
the shows and removes the objects of its own checkout only, and lists the others' as kept, naming
their checkout, unless ``all_checkouts`` is given. The rule itself is :func:`reality.owners.owner_verdict`.

    >>> plan = plan_cleanup(client, root=Path("."))              # doctest: +SKIP
    >>> outcomes = execute(plan)                                  # doctest: +SKIP

What it found and did is drawn by :mod:`reality.cleanup_report`.

A little over 300 lines: finding and removing are one plan whose items are
decided by the same ownership verdicts; the drawing is already in :mod:`reality.cleanup_report`.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import docker
from docker.errors import DockerException, NotFound

from .config import CHECKOUT, LABEL_CHECKOUT, LABEL_PROJECT, LABEL_TC_SESSION, LABEL_TESTCONTAINERS, PROJECT
from .errors import first_line
from .owners import describe_checkout, describe_command, owner_verdict, parse_docker_time, process_info, same_checkout
from .pidfile import SHOW_SCRIPT, checkout_of_process, read_show_record, running_show, show_record_files

#: Folders never searched for caches: version control, dependencies, virtualenvs.
SKIP_DIRS = {".git", "node_modules", ".venv", "venv", ".tox", ".nox"}
CACHE_DIRS = ("__pycache__", ".pytest_cache")
KIND_ORDER = ("pid file", "process", "container", "network", "volume", "cache")


@dataclass
class Item:
    """One thing found: what it is, and whether cleanup removes it (and why, either way)."""

    kind: str  # process | container | network | volume | cache | pid file
    name: str
    detail: str
    remove: bool
    reason: str
    target: Any = field(default=None, repr=False)
    checkout: str | None = None  # the checkout it came from, when known


@dataclass
class Plan:
    """Everything found, in the order it is dealt with, plus notes for the person running cleanup."""

    items: list[Item] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    docker_ok: bool = True

    def to_remove(self) -> list[Item]:
        return [item for item in self.items if item.remove]

    def kept(self) -> list[Item]:
        return [item for item in self.items if not item.remove]


@dataclass
class Outcome:
    item: Item
    done: bool
    message: str


# -- processes -----------------------------------------------------------------------------------

def find_shows(checkout: Path = CHECKOUT, all_checkouts: bool = False, port: int | None = None) -> list[Item]:
    """Every show pid file here: this checkout's shows are stopped, other checkouts' listed and kept."""
    items = []
    for path in show_record_files(None):
        item = show_item(path, checkout, all_checkouts)
        if port is not None and item.kind == "process" and item.remove and item.target[2] != port:
            item.remove, item.reason = False, f"on another port than --port {port}"
        items.append(item)
    return items


def show_item(path: Path, checkout: Path = CHECKOUT, all_checkouts: bool = False) -> Item:
    """One pid file: a running show (stopped if it is this checkout's), or a stale file (removed)."""
    try:
        record = read_show_record(path)
    except ValueError as exc:
        return Item("pid file", str(path), str(exc), True,
                    "not a show's record: the file is removed, no process is signalled", target=(None, path, None))
    except OSError:
        return Item("pid file", str(path), "unreadable", False, "cannot be read: left alone", target=(None, path, None))
    pid = record.pid
    info = running_show(record)
    if info is None:
        alive = process_info(pid)
        if alive is None:
            return Item("pid file", str(path), f"pid {pid} is not running", True,
                        "stale: the show is not running; the file is removed", target=(None, path, None),
                        checkout=record.checkout)
        # The show died and the system gave its pid to something else: never signal that.
        return Item("pid file", str(path), f"pid {pid} is now `{describe_command(alive.cmdline)}`", True,
                    f"stale: pid {pid} is another program now; it is left alone, the file is removed",
                    target=(None, path, None), checkout=record.checkout)
    # An older kit's shared pid file names no checkout: the show's own command line does.
    where = record.checkout or checkout_of_process(pid)
    on_port = f", port {record.port}" if record.port else ""
    name = f"{SHOW_SCRIPT} (pid {pid}{on_port})"
    if not all_checkouts and not same_checkout(where, checkout):
        return Item("process", name, describe_command(info.cmdline), False,
                    f"{describe_checkout(where, checkout)}'s show: --all-checkouts stops it",
                    target=(pid, path, record.port), checkout=where)
    return Item("process", name, describe_command(info.cmdline), True,
                "the show is running: SIGTERM, then wait for it to stop", target=(pid, path, record.port),
                checkout=where)


def stop_process(pid: int, timeout: float = 10.0) -> str:
    """SIGTERM ``pid`` and wait; SIGKILL if it is still there after ``timeout`` seconds."""
    os.kill(pid, signal.SIGTERM)
    if _wait_gone(pid, timeout):
        return "stopped (SIGTERM)"
    os.kill(pid, signal.SIGKILL)
    if _wait_gone(pid, 3.0):
        return f"did not stop within {timeout:.0f} s: killed (SIGKILL)"
    raise RuntimeError(f"pid {pid} survived SIGKILL")


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process_info(pid) is None:
            return True
        time.sleep(0.05)
    return process_info(pid) is None


# -- Docker objects ------------------------------------------------------------------------------

def _label_filters(scope: dict[str, str] | None) -> list[dict[str, list[str]]]:
    """Docker filters (one query each): the kit's objects, and Testcontainers' objects."""
    extra = [f"{key}={value}" for key, value in (scope or {}).items()]
    queries = [{"label": [f"{LABEL_PROJECT}={PROJECT}", *extra]}]
    # Listed even when not removed: people should see what other Testcontainers runs left.
    queries.append({"label": [f"{LABEL_TESTCONTAINERS}=true", *extra]})
    return queries


def find_docker_objects(client: docker.DockerClient, stopping: set[int], force: bool = False,
                        include_testcontainers: bool = False, scope: dict[str, str] | None = None,
                        checkout: Path = CHECKOUT, all_checkouts: bool = False) -> list[Item]:
    """Containers, networks and volumes carrying the kit's or Testcontainers' labels.

    ``scope`` narrows the search to objects carrying these labels too (tests use it to stay within
    their own objects on a shared engine).
    """
    items: list[Item] = []
    seen: set[str] = set()
    for filters in _label_filters(scope):
        for container in client.containers.list(all=True, filters=filters, ignore_removed=True):
            if container.id in seen:
                continue
            seen.add(container.id)
            attrs = container.attrs
            labels = container.labels or {}
            remove, reason = owner_verdict(labels, parse_docker_time(attrs.get("Created")), stopping, force,
                                           include_testcontainers, checkout, all_checkouts)
            image = (attrs.get("Config") or {}).get("Image", "")
            status = (attrs.get("State") or {}).get("Status", "")
            if labels.get(LABEL_TESTCONTAINERS) == "true" and LABEL_TC_SESSION not in labels:
                image += " (Ryuk, Testcontainers' reaper)"
            items.append(Item("container", container.name, f"{image} · {status}", remove, reason, target=container,
                              checkout=labels.get(LABEL_CHECKOUT)))
        # Networks and volumes: the same rule, only where Docker keeps their creation time differs.
        for kind, collection, created in (("network", client.networks, "Created"),
                                          ("volume", client.volumes, "CreatedAt")):
            for found in collection.list(filters=filters):
                if found.id in seen:
                    continue
                seen.add(found.id)
                labels = found.attrs.get("Labels") or {}
                remove, reason = owner_verdict(labels, parse_docker_time(found.attrs.get(created)), stopping,
                                               force, include_testcontainers, checkout, all_checkouts)
                name = found.name if kind == "network" else found.name[:24]  # volume names are long hashes
                items.append(Item(kind, name, found.attrs.get("Driver", ""), remove, reason, target=found,
                                  checkout=labels.get(LABEL_CHECKOUT)))
    return items


# -- caches --------------------------------------------------------------------------------------

def find_caches(root: Path) -> dict[str, list[Path]]:
    """``__pycache__`` and ``.pytest_cache`` folders under ``root`` (not in .git, virtualenvs, node_modules)."""
    found: dict[str, list[Path]] = {name: [] for name in CACHE_DIRS}
    for directory, subdirs, files in os.walk(root):
        if "pyvenv.cfg" in files and Path(directory) != root:
            subdirs[:] = []
            continue
        keep = []
        for name in subdirs:
            if name in CACHE_DIRS:
                found[name].append(Path(directory) / name)
            elif name not in SKIP_DIRS:
                keep.append(name)
        subdirs[:] = sorted(keep)
    return found


def _size(paths: list[Path]) -> int:
    total = 0
    for path in paths:
        for directory, _, files in os.walk(path):
            for name in files:
                try:
                    total += (Path(directory) / name).lstat().st_size
                except OSError:
                    pass
    return total


def format_size(size: int) -> str:
    for unit in ("B", "kB", "MB"):
        if size < 1000:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


# -- planning and doing --------------------------------------------------------------------------

def plan_cleanup(client: docker.DockerClient | None, root: Path, force: bool = False,
                 include_testcontainers: bool = False, scope: dict[str, str] | None = None,
                 checkout: Path = CHECKOUT, all_checkouts: bool = False, port: int | None = None) -> Plan:
    """Everything cleanup would do, without doing any of it (``--dry-run`` prints exactly this).

    ``checkout`` is whose shows and objects are removed; ``port`` narrows the shows stopped to that one.
    """
    plan = Plan()
    stopping: set[int] = set()
    for show in find_shows(checkout, all_checkouts, port):
        plan.items.append(show)
        if show.kind == "process" and show.remove:
            stopping.add(show.target[0])
    if client is None:
        plan.docker_ok = False
    else:
        try:
            plan.items.extend(find_docker_objects(client, stopping, force, include_testcontainers, scope, checkout,
                                                  all_checkouts))
        except DockerException as exc:
            plan.docker_ok = False
            plan.notes.append(f"Docker stopped answering while listing: {first_line(exc)}")
    for name, paths in find_caches(root).items():
        if paths:
            plural = "folder" if len(paths) == 1 else "folders"
            plan.items.append(Item("cache", f"{name} ({len(paths)} {plural})", format_size(_size(paths)), True,
                                   "pytest / Python cache, rebuilt on the next run", target=paths,
                                   checkout=str(root)))
    plan.items.sort(key=lambda item: KIND_ORDER.index(item.kind))
    return plan


def execute(plan: Plan, on_outcome: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    """Remove everything the plan marks for removal, in order: the show first, caches last."""
    outcomes = []
    for item in plan.to_remove():
        try:
            message = _remove(item)
            outcome = Outcome(item, True, message)
        except NotFound:
            outcome = Outcome(item, True, "already gone")
        except (DockerException, OSError, RuntimeError) as exc:
            outcome = Outcome(item, False, first_line(exc))
        outcomes.append(outcome)
        if on_outcome:
            on_outcome(outcome)
    return outcomes


def _remove(item: Item) -> str:
    if item.kind == "process":
        pid, path, _ = item.target
        message = stop_process(pid)
        path.unlink(missing_ok=True)
        return message
    if item.kind == "pid file":
        item.target[1].unlink(missing_ok=True)
        return "removed"
    if item.kind == "container":
        # v=True takes the container's anonymous volumes (PostgreSQL's data directory) with it.
        item.target.remove(force=True, v=True)
        return "removed"
    if item.kind in ("network", "volume"):
        item.target.remove()
        return "removed"
    if item.kind == "cache":
        for path in item.target:
            shutil.rmtree(path, ignore_errors=True)
        return "cleared"
    raise RuntimeError(f"don't know how to remove a {item.kind}")
