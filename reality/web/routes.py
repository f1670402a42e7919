"""HTTP: the dashboard, the phone page, the vote API and the presenter's controls.

The contract (also in README.md, "HTTP contract"): every ``/api/`` answer is JSON with a human
``message`` where something went wrong; bad input gets a 4xx, never a 5xx.
"""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
from pathlib import Path
from typing import Any

from flask import (Blueprint, Response, current_app, jsonify, redirect, render_template, request, send_from_directory,
                   session, url_for)
from werkzeug.exceptions import HTTPException

from ..identities import address_key
from ..public_url import qr_svg
from . import presenter
from .cached_page import render_with_state
from .presenter import presenter_required
from .state import OwnVote, ShowError, ShowState

bp = Blueprint("show", __name__)

VOTER_KEY = "voter"
_VOTER_FORM = re.compile(r"[0-9a-f]{32}")
SOCKET_IO_CLIENT = "socket.io-client/dist/socket.io.min.js"
#: The HTTP contract as an OpenAPI 3.1 document (README.md, "HTTP contract"; tests/test_openapi.py fuzzes it).
OPENAPI_DOCUMENT = Path(__file__).with_name("openapi.json")


def _state() -> ShowState:
    return current_app.extensions["reality"]


def api_error(status: int, message: str, **extra: Any) -> Response:
    response = jsonify(message=message, status=status, **extra)
    response.status_code = status
    return response


def _voter_id() -> str | None:
    voter = session.get(VOTER_KEY)
    # Exactly what _ensure_voter issues: anything else (NUL characters, other text in a cookie signed
    # with a leaked key) is no identity, so a 403, never a database error.
    return voter if isinstance(voter, str) and _VOTER_FORM.fullmatch(voter) else None


def _issue_voter() -> str:
    """Give this browser a new voter identity: a random id in the signed session cookie."""
    voter = secrets.token_hex(16)
    session[VOTER_KEY] = voter
    session.permanent = True  # a phone that closes its browser is still the same voter
    return voter


def client_address() -> str:
    """The budget's key for this client: its address (from the proxy when BEHIND_PROXY, see create_app)."""
    return address_key(request.remote_addr)


def socket_client_available() -> bool:
    """Whether ``npm ci`` installed the Socket.IO client (checked once: pages ask on every load)."""
    known = current_app.extensions.get("reality.socket_client")
    if known is None:
        known = (Path(current_app.config["NODE_MODULES"]) / SOCKET_IO_CLIENT).is_file()
        current_app.extensions["reality.socket_client"] = known
    return known


def _page_state(**extra: Any) -> dict[str, Any]:
    """Initial data for a page (rendered with ``tojson`` into a non-executable JSON block)."""
    state = _state()
    return {
        "results": state.results(),
        "health": state.health_document(),
        "live": socket_client_available(),
        **extra,
    }


# -- pages -------------------------------------------------------------------------------------------

@bp.get("/")
def audience() -> Any:
    """The audience screen (the projector): no controls, no notes, no clocks. ``?token=`` logs in on the console."""
    token = request.args.get("token")
    if token is not None:
        return _log_in_from_query(token)
    state = _state()
    body = render_template("audience.html", poll=state.poll, phone_url=_phone_url(),
                           phone_url_warning=state.public.warning if state.public else None,
                           theme=state.theme, page_state=_page_state(scene=_audience_scene()))
    return current_app.make_response(body)


@bp.get("/presenter")
def presenter_console() -> Any:
    """The presenter's console (the laptop); the login form until the browser logs in."""
    token = request.args.get("token")
    if token is not None:
        return _log_in_from_query(token)
    if not presenter.session_is_presenter():
        refusal = presenter.Refusal(401, "Wrong presenter token.") if request.args.get("login") == "failed" else None
        return _login_page(refusal)
    state = _state()
    body = render_template("presenter.html", poll=state.poll, phone_url=_phone_url(),
                           page_state=_page_state(presenter=True, scene=state.scenes.snapshot(),
                                                  notes=[scene.notes for scene in state.scenes.scenes]))
    response = current_app.make_response(body)
    # Same-origin requests from this page (the logout form) then carry its Origin; with the default
    # "no-referrer" they would say "Origin: null", which /logout cannot tell from a hostile page.
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def _phone_url() -> str:
    state = _state()
    return state.public.url if state.public else request.host_url.rstrip("/") + "/qr"


def _audience_scene() -> dict[str, Any]:
    """The scene document (it never carries the presenter's notes: see SceneClock.snapshot)."""
    return _state().scenes.snapshot()


def _log_in_from_query(token: str) -> Any:
    """``/?token=…`` or ``/presenter?token=…``: log in, then land on the console without the token in the URL."""
    refusal = presenter.log_in(token)
    if refusal is None:
        return redirect(url_for("show.presenter_console"), code=303)
    return _login_page(refusal, status=429 if refusal.status == 429 else 401)


def _login_page(refusal: presenter.Refusal | None, status: int = 200) -> Any:
    state = _state()
    body = render_template("login.html", poll=state.poll, theme=state.theme, login_failed=refusal is not None,
                           login_error=refusal.message if refusal else "")
    response = current_app.make_response((body, status))
    if refusal is not None and refusal.retry_after:
        response.headers["Retry-After"] = str(refusal.retry_after)
    return response


@bp.post("/login")
def login() -> Any:
    refusal = presenter.log_in(request.form.get("token", ""))
    if refusal is None:
        return redirect(url_for("show.presenter_console"), code=303)
    if refusal.status == 429:
        return _login_page(refusal, status=429)
    return redirect(url_for("show.presenter_console", login="failed"), code=303)


@bp.post("/logout")
def logout() -> Any:
    """Log out, revoking every presenter session issued before; only from this show's own pages."""
    if not presenter.same_origin():
        return api_error(403, "Log out from the presenter console itself: this request comes from another site or port.")
    presenter.log_out()
    return redirect(url_for("show.presenter_console"), code=303)


@bp.get("/qr")
def phone() -> Any:
    """The phone page: big buttons, instant feedback, live results."""
    state = _state()
    voter = _voter_id()
    if voter is None:
        # Only a new identity costs from the address's budget; a phone reloading with its cookie is free.
        grant = state.new_identity(client_address())
        if not grant.allowed:
            return _too_many_new_phones(state, grant.retry_after)
        _issue_voter()
        own = OwnVote(known=True)  # a new phone has not voted: no query
    else:
        own = state.vote_of(voter)  # one indexed lookup (none while PostgreSQL is known down)
    # A phone needs the tally, its own vote and whether live updates work; nothing else (this page is
    # the hot path: Jinja renders it once per variant, see cached_page.py).
    page_state = {"results": state.results(), "live": socket_client_available(), "my_vote": own.to_dict()}
    return render_with_state("phone.html", page_state, vary=(page_state["results"]["voting_open"], page_state["live"]),
                             poll=state.poll)


def _too_many_new_phones(state: ShowState, retry_after: int) -> Response:
    budget = state.identities
    detail = (f"Each network address gets {budget.burst} new voter identities at once, then "
              f"{budget.per_minute} a minute, so that a script cannot stuff the ballot by fetching fresh "
              "cookies.")
    response = Response(render_template("error.html", message="Too many new phones from your network right now.",
                                        detail=detail, refresh=retry_after), status=429)
    response.headers["Retry-After"] = str(retry_after)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/qr.svg")
def qr_code() -> Response:
    """The QR code of the phone URL (what the dashboard shows)."""
    response = Response(qr_svg(_phone_url()), mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/vendor/socket.io.min.js")
def socket_io_client() -> Any:
    """The Socket.IO browser client, installed from npm (``npm ci``) into node_modules/."""
    if not socket_client_available():
        return api_error(404, "The Socket.IO client is not installed: run `npm ci`. Pages fall back to polling.")
    return send_from_directory(current_app.config["NODE_MODULES"], SOCKET_IO_CLIENT, mimetype="text/javascript",
                               max_age=3600)


# -- votes and reading -------------------------------------------------------------------------------

@bp.post("/api/vote")
def vote() -> Response:
    """``{"choice": "<option>"}`` → 201, 409 (already voted), 423 (closed), 429 (slow down), 4xx, 503 (no database)."""
    state = _state()
    if not request.is_json:
        return api_error(415, "Send the vote as JSON (Content-Type: application/json).")
    body = _parse_json()
    if body is None:
        return api_error(400, 'The body is not valid JSON: send {"choice": "<one of the options>"}.')
    if not isinstance(body, dict) or "choice" not in body:
        return api_error(400, 'Say what you vote for: {"choice": "<one of the options>"}.')
    choice = body["choice"]
    if not isinstance(choice, str) or choice not in state.poll:
        return api_error(400, "Unknown choice: pick one of " + ", ".join(state.poll.options) + ".",
                         options=list(state.poll.options))
    voter = _voter_id()
    if voter is None:
        return api_error(403, "No voter identity: open the phone page (/qr) first, with cookies enabled.")
    outcome = state.vote(voter, choice)
    response = jsonify(message=outcome.message, detail=outcome.detail, status=outcome.status, choice=choice,
                       mode=state.mode, **outcome.extra)
    response.status_code = outcome.status
    if "retry_after" in outcome.extra:
        response.headers["Retry-After"] = str(outcome.extra["retry_after"])
    return response


@bp.get("/api/my-vote")
def my_vote() -> Response:
    """This phone's stored vote (by its cookie): ``{"known": true, "choice": "Go"|null}``; 503 when it cannot be looked up."""
    voter = _voter_id()
    own = _state().vote_of(voter) if voter is not None else OwnVote(known=True)
    if not own.known:
        response = api_error(503, "PostgreSQL does not answer: this phone's vote cannot be looked up right now.",
                             **own.to_dict())
        response.headers["Retry-After"] = "2"
        return response
    return jsonify(own.to_dict())


@bp.get("/api/results")
def results() -> Response:
    return jsonify(_state().results())


@bp.get("/api/health")
def health() -> Response:
    return jsonify(_state().health_document())


@bp.get("/api/feed")
def feed() -> Response:
    """Events after ``?since=<seq>``, oldest first (what the websocket pushes, for polling clients)."""
    raw = request.args.get("since", "0")
    # isdecimal, not isdigit ("²" is a digit int() refuses); 18 digits keep int() far from its limit.
    if not (raw.isascii() and raw.isdecimal() and len(raw) <= 18):
        return api_error(400, "since must be a sequence number (0 or more).")
    since = int(raw)
    held = _state().bus.history(since)
    gap = max(0, held[0].seq - since - 1) if held and since > 0 else 0
    return jsonify(events=[event.to_dict() for event in held], gap=gap)


@bp.get("/api/scene")
def scene() -> Response:
    return jsonify(_state().scenes.snapshot())


@bp.get("/api/tests")
def tests() -> Response:
    run = _state().tests
    return jsonify(running=run.running, results=run.results, summary=run.summary)


@bp.get("/api/openapi.json")
def openapi() -> Response:
    """This contract, machine-readable: the document kept in the repository, with this show's options."""
    document = json.loads(OPENAPI_DOCUMENT.read_text(encoding="utf-8"))
    # The options are chosen at start (--options): only the running show knows the valid choices.
    document["components"]["schemas"]["Choice"]["enum"] = list(_state().poll.options)
    # The cookie is named after the port (two shows on one host keep their own): say this show's name.
    for scheme in ("presenterSession", "voterCookie"):
        document["components"]["securitySchemes"][scheme]["name"] = current_app.config["SESSION_COOKIE_NAME"]
    return jsonify(document)


# -- presenter ---------------------------------------------------------------------------------------

def _parse_json() -> Any:
    """The request's JSON body, or None when it is not valid JSON (in UTF-8, UTF-16 or UTF-32)."""
    try:
        return request.get_json(silent=True)
    except RecursionError:  # "[[[[…" nested past Python's limit is not a ValueError: still bad input
        return None


def _json_object() -> dict[str, Any]:
    if not request.is_json:
        raise ShowError(415, "Send JSON (Content-Type: application/json).")
    body = _parse_json()
    if not isinstance(body, dict):
        raise ShowError(400, "The body must be a JSON object.")
    return body


def _json_flag(field: str) -> bool:
    """The boolean ``field`` of a presenter's JSON body (a switch: rate limit, voting, results)."""
    value = _json_object().get(field)
    if not isinstance(value, bool):
        raise ShowError(400, f'Send {{"{field}": true}} or {{"{field}": false}}.')
    return value


def _done(message: str, **extra: Any) -> Response:
    return jsonify(message=message, status=200, **extra)


@bp.post("/api/presenter/rate-limit")
@presenter_required
def presenter_rate_limit() -> Response:
    enabled = _json_flag("enabled")
    return _done(_state().set_rate_limit(enabled), enabled=enabled)


@bp.post("/api/presenter/chaos")
@presenter_required
def presenter_chaos() -> Response:
    target = _json_object().get("target")
    return _done(_state().chaos(target), target=target)


@bp.post("/api/presenter/recover")
@presenter_required
def presenter_recover() -> Response:
    target = _json_object().get("target")
    message, kept = _state().recover(target)
    return _done(message, target=target, data_kept=kept)


@bp.post("/api/presenter/reset")
@presenter_required
def presenter_reset() -> Response:
    return _done(_state().reset())


@bp.post("/api/presenter/mode")
@presenter_required
def presenter_mode() -> Response:
    mode = _json_object().get("mode")
    return _done(_state().set_mode(mode), mode=mode)


@bp.post("/api/presenter/tests")
@presenter_required
def presenter_tests() -> Response:
    response = _done(_state().run_tests())
    response.status_code = 202
    return response


@bp.post("/api/presenter/scene")
@presenter_required
def presenter_scene() -> Response:
    body = _json_object()
    action = body.get("action")
    if not isinstance(action, str):
        raise ShowError(400, 'Send {"action": "next"} (or previous, goto with index, start, pause, restart).')
    if "index" in body and (not isinstance(body["index"], int) or isinstance(body["index"], bool)):
        raise ShowError(400, "index must be an integer (the scene to go to).")
    try:
        _state().scenes.apply(action, body.get("index"))
    except ValueError as exc:
        raise ShowError(400, str(exc)) from exc
    return _done("Scene changed.", scene=_state().scenes.snapshot())


@bp.post("/api/presenter/voting")
@presenter_required
def presenter_voting() -> Response:
    voting_open = _json_flag("open")
    return _done(_state().set_voting(voting_open), voting_open=voting_open)


@bp.post("/api/presenter/results")
@presenter_required
def presenter_results() -> Response:
    visible = _json_flag("visible")
    return _done(_state().set_results_visible(visible), results_visible=visible)


@bp.post("/api/presenter/theme")
@presenter_required
def presenter_theme() -> Response:
    theme = _json_object().get("theme")
    return _done(_state().set_theme(theme), theme=theme)


@bp.get("/api/presenter/identities")
@presenter_required
def presenter_identities() -> Response:
    """New voter identities per client address (top 10) and a warning when one takes a large share."""
    return jsonify(_state().identities_report())


@bp.get("/api/presenter/export.csv")
@presenter_required
def presenter_export() -> Response:
    """Every vote as CSV: phone (a short anonymous label), choice, time."""
    rows = _state().export_rows()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["phone", "choice", "cast_at"])
    for row in rows:
        writer.writerow([_csv_safe(cell) for cell in row])
    response = Response(buffer.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = "attachment; filename=reality-engine-votes.csv"
    return response


def _csv_safe(cell: str) -> str:
    # A cell starting with = + - @ is a formula to a spreadsheet; options are free text.
    return "'" + cell if cell[:1] in ("=", "+", "-", "@") else cell


# -- errors and headers ------------------------------------------------------------------------------

@bp.app_errorhandler(ShowError)
def show_error(exc: ShowError) -> Response:
    return api_error(exc.status, exc.message)


@bp.app_errorhandler(HTTPException)
def http_error(exc: HTTPException) -> Any:
    messages = {
        400: "Bad request.",
        404: "Nothing here. The dashboard is at /, the phone page at /qr.",
        405: "That method is not allowed here.",
        413: "Too large: a vote is a few bytes of JSON.",
        415: "Unsupported content type: send JSON.",
    }
    message = messages.get(exc.code or 500, exc.description or "Error.")
    if request.path.startswith("/api/") or exc.code != 404:
        response = api_error(exc.code or 500, message)
        # werkzeug's own headers say what to do next: Allow on a 405 (required by RFC 9110), Retry-After.
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response
    return render_template("error.html", message=message), exc.code


@bp.app_errorhandler(Exception)
def unexpected_error(exc: Exception) -> Any:
    current_app.logger.exception("unexpected error on %s", request.path)
    return api_error(500, "Something went wrong on the server: the presenter can see it in the terminal.")


@bp.after_app_request
def security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy",
                       "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                       "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Frame-Options", "DENY")
    if request.path.startswith("/api/"):
        headers.setdefault("Cache-Control", "no-store")
    return response
