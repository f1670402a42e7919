"""The vote answered without Flask's per-request machinery: the same contract, a third of the work.

    app.wsgi_app = DirectVote(app.wsgi_app, app)    # create_app does this

Every phone votes at least twice (the vote, and the second vote PostgreSQL refuses): measured, a
Flask request costs about 0.35 ms of CPU before the route does anything (request and app contexts,
routing, the session object, the response object and its header bookkeeping, ``after_request``),
which was a quarter of a phone's whole cost. This layer answers the one common shape of
``POST /api/vote`` itself:

- ``Content-Type: application/json``, a body within ``MAX_CONTENT_LENGTH`` that is a JSON object with
  a ``choice`` among the options, and a session cookie whose signature verifies (with the app's own
  serializer, keys and maximum age) and holds a voter id of the issued form;
- it calls the same :meth:`ShowState.vote` and answers with the same JSON (the app's JSON provider,
  compact, as ``jsonify``), the same status and ``Retry-After``, and the headers the app's
  ``after_request`` hooks put on an ``/api/`` answer (read from the app once, not restated here),
  plus ``Vary: Cookie`` as Flask adds for a session it read.

Anything else — another method, content type or path, a body that is not such an object, an unknown
choice, no or a bad cookie, debug mode — goes to Flask untouched (the body it read is handed on), so
every refusal keeps Flask's answer. An unexpected exception in the vote is answered by the app's own
error handlers, inside a request context, exactly as the route's would be.
``tests/test_hot_path.py`` compares this layer's answers with Flask's, byte for byte.
"""

from __future__ import annotations

import io
import re
from typing import Any, Callable, Iterable

from flask import Flask
from itsdangerous import BadSignature
from werkzeug.http import HTTP_STATUS_CODES, parse_cookie

VOTE_PATH = "/api/vote"
#: Exactly what the phone page issues (routes._issue_voter): anything else goes to Flask (a 403).
VOTER_FORM = re.compile(r"[0-9a-f]{32}")
VOTER_KEY = "voter"

StartResponse = Callable[..., Any]


class DirectVote:
    """WSGI middleware: ``POST /api/vote`` in its common shape answered directly; the rest by ``wsgi_app``."""

    def __init__(self, wsgi_app: Callable[[dict, StartResponse], Iterable[bytes]], app: Flask) -> None:
        self.wsgi_app = wsgi_app
        self.app = app
        self.answered = 0  # votes this layer answered itself (the tests check it is used)
        self._fixed_headers: list[tuple[str, str]] | None = None

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != VOTE_PATH or environ.get("REQUEST_METHOD") != "POST":
            return self.wsgi_app(environ, start_response)
        answer = self._answer(environ)
        if answer is None:
            return self.wsgi_app(environ, start_response)
        status, headers, body = answer
        start_response(status, headers)
        return [body]

    def _answer(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes] | None:
        app = self.app
        if app.debug or environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower() != "application/json":
            return None
        declared = environ.get("CONTENT_LENGTH") or ""
        limit = app.config["MAX_CONTENT_LENGTH"]
        if not declared.isdecimal() or (limit is not None and int(declared) > limit):
            return None  # Flask's 411/413 and chunked handling
        body = environ["wsgi.input"].read(int(declared))
        environ["wsgi.input"] = io.BytesIO(body)  # Flask reads it again if this layer passes
        voter = self._voter(environ)
        if voter is None:
            return None
        try:
            document = app.json.loads(body)
        except (ValueError, RecursionError):  # Flask's 400, with its own message
            return None
        state = app.extensions["reality"]
        if not isinstance(document, dict):
            return None
        choice = document.get("choice")
        if not isinstance(choice, str) or choice not in state.poll:
            return None
        try:
            outcome = state.vote(voter, choice)
            reply = {"message": outcome.message, "detail": outcome.detail, "status": outcome.status,
                     "choice": choice, "mode": state.mode, **outcome.extra}
            payload = (app.json.dumps(reply, separators=(",", ":")) + "\n").encode()
        except Exception as exc:  # the app's own error handlers answer it, as they would in the route
            return self._flask_error(environ, exc)
        # Werkzeug's status line, as Flask's answer has it ("201 CREATED").
        status = f"{outcome.status} {HTTP_STATUS_CODES.get(outcome.status, 'UNKNOWN').upper()}"
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
        if "retry_after" in outcome.extra:
            headers.append(("Retry-After", str(outcome.extra["retry_after"])))
        headers += self.fixed_headers()
        headers.append(("Vary", "Cookie"))  # Flask adds it to every answer whose session was read
        self.answered += 1
        return status, headers, payload

    def _voter(self, environ: dict[str, Any]) -> str | None:
        """The voter id in the request's session cookie, verified as Flask's session interface does."""
        app = self.app
        interface = app.session_interface
        serializer = interface.get_signing_serializer(app)
        cookie = parse_cookie(environ.get("HTTP_COOKIE", "")).get(interface.get_cookie_name(app))
        if serializer is None or not cookie:
            return None
        try:
            data = serializer.loads(cookie, max_age=int(app.permanent_session_lifetime.total_seconds()))
        except BadSignature:
            return None
        voter = data.get(VOTER_KEY) if isinstance(data, dict) else None
        return voter if isinstance(voter, str) and VOTER_FORM.fullmatch(voter) else None

    def fixed_headers(self) -> list[tuple[str, str]]:
        """The headers the app's ``after_request`` hooks add to an ``/api/vote`` answer (asked once)."""
        if self._fixed_headers is None:
            app = self.app
            with app.test_request_context(VOTE_PATH, method="POST"):
                probe = app.process_response(app.response_class("", mimetype="application/json"))
            skip = {"content-type", "content-length", "set-cookie", "vary"}
            self._fixed_headers = [(name, value) for name, value in probe.headers.items()
                                   if name.lower() not in skip]
        return self._fixed_headers

    def _flask_error(self, environ: dict[str, Any], exc: Exception) -> tuple[str, list[tuple[str, str]], bytes]:
        app = self.app
        environ["wsgi.input"].seek(0)
        with app.request_context(environ):
            response = app.finalize_request(app.handle_user_exception(exc))
        return response.status, list(response.headers.items()), response.get_data()
