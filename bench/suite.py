"""Benchmark: the whole suite (the README's test command, quiet, with a JUnit report), and where its time goes.

Prints, for each run: the wall time; the CPU time the whole machine spent meanwhile (every process:
pytest's, the shows', Chromium's, dockerd's and the containers'; Linux's /proc/stat), which is what a
suite on a small machine is bound by, and the time a virtual machine's host took its cores away
(steal); and a speed probe before and after (a fixed piece of Python, timed): where the machine's
speed moved during a run, its figures cannot be compared with another run's. Then each test file's
test time, over all workers, from pytest's JUnit report. With ``--by-process`` (root, Linux), the
last run's CPU by program too: Chromium, the pytest workers, the shows, the containers, Docker...
(bench/process_cpu.py: the kernel's process accounting).

    python3 bench/suite.py                 # one run, with -n auto
    python3 bench/suite.py --runs 2 --workers 2 3    # alternating 2 and 3 workers, twice each
    python3 bench/suite.py --by-process    # and which programs used the CPU
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

from process_cpu import AccountingUnavailable, ProcessCPU

ROOT = Path(__file__).resolve().parent.parent
LOG = ROOT / "bench" / "results" / "suite.log"
COMMAND = [sys.executable, "-m", "pytest", "-n", "auto", "--dist", "loadgroup", "-q", "-rfE", "-p", "no:cacheprovider"]


def machine_cpu_seconds() -> tuple[float, float] | None:
    """CPU time every process on the machine has used since boot (user, system, interrupts), and the time
    the host of a virtual machine gave its cores to others (steal); None off Linux."""
    try:
        fields = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    tick = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / tick, steal / tick


def speed_probe() -> float:
    """Seconds a fixed piece of Python takes in a new interpreter: lower is a faster machine."""
    began = time.perf_counter()
    subprocess.run([sys.executable, "-c", "sum(i * i for i in range(10**7))"], check=True)
    return time.perf_counter() - began


def per_file(report: Path) -> collections.Counter[str] | None:
    """Test time by test file (seconds, all workers together), from a JUnit XML report; None without one."""
    try:
        cases = list(ElementTree.parse(report).iter("testcase"))
    except (OSError, ElementTree.ParseError):
        return None
    times: collections.Counter[str] = collections.Counter()
    for case in cases:
        module = case.get("classname", "").split(".")
        name = next((part for part in module if part.startswith("test_")), module[0])
        times[name] += float(case.get("time", 0))
    return times


@dataclass
class Run:
    workers: int | None  # None: what -n auto starts
    wall: float
    cpu: tuple[float, float] | None  # machine CPU and steal during the run, seconds
    probe: tuple[float, float]       # the speed probe before and after
    summary: str                     # pytest's last line
    failures: list[str]              # its FAILED and ERROR lines
    files: collections.Counter[str] | None
    programs: list[tuple[str, float, int]] | None  # (program, CPU seconds, processes), with --by-process


def one_run(workers: int | None, report: Path, by_process: bool = False) -> Run:
    """The README's test command once, with ``workers`` (PYTEST_XDIST_AUTO_NUM_WORKERS) when given,
    and its CPU by program when ``by_process``."""
    env = dict(os.environ)
    if workers:
        env["PYTEST_XDIST_AUTO_NUM_WORKERS"] = str(workers)
    probe_before = speed_probe()
    with ProcessCPU() if by_process else contextlib.nullcontext() as usage:
        cpu_before, began = machine_cpu_seconds(), time.perf_counter()
        result = subprocess.run([*COMMAND, f"--junitxml={report}"], cwd=ROOT, env=env, capture_output=True,
                                text=True)
        wall = time.perf_counter() - began
    cpu_after = machine_cpu_seconds()
    LOG.parent.mkdir(exist_ok=True)
    LOG.write_text(result.stdout + result.stderr)  # the last run's whole output, for its failures' details
    lines = result.stdout.strip().splitlines() or ["(no output)"]
    cpu = None if cpu_before is None or cpu_after is None else \
        (cpu_after[0] - cpu_before[0], cpu_after[1] - cpu_before[1])
    return Run(workers, wall, cpu, (probe_before, speed_probe()), lines[-1],
               [line for line in lines if line.startswith(("FAILED", "ERROR"))], per_file(report),
               usage.groups() if usage else None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="runs of each worker count (default 1)")
    parser.add_argument("--workers", type=int, nargs="*", default=[],
                        help="worker counts to alternate (default: what -n auto starts)")
    parser.add_argument("--files", type=int, default=12, help="test files listed by test time (default 12)")
    parser.add_argument("--by-process", action="store_true",
                        help="CPU by program (Linux's process accounting: root; machine-wide, switched off after)")
    options = parser.parse_args()
    runs = []
    with tempfile.TemporaryDirectory() as folder:
        for number in range(options.runs):
            for workers in options.workers or [None]:
                try:
                    run = one_run(workers, Path(folder) / f"report-{number}-{workers}.xml", options.by_process)
                except AccountingUnavailable as error:
                    print(f"--by-process: {error}", file=sys.stderr)
                    return 2
                runs.append(run)
                cpu = f"{run.cpu[0]:.0f} s (steal {run.cpu[1]:.0f} s)" if run.cpu else "unknown"
                print(f"workers {run.workers or 'auto'}: wall {run.wall:.1f} s, machine CPU {cpu}, speed probe "
                      f"{run.probe[0]:.2f} -> {run.probe[1]:.2f} s  |  {run.summary}", flush=True)
                for line in run.failures:
                    print(f"  {line}")
                if run.failures:
                    print(f"  (the run's output: {LOG.relative_to(ROOT)})")
    last = next((run for run in reversed(runs) if run.files), None)
    if last:
        print(f"\nTest time by file, in the last run with a report ({sum(last.files.values()):.0f} s over all "
              "workers):")
        for name, seconds in last.files.most_common(options.files):
            print(f"  {seconds:6.1f} s  {name}")
    measured = next((run for run in reversed(runs) if run.programs), None)
    if measured:
        total = sum(seconds for _, seconds, _ in measured.programs)
        print(f"\nCPU by program, in the last run ({total:.0f} s over every process that ran or went on "
              "running meanwhile):")
        for name, seconds, count in measured.programs[:options.files + 6]:
            print(f"  {seconds:6.1f} s  {100 * seconds / total:3.0f} %  {name} ({count} process{'es' * (count > 1)})")
    return 0 if all(not run.failures and "passed" in run.summary for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
