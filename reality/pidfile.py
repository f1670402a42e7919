"""A running show's pid file: written by the show, found and read by ``cleanup.py`` and the port check.

Each show records itself in one file per checkout and port (``config.pid_file``): its pid, port,
checkout and process identity (:func:`reality.owners.process_key`), so that a pid the system has
handed to another program is never taken for the show. Writing (:class:`PidFile`) and finding
(:func:`find_show`, :func:`show_record_files`, :func:`running_show`) live here together.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import psutil

from . import config
from .config import CHECKOUT, checkout_state_dir, runtime_dir
from .owners import ProcessInfo, process_info, process_key

#: The show's entry script: the only program cleanup.py ever signals.
SHOW_SCRIPT = "reality_engine.py"
#: The pid file of kit versions before per-checkout state: one per user, shared by every checkout.
LEGACY_PID_FILE = "reality_engine.pid"


@dataclass(frozen=True)
class ShowRecord:
    """What a running show writes into its pid file: who it is, on which port, from which checkout."""

    pid: int
    port: int | None
    checkout: str | None
    process: str | None = None  # process_key() at start: tells a reused pid from the show
    path: Path | None = None

    def to_json(self) -> str:
        return json.dumps({"pid": self.pid, "port": self.port, "checkout": self.checkout, "process": self.process})


def show_record_for(pid: int, port: int, checkout: Path = CHECKOUT) -> ShowRecord:
    return ShowRecord(pid, port, str(checkout), process_key(pid))


def read_show_record(path: Path) -> ShowRecord:
    """The record in ``path``; a legacy file holds only a pid. Raises ``ValueError`` on anything else."""
    text = path.read_text(errors="replace").strip()
    if text.isdigit():
        return ShowRecord(int(text), None, None, None, path)
    try:
        data = json.loads(text)
        pid = data["pid"]
        port = data.get("port")
        if not isinstance(pid, int) or not (port is None or isinstance(port, int)):
            raise ValueError
    except (ValueError, TypeError, KeyError, AttributeError):
        raise ValueError(f"unreadable content {text[:20]!r}") from None
    checkout, process = data.get("checkout"), data.get("process")
    return ShowRecord(pid, port, checkout if isinstance(checkout, str) else None,
                      process if isinstance(process, str) else None, path)


class PidFile:
    """This show's record (pid, port, checkout) while it runs: one file per checkout and port (read by cleanup.py)."""

    def __init__(self, port: int, path: Path | None = None) -> None:
        self.port = port
        self.path = path or config.pid_file(port)

    def write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(show_record_for(os.getpid(), self.port).to_json() + "\n")

    def remove(self) -> None:
        """Remove the file if it is still this process's (a later show on the port may have replaced it)."""
        try:
            if read_show_record(self.path).pid == os.getpid():
                self.path.unlink()
        except (OSError, ValueError):
            pass


def show_record_files(checkout: Path | None = CHECKOUT) -> list[Path]:
    """Pid files of ``checkout``'s shows (every checkout's with ``None``), and the legacy shared one."""
    root = runtime_dir()
    pattern = "checkout-*/show-*.json" if checkout is None else f"{checkout_state_dir(checkout).name}/show-*.json"
    files = sorted(root.glob(pattern))
    legacy = root / LEGACY_PID_FILE
    return files + ([legacy] if legacy.exists() else [])


def running_show(record: ShowRecord) -> ProcessInfo | None:
    """The live ``reality_engine.py`` this record names, or ``None`` (gone, or its pid reused)."""
    info = process_info(record.pid)
    if info is None:
        return None
    current = process_key(record.pid)
    if record.process and current and record.process != current:
        return None
    if SHOW_SCRIPT not in info.cmdline and info.cmdline != "?":
        return None
    return info


def checkout_of_process(pid: int) -> str | None:
    """The checkout a running ``reality_engine.py`` was started from: its script's folder, resolved."""
    try:
        process = psutil.Process(pid)
        words, cwd = process.cmdline(), process.cwd()
    except (psutil.Error, OSError):
        return None
    for word in words[1:]:
        if os.path.basename(word) == SHOW_SCRIPT:
            return str(Path(cwd, word).resolve().parent)
    return None


def find_show(pid: int) -> ShowRecord | None:
    """The running show with ``pid``, by its pid file (any checkout's) or, without one, by its command line."""
    for path in show_record_files(None):
        try:
            record = read_show_record(path)
        except (OSError, ValueError):
            continue
        if record.pid == pid and running_show(record) is not None:
            checkout = record.checkout or checkout_of_process(pid)
            return ShowRecord(record.pid, record.port, checkout, record.process, path)
    info = process_info(pid)
    if info is not None and SHOW_SCRIPT in info.cmdline:
        return ShowRecord(pid, None, checkout_of_process(pid))  # a show with its pid file elsewhere
    return None


def port_listeners(port: int) -> tuple[list[int], bool]:
    """Pids listening on TCP ``port`` here, and whether some listener's pid is hidden from this user."""
    try:
        connections = psutil.net_connections(kind="tcp")
    except (psutil.AccessDenied, OSError):
        # macOS lists every socket to root only: this user's own shows can still be asked one by one.
        return [pid for pid in _recorded_show_pids() if _listens(pid, port)], True
    pids, hidden = [], False
    for connection in connections:
        if connection.status == psutil.CONN_LISTEN and connection.laddr and connection.laddr.port == port:
            if connection.pid is None:
                hidden = True
            elif connection.pid not in pids:
                pids.append(connection.pid)
    return pids, hidden


def _recorded_show_pids() -> list[int]:
    pids = []
    for path in show_record_files(None):
        try:
            pids.append(read_show_record(path).pid)
        except (OSError, ValueError):
            continue
    return pids


def _listens(pid: int, port: int) -> bool:
    try:
        connections = psutil.Process(pid).net_connections(kind="tcp")
    except (psutil.Error, OSError):
        return False
    return any(c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port for c in connections)
