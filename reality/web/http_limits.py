"""What both WSGI servers enforce and how they refuse: the limits, the answers, the end of a connection.

    >>> body_limit("/api/vote"), body_limit("/socket.io/?EIO=4&transport=polling")
    (4096, 65536)
    >>> REFUSALS[413].split(b"\\r\\n")[0]
    b'HTTP/1.1 413 Payload Too Large'

gevent's handler (:mod:`.gevent_server`) and Werkzeug's (:mod:`.threaded_server`) apply these rules
their own way; :mod:`.server` picks one and documents the rules as a whole.
"""

from __future__ import annotations

import json
import socket
from typing import Any

from .. import config
from . import MAX_BODY, MAX_SOCKET_BODY

#: Seconds for a whole request (line, headers and body) to arrive; a phone on bad Wi-Fi sends a vote
#: in well under a second, a client that sends half a request and stops is let go after this
#: (``REALITY_REQUEST_TIMEOUT``, default 10: the tests shorten it to see the cut in seconds).
#: ``server.make_server`` hands the handlers the value of ``server.REQUEST_TIMEOUT`` at the time.
REQUEST_TIMEOUT = float(config.request_timeout())
SOCKET_IO_PATH = "/socket.io/"
#: Where the gevent server puts the connection's socket in the environ (Werkzeug: ``werkzeug.socket``),
#: so a flooding websocket can be cut off at once (see ``sockets.SocketGuard``).
CONNECTION_SOCKET = "reality.socket"
#: A websocket's :class:`CutOff`, shared by the server and ``sockets.SocketGuard`` (which see copies of the
#: environ: Flask-SocketIO copies it on the way), so a flooding socket is cut off and counted once.
CUT_OFF = "reality.cut_off"
#: What a websocket may send (bytes, a token bucket) before it is cut off unread: its packets are a few
#: dozen bytes (a catch-up, a scene key), so far below this; a flood is stopped before it is parsed.
WEBSOCKET_BURST = 16 * 1024
WEBSOCKET_BYTES_PER_SECOND = 4 * 1024
BROKEN = "malformed HTTP requests"
TIMED_OUT = "HTTP requests timed out"
TOO_LARGE = "HTTP bodies over the limit"


def body_limit(path: str) -> int:
    """The largest body accepted on ``path`` (the app's 4 KiB; Socket.IO's polling posts 64 KiB)."""
    return MAX_SOCKET_BODY if path.startswith(SOCKET_IO_PATH) else MAX_BODY


def error_response(status: int, reason: str, message: str) -> bytes:
    """A complete HTTP/1.1 answer in the app's JSON error format, closing the connection."""
    body = json.dumps({"message": message, "status": status}).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n")
    return head.encode("latin-1") + body


REFUSALS = {
    408: error_response(408, "Request Timeout", f"The request did not arrive within {REQUEST_TIMEOUT:.0f} s."),
    413: error_response(413, "Payload Too Large", "Too large: a vote is a few bytes of JSON."),
    431: error_response(431, "Request Header Fields Too Large", "Too many or too long headers."),
    400: error_response(400, "Bad Request", "Bad request."),
}


class BodyTooLarge(ValueError):
    """A declared ``Content-Length`` over the limit (refused before the body is read)."""


class TooManyHeaders(ValueError):
    """Over 100 headers, or a header line over 64 KiB (the standard library's limits)."""


class CutOff:
    """Whether a connection has been cut off for flooding; :meth:`claim` is true for the first to do it."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = False

    def claim(self) -> bool:
        first, self.done = not self.done, True
        return first


def claim_cut_off(environ: dict[str, Any]) -> bool:
    """True when this caller is the first to cut the connection off (and so counts it)."""
    cut_off = environ.get(CUT_OFF)
    return cut_off.claim() if cut_off is not None else True


def shut_down(environ: dict[str, Any]) -> bool:
    """End the TCP connection a request came on, duplicates included; False when it is not known."""
    raw = environ.get(CONNECTION_SOCKET) or environ.get("werkzeug.socket")
    if raw is None:
        return False
    try:
        raw.shutdown(socket.SHUT_RDWR)
    except OSError:
        return False
    return True


def source(client_address: Any) -> str:
    """``host:port`` of a client, as the traffic report counts it."""
    return f"{client_address[0]}:{client_address[1]}" if isinstance(client_address, tuple) else str(client_address)


def chunked(environ: dict[str, Any]) -> bool:
    """Whether the request's body comes in chunks (no ``Content-Length`` to check up front)."""
    return environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked"
