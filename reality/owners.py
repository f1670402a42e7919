"""Who owns a container, network or volume of the kit — and is that process still running?

Everything the kit creates carries the pid of the process that created it. A pid alone is not an
identity: Linux hands out pids again (``pid_max`` is often 32768, and one image build spawns
thousands of processes), and Docker keeps stopped containers across reboots. So objects also carry
the process's identity on Linux: the machine's boot id and the process's start time in clock ticks
since boot, which neither a reboot nor a reused pid can repeat and no change of the wall clock
moves. Where that label is missing (objects made by hand or elsewhere), a live pid counts as the
owner — unless, without /proc, its recorded start is after the object was created.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Mapping

import psutil

from .config import LABEL_PID, LABEL_PROCESS

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


def owner_labels(pid: int) -> dict[str, str]:
    """The labels naming process ``pid`` as an object's owner."""
    key = process_key(pid)
    return {LABEL_PID: str(pid), **({LABEL_PROCESS: key} if key else {})}


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
