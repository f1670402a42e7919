"""The show's listening socket: bound before any container starts, and, when the port is taken, who holds it.

A taken port is the most common start-up failure at a workshop (an earlier show still running): the
message names the process that really listens there and what to do about it.
"""

from __future__ import annotations

import errno
import socket

from . import config, owners, pidfile
from .errors import PortTaken


def port_in_use(port: int, host: str = "0.0.0.0") -> str:
    """What to do about a taken port, naming the process that really listens there.

    A show of this checkout can be stopped with cleanup.py (only that one: ``--port``); a show of
    another checkout is someone else's, which this checkout's cleanup.py would not stop; anything else
    is another program.
    """
    instead = f"pick another port with --port {_next_free_port(host, port)}"
    pids, hidden = pidfile.port_listeners(port)
    for pid in pids:
        show = pidfile.find_show(pid)
        if show is None:
            continue
        # cleanup.py stops the shows recorded in this checkout's state: only then is it the advice.
        recorded_here = show.path is not None and show.path.parent == config.checkout_state_dir()
        if owners.same_checkout(show.checkout) and recorded_here:
            return (f"Port {port} is already in use by an earlier show of this checkout ({pidfile.SHOW_SCRIPT}, "
                    f"pid {pid}). Stop it (Ctrl+C in its terminal, or `python3 cleanup.py --port {port}`), "
                    f"or {instead}.")
        if owners.same_checkout(show.checkout):
            return (f"Port {port} is already in use by a show of this checkout ({pidfile.SHOW_SCRIPT}, pid {pid}) "
                    f"started with other run-time state: stop it with Ctrl+C in its terminal (or `kill {pid}`), "
                    f"or {instead}.")
        return (f"Port {port} is already in use by a show of {owners.describe_checkout(show.checkout)} "
                f"({pidfile.SHOW_SCRIPT}, pid {pid}), not this checkout's: leave it running and {instead}.")
    if pids:
        info = owners.process_info(pids[0])
        what = f"pid {pids[0]}: {owners.describe_command(info.cmdline)}" if info else f"pid {pids[0]}"
        return f"Port {port} is already in use by another program ({what}): {instead}."
    who = " (its process is not visible to this user)" if hidden else ""
    return f"Port {port} is already in use by another program{who}: {instead}."


def _next_free_port(host: str, port: int) -> int:
    """The first port after ``port`` that can be bound on ``host`` right now (or simply the next one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for candidate in range(port + 1, min(port + 50, 65536)):
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((host, candidate))
            except OSError:
                continue
            return candidate
    return port + 1


def bind(host: str, port: int) -> socket.socket:
    """Listen on ``host:port`` now, so "port taken" is known before any container starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    # Reuse after a previous run's connections in TIME_WAIT, but never share a live listener.
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit TCP_NODELAY (on Linux). Without it a response written as headers
    # then body waits for the phone's delayed ACK: 40 ms on every request after a connection's first.
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        listener.bind((host, port))
        listener.listen(1024)
    except OSError as exc:
        listener.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortTaken(port_in_use(port, host)) from exc
        if exc.errno == errno.EACCES:
            raise PortTaken(f"Port {port} needs privileges here: use --port 5001 or another port above 1024.") from exc
        raise PortTaken(f"Cannot listen on {host}:{port}: {exc.strerror}. Check --host and --port.") from exc
    return listener
