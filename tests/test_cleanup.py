"""cleanup.py: removes what the kit left behind, and nothing else.

Leftovers here are real: a child process starts PostgreSQL through Infrastructure and is killed with
SIGKILL (a crash: no cleanup ran), a stand-in reality_engine.py runs with a pid file. Next to them sit
things cleanup must never remove: this test session's own container (its process is alive), a
container of "another project" with only Testcontainers' labels, and a container with no label at all.

Over 300 lines: the scene it cleans up is built for real here (containers, networks, volumes, pid
files and processes of several owners), and each test reads the whole of what was left.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

import pytest
from docker.errors import NotFound

from reality import cleanup, config, owners, pidfile
from reality.config import (
    LABEL_CHECKOUT,
    LABEL_HOST,
    LABEL_PID,
    LABEL_PROCESS,
    LABEL_PROJECT,
    LABEL_ROLE,
    PROJECT,
)
from reality.orchestration import sweep_orphans
from reality.provision import resolve_image

from support.paths import ROOT as REPO


def run_cleanup(*args: str, env: dict[str, str] | None = None,
                checkout: Path = REPO) -> subprocess.CompletedProcess[str]:
    # A run dir of its own unless a test gives one: the real pid file may belong to a live show.
    with tempfile.TemporaryDirectory(prefix="reality-cleanup-test-") as runtime:
        return subprocess.run([sys.executable, "cleanup.py", *args], cwd=checkout, capture_output=True, text=True,
                              timeout=120, env={**os.environ, "COLUMNS": "200", "REALITY_RUNTIME_DIR": runtime,
                                                **(env or {})})


def clone(into: Path) -> Path:
    """A copy of this checkout's code: what it starts carries its own path, which its cleanup.py calls its own.

    A run of this test's own making is then out of reach of every other sweep of leftovers: each show that
    boots sweeps its checkout's, and with pytest-xdist another worker's shows boot meanwhile.
    """
    shutil.copytree(REPO / "reality", into / "reality", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("cleanup.py", "requirements.txt"):
        shutil.copy(REPO / name, into / name)
    return into.resolve()


def exists(docker_client, container_id: str) -> bool:
    try:
        docker_client.containers.get(container_id)
    except NotFound:
        return False
    return True


def start_a_run(checkout: Path, service: str) -> tuple[subprocess.Popen, str]:
    """A process of ``checkout`` that started ``service`` through Infrastructure and holds it; (process, container id)."""
    code = ("import sys; from reality.orchestration import Infrastructure; "
            f"infra = Infrastructure(role='cleanup-test'); infra.start('{service}'); "
            f"print(infra.services['{service}'].container_id, flush=True); sys.stdin.read()")
    child = subprocess.Popen([sys.executable, "-c", code], cwd=checkout, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
    return child, child.stdout.readline().strip()


@pytest.fixture
def checkout(tmp_path) -> Path:
    return clone(tmp_path / "checkout")


@pytest.fixture
def crashed_run(docker_client, checkout):
    """A PostgreSQL container of ``checkout`` whose run was killed with SIGKILL; yields (container, the dead pid)."""
    child, container_id = start_a_run(checkout, "postgres")
    child.kill()
    child.wait()
    child.stdin.close()
    child.stdout.close()
    assert container_id, "the child did not start PostgreSQL"
    yield docker_client.containers.get(container_id), child.pid
    if exists(docker_client, container_id):
        docker_client.containers.get(container_id).remove(force=True, v=True)


@pytest.fixture
def live_run(docker_client, checkout):
    """A Redis container of ``checkout`` whose run is still going; yields the container."""
    child, container_id = start_a_run(checkout, "redis")
    try:
        assert container_id, "the child did not start Redis"
        yield docker_client.containers.get(container_id)
    finally:
        child.kill()
        child.wait()
        child.stdin.close()
        child.stdout.close()
        if container_id and exists(docker_client, container_id):
            docker_client.containers.get(container_id).remove(force=True, v=True)


@pytest.fixture
def bystanders(docker_client):
    """Containers cleanup must leave alone: another project's Testcontainers container, an unlabelled one."""
    image = resolve_image(docker_client, "redis").image
    tag = uuid.uuid4().hex[:8]
    foreign = docker_client.containers.create(image, name=f"other-project-{tag}", labels={
        "org.testcontainers": "true", "org.testcontainers.session-id": f"other-project-{tag}"})
    unlabelled = docker_client.containers.create(image, name=f"not-ours-{tag}")
    yield foreign, unlabelled
    for container in (foreign, unlabelled):
        if exists(docker_client, container.id):
            container.remove(force=True)


def make_caches(root: Path) -> dict[str, Path]:
    paths = {
        "pycache": root / "pkg" / "__pycache__",
        "pytest_cache": root / ".pytest_cache",
        "venv": root / ".venv" / "lib" / "__pycache__",
        "git": root / ".git" / "hooks" / "__pycache__",
    }
    for path in paths.values():
        path.mkdir(parents=True)
        (path / "cached.pyc").write_bytes(b"\0" * 100)
    (root / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    return paths


def test_dry_run_lists_and_real_run_removes_only_what_the_kit_left_behind(tmp_path, docker_client, checkout,
                                                                         crashed_run, live_run, bystanders,
                                                                         artifacts_dir):
    leftover, dead_pid = crashed_run
    foreign, unlabelled = bystanders
    session_container = live_run  # a run of the same checkout, still going
    dead_labels = {LABEL_PROJECT: PROJECT, LABEL_PID: str(dead_pid), LABEL_HOST: socket.gethostname(),
                   LABEL_CHECKOUT: str(checkout)}
    network = docker_client.networks.create(f"cleanup-test-{uuid.uuid4().hex[:8]}", labels=dead_labels)
    volume = docker_client.volumes.create(f"cleanup-test-{uuid.uuid4().hex[:8]}", labels=dead_labels)
    caches = make_caches(tmp_path)

    dry = run_cleanup("--dry-run", "--root", str(tmp_path), checkout=checkout)
    (artifacts_dir / "cleanup_dry_run.txt").write_text(dry.stdout)

    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "dry run: nothing changed" in dry.stdout
    lines = {name: next((line for line in dry.stdout.splitlines() if name in line), "")
             for name in (leftover.name, network.name, volume.name[:24], foreign.name, session_container.name)}
    assert "would remove" in lines[leftover.name] and f"(pid {dead_pid}) is gone" in lines[leftover.name]
    assert leftover.labels[LABEL_CHECKOUT] == str(checkout)  # the kit labels what it starts with its checkout
    assert dry.stdout.startswith(f"Checkout: {checkout}\n")  # and the dry run names it
    assert "from this checkout" in dry.stdout
    assert "would remove" in lines[network.name]
    assert "would remove" in lines[volume.name[:24]]
    assert "kept" in lines[foreign.name] and "not ours" in lines[foreign.name]
    assert "kept" in lines[session_container.name] and "in use by running pid" in lines[session_container.name]
    assert unlabelled.name not in dry.stdout
    assert exists(docker_client, leftover.id) and all(path.exists() for path in caches.values())

    real = run_cleanup("--root", str(tmp_path), checkout=checkout)
    (artifacts_dir / "cleanup.txt").write_text(real.stdout)

    assert real.returncode == 0, real.stdout + real.stderr
    assert "Removed" in real.stdout and "Images are kept" in real.stdout
    # Kept: at least the session's own container and the other project's (other checkouts' may be about).
    kept = re.search(r"Kept (\d+): not ours, another checkout's, or still in use \(the Why column says which\)\.",
                     " ".join(real.stdout.split()))
    assert kept and int(kept.group(1)) >= 2, real.stdout
    assert not exists(docker_client, leftover.id)
    assert network.name not in [n.name for n in docker_client.networks.list()]
    assert volume.name not in [v.name for v in docker_client.volumes.list()]
    for survivor in (foreign, unlabelled, session_container):
        assert exists(docker_client, survivor.id), f"{survivor.name} must not be touched"
    assert not caches["pycache"].exists() and not caches["pytest_cache"].exists()
    assert caches["venv"].exists() and caches["git"].exists()  # a virtualenv's and git's own files stay


def test_testcontainers_only_objects_go_only_when_asked(tmp_path, docker_client, bystanders, monkeypatch):
    foreign, _ = bystanders
    scope = {"org.testcontainers.session-id": foreign.labels["org.testcontainers.session-id"]}
    monkeypatch.setenv("REALITY_RUNTIME_DIR", str(tmp_path / "run"))  # no show of this machine in the plan

    default = cleanup.plan_cleanup(docker_client, tmp_path, scope=scope)
    asked = cleanup.plan_cleanup(docker_client, tmp_path, include_testcontainers=True, scope=scope)
    outcomes = cleanup.execute(asked)

    assert [(item.name, item.remove) for item in default.items] == [(foreign.name, False)]
    assert [(item.name, item.remove) for item in asked.items] == [(foreign.name, True)]
    assert [outcome.done for outcome in outcomes] == [True]
    assert not exists(docker_client, foreign.id)


STAND_IN_SHOW = textwrap.dedent('''
    """Stands in for reality_engine.py: says when it is asked to stop."""
    import pathlib, signal, sys, time

    def stop(signum, frame):
        pathlib.Path(sys.argv[1]).write_text("stopped cleanly")
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    print("ready", flush=True)
    while True:
        time.sleep(0.05)
''')


def record_show(monkeypatch, runtime: Path, pid: int, port: int, checkout: Path = REPO,
                process: str | None = None) -> Path:
    """Write the pid file a show of ``checkout`` on ``port`` writes, in the run-time dir ``runtime``."""
    monkeypatch.setenv("REALITY_RUNTIME_DIR", str(runtime))
    path = config.pid_file(port, checkout)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = pidfile.show_record_for(pid, port, checkout)
    path.write_text(pidfile.ShowRecord(pid, port, str(checkout), process or record.process).to_json())
    return path


def test_a_running_show_is_stopped_through_its_pid_file(tmp_path, monkeypatch):
    script = tmp_path / "reality_engine.py"
    script.write_text(STAND_IN_SHOW)
    marker = tmp_path / "marker"
    show = subprocess.Popen([sys.executable, str(script), str(marker)], stdout=subprocess.PIPE, text=True)
    try:
        assert show.stdout.readline().strip() == "ready"
        runtime = tmp_path / "run"
        pid_path = record_show(monkeypatch, runtime, show.pid, 5301)
        env = {"REALITY_RUNTIME_DIR": str(runtime)}

        dry = run_cleanup("--dry-run", "--root", str(tmp_path), env=env)
        assert f"reality_engine.py (pid {show.pid}, port 5301)" in dry.stdout and "would remove" in dry.stdout
        assert show.poll() is None  # a dry run signals nothing

        real = run_cleanup("--root", str(tmp_path), env=env)

        assert real.returncode == 0, real.stdout + real.stderr
        assert "stopped (SIGTERM)" in real.stdout
        assert show.wait(timeout=10) == 0
        assert marker.read_text() == "stopped cleanly"
        assert not pid_path.exists()
    finally:
        if show.poll() is None:
            show.kill()
        show.wait()
        show.stdout.close()


def test_port_stops_only_the_show_on_that_port(tmp_path, monkeypatch):
    """What "port taken" suggests (`cleanup.py --port N`) stops that show, and leaves this checkout's others."""
    script = tmp_path / "reality_engine.py"
    script.write_text(STAND_IN_SHOW)
    shows = {port: subprocess.Popen([sys.executable, str(script), str(tmp_path / f"marker-{port}")],
                                    stdout=subprocess.PIPE, text=True) for port in (5301, 5302)}
    try:
        runtime = tmp_path / "run"
        for port, show in shows.items():
            assert show.stdout.readline().strip() == "ready"
            record_show(monkeypatch, runtime, show.pid, port)

        result = run_cleanup("--port", "5301", "--root", str(tmp_path), env={"REALITY_RUNTIME_DIR": str(runtime)})

        assert result.returncode == 0, result.stdout + result.stderr
        assert shows[5301].wait(timeout=10) == 0
        assert shows[5302].poll() is None
        assert "on another port than --port 5301" in result.stdout
        assert config.pid_file(5302, REPO).exists() and not config.pid_file(5301, REPO).exists()
    finally:
        for show in shows.values():
            if show.poll() is None:
                show.kill()
            show.wait()
            show.stdout.close()


@pytest.mark.parametrize("kind", ["record", "legacy"])
def test_a_reused_pid_is_never_signalled(tmp_path, monkeypatch, kind):
    # The show died; its pid now belongs to an unrelated program: cleanup must leave that program alone.
    # Whether the pid file is this kit's record or an older kit's shared file holding only a pid.
    unrelated = subprocess.Popen(["sleep", "60"])
    try:
        runtime = tmp_path / "run"
        if kind == "record":
            pid_path = record_show(monkeypatch, runtime, unrelated.pid, 5301, process="a-boot-before:123")
        else:
            runtime.mkdir()
            pid_path = runtime / pidfile.LEGACY_PID_FILE
            pid_path.write_text(str(unrelated.pid))

        result = run_cleanup("--root", str(tmp_path), env={"REALITY_RUNTIME_DIR": str(runtime)})

        assert result.returncode == 0, result.stdout + result.stderr
        assert "another program" in result.stdout
        assert unrelated.poll() is None
        assert not pid_path.exists()  # the stale file is gone
    finally:
        unrelated.kill()
        unrelated.wait()


def test_a_stale_or_garbled_pid_file_is_removed_without_signalling_anyone(tmp_path):
    gone = subprocess.Popen(["true"])
    gone.wait()
    stale, garbled = tmp_path / "stale.pid", tmp_path / "garbled.pid"
    stale.write_text(str(gone.pid))
    garbled.write_text("not a pid")

    for path, reason in ((stale, "not running"), (garbled, "unreadable")):
        item = cleanup.show_item(path)
        assert item.kind == "pid file" and reason in item.detail
        cleanup.execute(cleanup.Plan(items=[item]))
        assert not path.exists()


def test_docker_unreachable_still_clears_caches_and_says_so_in_one_line(tmp_path):
    caches = make_caches(tmp_path)

    result = run_cleanup("--root", str(tmp_path), env={"DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"})

    assert result.returncode == 1
    assert result.stdout.splitlines()[0].startswith("Docker is not answering at DOCKER_HOST=")
    assert "Traceback" not in result.stdout + result.stderr
    assert not caches["pycache"].exists()


def test_the_removal_rule_for_each_kind_of_owner():
    """The one rule behind every decision above, case by case."""
    here = socket.gethostname()
    ours = {LABEL_PROJECT: PROJECT, LABEL_HOST: here, LABEL_CHECKOUT: str(REPO)}
    alive = {**ours, LABEL_PID: str(os.getpid())}

    def verdict(labels, stopping=(), force=False, include=False, all_checkouts=False):
        return owners.owner_verdict(labels, None, set(stopping), force, include, REPO, all_checkouts)[0]

    assert verdict(alive) is False                              # its run is still going
    assert verdict(alive, force=True) is True                   # unless forced
    assert verdict(alive, stopping=[os.getpid()]) is True       # or its show is being stopped
    assert verdict({**alive, LABEL_HOST: "another-machine"}) is False  # can't tell from here
    assert verdict(ours) is False                               # no owner recorded: made by hand
    assert verdict({"org.testcontainers": "true"}) is False     # another project's Testcontainers
    assert verdict({"org.testcontainers": "true"}, include=True) is True
    assert verdict({}, force=True, include=True) is False       # never anything unlabelled
    # Another checkout's objects (another clone on this machine, maybe another person's) stay, even
    # when forced and when their run is gone, unless asked for every checkout.
    gone = {**ours, LABEL_PID: "999999999"}
    elsewhere = {LABEL_CHECKOUT: "/home/someone-else/reality-engine"}
    assert verdict(gone) is True
    assert verdict({**gone, **elsewhere}) is False
    assert verdict({**alive, **elsewhere}, force=True) is False
    assert verdict({**gone, **elsewhere}, all_checkouts=True) is True
    assert verdict({**alive, **elsewhere}, all_checkouts=True) is False  # its run is going: still kept
    no_checkout = {key: value for key, value in gone.items() if key != LABEL_CHECKOUT}
    assert verdict(no_checkout) is False                        # an older kit's: whose, unknown
    assert verdict(no_checkout, all_checkouts=True) is True



def test_a_live_pid_owns_only_what_its_own_run_created():
    """Linux hands pids out again: a label naming a live pid is not proof its owner still runs."""
    process = subprocess.Popen(["sleep", "60"])
    try:
        mine = owners.owner_labels(process.pid)
        assert owners.running_owner(mine, None) is not None
        # The wall clock may be stepped (NTP) after the object was made: the identity does not move.
        assert owners.running_owner(mine, time.time() - 3600) is not None
        assert owners.running_owner({**mine, LABEL_PROCESS: "another-boot:123"}, None) is None  # a reused pid
        assert owners.running_owner({LABEL_PID: str(process.pid)}, None) is not None  # no identity: the live pid
    finally:
        process.kill()
        process.wait()
    assert owners.running_owner(mine, None) is None  # gone
    assert owners.running_owner({LABEL_PID: "not-a-pid"}, None) is None


def test_the_show_sweeps_containers_whose_process_is_gone_and_only_those(docker_client, tmp_path):
    image = resolve_image(docker_client, "redis").image
    here = {LABEL_PROJECT: PROJECT, LABEL_HOST: socket.gethostname(), LABEL_ROLE: "sweep-test"}
    # Checkouts of this test's own: the sweep runs as if from clone "a"; clone "b" is another checkout.
    clone_a, clone_b = tmp_path / "a", tmp_path / "b"
    mine_here = {**here, LABEL_CHECKOUT: str(clone_a)}
    gone = subprocess.Popen(["true"])
    gone.wait()
    mine = docker_client.containers.create(image, labels={**here, **owners.owner_labels(os.getpid(), clone_a)})
    orphan = docker_client.containers.create(image, labels={**mine_here, LABEL_PID: str(gone.pid)})
    reused = docker_client.containers.create(image, labels={**mine_here, LABEL_PID: str(os.getpid()),
                                                            LABEL_PROCESS: "a-boot-before:123"})
    by_hand = docker_client.containers.create(image, labels=mine_here)  # no pid: not the sweep's to judge
    others = docker_client.containers.create(image, labels={**here, LABEL_CHECKOUT: str(clone_b),
                                                            LABEL_PID: str(gone.pid)})
    try:
        swept = sweep_orphans(docker_client, checkout=clone_a)

        assert orphan.name in swept.removed and not exists(docker_client, orphan.id)
        assert reused.name in swept.removed and not exists(docker_client, reused.id)
        assert exists(docker_client, mine.id) and exists(docker_client, by_hand.id)
        assert exists(docker_client, others.id) and swept.kept.get(str(clone_b)) == [others.name]
        lines = swept.lines()
        assert lines[0].startswith(f"Removed {len(swept.removed)} container(s) left by an earlier run of this "
                                   f"checkout ({clone_a})")
        assert (f"Kept 1 container(s) left by a killed run of another checkout ({clone_b}): "
                "`python3 cleanup.py --all-checkouts` removes them.") in lines
    finally:
        for container in (mine, orphan, reused, by_hand, others):
            if exists(docker_client, container.id):
                container.remove(force=True)
