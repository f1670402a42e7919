"""reality/pytest_runner.py and its two adapters on real pytest children, running tiny generated test files.

The result model (each outcome, its time, its reason), results streamed while the child still runs,
and the one stop policy (a watchdog, a cancel, a child that ignores Ctrl+C) leaving no process behind.
No containers.
"""

from __future__ import annotations

import importlib.metadata
import signal
import threading
import time
from pathlib import Path

from reality.events import EventBus
from reality.pytest_results import Outcome
from reality.pytest_runner import PytestProcess, run_pytest, skipped_plugin_options, stop
from reality.testrun import TestRun
from support.paths import ROOT
from support.waiting import wait_for

#: No cache folder in tmp_path, and the suite's own warning filters stay out of the children's way.
ARGS = ("-p", "no:cacheprovider")

SAMPLE = '''
import time, pytest

@pytest.fixture
def slow():
    time.sleep(0.2)

@pytest.fixture
def broken():
    raise RuntimeError("the fixture broke")

def test_ok(slow):
    pass

def test_bad():
    assert 1 == 2, "one is not two"

def test_needs_a_fixture_that_breaks(broken):
    pass

@pytest.mark.skip(reason="not today")
def test_skipped():
    pass

@pytest.mark.xfail(reason="known bug")
def test_expected_to_fail():
    assert False

@pytest.mark.parametrize("n", [1, 2])
def test_numbers(n):
    assert n
'''

#: A test that holds its child until the parent says so, its fixture's teardown leaving a mark, and a
#: grandchild process that ignores Ctrl+C and SIGTERM (only a kill of the whole group ends it).
HELD = '''
import os, pathlib, subprocess, time, pytest

HERE = pathlib.Path(__file__).parent

@pytest.fixture
def marked():
    (HERE / "set-up").write_text("")
    yield
    (HERE / "torn-down").write_text("")

def test_held(marked):
    grandchild = subprocess.Popen(["sh", "-c", "trap '' INT TERM; sleep 300 & wait"])
    (HERE / "grandchild.pid").write_text(str(grandchild.pid))
    deadline = time.monotonic() + 120
    while not (HERE / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
'''


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its parent to reap it counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def group_of(tmp_path: Path, process: PytestProcess) -> list[int]:
    """The child and the grandchild it started (once it has said which)."""
    wait_for(lambda: (tmp_path / "grandchild.pid").exists(), 60, "the grandchild's start")
    return [process.process.pid, int((tmp_path / "grandchild.pid").read_text())]


def test_a_file_outside_the_checkout_runs_without_the_plugins_pytest_ini_turns_off(tmp_path):
    # The kit's pytest.ini does not reach tmp_path (nor an --exercise-dir elsewhere): the installed
    # plugins it keeps from loading (Schemathesis and Hypothesis are among the kit's own requirements)
    # must stay unloaded anyway.
    assert "--disable-plugin-autoload" in skipped_plugin_options()
    installed = sorted(entry.name for entry in importlib.metadata.entry_points(group="pytest11"))
    assert {"schemathesis", "hypothesispytest"} <= set(installed)
    (tmp_path / "test_plugins.py").write_text(
        "def test_plugins(pytestconfig):\n"
        f"    loaded = [name for name in {installed!r} if pytestconfig.pluginmanager.has_plugin(name)]\n"
        "    assert not loaded, loaded\n")

    [run] = run_pytest([tmp_path / "test_plugins.py"], tmp_path, extra_args=ARGS, timeout=120)

    assert [test.outcome for test in run.tests] == [Outcome.PASSED], run.output


def test_inside_the_checkout_only_xdist_is_loaded(pytestconfig):
    """pytest.ini names the one plugin the suite uses; the installed ones (Schemathesis' among them) stay out."""
    installed = sorted(entry.name for entry in importlib.metadata.entry_points(group="pytest11"))
    assert "schemathesis" in installed

    assert [name for name in installed if pytestconfig.pluginmanager.has_plugin(name)] == []
    assert pytestconfig.pluginmanager.has_plugin("xdist.plugin")


def test_every_outcome_is_one_result_with_its_time_and_reason(tmp_path):
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    (tmp_path / "test_broken_file.py").write_text("def test_x(:\n    pass\n")

    [run] = run_pytest([tmp_path], tmp_path, extra_args=(*ARGS, "--continue-on-collection-errors"), timeout=120)

    by_name = {test.name: test for test in run.tests}
    assert by_name["test_ok"].outcome == Outcome.PASSED and by_name["test_ok"].seconds >= 0.2  # setup counts
    assert by_name["test_ok"].suite == "sample"
    assert by_name["test_bad"].outcome == Outcome.FAILED
    assert by_name["test_bad"].message.startswith("AssertionError: one is not two")
    assert "assert 1 == 2" in by_name["test_bad"].explanation()  # pytest's E lines, no traceback
    assert by_name["test_needs_a_fixture_that_breaks"].outcome == Outcome.ERROR
    assert by_name["test_needs_a_fixture_that_breaks"].message == "RuntimeError: the fixture broke"
    assert (by_name["test_skipped"].outcome, by_name["test_skipped"].message) == (Outcome.SKIPPED, "not today")
    assert (by_name["test_expected_to_fail"].outcome, by_name["test_expected_to_fail"].message) == (
        Outcome.SKIPPED, "known bug")
    assert by_name["test_numbers[1]"].outcome == by_name["test_numbers[2]"].outcome == Outcome.PASSED
    # A file pytest cannot even collect is an error of its own, with what Python said.
    broken = by_name["test_broken_file.py"]
    assert broken.outcome == Outcome.ERROR and not broken.collected
    assert "SyntaxError" in broken.explanation()
    assert run.exit_code == 1 and run.summary() == "3 passed, 1 failed, 2 error, 2 skipped"
    assert run.reported_seconds is not None and 0 < run.reported_seconds < run.seconds
    assert "MARKER" not in run.output and "@@reality" not in run.output  # pytest's own words only
    assert "short test summary info" in run.output and not run.timed_out


def test_each_result_arrives_while_the_child_still_runs(tmp_path):
    # The second test waits for a file the parent writes only once it has read the first result.
    (tmp_path / "test_stream.py").write_text(
        "import pathlib, time\n"
        "HERE = pathlib.Path(__file__).parent\n"
        "def test_first():\n    pass\n"
        "def test_second():\n"
        "    deadline = time.monotonic() + 60\n"
        "    while not (HERE / 'first-seen').exists():\n"
        "        assert time.monotonic() < deadline, 'the parent never saw the first result'\n"
        "        time.sleep(0.02)\n")
    seen = []

    def on_result(index: int, result) -> None:
        seen.append(result.name)
        if result.name == "test_first":
            (tmp_path / "first-seen").write_text("")

    [run] = run_pytest([tmp_path / "test_stream.py"], tmp_path, extra_args=ARGS, on_result=on_result, timeout=120)

    assert seen == ["test_first", "test_second"]
    assert run.all_passed, run.output


def test_a_run_past_its_timeout_is_stopped_and_its_fixtures_still_clean_up(tmp_path):
    (tmp_path / "test_held.py").write_text(HELD)
    # A pytest child reaches the test in 0.3 s on a quiet machine: 4 s is plenty, and the test holds
    # far longer. Only when the child never reached it (a very loaded machine) does a second run
    # with a longer watchdog tell a slow start from a broken stop.
    for timeout in (4, 15):
        started: list[PytestProcess] = []
        began = time.monotonic()
        [run] = run_pytest([tmp_path / "test_held.py"], tmp_path, extra_args=ARGS, timeout=timeout,
                           on_start=started.append)
        if (tmp_path / "set-up").exists():
            break
    assert run.timed_out and run.output == f"pytest did not finish within {timeout} s"
    assert time.monotonic() - began < timeout + 30, "stopping took more than the stop policy's graces"
    assert (tmp_path / "set-up").exists(), "the test never started: the machine is slower than this test allows"
    assert (tmp_path / "torn-down").exists()  # Ctrl+C first: the fixture's teardown ran
    pids = group_of(tmp_path, started[0])
    wait_for(lambda: not any(alive(pid) for pid in pids), 10, "the end of every process of the run")


def test_a_cancelled_dashboard_run_says_so_and_leaves_no_process(tmp_path):
    (tmp_path / "test_held.py").write_text(HELD)
    bus = EventBus()
    run = TestRun(bus, root=ROOT, files=(str(tmp_path / "test_held.py"),))
    assert run.claim()
    worker = threading.Thread(target=run.run)
    worker.start()
    try:
        wait_for(lambda: (tmp_path / "set-up").exists(), 60, "the test's start")
        pids = group_of(tmp_path, run._process)
        assert run.running

        assert run.cancel(timeout=30) is True
        wait_for(lambda: not any(alive(pid) for pid in pids), 10, "the end of every process of the run")
    finally:
        (tmp_path / "release").write_text("")  # whatever happened, the child may go
        worker.join(60)

    events = [event for event in bus.history(0)]
    assert [event.action for event in events] == ["started", "finished"]
    assert events[-1].message == "Test run stopped." and not run.running
    assert (tmp_path / "torn-down").exists()


def test_a_child_that_ignores_ctrl_c_gets_the_firmer_signals_and_nothing_of_it_survives(tmp_path):
    (tmp_path / "test_held.py").write_text("import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n" + HELD)
    child = PytestProcess.start([tmp_path / "test_held.py"], tmp_path, tmp_path / "output.txt", extra_args=ARGS)
    try:
        pids = group_of(tmp_path, child)
        began = time.monotonic()
        stop([child], policy=((signal.SIGINT, 1.0), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)))
        assert child.process.returncode == -signal.SIGTERM  # Ctrl+C ignored: SIGTERM ended it
        assert time.monotonic() - began < 1.0 + 5.0 + 5.0
        wait_for(lambda: not any(alive(pid) for pid in pids), 10, "the grandchild's end")  # killed with its group
    finally:
        (tmp_path / "release").write_text("")
        stop([child])
        child.result()


def test_clearing_the_dashboards_run_forgets_its_results(tmp_path):
    (tmp_path / "test_one.py").write_text("def test_one():\n    pass\n")
    run = TestRun(EventBus(), root=ROOT, files=(str(tmp_path / "test_one.py"),))
    assert run.claim()
    summary = run.run()
    assert summary["passed"] == 1 and [result["name"] for result in run.results] == ["one"]

    run.clear()

    assert run.results == [] and run.summary is None and not run.running


def test_a_dashboard_run_with_nothing_to_run_says_why_in_one_line():
    bus = EventBus()
    run = TestRun(bus, root=ROOT, files=("tests/no_such_file.py",))
    assert run.claim()
    summary = run.run()
    finished = bus.history(0)[-1]
    assert summary["exit_code"] == 4 and sum(summary[o] for o in ("passed", "failed", "error", "skipped")) == 0
    assert finished.message.startswith("No test ran: ") and "no_such_file.py" in finished.message
