"""gevent's pywsgi server held to the rules of :mod:`.server`: its request handler, header parse and metered websockets.

- :func:`gevent_handler`: the whole request under one deadline (408), a declared body over the limit
  refused unread (413), a chunked body read up to it, too many headers 431, anything broken 400,
  counted and not printed, and each small answer sent in one ``send``.
- :func:`parse_headers`: the request's headers without the ``email`` package for plain lines.
- :class:`MeteredWebsocketInput`: a websocket's bytes metered as they are read, a flood cut off unread.
- :class:`ErrorLog`: gevent's error log, counted into the traffic report.

Nothing here imports gevent at import time: threading mode never loads it.
"""

from __future__ import annotations

import http.client
import io
import re
import socket
import time
from typing import Any

from .http_limits import (
    BROKEN, CONNECTION_SOCKET, CUT_OFF, REFUSALS, TIMED_OUT, TOO_LARGE, WEBSOCKET_BURST, WEBSOCKET_BYTES_PER_SECOND,
    BodyTooLarge, CutOff, TooManyHeaders, body_limit, chunked, claim_cut_off, shut_down, source,
)
from .traffic import FLOODING, TokenBucket, TrafficReport


class ErrorLog:
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


_GEVENT_HANDLER: type | None = None


def gevent_handler() -> type:
    """gevent's request handler with the rules of :mod:`.server` (built on first use: threading mode has no gevent)."""
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
            self.deadline = gevent.Timeout.start_new(self.server.request_timeout,
                                                     socket.timeout("request timed out"))
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
                environ["wsgi.input"] = MeteredWebsocketInput(self.socket, environ, self.server.traffic)
            try:
                if environ["wsgi.input_terminated"] and (self.content_length or chunked(environ)):
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
                                       source(self.client_address))
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
                                       source(self.client_address))
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


class MeteredWebsocketInput:
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

    def dup(self) -> "MeteredSocket":
        return MeteredSocket(self._connection.dup(), self._environ, self._report)


class MeteredSocket:
    """A websocket's duplicated socket whose reads are metered (see :class:`MeteredWebsocketInput`)."""

    def __init__(self, sock: Any, environ: dict[str, Any], report: TrafficReport) -> None:
        self._wrapped = sock
        self._environ = environ
        self._report = report
        self._bucket = TokenBucket(WEBSOCKET_BYTES_PER_SECOND, WEBSOCKET_BURST, time.monotonic())

    def recv(self, size: int, *flags: int) -> bytes:
        data = self._wrapped.recv(size, *flags)
        if data and not self._bucket.take(time.monotonic(), len(data)):
            if claim_cut_off(self._environ):
                self._report.record(FLOODING, source((self._environ.get("REMOTE_ADDR"),
                                                      self._environ.get("REMOTE_PORT"))))
            shut_down(self._environ)
            return b""  # what a closed connection reads: the reader ends, the websocket closes
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._wrapped, name)
