"""A phone's requests answered without Flask's per-request machinery: the same contract, less work.

    app.wsgi_app = DirectPhoneRequests(app.wsgi_app, app)    # create_app does this

Every phone in the room opens ``/qr`` and votes at least twice (the vote, and the second vote
PostgreSQL refuses): measured, a Flask request costs about 0.35 ms of CPU before the route does
anything (request and app contexts, routing, the session object, the response object and its
header bookkeeping, ``after_request``), which was a quarter of a phone's whole cost. This layer
answers the common shape of those two requests itself, calling the same :class:`ShowState` methods
the routes call.

``POST /api/vote``:

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

``GET /qr`` (the phone page), as the route does it: a phone with a valid voter cookie gets its page
with its own vote; a phone without the show's cookie gets a new identity from its address's budget
(:meth:`ShowState.new_identity`) and its cookie, signed by the app's session serializer with the
attributes Flask's session interface gives it. The page is the cached split of ``phone.html``
(:mod:`.cached_page`). Left to Flask: a cookie that does not verify or holds no voter (a presenter's
browser, an old key: Flask reads those its own way), an address whose budget is spent (Flask refuses
it, counts it once and answers its 429 page; the budget is only looked at here), and the very first
page (it learns whether the Socket.IO client is installed).

``tests/test_hot_path.py`` compares this layer's answers with Flask's.
"""

from __future__ import annotations

import io
from typing import Any, Callable, Iterable

from flask import Flask
from itsdangerous import BadSignature
from werkzeug.http import HTTP_STATUS_CODES, dump_cookie, parse_cookie

from ..identities import address_key
from .cached_page import cached_halves, render_with_state, state_json
from .pages import SOCKET_CLIENT_KNOWN
from .vote_api import vote_reply
from .voters import VOTER_KEY, new_voter, valid_voter

VOTE_PATH = "/api/vote"
PHONE_PATH = "/qr"
PHONE_TEMPLATE = "phone.html"

StartResponse = Callable[..., Any]
Answer = tuple[str, list[tuple[str, str]], bytes]


class DirectPhoneRequests:
    """WSGI middleware: ``POST /api/vote`` and ``GET /qr`` in their common shapes answered directly; the rest by ``wsgi_app``."""

    def __init__(self, wsgi_app: Callable[[dict, StartResponse], Iterable[bytes]], app: Flask) -> None:
        self.wsgi_app = wsgi_app
        self.app = app
        self.answered = 0  # votes this layer answered itself (the tests check it is used)
        self.pages = 0  # phone pages this layer answered itself
        self._fixed_headers: dict[str, list[tuple[str, str]]] = {}

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO"), environ.get("REQUEST_METHOD")
        if path == VOTE_PATH and method == "POST":
            answer = self._vote(environ)
        elif path == PHONE_PATH and method == "GET":
            answer = self._phone_page(environ)
        else:
            answer = None
        if answer is None:
            return self.wsgi_app(environ, start_response)
        status, headers, body = answer
        start_response(status, headers)
        return [body]

    def _vote(self, environ: dict[str, Any]) -> Answer | None:
        app = self.app
        if app.debug or environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower() != "application/json":
            return None
        declared = environ.get("CONTENT_LENGTH") or ""
        limit = app.config["MAX_CONTENT_LENGTH"]
        if not declared.isdecimal() or len(declared) > 18 or (limit is not None and int(declared) > limit):
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
            # The choice and the voter were checked above: the answer is one a counted vote gets.
            answer = state.vote(voter, choice)
            code, reply = vote_reply(answer, choice, state.mode)
            payload = (app.json.dumps(reply, separators=(",", ":")) + "\n").encode()
        except Exception as exc:  # the app's own error handlers answer it, as they would in the route
            return self._flask_error(environ, exc)
        # Werkzeug's status line, as Flask's answer has it ("201 CREATED").
        status = f"{code} {HTTP_STATUS_CODES.get(code, 'UNKNOWN').upper()}"
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
        if answer.retry_after is not None:
            headers.append(("Retry-After", str(answer.retry_after)))
        headers += self.fixed_headers(VOTE_PATH, "POST", "application/json")
        headers.append(("Vary", "Cookie"))  # Flask adds it to every answer whose session was read
        self.answered += 1
        return status, headers, payload

    def _phone_page(self, environ: dict[str, Any]) -> Answer | None:
        app = self.app
        live = app.extensions.get(SOCKET_CLIENT_KNOWN)
        if app.debug or live is None:
            return None
        interface = app.session_interface
        cookie = parse_cookie(environ.get("HTTP_COOKIE", "")).get(interface.get_cookie_name(app))
        voter = self._voter(environ) if cookie else None
        if cookie and voter is None:
            return None  # a session Flask reads its own way
        state = app.extensions["reality"]
        set_cookie = None
        if voter is None:
            address = address_key(environ.get("REMOTE_ADDR"))
            # Only a new identity costs from the address's budget. A spent budget is Flask's to refuse,
            # with its page: looking does not spend or count anything.
            if not state.identities.available(address):
                return None
            grant = state.new_identity(address)
            if not grant.allowed:  # another thread took the last one meanwhile (threading mode only)
                return None
            session = interface.session_class()
            session[VOTER_KEY] = voter = new_voter()  # as voters.issue_voter
            session.permanent = True
            set_cookie = self._cookie(environ, session)
            own = {"known": True, "choice": None}  # a new phone has not voted: no query
        else:
            own = state.vote_of(voter).to_dict()
        page_state = {"results": state.results(), "live": live, "my_vote": own}
        vary = (page_state["results"]["voting_open"], live)
        halves = cached_halves(app, PHONE_TEMPLATE, vary, environ.get("SCRIPT_NAME", ""), poll=state.poll)
        if halves is not None:
            page = halves[0] + state_json(app, page_state) + halves[1]
        else:  # this variant not rendered yet: Jinja renders (and caches) it in a request context
            with app.request_context(environ):
                page = render_with_state(PHONE_TEMPLATE, page_state, vary=vary, poll=state.poll)
        body = page.encode()
        headers = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))]
        headers += self.fixed_headers(PHONE_PATH, "GET", "text/html")
        headers.append(("Vary", "Cookie"))
        if set_cookie is not None:
            headers.append(("Set-Cookie", set_cookie))
        self.pages += 1
        return "200 OK", headers, body

    def _cookie(self, environ: dict[str, Any], session: Any) -> str:
        """The Set-Cookie value Flask's session interface would send for ``session`` on this request."""
        app = self.app
        interface = app.session_interface
        return dump_cookie(
            interface.get_cookie_name(app), interface.get_signing_serializer(app).dumps(dict(session)),
            expires=interface.get_expiration_time(app, session), path=interface.get_cookie_path(app),
            domain=interface.get_cookie_domain(app), secure=interface.secure_for(environ),
            httponly=interface.get_cookie_httponly(app), max_size=app.config["MAX_COOKIE_SIZE"],
            samesite=interface.get_cookie_samesite(app), partitioned=interface.get_cookie_partitioned(app))

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
        # Anything but what the phone page issues goes to Flask (its 403).
        return valid_voter(data.get(VOTER_KEY)) if isinstance(data, dict) else None

    def fixed_headers(self, path: str, method: str, mimetype: str) -> list[tuple[str, str]]:
        """The headers the app's ``after_request`` hooks add to an answer on ``path`` (asked once)."""
        known = self._fixed_headers.get(path)
        if known is None:
            app = self.app
            with app.test_request_context(path, method=method):
                probe = app.process_response(app.response_class("", mimetype=mimetype))
            skip = {"content-type", "content-length", "set-cookie", "vary"}
            known = self._fixed_headers[path] = [(name, value) for name, value in probe.headers.items()
                                                 if name.lower() not in skip]
        return known

    def _flask_error(self, environ: dict[str, Any], exc: Exception) -> Answer:
        app = self.app
        environ["wsgi.input"].seek(0)
        with app.request_context(environ):
            response = app.finalize_request(app.handle_user_exception(exc))
        return response.status, list(response.headers.items()), response.get_data()
