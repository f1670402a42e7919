"""The hostile-room tests' tools: a show of their own, raw sockets, floods, the terminal's new lines.

These tests attack the show (floods, trickles, forged cookies), so each module boots a show of its
own: the shared one stays clean for the others, and its memory and terminal are the attack's alone.
The show gets a known cookie key (``REALITY_SECRET_KEY``), so a test can sign what a leaked key would,
and says what it dropped at most every 2 s (``REALITY_TRAFFIC_REPORT_SECONDS``, 5 by default): a test
waiting for the summary line of its attack waits less for the line an earlier test's attack printed.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import psutil
import pytest

from reality.config import TRAFFIC_REPORT_ENV

from .show import ShowProcess

SECRET_KEY = "secret-key-of-the-hostile-tests"
REPORT_SECONDS = 2
SUMMARY = "Dropped in the last"


def start_hostile_show(docker_client, log_path: Path) -> ShowProcess:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("REALITY_SECRET_KEY", SECRET_KEY)  # show_env copies this process's environment
        env.setenv(TRAFFIC_REPORT_ENV, str(REPORT_SECONDS))
        return ShowProcess.start(docker_client, log_path)


def rss_mb(show: ShowProcess) -> float:
    return psutil.Process(show.process.pid).memory_info().rss / 2**20


class ShowTerminal:
    """What the show printed after a point in time (its log is its terminal; a tmux one is :mod:`support.terminal`)."""

    def __init__(self, show: ShowProcess) -> None:
        self.show = show
        self.start = len(show.log())

    def new(self) -> str:
        return self.show.log()[self.start:]

    def summaries(self) -> list[str]:
        return [line for line in self.new().splitlines() if SUMMARY in line]


def raw_connection(show: ShowProcess, timeout: float = 10) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", show.port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_answer(sock: socket.socket, timeout: float = 10) -> bytes:
    """Everything the server sends until it closes the connection (or ``timeout`` runs out)."""
    sock.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        data += chunk
    return data


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.") else 0
