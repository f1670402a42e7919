"""Starting and stopping reality_engine.py as a presenter does, in a real subprocess.

Pre-flight failures (bad options, Docker unreachable, images missing, port taken) end with one line
that says what to do, a non-zero exit code and no traceback. Ctrl+C or SIGTERM — while the containers
start or while the show runs — stop it within seconds, with no container left (the reaper is off here)
and the pid file gone.
"""

from __future__ import annotations

import importlib.util
import json
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
import requests

from reality import config, pidfile
from reality.poll import DEFAULT_OPTIONS
from support.docker import containers_of, remove_containers_of
from support.paths import ROOT
from support.show import TOKEN, free_port, show_command, show_env
from support.waiting import wait_for


def run_to_exit(*args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as runtime:
        return subprocess.run(show_command(free_port(), *args), cwd=ROOT, env=show_env(runtime, **env),
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def assert_one_line_error(result: subprocess.CompletedProcess, code: int, *words: str) -> str:
    assert result.returncode == code, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("✗ ")
    for word in words:
        assert word in line
    return line


@pytest.mark.parametrize("args,words", [
    (["--options", "Go"], ["between 2 and 8"]),
    (["--options", "Go,,Rust"], ["empty option"]),
    (["--options", "Go,Rust,go"], ['"go" twice']),
    (["--options", "A,B,C,D,E,F,G,H,I"], ["9 option(s)"]),
    (["--options", "Go," + "x" * 40], ["too long"]),
    (["--question", "   "], ["--question is empty"]),
    (["--port", "0"], ["--port 0"]),
    (["--public-url", "ftp://example.org"], ["--public-url"]),
    (["--public-url", "not a url"], ["--public-url"]),
    (["--theme", "pink"], ["--theme pink", "dark", "light"]),
], ids=["one-option", "empty-option", "duplicate", "too-many", "too-long", "blank-question", "port-zero",
        "ftp-url", "not-a-url", "theme"])
def test_bad_arguments_get_one_line(args, words):
    assert_one_line_error(run_to_exit(*args), 2, *words)


def test_docker_unreachable_gets_one_line(tmp_path):
    result = run_to_exit(DOCKER_HOST=f"unix://{tmp_path}/no-docker.sock")
    assert_one_line_error(result, 1, "Docker")


def test_missing_images_point_to_setup(docker_client):
    result = run_to_exit(REALITY_POSTGRES_IMAGE="reality-engine/never-built:0")
    assert_one_line_error(result, 1, "reality-engine/never-built:0", "setup.py")


#: Listens on a free port like a show, and says which; its command line names reality_engine.py.
LISTENER = ("import socket, sys, time; s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); "
            "print(s.getsockname()[1], flush=True); time.sleep(120)")


@pytest.mark.parametrize("holder", ["another program", "an earlier show of this checkout",
                                    "another program, with a show of this checkout on another port"])
def test_a_taken_port_names_the_process_that_really_holds_it_and_starts_nothing(docker_client, holder):
    with tempfile.TemporaryDirectory() as runtime:
        show_like = holder == "an earlier show of this checkout"
        listener = subprocess.Popen([sys.executable, "-c", LISTENER, *(["reality_engine.py"] if show_like else [])],
                                    stdout=subprocess.PIPE, text=True)
        # A show of this checkout running on another port: it must not be blamed (nor stopped) for this one.
        bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "reality_engine.py"])
        try:
            port = int(listener.stdout.readline())
            for pid, on_port in ((listener.pid, port) if show_like else (bystander.pid, 5412),):
                path = config.pid_file(on_port, ROOT, runtime=Path(runtime))
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(pidfile.show_record_for(pid, on_port, ROOT).to_json())
            process = subprocess.Popen(show_command(port), cwd=ROOT, env=show_env(runtime), stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
            out, err = process.communicate(timeout=60)
        finally:
            for helper in (listener, bystander):
                helper.kill()
                helper.wait()
            listener.stdout.close()
    result = subprocess.CompletedProcess(process.args, process.returncode, out, err)
    line = assert_one_line_error(result, 1, f"Port {port} is already in use", f"pid {listener.pid}")
    assert re.search(r"--port \d+", line)
    assert str(bystander.pid) not in line  # the show in the pid file is not the one holding this port
    if show_like:
        assert "an earlier show of this checkout" in line and f"`python3 cleanup.py --port {port}`" in line
    else:
        assert "another program" in line and "cleanup.py" not in line
    assert containers_of(docker_client, process.pid) == []


@pytest.mark.parametrize("token", ["1234", "x" * 15])
def test_a_guessable_presenter_token_is_refused_before_anything_starts(docker_client, token):
    with tempfile.TemporaryDirectory() as runtime:
        process = subprocess.Popen(show_command(free_port()), cwd=ROOT,
                                   env=show_env(runtime, REALITY_PRESENTER_TOKEN=token), stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        out, err = process.communicate(timeout=60)
        assert not (Path(runtime) / "reality_engine.pid").exists()
    result = subprocess.CompletedProcess(process.args, process.returncode, out, err)
    line = assert_one_line_error(result, 2, "REALITY_PRESENTER_TOKEN", f"has {len(token)} characters",
                                 "at least 16")
    assert token not in line.replace("REALITY_PRESENTER_TOKEN", "")  # the weak token itself is not echoed
    assert containers_of(docker_client, process.pid) == []
    assert "Starting PostgreSQL" not in out


def start(runtime: str, port: int, mode: str) -> subprocess.Popen:
    return subprocess.Popen(show_command(port, "--theme", "light"), cwd=ROOT, env=show_env(runtime, REALITY_ASYNC_MODE=mode),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL)


#: Both async modes, each with both signals a presenter's terminal or a supervisor sends.
STOPS = [("gevent", signal.SIGINT), ("gevent", signal.SIGTERM), ("threading", signal.SIGINT),
         ("threading", signal.SIGTERM)]
STOP_IDS = ["gevent-ctrl-c", "gevent-sigterm", "threading-ctrl-c", "threading-sigterm"]


def test_an_unknown_async_mode_gets_one_line():
    assert_one_line_error(run_to_exit(REALITY_ASYNC_MODE="eventlet"), 1, "REALITY_ASYNC_MODE")


@pytest.mark.parametrize("mode,signum", STOPS, ids=STOP_IDS)
def test_stopping_during_boot_leaves_no_container(docker_client, mode, signum):
    with tempfile.TemporaryDirectory() as runtime:
        process = start(runtime, free_port(), mode)
        try:
            wait_for(lambda: containers_of(docker_client, process.pid), 60, "a container to be created",
                     interval=0.02)
            process.send_signal(signum)
            signalled = time.monotonic()
            out, _ = process.communicate(timeout=15)
            wait_for(lambda: not containers_of(docker_client, process.pid), 5, "every container to be removed")
            assert time.monotonic() - signalled < 8
            assert not list(Path(runtime).rglob("show-*.json"))  # no pid file left
            assert "Traceback" not in out and process.returncode == 0, out
        finally:
            if process.poll() is None:
                process.kill()
            remove_containers_of(docker_client, process.pid)


class Voting:
    """Phones voting without a pause, ``phones`` at a time, each a new one, until told to stop or the show goes."""

    def __init__(self, port: int, phones: int = 8) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._keep_voting) for _ in range(phones)]

    def _keep_voting(self) -> None:
        while not self.stopping.is_set():
            try:
                with requests.Session() as phone:
                    assert phone.get(f"{self.url}/qr", timeout=5).status_code == 200
                    phone.post(f"{self.url}/api/vote", json={"choice": DEFAULT_OPTIONS[0]}, timeout=5)
            except (requests.RequestException, AssertionError):
                return  # the show is going away: that is the point

    def __enter__(self) -> "Voting":
        # Each phone votes once: the per-voter rate limit never bites, but it costs Redis round trips.
        requests.post(f"{self.url}/api/presenter/rate-limit", json={"enabled": False},
                      headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10).raise_for_status()
        for thread in self.threads:
            thread.start()
        wait_for(lambda: requests.get(f"{self.url}/api/results", timeout=5).json()["total"] >= 20, 30,
                 "the load to be under way")
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(10)


#: aiohttp's compiled modules (found, not imported): what a process that loaded aiohttp has mapped.
AIOHTTP_COMPILED = list(Path(importlib.util.find_spec("aiohttp").origin).parent.glob("**/*.so"))


@pytest.mark.parametrize("mode,signum", STOPS, ids=STOP_IDS)
def test_a_running_show_stops_within_seconds_and_removes_everything(docker_client, mode, signum):
    # Stopped while a room votes, as a presenter ending the talk does: the stop may not wait for them,
    # and prints no traceback (threading mode did, in 6 stops of 25: show.stop_serving_on_signals).
    port = free_port()
    with tempfile.TemporaryDirectory() as runtime:
        process = start(runtime, port, mode)
        try:
            wait_for(lambda: _healthy(port), 60, "the show to be ready", interval=0.05)
            # --theme reaches the audience screen.
            assert requests.get(f"http://127.0.0.1:{port}/api/health", timeout=5).json()["theme"] == "light"
            pid_file = config.pid_file(port, ROOT, runtime=Path(runtime))
            record = json.loads(pid_file.read_text())  # what cleanup.py reads: pid, port, checkout
            assert (record["pid"], record["port"], record["checkout"]) == (process.pid, port, str(ROOT))
            assert len(containers_of(docker_client, process.pid)) == 2
            # The benchmarks' HTTP client, installed with the kit, never loads into the show
            # (boot.leave_out_asyncio_clients): its compiled modules, which loading it maps, are not.
            assert AIOHTTP_COMPILED, "aiohttp without compiled modules: the check below would prove nothing"
            assert "aiohttp" not in Path(f"/proc/{process.pid}/maps").read_text()

            with Voting(port):
                process.send_signal(signum)
                signalled = time.monotonic()
                out, _ = process.communicate(timeout=15)

            assert process.returncode == 0
            assert time.monotonic() - signalled < 5
            assert containers_of(docker_client, process.pid) == []
            assert not pid_file.exists()
            assert "Traceback" not in out
            assert "Stopped." in out
            lines = {line.split()[0]: line.split()[1] for line in out.splitlines()
                     if line.strip().startswith(("Audience", "Phones", "Presenter"))}
            assert lines["Audience"] == f"http://127.0.0.1:{port}/"
            assert lines["Presenter"] == f"http://127.0.0.1:{port}/presenter?token={TOKEN}"
            assert lines["Phones"].endswith(f":{port}/qr") and "127.0.0.1" not in lines["Phones"]
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate(timeout=10)
            remove_containers_of(docker_client, process.pid)


def _healthy(port: int) -> bool:
    try:
        health = requests.get(f"http://127.0.0.1:{port}/api/health", timeout=2).json()
    except requests.RequestException:
        return False
    return health["services"] == {"postgres": "up", "redis": "up"}
