"""The WSGI server in front of the app, with HTTP hygiene a hostile room needs.

    server = make_server("gevent", listener, app)   # reality.show calls this
    server.serve_forever()

What the servers (gevent's pywsgi by default, Werkzeug's in threading mode) do not do by themselves:

- **Bodies are bounded before the app sees them.** A ``Content-Length`` over the limit (4 KiB; 64 KiB
  for Socket.IO's long-polling posts) is answered 413 and the connection closed without reading the
  body (gevent would otherwise read all 200 MB of a declared 200 MB body to keep the connection).
  A chunked body is read up to the limit: 413 past it, else handed to the app as a plain body.
- **Requests that trickle are timed out.** The request line, headers and body must arrive within
  :data:`REQUEST_TIMEOUT` seconds, or the connection is closed (408 when something was sent).
  An idle keep-alive connection is closed after the same time. Websockets are not affected: the
  deadline ends when the request has arrived.
- **Broken requests are the client's problem.** Too many headers is 431, a malformed request 400;
  none prints a traceback or a line per request: they are counted in the show's traffic report
  (see :mod:`.traffic`). After a websocket the connection is closed, so its last frame is not read
  as an HTTP request ("Invalid HTTP method: '\\x88…'").
"""

from __future__ import annotations

import http.client
import io
import json
import re
import socket
import sys
import time
from typing import Any

from flask import Flask

from .. import config
from . import MAX_BODY, MAX_SOCKET_BODY
from .traffic import FLOODING, TokenBucket, TrafficReport

#: Seconds for a whole request (line, headers and body) to arrive; a phone on bad Wi-Fi sends a vote
#: in well under a second, a client that sends half a request and stops is let go after this
#: (``REALITY_REQUEST_TIMEOUT``, default 10: the tests shorten it to see the cut in seconds).
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


def make_server(mode: str, listener: socket.socket, app: Flask) -> Any:
    """A WSGI server on the already-bound ``listener`` for the chosen async mode."""
    report: TrafficReport = app.extensions["reality.traffic"]
    if mode == "gevent":
        from gevent.pywsgi import WSGIServer

        server = WSGIServer(listener, _QuietSocketErrors(app, report), log=None, error_log=_ErrorLog(report),
                            handler_class=_gevent_handler())
        server.traffic = report
        return server
    from werkzeug.serving import make_server as werkzeug_server

    host, port = listener.getsockname()[:2]
    server = werkzeug_server(host, port, _LimitBodies(_QuietSocketErrors(app, report), report), threaded=True,
                             fd=listener.fileno(),
                             request_handler=_werkzeug_handler())
    server.traffic = report
    return server


class _QuietSocketErrors:
    """WSGI middleware: an Engine.IO packet that does not decode ends its connection, counted, not printed.

    python-engineio decodes websocket frames outside any ``try`` in its receive loop: one bad frame
    ("x") raises out of the whole WSGI call, which the server would print as a traceback.
    """

    def __init__(self, app: Any, report: TrafficReport) -> None:
        self.app = app
        self.report = report

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if not environ.get("PATH_INFO", "").startswith(SOCKET_IO_PATH):
            return self.app(environ, start_response)
        try:
            return self.app(environ, start_response)
        except ConnectionError:
            raise  # a client gone, or how simple-websocket ends every websocket on Werkzeug's server
        except Exception:
            self.report.record("malformed Engine.IO packets",
                               f"{environ.get('REMOTE_ADDR', '?')}:{environ.get('REMOTE_PORT', '?')}")
            if environ.get("HTTP_UPGRADE", "").lower() == "websocket":
                # The websocket is over: end the connection (simple-websocket's reader holds a
                # duplicate of the socket, which closing ours alone would leave open).
                shut_down(environ)
                if "werkzeug.socket" in environ:
                    raise ConnectionError("websocket ended") from None  # Werkzeug's quiet way out
                return []
            head, body = REFUSALS[400].split(b"\r\n\r\n", 1)
            start_response("400 Bad Request", [("Content-Type", "application/json"),
                                               ("Content-Length", str(len(body)))], sys.exc_info())
            return [body]


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


class _ErrorLog:
    """gevent's ``error_log``: its lines are about bad client input; counted, not printed."""

    def __init__(self, report: TrafficReport) -> None:
        self.report = report

    def write(self, line: str) -> None:
        self.report.record(BROKEN, "pywsgi")

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        pass


#: The standard library's limits for a request's header block (``http.client.parse_headers``): a line
#: over 64 KiB, or more than 100 lines counting the blank one that ends them.
MAX_HEADER_LINE = 65536
MAX_HEADER_LINES = 100
#: A header line the fast parse takes: a name of visible ASCII but ":" (what the ``email`` parser
#: accepts as a name), a colon, a value of visible ASCII, spaces and tabs. Anything else (folded
#: lines, other bytes, no name) is parsed by the standard library as before.
_PLAIN_HEADER = re.compile(rb"([\x21-\x39\x3b-\x7e]+):([\x20-\x7e\t]*)\r?\n")


def parse_headers(rfile: Any) -> Any:
    """The request's headers as gevent's own parse gives them (its ``OldMessage``), without the ``email`` package.

    gevent hands the header block to ``http.client.parse_headers``, which runs the ``email`` parser:
    about 0.03 ms of CPU per request, a tenth of a vote. The common block (plain ``Name: value``
    lines) is split here into the same message, with the same value (spaces and tabs before it
    stripped, after it kept); any other line sends the whole block to gevent's parse, so every
    unusual request is read as it always was. The limits are the standard library's, and raise
    what it raises.
    """
    from gevent.pywsgi import OldMessage, headers_factory

    lines = []
    while True:
        line = rfile.readline(MAX_HEADER_LINE + 1)
        if len(line) > MAX_HEADER_LINE:
            message = OldMessage()
            message.status = "Line too long"  # what gevent makes of http.client.LineTooLong
            return message
        lines.append(line)
        if len(lines) > MAX_HEADER_LINES:
            raise http.client.HTTPException(f"got more than {MAX_HEADER_LINES} headers")
        if line in (b"\r\n", b"\n", b""):
            break
    message = OldMessage()
    for line in lines[:-1]:
        plain = _PLAIN_HEADER.fullmatch(line)
        if plain is None:
            return headers_factory(io.BytesIO(b"".join(lines)))
        message[plain.group(1).decode("ascii")] = plain.group(2).lstrip(b" \t").decode("ascii")
    return message


def _source(client_address: Any) -> str:
    return f"{client_address[0]}:{client_address[1]}" if isinstance(client_address, tuple) else str(client_address)


_GEVENT_HANDLER: type | None = None


def _gevent_handler() -> type:
    """gevent's request handler with the rules above (built on first use: threading mode never imports gevent)."""
    global _GEVENT_HANDLER
    if _GEVENT_HANDLER is not None:
        return _GEVENT_HANDLER
    import gevent
    from gevent.pywsgi import WSGIHandler

    class GuardedHandler(WSGIHandler):
        deadline: Any = None
        refusal: int | None = None

        def MessageClass(self, rfile: Any, *args: Any) -> Any:
            return parse_headers(rfile)

        def handle_one_request(self) -> Any:
            self.refusal = None
            # socket.timeout is what gevent's own loop treats as "the client went away": it closes quietly.
            self.deadline = gevent.Timeout.start_new(REQUEST_TIMEOUT, socket.timeout("request timed out"))
            try:
                return super().handle_one_request()
            finally:
                self.deadline.close()

        def read_request(self, raw_requestline: str) -> bool:
            try:
                parsed = super().read_request(raw_requestline)
            except http.client.HTTPException as exc:  # "got more than 100 headers", a line too long
                raise TooManyHeaders(str(exc)) from None
            if self.content_length is not None and self.content_length > body_limit(self.path or ""):
                raise BodyTooLarge(f"Content-Length {self.content_length}")
            return parsed

        def get_environ(self) -> dict[str, Any]:
            environ = super().get_environ()
            environ[CONNECTION_SOCKET] = self.socket
            if environ.get("HTTP_UPGRADE", "").lower() == "websocket":
                environ[CUT_OFF] = CutOff()
                environ["wsgi.input"] = _MeteredWebsocketInput(self.socket, environ, self.server.traffic)
            try:
                if environ["wsgi.input_terminated"] and (self.content_length or _chunked(environ)):
                    self._read_body(environ)
            except socket.timeout:
                self.refusal = 408
            except (ValueError, OSError):  # a broken chunked encoding, a reset connection
                self.refusal = 400
            finally:
                self.deadline.close()  # the request has arrived: the app's own time is its own
            return environ

        def _read_body(self, environ: dict[str, Any]) -> None:
            limit = body_limit(environ.get("PATH_INFO", ""))
            body = self.wsgi_input.read(limit + 1)
            if len(body) > limit:
                self.refusal = 413
                return
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            environ.pop("HTTP_TRANSFER_ENCODING", None)

        def handle_one_response(self) -> None:
            if self.refusal is not None:
                self._refuse(self.refusal)
                return
            super().handle_one_response()
            if self.environ.get("HTTP_UPGRADE", "").lower() == "websocket":
                # The websocket owned the socket; what follows its close frame is not an HTTP request.
                self.close_connection = True

        def _refuse(self, status: int) -> None:
            self.server.traffic.record({408: TIMED_OUT, 413: TOO_LARGE}.get(status, BROKEN),
                                       _source(self.client_address))
            self.close_connection = True  # the body is not read: the connection cannot be reused
            self.status = str(status)
            try:
                self.socket.sendall(REFUSALS[status])
            except OSError:
                pass

        def _handle_client_error(self, ex: BaseException) -> tuple[str, bytes]:
            # gevent's hook for invalid requests; its own prints a traceback for anything but ValueError.
            status = (413 if isinstance(ex, BodyTooLarge) else 431 if isinstance(ex, TooManyHeaders)
                      else 408 if isinstance(ex, socket.timeout) else 400)
            self.server.traffic.record({408: TIMED_OUT, 413: TOO_LARGE}.get(status, BROKEN),
                                       _source(self.client_address))
            self.close_connection = True
            return str(status), REFUSALS[status]

        def log_request(self) -> None:
            pass  # no request log (log=None), and gevent's would still format every line to throw it away

        def _write_with_headers(self, data: bytes) -> None:
            # gevent's own sends the headers, then the body: two syscalls and two packets per answer
            # (the listener sets TCP_NODELAY), and the phone wakes up twice. A small answer goes in one.
            self.headers_sent = True
            self.finalize_headers()  # decides on chunked encoding too
            towrite = bytearray(b"HTTP/1.1 ")
            towrite += self.status
            towrite += b"\r\n"
            for header, value in self.response_headers:
                towrite += header + b": " + value + b"\r\n"
            towrite += b"\r\n"
            if self.response_use_chunked or len(data) > 65536:
                self._sendall(towrite)
                self._write(data)
            else:
                towrite += data
                self._sendall(towrite)

    _GEVENT_HANDLER = GuardedHandler
    return GuardedHandler


class _MeteredWebsocketInput:
    """Where simple-websocket takes its socket from under gevent (``wsgi.input.raw._sock.dup()``).

    Its reader parses every frame already received before anything else runs: 5,000 small frames
    sent at once held the process for up to a second before the per-event budget
    (``sockets.SocketGuard``) got to see them. Metering the bytes as they are read cuts such a
    socket off after :data:`WEBSOCKET_BURST` bytes instead.
    """

    def __init__(self, connection: Any, environ: dict[str, Any], report: TrafficReport) -> None:
        self.raw = self
        self._sock = self
        self._connection = connection
        self._environ = environ
        self._report = report

    def dup(self) -> "_MeteredSocket":
        return _MeteredSocket(self._connection.dup(), self._environ, self._report)


class _MeteredSocket:
    def __init__(self, sock: Any, environ: dict[str, Any], report: TrafficReport) -> None:
        self._wrapped = sock
        self._environ = environ
        self._report = report
        self._bucket = TokenBucket(WEBSOCKET_BYTES_PER_SECOND, WEBSOCKET_BURST, time.monotonic())

    def recv(self, size: int, *flags: int) -> bytes:
        data = self._wrapped.recv(size, *flags)
        if data and not self._bucket.take(time.monotonic(), len(data)):
            if claim_cut_off(self._environ):
                self._report.record(FLOODING, _source((self._environ.get("REMOTE_ADDR"),
                                                       self._environ.get("REMOTE_PORT"))))
            shut_down(self._environ)
            return b""  # what a closed connection reads: the reader ends, the websocket closes
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._wrapped, name)


def _chunked(environ: dict[str, Any]) -> bool:
    return environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked"


def _werkzeug_handler() -> type:
    from werkzeug.serving import WSGIRequestHandler

    class TimedRequestHandler(WSGIRequestHandler):
        """Werkzeug's handler with a read timeout until the request is in (``_LimitBodies`` lifts it).

        (A timeout per read, not for the whole request as with gevent: threading mode is the fallback.)
        """

        def handle_one_request(self) -> None:
            self.connection.settimeout(REQUEST_TIMEOUT)
            super().handle_one_request()

        def log_error(self, format: str, *args: Any) -> None:
            # "Request timed out", "Bad request version", 431: the client's problem, counted.
            self.server.traffic.record(BROKEN, _source(self.client_address))

    return TimedRequestHandler


class _LimitBodies:
    """WSGI middleware (threading mode): the body limits above, for Werkzeug's server."""

    def __init__(self, app: Any, report: TrafficReport) -> None:
        self.app = app
        self.report = report

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        limit = body_limit(environ.get("PATH_INFO", ""))
        declared = environ.get("CONTENT_LENGTH") or ""
        if declared.isdecimal() and int(declared) > limit:
            return self._refuse(environ, start_response, 413)
        if _chunked(environ) or declared.isdecimal():
            # Read here, still under the handler's socket timeout: a body that trickles ends there.
            try:
                body = environ["wsgi.input"].read(limit + 1 if _chunked(environ) else int(declared))
            except socket.timeout:
                return self._refuse(environ, start_response, 408)
            except (OSError, ValueError):  # a broken chunked encoding, a reset connection
                return self._refuse(environ, start_response, 400)
            if len(body) > limit:
                return self._refuse(environ, start_response, 413)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            environ.pop("HTTP_TRANSFER_ENCODING", None)
        # The request has arrived: no deadline for the answer (a long poll, a websocket's idle time).
        sock = environ.get("werkzeug.socket")
        if sock is not None:
            sock.settimeout(None)
        return self.app(environ, start_response)

    def _refuse(self, environ: dict[str, Any], start_response: Any, code: int) -> list[bytes]:
        self.report.record(TOO_LARGE if code == 413 else BROKEN, environ.get("REMOTE_ADDR", "?"))
        head, body = REFUSALS[code].split(b"\r\n\r\n", 1)
        status = head.split(b"\r\n", 1)[0].split(b" ", 1)[1].decode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                                ("Connection", "close")])
        return [body]
