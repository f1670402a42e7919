"""The container monitor: a real container appears in the table, gets killed, and disappears again.

State comes from Docker's own event stream; the rendering is pure, so it is checked as text.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Callable

from rich.console import Console

from reality.containers import Infrastructure, free_port
from reality.monitor import (
    ContainerRow,
    DockerWatcher,
    MonitorState,
    build_table,
    build_view,
    format_age,
    started_by,
)

REPO = Path(__file__).resolve().parent.parent


def render(renderable, width: int = 140) -> str:
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(renderable)
    return out.getvalue()


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    """Wait until ``condition()`` holds (a deadline against hanging, not a speed assertion)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_real_container_appears_is_killed_and_disappears(artifacts_dir):
    state = MonitorState()
    watcher = DockerWatcher(state).start()
    try:
        assert watcher.synced.wait(10), "the monitor never read Docker's container list"
        with Infrastructure(role="tests-monitor") as infra:
            infra.start("postgres")
            container_id = infra.services["postgres"].container_id
            port = infra.services["postgres"].host_port
            wait_for(lambda: any(row.id == container_id and row.status == "running" for row in state.rows()),
                     "the container to appear in the monitor")
            row = next(row for row in state.rows() if row.id == container_id)
            shown = render(build_view(state))
            (artifacts_dir / "monitor_container_up.txt").write_text(shown)

            assert row.name in shown
            assert infra.services["postgres"].image.image in shown
            assert f"{port}→5432" in shown
            assert "Testcontainers · tests-monitor" in shown
            assert "running" in shown

            infra.kill("postgres")
            wait_for(lambda: any(row.id == container_id and row.status == "exited" for row in state.rows()),
                     "the killed container to show as exited")
            # Docker sends "kill" then "die"; the table may show the exit before "die" reaches the log.
            wait_for(lambda: "exit code 137" in render(build_view(state)), "the die event in the log")
            killed = render(build_view(state))
            assert "exited (137)" in killed
            assert "signal 9" in killed and "exit code 137" in killed  # the event log: kill, then die
        wait_for(lambda: all(row.id != container_id for row in state.rows()), "the container to disappear")
        gone = render(build_view(state))
        (artifacts_dir / "monitor_container_gone.txt").write_text(gone)

        table = render(build_table(state))
        assert row.name not in table
        assert "destroy" in gone
    finally:
        watcher.stop()


def test_no_container_yet_says_what_to_do():
    shown = render(build_view(MonitorState()))

    assert "No containers yet — run pytest, workshop.py or reality_engine.py and watch them appear." in shown
    assert "--all shows every container" in shown


def inspect_output(name: str, labels: dict[str, str], status: str = "running", exit_code: int = 0) -> dict:
    """The fields of ``docker inspect`` the monitor reads, as the engine spells them."""
    return {
        "Id": uuid.uuid4().hex, "Name": f"/{name}", "Created": "2026-01-01T10:00:00.123456789Z",
        "Config": {"Image": "redis:7-alpine", "Labels": labels},
        "State": {"Status": status, "ExitCode": exit_code},
        "NetworkSettings": {"Ports": {"6379/tcp": [{"HostIp": "0.0.0.0", "HostPort": "49153"},
                                                    {"HostIp": "::", "HostPort": "49153"}]}},
    }


def test_only_the_kits_containers_unless_all():
    foreign = ContainerRow.from_inspect(inspect_output("someone-elses-nginx", {}))
    ours = ContainerRow.from_inspect(inspect_output("tc-redis", {"org.testcontainers": "true"}))
    kit, everything = MonitorState(), MonitorState(show_all=True)
    for state in (kit, everything):
        state.replace_all([foreign, ours])

    assert [row.name for row in kit.rows()] == ["tc-redis"]
    assert {row.name for row in everything.rows()} == {"tc-redis", "someone-elses-nginx"}
    assert ours.ports == [("49153", "6379")]  # one host port, however many address families bind it
    assert started_by(ours).plain == "Testcontainers"
    assert started_by(foreign).plain == "—"
    assert "49153→6379" in render(build_table(kit, now=ours.created + 75))
    assert "1m 15s" in render(build_table(kit, now=ours.created + 75))


def test_ages_read_like_a_person_would_say_them():
    assert [format_age(s) for s in (0, 42, 187, 7500, 3 * 86400 + 4 * 3600)] == ["0s", "42s", "3m 07s", "2h 05m",
                                                                                "3d 04h"]


def test_docker_unreachable_is_one_clear_line(tmp_path):
    result = subprocess.run([sys.executable, "watch_containers.py"], cwd=REPO, capture_output=True, text=True,
                            env={**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"}, timeout=60)

    assert result.returncode == 1
    assert result.stdout.strip().startswith("Docker is not answering at DOCKER_HOST=")
    assert len(result.stdout.strip().splitlines()) == 1
    assert "Traceback" not in result.stdout + result.stderr


def test_watch_containers_in_a_real_terminal(terminal, artifacts_dir):
    """The script itself, in tmux at 120x40: a container appears, leaves, then Ctrl+C leaves the screen readable."""
    terminal.start(f"{sys.executable} watch_containers.py", cwd=REPO)
    terminal.wait_for("Docker engine: connected", "the monitor's first screen")
    with Infrastructure(role="tests-tmux") as infra:
        infra.start("postgres")
        screen = terminal.wait_for(lambda screen: any("tests-tmux" in line and "running" in line
                                                      for line in screen.splitlines()), "the container, running")
        (artifacts_dir / "watch_containers_tmux.txt").write_text(screen)
    terminal.wait_for(lambda screen: "destroy" in screen
                      and "tests-tmux" not in screen.split("Recent Docker events")[0],
                      "the container to leave the table")
    terminal.keys("C-c")
    final = terminal.wait_for("Monitor stopped.", "the monitor to stop on Ctrl+C")
    (artifacts_dir / "watch_containers_tmux_after_ctrl_c.txt").write_text(final)

    assert "Traceback" not in final
    assert max(len(line) for line in screen.splitlines()) <= 120


def test_the_monitor_says_when_docker_goes_away_and_recovers_when_it_is_back(monkeypatch):
    state = MonitorState()
    # A loopback port nobody listens on: every connect is refused from now (docker-py leaks the socket
    # of a refused unix:// connection, so the "engine" here is reached over TCP).
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{free_port()}")
    watcher = DockerWatcher(state).start()
    try:
        wait_for(lambda: not state.engine_up, "the monitor to notice Docker is unreachable")
        assert "Docker engine: unreachable — retrying every second" in render(build_view(state))

        monkeypatch.delenv("DOCKER_HOST")  # the engine is "back": the next retry reaches it
        wait_for(lambda: state.engine_up and watcher.synced.is_set(), "the monitor to reconnect")
        assert "Docker engine: connected" in render(build_view(state))
    finally:
        watcher.stop()
