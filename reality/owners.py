"""Who owns a container, network or volume of the kit — and is that process still running?

Everything the kit creates carries the pid of the process that created it. A pid alone is not an
identity: Linux hands out pids again (``pid_max`` is often 32768, and one image build spawns
thousands of processes), and Docker keeps stopped containers across reboots. So the owner is the
live process with that pid *that started before the object was created*; a younger one merely
reuses the number, and the object is an orphan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import psutil

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


def running_owner(pid_label: str, created: float | None) -> ProcessInfo | None:
    """The running process that created an object labelled ``pid_label`` at ``created``, or ``None``."""
    if not pid_label.isdigit():
        return None
    info = process_info(int(pid_label))
    if info is None:
        return None
    if info.started is not None and created is not None and info.started > created + CLOCK_SLACK:
        return None  # a reused pid
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
