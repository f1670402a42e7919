"""The container monitor: a real container appears in the table, gets killed, and disappears again.

State comes from Docker's own event stream; the rendering is pure, so it is checked as text.

A little over 300 lines: the monitor's rendering, checked as text, and its Docker event stream,
checked on real containers, share their fixtures.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import uuid

from rich.console import Console

from reality.monitor import (
    MIN_NAME_WIDTH,
    ContainerRow,
    DockerWatcher,
    MonitorState,
    build_table,
    build_view,
    format_age,
    short_image,
    started_by,
)
from reality.orchestration import Infrastructure, free_port

from support.paths import ROOT as REPO
from support.waiting import wait_for


def render(renderable, width: int = 140) -> str:
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(renderable)
    return out.getvalue()


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
                     30, "the container to appear in the monitor")
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
                     30, "the killed container to show as exited")
            # Docker sends "kill" then "die"; the table may show the exit before "die" reaches the log.
            wait_for(lambda: "exit code 137" in render(build_view(state)), 30, "the die event in the log")
            killed = render(build_view(state))
            assert "exited (137)" in killed
            assert "signal 9" in killed and "exit code 137" in killed  # the event log: kill, then die
        wait_for(lambda: all(row.id != container_id for row in state.rows()), 30, "the container to disappear")
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


def kit_row(name: str, image: str, host_port: str, port: str, role: str = "workshop", status: str = "running",
            exit_code: int | None = None) -> ContainerRow:
    """A container as Testcontainers starts it for the kit (labels as Infrastructure sets them)."""
    return ContainerRow(id=uuid.uuid4().hex, name=name, image=image, status=status, created=1_000.0,
                        exit_code=exit_code, ports=[(host_port, port)],
                        labels={"org.testcontainers": "true", "dev.reality-engine.project": "reality-engine",
                                "dev.reality-engine.role": role})


def workshop_containers(status: str = "running", exit_code: int | None = None) -> MonitorState:
    """PostgreSQL and Redis from the drop-in images, as the reviewer saw them at 80 columns."""
    state = MonitorState()
    state.replace_all([
        kit_row("beautiful_ganguly", "reality-engine/postgres:15-bookworm", "51849", "5432", status=status,
                exit_code=exit_code),
        kit_row("determined_mcnulty", "reality-engine/redis:7-bookworm", "39531", "6379"),
    ])
    return state


def table_lines(state: MonitorState, width: int) -> list[str]:
    """The table's lines, each with the name of the container it starts (header lines dropped)."""
    return render(build_table(state, now=1_075.0), width=width).splitlines()


def row_line(lines: list[str], start: str) -> str:
    return next(line for line in lines if line.startswith(start))


def image_cell(line: str) -> str:
    return line.split()[1]


def test_at_80_columns_each_container_is_one_row_with_its_whole_image():
    lines = table_lines(workshop_containers(), width=80)

    assert max(len(line.rstrip()) for line in lines) <= 80
    assert len(lines) == 5  # title, header, rule, one line per container: no row wraps in two
    postgres, redis = row_line(lines, "beautiful_"), row_line(lines, "determined_")
    # The prefix stays: a locally built image never passes for the official postgres:15-bookworm.
    assert image_cell(postgres) == "reality-engine/postgres:15-bookworm"
    assert image_cell(redis) == "reality-engine/redis:7-bookworm"
    assert "51849→5432" in postgres and "running" in postgres and "39531→6379" in redis
    assert postgres.rstrip().endswith("workshop")  # who started it, in the same row
    assert len(postgres.split()[0]) >= MIN_NAME_WIDTH


def test_at_80_columns_a_long_status_never_makes_an_image_look_official():
    lines = table_lines(workshop_containers(status="exited", exit_code=137), width=80)

    assert max(len(line.rstrip()) for line in lines) <= 80
    assert len(lines) == 5
    postgres = row_line(lines, "beautiful")
    assert "exited (137)" in postgres and "51849→5432" in postgres
    assert image_cell(postgres) in ("reality-engine/postgres:15-bookworm", "…/postgres:15-bookworm")
    assert image_cell(row_line(lines, "determined")) in ("reality-engine/redis:7-bookworm", "…/redis:7-bookworm")


def test_at_120_columns_everything_is_whole_on_one_line():
    lines = table_lines(workshop_containers(), width=120)

    postgres = row_line(lines, "beautiful_ganguly")
    assert "reality-engine/postgres:15-bookworm" in postgres and "Testcontainers · workshop" in postgres
    assert "1m 15s" in postgres
    assert "reality-engine/redis:7-bookworm" in row_line(lines, "determined_mcnulty")
    assert len(lines) == 5  # title, header, rule, one line per container


def test_images_are_shortened_without_ever_looking_official():
    assert short_image("reality-engine/postgres:15-bookworm") == "…/postgres:15-bookworm"
    assert short_image("docker.io/library/redis:7-alpine") == "redis:7-alpine"  # official: the bare name is true
    assert short_image("localhost:5000/team/app:1.2") == "…/app:1.2"
    assert short_image("ghcr.io/org/app@sha256:" + "ab" * 32) == "…/app@sha256:" + "ab" * 6
    assert short_image("sha256:" + "cd" * 32) == "cd" * 6  # an untagged image: Docker reports its id
    assert short_image("postgres:15-alpine") == "postgres:15-alpine"


def test_two_images_that_would_read_the_same_stay_whole():
    state = MonitorState()
    state.replace_all([kit_row("official_pg", "postgres:15-alpine", "5001", "5432"),
                       kit_row("mirrored_pg", "mirror.example/team/postgres:15-alpine", "5002", "5432")])

    lines = table_lines(state, width=80)

    official, mirrored = row_line(lines, "official"), row_line(lines, "mirrored")
    assert official.split()[1] == "postgres:15-alpine"
    assert mirrored.split()[1].startswith("mirror.example/")  # never shortened to the same text


def kill_events(state: MonitorState, name: str = "beautiful_ganguly", times: int = 1) -> None:
    inspect = lambda container_id: None  # noqa: E731  (the container is gone: only the log line stays)
    for _ in range(times):
        for action, extra in (("kill", {"signal": "9"}), ("die", {"exitCode": "137"})):
            state.apply_event({"Type": "container", "Action": action, "id": "c0ffee",
                               "Actor": {"Attributes": {"name": name, "org.testcontainers": "true",
                                                        "image": "reality-engine/postgres:15-bookworm", **extra}}},
                              inspect)


def test_the_event_log_keeps_one_line_per_event_and_the_image_prefix():
    state = MonitorState()
    kill_events(state)

    narrow, wide = render(build_view(state), width=80), render(build_view(state), width=120)

    died = next(line for line in narrow.splitlines() if "exit code 137" in line)
    assert "reality-engine/postgres:15-bookworm" in died and died.split()[2].startswith("beautiful_")
    assert "beautiful_ganguly reality-engine/postgres:15-bookworm exit code 137" in wide
    assert max(len(line.rstrip()) for line in narrow.splitlines()) <= 80


def view_lines(state: MonitorState, width: int, height: int) -> list[str]:
    out = io.StringIO()
    Console(file=out, width=width, height=height, color_system=None).print(build_view(state, now=1_075.0))
    return out.getvalue().splitlines()


def test_at_80x15_the_events_give_way_and_the_footer_stays_whole():
    state = workshop_containers()
    kill_events(state, times=4)  # eight events: more than 15 lines hold

    lines = view_lines(state, 80, 15)

    assert len(lines) <= 14  # one line is left for the cursor: nothing scrolls, nothing is cut to "..."
    assert not any(line.strip() in ("...", "…") for line in lines)
    assert lines[-2:] == ["Docker engine: connected  ·  2 containers  ·  Ctrl+C to quit", "--all shows every container"]
    assert sum("reality-engine/" in line and "running" in line for line in lines) == 2
    heading = next(line for line in lines if line.startswith("Recent Docker events"))
    shown = int(heading.split("latest ")[1].split()[0])
    assert sum("exit code 137" in line or "signal 9" in line for line in lines) == shown > 0
    assert "of 8; a taller terminal shows more" in heading


def test_in_a_short_terminal_containers_that_do_not_fit_are_counted():
    state = MonitorState()
    started = [kit_row(f"container_{n}", "reality-engine/redis:7-bookworm", str(40000 + n), "6379") for n in range(20)]
    for n, row in enumerate(started):
        row.created = 1_000.0 + n  # container_19 is the newest

    state.replace_all(started)
    lines = view_lines(state, 80, 15)

    assert len(lines) <= 14
    assert lines[-2].startswith("Docker engine: connected  ·  20 containers")
    caption = next(line for line in lines if line.startswith("… and "))
    rows = sum(line.startswith("container_") for line in lines)
    assert caption.startswith(f"… and {20 - rows} older") and rows >= 1
    assert any(line.startswith("container_19 ") for line in lines)  # the newest stay in sight


def test_the_footer_breaks_between_its_parts():
    footer = render(build_view(MonitorState()), width=80).splitlines()[-2:]

    assert footer == ["Docker engine: connected  ·  0 containers  ·  Ctrl+C to quit",
                      "--all shows every container"]


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
        image = infra.services["postgres"].image.image
    terminal.wait_for(lambda screen: "destroy" in screen
                      and "tests-tmux" not in screen.split("Recent Docker events")[0],
                      "the container to leave the table")
    terminal.keys("C-c")
    final = terminal.wait_for("Monitor stopped.", "the monitor to stop on Ctrl+C")
    (artifacts_dir / "watch_containers_tmux_after_ctrl_c.txt").write_text(final)

    assert "Traceback" not in final
    # (tmux wraps at 120 columns itself, so line lengths prove nothing: what matters is what one row says)
    row = next(line for line in screen.splitlines() if "tests-tmux" in line and "running" in line)
    assert "Testcontainers · tests-tmux" in row and image in row


def settled_screen(screen: str) -> bool:
    """One whole frame: its title on the top line and its footer at the bottom, once each."""
    lines = [line for line in screen.splitlines() if line.strip()]
    return (bool(lines) and lines[0].startswith("Containers —") and screen.count("Containers —") == 1
            and screen.count("Docker engine:") == 1 and lines[-1].strip().endswith("--all shows every container"))


def test_watch_containers_at_80x24_then_80x15_after_a_resize(terminal, docker_client, artifacts_dir):
    """The script at 120x40, then resized to 80x24 and 80x15 (a laptop's split screen) with the kit's two
    containers running: one row each with the whole image, no stale line, events and footer never cut to '...'."""
    terminal.start(f"{sys.executable} watch_containers.py", cwd=REPO)
    terminal.wait_for("Docker engine: connected", "the monitor's first screen")
    with Infrastructure(role="tests-80") as infra:
        infra.start("postgres", "redis")
        ports = {service: f"{infra.services[service].host_port}→" for service in ("postgres", "redis")}
        images = {service: infra.services[service].image.image for service in ports}
        terminal.wait_for(lambda screen: all(port in screen for port in ports.values()), "both containers, 120x40")
        screens = {}
        for columns, rows in ((80, 24), (80, 15)):
            terminal.resize(columns, rows)
            # A frame drawn after the resize: whole, and two refreshes later still the same shape.
            screens[rows] = terminal.wait_for(
                lambda screen: settled_screen(screen) and all(port in screen for port in ports.values())
                and len(screen.splitlines()) == rows, f"a whole frame at {columns}x{rows}")
            (artifacts_dir / f"watch_containers_tmux_{columns}x{rows}.txt").write_text(screens[rows])

    for rows, screen in screens.items():
        lines = screen.splitlines()
        assert all(len(line.rstrip()) <= 80 for line in lines), screen
        assert "..." not in screen, screen  # nothing cut by the terminal's height
        assert settled_screen(screen), screen  # no stale line above the frame or below it
        for service, port in ports.items():
            row = [line for line in lines if port in line and "running" in line]
            assert len(row) == 1, f"{service} is not one row at 80x{rows}:\n{screen}"
            # The prefix stays: a locally built image never passes for an official one.
            assert images[service] in row[0] or short_image(images[service]) in row[0], screen
            assert row[0].rstrip().endswith("tests-80"), screen
        assert "Recent Docker events" in screen and "Ctrl+C to quit" in screen


def test_the_monitor_says_when_docker_goes_away_and_recovers_when_it_is_back(monkeypatch):
    state = MonitorState()
    # A loopback port nobody listens on: every connect is refused from now (docker-py leaks the socket
    # of a refused unix:// connection, so the "engine" here is reached over TCP).
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{free_port()}")
    watcher = DockerWatcher(state).start()
    try:
        wait_for(lambda: not state.engine_up, 30, "the monitor to notice Docker is unreachable")
        assert "Docker engine: unreachable — retrying every second" in render(build_view(state))

        monkeypatch.delenv("DOCKER_HOST")  # the engine is "back": the next retry reaches it
        wait_for(lambda: state.engine_up and watcher.synced.is_set(), 30, "the monitor to reconnect")
        assert "Docker engine: connected" in render(build_view(state))
    finally:
        watcher.stop()
