"""Reaching the Docker engine, and installing one where the machine allows it.

The rest of the kit asks :func:`connect` for a client; when no engine answers it gets a
:class:`~reality.errors.DockerUnavailable` whose message says what to do on this OS.
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
import subprocess
import time
import urllib.parse
from pathlib import Path

import docker
from docker.errors import DockerException

from .errors import DockerUnavailable

DEFAULT_HOST = "unix:///var/run/docker.sock"
#: Where ``start_engine`` sends dockerd's output.
DOCKERD_LOG = Path("/var/log/reality-engine-dockerd.log")


#: How often Linux asks again, on Docker's bridge, for the hardware address of an IP that did not
#: answer (1000 ms by default). Right after Docker starts a container, the host's first request for
#: its address can go out before the container's end of the link forwards (moby#16114; engines from
#: 2025 announce the address themselves), and every connection to it then waits for the next ask:
#: half the show's boots here had both containers unreachable for 0.9 s.
BRIDGE_ARP_RETRY = Path("/proc/sys/net/ipv4/neigh/docker0/retrans_time_ms")
QUICK_ARP_RETRY_MS = 100


def how_to_start_docker() -> str:
    """One line, for this OS, on how to get a Docker engine running."""
    system = platform.system()
    if not uses_local_engine():
        return (f"Docker is not answering at DOCKER_HOST={os.environ['DOCKER_HOST']}: "
                "start that engine, or unset DOCKER_HOST to use this machine's.")
    if os.environ.get("CODESPACES") == "true":
        return "Docker is not running in this Codespace: rebuild the container (Command Palette > Rebuild Container)."
    if system == "Darwin":
        return "Docker is not running: start Docker Desktop (or colima start) and try again."
    if system == "Windows":
        return "Docker is not running: start Docker Desktop (WSL 2 backend) and try again."
    if shutil.which("dockerd") and os.geteuid() == 0:
        return f"Docker is not running: start it with `dockerd > {DOCKERD_LOG} 2>&1 &` or `python3 setup.py --yes`."
    if is_debian_like():
        return "Docker is not running: `sudo python3 setup.py --install-docker`, or `sudo systemctl start docker`."
    return "Docker is not running: install Docker Engine (https://docs.docker.com/engine/install/) and start it."


def connect(timeout: float = 10.0) -> docker.DockerClient:
    """A client for a Docker engine that answered a ping, or :class:`DockerUnavailable`."""
    client = None
    try:
        _probe(os.environ.get("DOCKER_HOST") or DEFAULT_HOST, timeout)
        client = docker.from_env(timeout=int(max(timeout, 1)))
        client.ping()
    except (DockerException, OSError) as exc:
        if client is not None:
            client.close()  # docker-py keeps the failed socket open otherwise
        raise DockerUnavailable(how_to_start_docker()) from exc
    return client


def _probe(host: str, timeout: float) -> None:
    """Connect to the engine's socket first: docker-py leaks the socket of a failed connection."""
    if host.startswith("unix://"):
        with socket.socket(socket.AF_UNIX) as probe:
            probe.settimeout(timeout)
            probe.connect(host[len("unix://"):])
    elif host.startswith("tcp://"):
        address = urllib.parse.urlsplit(host)
        socket.create_connection((address.hostname, address.port or 2375), timeout=timeout).close()


def is_reachable() -> bool:
    try:
        connect(timeout=3).close()
    except DockerUnavailable:
        return False
    return True


def is_debian_like() -> bool:
    try:
        text = Path("/etc/os-release").read_text()
    except OSError:
        return False
    return any(word in text for word in ("ID=debian", "ID=ubuntu", "ID_LIKE=debian", "ID_LIKE=ubuntu"))


def can_install_engine() -> bool:
    """True where :func:`install_engine` can work: Linux, Debian or Ubuntu, as root."""
    return platform.system() == "Linux" and is_debian_like() and os.geteuid() == 0


def uses_local_engine() -> bool:
    """True when the client talks to this machine's default socket (the only engine we may start)."""
    return os.environ.get("DOCKER_HOST", DEFAULT_HOST) == DEFAULT_HOST


def dockerd_running() -> bool:
    """A dockerd process of this machine is alive (it may still be starting, or be stuck)."""
    try:
        pid = int(Path("/var/run/docker.pid").read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return False
    return True


def install_engine() -> None:
    """Install Debian's ``docker.io`` (dockerd, containerd, runc) with apt."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "-q", "docker.io"], check=True, env=env, stdout=subprocess.DEVNULL)


def start_engine(wait: float = 30.0) -> None:
    """Start ``dockerd`` in the background (no systemd needed) and wait until it answers."""
    if not shutil.which("dockerd"):
        raise DockerUnavailable("dockerd is not installed: run `python3 setup.py --install-docker` as root.")
    if not uses_local_engine():
        raise DockerUnavailable(f"The Docker engine at DOCKER_HOST={os.environ['DOCKER_HOST']} is not answering: start it there.")
    launched = False
    if dockerd_running():
        # A second dockerd would fight the first over docker0 and iptables: wait for this one instead.
        pass
    elif shutil.which("systemctl") and Path("/run/systemd/system").is_dir():
        launched = subprocess.run(["systemctl", "start", "docker"], check=False).returncode == 0
    else:
        with open(DOCKERD_LOG, "ab") as log:
            subprocess.Popen(["dockerd"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        launched = True
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if is_reachable():
            if launched:  # an engine someone else started keeps their settings
                quicken_bridge_arp()
            return
        time.sleep(0.3)
    raise DockerUnavailable(f"dockerd did not answer within {wait:.0f} s: see {DOCKERD_LOG}.")


def quicken_bridge_arp(setting: Path = BRIDGE_ARP_RETRY) -> bool:
    """On an engine this kit launched: ask again every 100 ms on Docker's bridge (see ``BRIDGE_ARP_RETRY``).

    Only the kernel's default (1000 ms) is changed, never someone's own choice, and only until the
    machine restarts; False when the setting is not there or cannot be written (not Linux, not
    root, a read-only /proc).
    """
    try:
        if setting.read_text().strip() == "1000":
            setting.write_text(str(QUICK_ARP_RETRY_MS))
        return True
    except OSError:
        return False
