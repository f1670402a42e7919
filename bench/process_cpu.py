"""Which programs used the machine's CPU while something ran: Linux's process accounting, grouped.

    with ProcessCPU() as usage:
        subprocess.run(...)
    for group, seconds, count in usage.groups():
        ...

The kernel writes a record for every process that ends (its command name, pid, parent, user and
system time: acct(2), the records ``sa`` and ``lastcomm`` read); a thread notes each new process's
command line from /proc meanwhile (every 0.1 s: a process shorter than that is still counted, by its
command name); processes still running at the end (dockerd, containerd) count with what /proc says
they used since the start. Needs root (CAP_SYS_PACCT). Process accounting is one switch for the
whole machine: it is switched off at the end, so do not use this while something else on the machine
keeps its own accounting file.
"""

from __future__ import annotations

import collections
import ctypes
import os
import re
import struct
import tempfile
import threading
from pathlib import Path

#: struct acct_v3 (linux/acct.h): flag, version, tty, exit code, uid, gid, pid, ppid, creation time,
#: elapsed time (float), then eight comp_t (user, system, memory, io, rw, minflt, majflt, swaps), comm.
RECORD = struct.Struct("=ccHIIIIIIf8H16s")
TICKS = 100  # AHZ: comp_t times are in 1/100 s on Linux, whatever the kernel's HZ
STAT_TICKS = os.sysconf("SC_CLK_TCK")


class AccountingUnavailable(Exception):
    """Process accounting cannot be switched on here (not Linux, not root, or not in this kernel)."""


def comp_t(value: int) -> int:
    """A comp_t's value: 13 bits of mantissa, 3 bits of base-8 exponent.

    >>> comp_t(1234), comp_t((1 << 13) | 1234), comp_t((2 << 13) | 8191)
    (1234, 9872, 524224)
    """
    return (value & 0x1FFF) << (3 * (value >> 13))


def read_records(path: Path) -> list[tuple[int, int, str, float]]:
    """(pid, ppid, command name, CPU seconds) of each version-3 record in an accounting file."""
    data = path.read_bytes()
    records = []
    for offset in range(0, len(data) - RECORD.size + 1, RECORD.size):
        fields = RECORD.unpack_from(data, offset)
        if fields[1] != b"\x03":
            continue
        utime, stime = comp_t(fields[10]), comp_t(fields[11])
        comm = fields[18].split(b"\0", 1)[0].decode(errors="replace")
        records.append((fields[6], fields[7], comm, (utime + stime) / TICKS))
    return records


def live_cpu() -> dict[tuple[int, int], tuple[str, float]]:
    """Command name and CPU seconds so far of every running process (/proc/PID/stat), by pid and start
    time (a kernel thread's name changes with its work)."""
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        found[int(entry.name), int(fields[19])] = (comm, (int(fields[11]) + int(fields[12])) / STAT_TICKS)
    return found


def program(comm: str, command_line: str | None) -> str:
    """The group a process counts in: what ran, named the way a reader of the suite knows it.

    >>> program("chromium", "/usr/lib/chromium/chromium --type=renderer --lang=en-US")
    'Chromium: renderer'
    >>> program("python3", "/usr/bin/python3 -u -c import sys;exec(eval(sys.stdin.readline()))")
    'pytest-xdist workers (in-process tests)'
    >>> program("python3", "/usr/bin/python3 /work/main/reality_engine.py --port 5001")
    'reality_engine.py'
    >>> program("python3", "/usr/bin/python3 -m pytest /tmp/x/test_votes.py -q")
    'python -m pytest'
    >>> program("python", "/tmp/pytest-1/my envs/broken venv/bin/python -m pip install -q -r requirements.txt")
    "virtualenvs' Python (pip, checks)"
    >>> program("postgres", None), program("exe", None), program("sh", None)
    ('containers: PostgreSQL', 'Docker: runc, shims, proxies', 'sh (too short to see)')
    """
    line = command_line or ""
    if comm.startswith(("kworker/", "ksoftirqd/", "rcu_", "kswapd", "jbd2/", "migration/")):
        return "the kernel's threads"
    if comm.startswith(("chromium", "chrome")):
        kind = re.search(r"--type=([\w-]+)", line)
        return f"Chromium: {kind.group(1) if kind else 'browser' if line else comm}"
    if "playwright/driver" in line:
        return "Playwright's driver (node)"
    if comm in ("postgres", "initdb", "psql", "pg_ctl"):
        return "containers: PostgreSQL"
    if comm.startswith("redis"):
        return "containers: Redis"
    if comm in ("dockerd", "containerd"):
        return f"Docker: {comm}"
    if comm.startswith(("runc", "containerd-shim", "docker-proxy", "docker-init")) or comm == "exe":
        return "Docker: runc, shims, proxies"
    words = line.split()
    if not words:
        return f"{comm} (too short to see)"
    if not comm.startswith("python") and "python" not in Path(words[0]).name:
        return comm
    if line.startswith("/tmp/") or "venv/bin/python" in line:  # a folder's name may hold spaces
        return "virtualenvs' Python (pip, checks)"
    if "exec(eval(sys.stdin.readline()))" in line:
        return "pytest-xdist workers (in-process tests)"
    if "-m" in words[1:]:
        module = words[words.index("-m", 1) + 1] if words.index("-m", 1) + 1 < len(words) else "?"
        if module == "pytest" and ("-n" in words or "--junitxml" in line):
            return "pytest (the suite's controller)"
        return f"python -m {module}"
    script = next((word for word in words[1:] if word.endswith(".py")), None)
    if script:
        return Path(script).name
    return "python -c / other Python"


class ProcessCPU:
    """A context: CPU time of every process that ran inside it, by program."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.command_lines: dict[int, str] = {}
        self._done = threading.Event()
        self._usage: collections.Counter[str] = collections.Counter()
        self._count: collections.Counter[str] = collections.Counter()

    def __enter__(self) -> ProcessCPU:
        if not Path("/proc/self/stat").exists():
            raise AccountingUnavailable("process accounting needs Linux")
        self._folder = tempfile.TemporaryDirectory(prefix="process-cpu-")
        self._file = Path(self._folder.name) / "pacct"
        self._file.touch()
        self._libc = ctypes.CDLL(None, use_errno=True)
        if self._libc.acct(str(self._file).encode()) != 0:
            error = os.strerror(ctypes.get_errno())
            self._folder.cleanup()
            raise AccountingUnavailable(f"process accounting cannot be switched on: {error} (it needs root)")
        self._before = live_cpu()
        self._watcher = threading.Thread(target=self._watch, daemon=True)
        self._watcher.start()
        return self

    def _watch(self) -> None:
        while not self._done.wait(self.interval):
            for entry in os.scandir("/proc"):
                if entry.name.isdigit() and int(entry.name) not in self.command_lines:
                    try:
                        raw = Path(entry.path, "cmdline").read_bytes()
                    except OSError:
                        continue
                    if raw:
                        self.command_lines[int(entry.name)] = raw.replace(b"\0", b" ").decode(errors="replace")

    def __exit__(self, *exc_info) -> None:
        self._done.set()
        self._watcher.join()
        self._libc.acct(None)
        after = live_cpu()
        try:
            earlier_by_pid = {pid: earlier for (pid, _start), earlier in self._before.items()}
            for pid, _ppid, comm, seconds in read_records(self._file):
                earlier = earlier_by_pid.get(pid)
                used = seconds - (earlier[1] if earlier and earlier[0] == comm else 0)
                self._add(program(comm, self.command_lines.get(pid)), max(used, 0.0))
        finally:
            self._folder.cleanup()
        for (pid, start), (comm, seconds) in after.items():
            earlier = self._before.get((pid, start))
            used = seconds - (earlier[1] if earlier else 0)
            if used > 0:
                name = "this benchmark (watching /proc)" if pid == os.getpid() else program(comm, self.command_lines.get(pid))
                self._add(name, used)

    def _add(self, group: str, seconds: float) -> None:
        self._usage[group] += seconds
        self._count[group] += 1

    def groups(self) -> list[tuple[str, float, int]]:
        """(program, CPU seconds, processes), the most CPU first."""
        return [(group, seconds, self._count[group]) for group, seconds in self._usage.most_common()]
