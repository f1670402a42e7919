"""Werkzeug's server in threading mode (the fallback), held to the rules of :mod:`.server`.

Werkzeug's handler gets a read timeout until the request is in, and a WSGI middleware in front of the
app applies the body limits (413), reading a chunked or declared body under that timeout (408, 400).
"""

from __future__ import annotations

import io
import socket
from typing import Any

from .http_limits import BROKEN, REFUSALS, TOO_LARGE, body_limit, chunked, source
from .traffic import TrafficReport


def werkzeug_handler() -> type:
    """Werkzeug's request handler with the server's ``request_timeout`` per read (imported on first use)."""
    from werkzeug.serving import WSGIRequestHandler

    class TimedRequestHandler(WSGIRequestHandler):
        """Werkzeug's handler with a read timeout until the request is in (``LimitBodies`` lifts it).

        (A timeout per read, not for the whole request as with gevent: threading mode is the fallback.)
        """

        def handle_one_request(self) -> None:
            self.connection.settimeout(self.server.request_timeout)
            super().handle_one_request()

        def log_error(self, format: str, *args: Any) -> None:
            # "Request timed out", "Bad request version", 431: the client's problem, counted.
            self.server.traffic.record(BROKEN, source(self.client_address))

    return TimedRequestHandler


class LimitBodies:
    """WSGI middleware (threading mode): the body limits of :mod:`.server`, for Werkzeug's server."""

    def __init__(self, app: Any, report: TrafficReport) -> None:
        self.app = app
        self.report = report

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        limit = body_limit(environ.get("PATH_INFO", ""))
        declared = environ.get("CONTENT_LENGTH") or ""
        if declared.isdecimal() and int(declared) > limit:
            return self._refuse(environ, start_response, 413)
        if chunked(environ) or declared.isdecimal():
            # Read here, still under the handler's socket timeout: a body that trickles ends there.
            try:
                body = environ["wsgi.input"].read(limit + 1 if chunked(environ) else int(declared))
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
