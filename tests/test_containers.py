"""Container orchestration: a host port taken before Docker binds it, and how clients reach the containers."""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import psycopg2
import pytest
import redis
from testcontainers.core.config import testcontainers_config

from reality import docker_engine
from reality.config import LABEL_PID, LABEL_ROLE
from reality.errors import ContainerStartError, DockerUnavailable
from reality.orchestration import LOOPBACK, Infrastructure, addresses, docker_events, services
from reality.orchestration.docker_events import DockerEvents
from reality.provision import RYUK_IMAGE, is_present
from reality.ratelimit import VoterRateLimiter
from support.waiting import wait_for


@pytest.fixture
def taken_port():
    """A loopback port someone else is listening on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def test_a_port_taken_between_picking_and_binding_is_picked_again(monkeypatch, taken_port):
    picks = iter([taken_port])
    real_free_port = services.free_port
    # The race made certain: the first pick is a port another program grabbed in the meantime.
    monkeypatch.setattr(services, "free_port", lambda: next(picks, None) or real_free_port())
    with Infrastructure(role="tests-port") as infra:
        infra.start("postgres")
        events = [event.action for event in infra.bus.history(0) if event.kind == "container"]
        port = infra.services["postgres"].host_port
        assert port != taken_port
        with psycopg2.connect(infra.postgres_url, connect_timeout=5) as connection:
            assert connection.server_version >= 150000
    assert events.count("failed") == 0 and events[-1] == "ready"


def test_a_port_given_by_the_caller_is_not_swapped_for_another(taken_port):
    with Infrastructure(role="tests-port") as infra:
        with pytest.raises(ContainerStartError, match="in use|allocated"):
            infra._start_one("postgres", taken_port)
        assert infra.state("postgres") == "down"


# -- Reaching the containers: bridge address (no userland proxy) or published port ----------------

needs_linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="bridge addresses answer on Linux only")


def _bridge_ip(infra: Infrastructure, name: str) -> str:
    wrapped = infra.services[name].container.get_wrapped_container()
    wrapped.reload()
    return next(net["IPAddress"] for net in wrapped.attrs["NetworkSettings"]["Networks"].values() if net["IPAddress"])


@needs_linux
def test_clients_follow_a_replaced_container_to_its_new_bridge_address():
    with Infrastructure(role="tests-direct", direct=True) as infra:
        infra.start("redis")
        assert infra.address("redis") == (_bridge_ip(infra, "redis"), 6379)
        limiter = VoterRateLimiter(lambda: infra.redis_url, per_minute=5)
        assert limiter.hit("phone-1").backend == "redis"

        infra.kill("redis")
        # A dead container's bridge address would hang new connections: the published port refuses at once.
        assert infra.address("redis") == (LOOPBACK, infra.services["redis"].host_port)
        infra.services["redis"].container.get_wrapped_container().remove(force=True)  # gone: recover starts a fresh one
        assert infra.recover("redis") is False

        assert infra.address("redis") == (_bridge_ip(infra, "redis"), 6379)  # read again, not remembered
        assert limiter.check_backend() is True
        assert limiter.hit("phone-1").backend == "redis"
        assert redis.Redis.from_url(infra.redis_url).ping()


def test_the_published_port_is_used_when_the_bridge_address_does_not_answer(monkeypatch):
    # As on Docker Desktop, rootless Docker or a remote engine: the host cannot reach the bridge.
    monkeypatch.setattr(addresses, "answers", lambda host, port: False)
    with Infrastructure(role="tests-direct", direct=True) as infra:
        infra.start("redis")
        assert infra.address("redis") == (LOOPBACK, infra.services["redis"].host_port)
        assert redis.Redis.from_url(infra.redis_url).ping()


def test_direct_connections_can_be_switched_off(monkeypatch):
    monkeypatch.setenv("REALITY_DIRECT_CONNECT", "0")
    with Infrastructure(role="tests-direct", direct=True) as infra:
        infra.start("redis")
        assert infra.address("redis") == (LOOPBACK, infra.services["redis"].host_port)


def test_testcontainers_is_handed_our_api_version_only_when_it_reaches_the_same_engine(docker_client, monkeypatch):
    """Handed over, it skips a round trip to the engine per container; to another engine (Testcontainers
    Desktop's ``tc.host``, a Docker context of its own) a wrong version would refuse every start."""
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    infra = Infrastructure(role="tests-version", client=docker_client)
    assert infra._shared_api_version() == docker_client.api.api_version  # both on the local socket
    monkeypatch.setenv("DOCKER_HOST", "tcp://192.0.2.1:2375")  # what Testcontainers reads first after tc.host
    assert infra._shared_api_version() is None  # it asks its own engine


# -- A test session's end: the container is killed, Docker removes it ---------------------------------

from support.paths import ROOT as REPO


def test_a_test_session_leaves_no_container_moments_after_it_ends(docker_client):
    """The lesson's session does not wait for its container's removal; Docker does it, at once."""
    began = int(time.time()) - 1
    session = subprocess.Popen([sys.executable, "-m", "pytest", "tests/test_reality.py", "-q", "-p", "no:cacheprovider"],
                               cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output, _ = session.communicate(timeout=300)
    assert session.returncode == 0, output
    ended = time.time()
    # Its containers carry its pid: what Docker recorded since it began says which they were.
    events = docker_client.events(since=began, until=int(ended) + 1, decode=True,
                                  filters={"type": "container", "label": [f"{LABEL_PID}={session.pid}"]})
    created = {event["id"] for event in events if event.get("Action") == "create"}
    assert created, "the session started no container"
    deadline = time.monotonic() + 10  # generous: Docker removes it within moments, but the machine is shared
    while True:
        left = [c.name for c in docker_client.containers.list(all=True, sparse=True) if c.id in created]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert not left, f"{left} still there {time.time() - ended:.1f} s after the session ended"
    # Ended by PostgreSQL's immediate shutdown (SIGQUIT, which Docker does not wait for) and removed
    # by Docker itself; a force-remove would show a SIGKILL and keep the session waiting for it.
    events = docker_client.events(since=began, until=int(time.time()) + 1, decode=True,
                                  filters={"type": "container", "label": [f"{LABEL_PID}={session.pid}"]})
    signals = {event["Actor"]["Attributes"].get("signal") for event in events if event.get("Action") == "kill"}
    assert signals == {str(int(signal.SIGQUIT))}


def test_a_remote_engines_bridge_addresses_are_not_tried(monkeypatch):
    # Its 172.17.x.y may be a different container, or anything else, on this machine.
    tried = []
    monkeypatch.setattr(addresses, "answers", lambda host, port: tried.append(host) or True)
    with Infrastructure(role="tests-direct", direct=True) as infra:
        monkeypatch.setattr(infra.client.api, "base_url", "http://docker.example:2375")
        infra.start("redis")
        assert infra.address("redis") == (LOOPBACK, infra.services["redis"].host_port)
    assert tried == []


def test_runs_that_do_not_follow_dockers_events_keep_the_published_port():
    # Docker gives a dead container's address to the next one it starts: only a run that hears of
    # the death at once (the show watches Docker's events) may use bridge addresses.
    with Infrastructure(role="tests-direct") as infra:
        infra.start("redis")
        assert infra.address("redis") == (LOOPBACK, infra.services["redis"].host_port)


# -- Nothing process-wide in a constructor ------------------------------------------------------------

def test_nothing_process_wide_happens_before_a_start_and_nothing_stays_after_the_stop(monkeypatch, docker_client):
    ryuk_here = is_present(docker_client, RYUK_IMAGE)
    if not ryuk_here:  # the kit turns Testcontainers' reaper off, but only once a run starts a container
        monkeypatch.delenv("TESTCONTAINERS_RYUK_DISABLED", raising=False)
        monkeypatch.setattr(testcontainers_config, "ryuk_disabled", False)
    # The exit hooks this test's runs leave registered (the real atexit does the work; this only watches).
    hooks: list = []
    register, unregister = atexit.register, atexit.unregister
    monkeypatch.setattr(atexit, "register", lambda hook: (hooks.append(hook), register(hook))[1])
    monkeypatch.setattr(atexit, "unregister", lambda hook: ([hooks.remove(h) for h in list(hooks) if h == hook],
                                                             unregister(hook))[1])
    infra = Infrastructure(role="tests-hooks")
    assert hooks == []
    assert testcontainers_config.ryuk_disabled is ryuk_here
    with infra:
        infra.start("redis")
        infra.stop("redis")
        infra.start("redis")  # a second start registers nothing more
        assert hooks == [infra.stop_all]  # a run that started containers stops them at exit
        if not ryuk_here:
            assert testcontainers_config.ryuk_disabled is True
            assert [e.action for e in infra.bus.history(0) if e.kind == "system"] == ["note"]
    assert hooks == []  # stopped: the hook is gone, not kept for every run ever made


# -- Docker's event stream -------------------------------------------------------------------------

def test_dockers_events_say_when_the_engine_goes_and_comes_back_and_carry_the_runs_containers(monkeypatch):
    monkeypatch.setattr(docker_events, "RETRY_SECONDS", 0.05)
    failures = iter([DockerUnavailable("Docker is not running"), DockerUnavailable("Docker is not running")])

    def connect(timeout: float):
        for failure in failures:  # the engine is away for the first two attempts
            raise failure
        return docker_engine.connect(timeout=timeout)

    engine: list[bool] = []
    seen: list[dict] = []
    stop = threading.Event()
    labels = {LABEL_PID: str(os.getpid()), LABEL_ROLE: "tests-events"}
    watcher = DockerEvents(labels, seen.append, engine.append, stop, connect=connect)
    watcher.start()
    try:
        wait_for(lambda: engine == [False, True], 30, "the engine reported gone once, then back once")
        with Infrastructure(role="tests-events") as infra:
            infra.start("redis")
            started = infra.services["redis"].container_id
            wait_for(lambda: any(e.get("Action") == "start" and e.get("id") == started for e in seen), 30,
                     "the run's container start in Docker's events")
    finally:
        stop.set()
    assert engine == [False, True]
    with Infrastructure(role="tests-events-other") as other:  # not ours: another role
        other.start("redis")
        assert all(e["Actor"]["Attributes"].get(LABEL_ROLE) == "tests-events" for e in seen)
