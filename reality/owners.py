"""Who owns a container, network or volume of the kit — and is that process still running?

Everything the kit creates carries the pid of the process that created it. A pid alone is not an
identity: Linux hands out pids again (``pid_max`` is often 32768, and one image build spawns
thousands of processes), and Docker keeps stopped containers across reboots. So objects also carry
the process's identity on Linux: the machine's boot id and the process's start time in clock ticks
since boot, which neither a reboot nor a reused pid can repeat and no change of the wall clock
moves. Where that label is missing (objects made by hand or elsewhere), a live pid counts as the
owner — unless, without /proc, its recorded start is after the object was created.

Several checkouts (clones) of the kit may run on one machine, each person their own. Objects carry
the checkout that made them: what one checkout's ``cleanup.py`` or a show's start-up sweep may
remove is decided here (:func:`kit_verdict`, :func:`owner_verdict`), in one place. (Running shows
record themselves in pid files: :mod:`reality.pidfile`.)
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import AbstractSet, Mapping

import psutil

from .config import (
    CHECKOUT,
    LABEL_CHECKOUT,
    LABEL_HOST,
    LABEL_PID,
    LABEL_PROCESS,
    LABEL_PROJECT,
    LABEL_TESTCONTAINERS,
    PROJECT,
)

#: What ``Verdict.elsewhere`` says of an object that records no checkout.
UNKNOWN_CHECKOUT = "an unknown checkout"

#: Slack between a process's start time and its object's creation time (clock ticks, rounding).
CLOCK_SLACK = 1.0


@dataclass(frozen=True)
class ProcessInfo:
    pid: int
    cmdline: str
    started: float | None  # epoch seconds


def process_info(pid: int) -> ProcessInfo | None:
    """The live process ``pid``, or ``None`` (a zombie waiting to be reaped counts as gone)."""
    try:
        process = psutil.Process(pid)
        with process.oneshot():
            if process.status() in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD):
                return None
            started = process.create_time()
            try:
                cmdline = " ".join(process.cmdline()) or process.name()
            except psutil.AccessDenied:
                cmdline = process.name()
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return None
    except psutil.AccessDenied:
        return ProcessInfo(pid, "?", None)  # someone else's process: alive, details private
    return ProcessInfo(pid, cmdline, started)


def process_key(pid: int) -> str | None:
    """``<boot id>:<start ticks>`` of process ``pid`` on Linux; ``None`` where there is no /proc."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return f"{boot}:{stat.rsplit(')', 1)[1].split()[19]}"


def owner_labels(pid: int, checkout: Path = CHECKOUT) -> dict[str, str]:
    """The labels naming process ``pid`` of ``checkout`` as an object's owner."""
    key = process_key(pid)
    return {LABEL_PID: str(pid), **({LABEL_PROCESS: key} if key else {}), LABEL_CHECKOUT: str(checkout)}


def running_owner(labels: Mapping[str, str], created: float | None) -> ProcessInfo | None:
    """The running process that created an object with these ``labels`` at ``created``, or ``None``."""
    pid_label = labels.get(LABEL_PID, "")
    if not pid_label.isdigit():
        return None
    info = process_info(int(pid_label))
    if info is None:
        return None
    recorded, current = labels.get(LABEL_PROCESS), process_key(info.pid)
    if recorded and current:
        return info if recorded == current else None  # another boot, or a reused pid
    if current is None and info.started is not None and created is not None and info.started > created + CLOCK_SLACK:
        return None  # no /proc (macOS): a process that started after the object is a reused pid
    return info


def parse_docker_time(value: str | None) -> float | None:
    """Epoch seconds from Docker's RFC 3339 timestamps (nanoseconds and all); ``None`` for the zero time."""
    if not value or value.startswith("0001-"):
        return None
    text = value.rstrip("Z")
    if "." in text:
        whole, fraction = text.split(".", 1)
        digits = "".join(ch for ch in fraction if ch.isdigit())[:6]
        text = f"{whole}.{digits}"
    try:
        return datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        return None


# -- checkouts -----------------------------------------------------------------------------------

def describe_checkout(checkout: str | Path | None, this: Path = CHECKOUT) -> str:
    """``this checkout (/path)``, ``checkout /path``, or ``an unknown checkout``."""
    if not checkout:
        return "an unknown checkout"
    return f"this checkout ({checkout})" if same_checkout(checkout, this) else f"checkout {checkout}"


def same_checkout(checkout: str | Path | None, this: Path = CHECKOUT) -> bool:
    if not checkout:
        return False
    try:
        return Path(checkout).resolve() == this.resolve()
    except OSError:
        return str(checkout) == str(this)


@dataclass(frozen=True)
class Verdict:
    """Whether one checkout's cleanup removes a kit object, and why (either way)."""

    remove: bool
    reason: str
    elsewhere: str | None = None  # kept because it is this other checkout's
    #: Another checkout's object whose run is gone: what ``--all-checkouts`` would remove.
    orphaned: bool = False


def kit_verdict(labels: Mapping[str, str], created: float | None, *, checkout: Path = CHECKOUT,
                all_checkouts: bool = False, stopping: AbstractSet[int] = frozenset(), force: bool = False,
                force_flag: str = "--force") -> Verdict:
    """The one rule for objects carrying the kit's label: whose checkout, and is its run still going?

    Another checkout's objects are never this checkout's to remove (``all_checkouts`` says otherwise);
    then a live run's objects stay unless ``force``, or unless its show is being stopped.
    """
    recorded = labels.get(LABEL_CHECKOUT, "")
    if not all_checkouts and not same_checkout(recorded, checkout):
        whose = f"another checkout's ({recorded})" if recorded else "no checkout recorded (an older kit's, or by hand)"
        # What --all-checkouts would do with it: a live run's objects would still need --force too.
        anyone = kit_verdict(labels, created, all_checkouts=True, force_flag="--all-checkouts --force")
        reason = f"{whose}: --all-checkouts removes it" if anyone.remove else f"{whose}; {anyone.reason}"
        return Verdict(False, reason, elsewhere=recorded or UNKNOWN_CHECKOUT, orphaned=anyone.remove)
    if force:
        return Verdict(True, "Reality Engine's (--force)")
    pid_text = labels.get(LABEL_PID, "")
    if not pid_text.isdigit():
        # Made by hand with the project's label (the kit always records its pid): can't tell if in use.
        return Verdict(False, f"Reality Engine's label but no owning process recorded ({force_flag} removes it)")
    pid = int(pid_text)
    host = labels.get(LABEL_HOST, "")
    if host and host != socket.gethostname():
        return Verdict(False, f"Reality Engine's, started on host {host}: that run may still be going "
                              f"({force_flag} removes it)")
    if pid in stopping:
        return Verdict(True, f"Reality Engine's, its show (pid {pid}) is stopped first")
    info = running_owner(labels, created)
    if info is not None:
        return Verdict(False, f"in use by running pid {pid} ({describe_command(info.cmdline)}) — "
                              f"{force_flag} removes it")
    return Verdict(True, f"left behind: its process (pid {pid}) is gone")


def is_kit_object(labels: Mapping[str, str]) -> bool:
    return labels.get(LABEL_PROJECT) == PROJECT


def describe_command(cmdline: str, limit: int = 50) -> str:
    """``python3.11 -m pytest tests/`` rather than the interpreter's full path."""
    words = cmdline.split()
    text = " ".join([os.path.basename(words[0]), *words[1:]]) if words else "?"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def owner_verdict(labels: Mapping[str, str], created: float | None, stopping: AbstractSet[int], force: bool,
                  include_testcontainers: bool, checkout: Path = CHECKOUT,
                  all_checkouts: bool = False) -> tuple[bool, str]:
    """Whether a labelled Docker object is removed, and why (the one rule for containers, networks, volumes).

    The kit's objects follow :func:`kit_verdict`; objects carrying only Testcontainers' labels may be
    another project's tests' and go only when ``include_testcontainers`` asks.
    """
    if is_kit_object(labels):
        verdict = kit_verdict(labels, created, checkout=checkout, all_checkouts=all_checkouts, stopping=stopping,
                              force=force)
        return verdict.remove, verdict.reason
    if labels.get(LABEL_TESTCONTAINERS) == "true":
        if include_testcontainers:
            return True, "Testcontainers' (--include-testcontainers)"
        return False, "Testcontainers' but not Reality Engine's: not ours (--include-testcontainers removes it)"
    return False, "not started by this kit"
