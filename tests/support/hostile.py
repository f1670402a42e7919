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


def open_dashboard_socket(port: int, role: str = "dashboard"):
    """A raw websocket speaking Engine.IO 4 / Socket.IO 5 by hand, joined as a dashboard (or phone)."""
    import websocket

    ws = websocket.create_connection(f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket", timeout=10)
    assert ws.recv().startswith("0{")
    ws.send('40{"role":"%s","since":0}' % role)
    return ws


def flood(port: int, packets: list[str], rounds: int = 1, settle: bool = False) -> int:
    """Send ``packets`` as fast as possible on one socket, ``rounds`` times (a new socket each round).

    Runs in a process of its own in the tests: in the test's process it would compete with the
    phones it measures for the interpreter, and the figures would be the client's, not the show's.
    With ``settle`` each socket waits until the show has handled all it sent. Returns packets sent.
    """
    import websocket

    sent = 0
    for _ in range(rounds):
        ws = open_dashboard_socket(port)
        try:
            for packet in packets:
                ws.send(packet)
                sent += 1
            if settle:  # packets are handled in order: once this is answered, all before it were seen
                # An acknowledged event is answered at once (refused: not the presenter); a catch-up's
                # replay would wait for the broadcaster's next tick.
                ws.send('421["scene",{"action":"next"}]')
                while not ws.recv().startswith("431"):
                    pass
        except (websocket.WebSocketException, OSError):
            pass  # disconnected for flooding; the next round connects again, as an attacker would
        finally:
            ws.close(timeout=0)
    return sent
