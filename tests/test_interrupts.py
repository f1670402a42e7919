"""Ctrl+C and SIGTERM never leave a container behind, Ryuk or not.

Each test runs a real pytest session in a subprocess that starts PostgreSQL through the shared
``postgres_url`` fixture, interrupts it while the container starts or while a test runs, and then
checks Docker itself for containers carrying that process's label.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import docker
import pytest

from reality.pytest_runner import skipped_plugin_options
from support.docker import containers_of
from support.paths import ROOT
from support.waiting import wait_for

HELD_TEST = textwrap.dedent("""
    import os, pathlib, time

    def test_hold(postgres_url):
        pathlib.Path(os.environ["READY_FILE"]).write_text(postgres_url)
        time.sleep(60)
""")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("phase", ["while-starting", "while-testing"])
def test_interrupted_session_leaves_no_container(tmp_path, sig, phase):
    client = docker.from_env()
    (tmp_path / "test_held.py").write_text(HELD_TEST)
    ready = tmp_path / "ready"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "READY_FILE": str(ready), "TESTCONTAINERS_RYUK_DISABLED": "true"}
    log = tmp_path / "child.log"
    with open(log, "wb") as output:
        child = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-q", "-p", "tests.conftest", "-p", "no:cacheprovider",
             *skipped_plugin_options(), str(tmp_path)],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
        )
    try:
        if phase == "while-starting":
            wait_for(lambda: containers_of(client, child.pid), 30, "the container to be created")
        else:
            wait_for(ready.exists, 30, "the test to be running against PostgreSQL")
        assert containers_of(client, child.pid), "the session should own a container before the signal"

        child.send_signal(sig)
        # A bound against a hang, not a speed target: a whole pytest session unwinding (container
        # removed, interpreter shut down) took up to 10.5 s on this 2-core machine under CPU load.
        child.wait(timeout=60)
        wait_for(lambda: not containers_of(client, child.pid), 5,
                 f"the container to be removed; the session said:\n{log.read_text()[-2000:]}")
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        for container in containers_of(client, child.pid):  # never leak, even when the test fails
            container.remove(force=True)
        client.close()
