"""Reaching the Docker engine, and installing one where the machine allows it.

The rest of the kit asks :func:`connect` for a client; when no engine answers it gets a
:class:`~reality.errors.DockerUnavailable` whose message says what to do on this OS.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import time
from pathlib import Path

import docker
from docker.errors import DockerException

from .errors import DockerUnavailable

#: Where ``start_engine`` sends dockerd's output.
DOCKERD_LOG = Path("/var/log/reality-engine-dockerd.log")


def how_to_start_docker() -> str:
    """One line, for this OS, on how to get a Docker engine running."""
    system = platform.system()
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
    try:
        client = docker.from_env(timeout=int(max(timeout, 1)))
        client.ping()
    except (DockerException, OSError) as exc:
        raise DockerUnavailable(how_to_start_docker()) from exc
    return client


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


def install_engine() -> None:
    """Install Debian's ``docker.io`` (dockerd, containerd, runc) with apt."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "-q", "docker.io"], check=True, env=env, stdout=subprocess.DEVNULL)


def start_engine(wait: float = 30.0) -> None:
    """Start ``dockerd`` in the background (no systemd needed) and wait until it answers."""
    if not shutil.which("dockerd"):
        raise DockerUnavailable("dockerd is not installed: run `python3 setup.py --install-docker` as root.")
    if shutil.which("systemctl") and Path("/run/systemd/system").is_dir():
        subprocess.run(["systemctl", "start", "docker"], check=False)
    else:
        with open(DOCKERD_LOG, "ab") as log:
            subprocess.Popen(["dockerd"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if is_reachable():
            return
        time.sleep(0.3)
    raise DockerUnavailable(f"dockerd did not answer within {wait:.0f} s: see {DOCKERD_LOG}.")
