"""The pages: the audience screen, the presenter's console and its login, the phone page, the QR code.

The blueprint is named ``show`` (the templates link to ``show.audience``, ``show.phone`` …).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, redirect, render_template, request, send_from_directory, url_for

from . import presenter
from .api import api_error, show
from .ballot import OwnVote
from .cached_page import render_with_state
from .qr import qr_svg
from .state import ShowState
from .voters import client_address, issue_voter, voter_id

bp = Blueprint("show", __name__)

SOCKET_IO_CLIENT = "socket.io-client/dist/socket.io.min.js"
#: Where the app keeps whether ``npm ci`` installed the Socket.IO client (see socket_client_available).
SOCKET_CLIENT_KNOWN = "reality.socket_client"


def socket_client_available() -> bool:
    """Whether ``npm ci`` installed the Socket.IO client (checked once: pages ask on every load)."""
    known = current_app.extensions.get(SOCKET_CLIENT_KNOWN)
    if known is None:
        known = (Path(current_app.config["NODE_MODULES"]) / SOCKET_IO_CLIENT).is_file()
        current_app.extensions[SOCKET_CLIENT_KNOWN] = known
    return known


def _page_state(**extra: Any) -> dict[str, Any]:
    """Initial data for a page (rendered with ``tojson`` into a non-executable JSON block)."""
    state = show()
    return {
        "results": state.results(),
        "health": state.health_document(),
        "live": socket_client_available(),
        **extra,
    }


@bp.get("/")
def audience() -> Any:
    """The audience screen (the projector): no controls, no notes, no clocks. ``?token=`` logs in on the console."""
    token = request.args.get("token")
    if token is not None:
        return _log_in_from_query(token)
    state = show()
    # The scene document never carries the presenter's notes (see SceneClock.snapshot).
    body = render_template("audience.html", poll=state.poll, phone_url=_phone_url(),
                           phone_url_warning=state.public.warning if state.public else None,
                           theme=state.theme, page_state=_page_state(scene=state.scenes.snapshot()))
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
    state = show()
    body = render_template("presenter.html", poll=state.poll, phone_url=_phone_url(),
                           page_state=_page_state(presenter=True, scene=state.scenes.snapshot(),
                                                  notes=[scene.notes for scene in state.scenes.scenes]))
    response = current_app.make_response(body)
    # Same-origin requests from this page (the logout form) then carry its Origin; with the default
    # "no-referrer" they would say "Origin: null", which /logout cannot tell from a hostile page.
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def _phone_url() -> str:
    state = show()
    return state.public.url if state.public else request.host_url.rstrip("/") + "/qr"


def _log_in_from_query(token: str) -> Any:
    """``/?token=…`` or ``/presenter?token=…``: log in, then land on the console without the token in the URL."""
    refusal = presenter.log_in(token)
    if refusal is None:
        return redirect(url_for("show.presenter_console"), code=303)
    return _login_page(refusal, status=429 if refusal.status == 429 else 401)


def _login_page(refusal: presenter.Refusal | None, status: int = 200) -> Any:
    state = show()
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
    state = show()
    voter = voter_id()
    if voter is None:
        # Only a new identity costs from the address's budget; a phone reloading with its cookie is free.
        grant = state.new_identity(client_address())
        if not grant.allowed:
            return _too_many_new_phones(state, grant.retry_after)
        issue_voter()
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
    identities = "identity" if budget.burst == 1 else "identities"
    detail = (f"Each network address gets {budget.burst} new voter {identities} at once, then "
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
