"""Where clients reach a container: its address on Docker's bridge when that answers, else the published port.

Through the published port every PostgreSQL and Redis round trip crosses Docker's userland proxy, a
process of its own: on Linux the bridge address skips it (less CPU, lower latency). Docker Desktop and
rootless Docker do not route to bridge addresses from the host: the connection attempt fails and the
published port is used; so it is with a remote engine, which is not even tried.
"""

from __future__ import annotations

import socket
import sys

import docker
from docker.errors import DockerException
from docker.models.containers import Container

from ..config import direct_connect_allowed

#: How long a bridge address may take to accept a connection before the published port is used.
DIRECT_PROBE_TIMEOUT = 0.2


def direct_connect_wanted() -> bool:
    """Whether to try the containers' bridge addresses (Linux, unless ``REALITY_DIRECT_CONNECT=0``)."""
    return sys.platform.startswith("linux") and direct_connect_allowed()


def local_engine(client: docker.DockerClient) -> bool:
    """Whether ``client`` talks to an engine on this machine (its Unix socket).

    A remote engine's bridge addresses could name something else here.
    """
    return client.api.base_url.startswith("http+docker://")


def bridge_address(container: Container, port: int) -> tuple[str, int] | None:
    """The container's bridge address and ``port`` if something answers there from here, else ``None``."""
    try:
        container.reload()  # a restarted or replaced container can come back at another address
        networks = container.attrs.get("NetworkSettings", {}).get("Networks") or {}
    except DockerException:
        return None
    for network in networks.values():
        ip = (network or {}).get("IPAddress")
        if ip and answers(ip, port):
            return ip, port
    return None


def answers(host: str, port: int) -> bool:
    """Whether something accepts a TCP connection at ``host:port`` within ``DIRECT_PROBE_TIMEOUT``."""
    try:
        with socket.create_connection((host, port), timeout=DIRECT_PROBE_TIMEOUT):
            return True
    except OSError:
        return False
