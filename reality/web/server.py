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

Where each part lives: :mod:`.http_limits` (the limits, the refusals and ending a connection, shared),
:mod:`.gevent_server` (gevent's handler, its header parse, metered websockets), :mod:`.threaded_server`
(Werkzeug's handler and body limits). This module picks the server and keeps the names others import.
"""

from __future__ import annotations

import logging
import socket
import sys
from typing import Any

from flask import Flask

from .gevent_server import MAX_HEADER_LINE, MAX_HEADER_LINES, ErrorLog, gevent_handler, parse_headers
from .http_limits import (
    BROKEN, CONNECTION_SOCKET, CUT_OFF, REFUSALS, REQUEST_TIMEOUT, SOCKET_IO_PATH, TIMED_OUT, TOO_LARGE,
    WEBSOCKET_BURST, WEBSOCKET_BYTES_PER_SECOND, BodyTooLarge, CutOff, TooManyHeaders, body_limit, claim_cut_off,
    error_response, shut_down,
)
from .threaded_server import LimitBodies, werkzeug_handler
from .traffic import TrafficReport

#: The names this module has always offered (tests, ``show`` and ``sockets`` import them from here).
__all__ = [
    "BROKEN", "CONNECTION_SOCKET", "CUT_OFF", "MAX_HEADER_LINE", "MAX_HEADER_LINES", "REFUSALS", "REQUEST_TIMEOUT",
    "SOCKET_IO_PATH", "TIMED_OUT", "TOO_LARGE", "WEBSOCKET_BURST", "WEBSOCKET_BYTES_PER_SECOND", "BodyTooLarge",
    "CutOff", "QuietSocketErrors", "TooManyHeaders", "body_limit", "claim_cut_off", "error_response",
    "make_server", "parse_headers", "shut_down",
]


def make_server(mode: str, listener: socket.socket, app: Flask) -> Any:
    """A WSGI server on the already-bound ``listener`` for the chosen async mode.

    The request deadline is this module's :data:`REQUEST_TIMEOUT` when the server is made (a test may
    shorten it), kept on the server as ``request_timeout`` for its handler.
    """
    report: TrafficReport = app.extensions["reality.traffic"]
    if mode == "gevent":
        from gevent.pywsgi import WSGIServer

        server = WSGIServer(listener, QuietSocketErrors(app, report), log=None, error_log=ErrorLog(report),
                            handler_class=gevent_handler())
    else:
        from werkzeug.serving import make_server as werkzeug_server

        host, port = listener.getsockname()[:2]
        # Werkzeug's server logs a line per request: under an audience that would drown the terminal
        # (and cost time). Its logger is the server's, so the server that uses it quiets it.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        server = werkzeug_server(host, port, LimitBodies(QuietSocketErrors(app, report), report), threaded=True,
                                 fd=listener.fileno(), request_handler=werkzeug_handler())
    server.traffic = report
    server.request_timeout = REQUEST_TIMEOUT
    return server


class QuietSocketErrors:
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
