"""Who may press the buttons: the presenter, proven by a token.

Scripts send ``Authorization: Bearer <token>``. A browser logs in once (``/?token=…`` or the login
form); the signed session then carries a proof: an HMAC of the token and the server's session
*generation*. Logging out bumps the generation, so every session issued before — a copy of the
cookie included, and a dashboard socket — stops being the presenter's; a changed token does the
same. Browser requests authorized by the session must be JSON, which a cross-site form cannot send
without the browser asking first (and the cookie is SameSite=Lax anyway); ``/logout``, a plain
form, checks that it comes from this show's own page instead. Comparisons are constant-time.

Guessing is throttled per client address: after 10 wrong tokens in a minute (Bearer header, login
form, ``/?token=`` or a socket's ``auth``), every token try from that address — the right one too —
gets 429 with ``Retry-After`` until the oldest failure is a minute old.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import urlsplit

from flask import Response, current_app, jsonify, request, session
from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

SESSION_KEY = "presenter"
#: Wrong tokens allowed per client address in a moving minute before every try is refused.
FAILURES_PER_MINUTE = 10


@dataclass(frozen=True)
class Refusal:
    """Why a request is not the presenter's: an HTTP status, a message, and when to retry (429)."""

    status: int
    message: str
    retry_after: int = 0


class LoginThrottle:
    """Wrong presenter tokens counted per client address in a moving window (a minute by default)."""

    def __init__(self, failures: int = FAILURES_PER_MINUTE, window_s: int = 60) -> None:
        self.item = RateLimitItemPerSecond(failures, window_s)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def retry_after(self, address: str) -> int:
        """Seconds until ``address`` may try a token again; 0 when it may now."""
        if self._limiter.test(self.item, address):
            return 0
        reset_at = self._limiter.get_window_stats(self.item, address).reset_time
        return max(1, math.ceil(reset_at - time.time()))

    def failed(self, address: str) -> None:
        self._limiter.hit(self.item, address)


class PresenterSessions:
    """The server-side half of presenter sessions: the generation every valid session carries.

    The generation starts at a random value per run, so a restart (even with the same
    ``REALITY_SECRET_KEY``) brings no revoked session back: the presenter logs in again.
    """

    def __init__(self) -> None:
        self.generation = secrets.randbits(48)
        self.throttle = LoginThrottle()
        self._lock = threading.Lock()

    def revoke_all(self) -> None:
        with self._lock:
            self.generation += 1


def token_matches(given: object, expected: str) -> bool:
    """Constant-time comparison of a presented token with the real one."""
    if not isinstance(given, str) or not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8"))


def fingerprint(token: str, secret: str | bytes, generation: int = 0) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, f"{generation}:{token}".encode(), hashlib.sha256).hexdigest()[:32]


def sessions() -> PresenterSessions:
    """This app's presenter sessions (made on first use)."""
    extensions = current_app.extensions
    if "reality.presenter" not in extensions:
        extensions["reality.presenter"] = PresenterSessions()
    return extensions["reality.presenter"]


def _expected() -> str:
    return current_app.config["PRESENTER_TOKEN"]


def _proof() -> str:
    return fingerprint(_expected(), current_app.secret_key, sessions().generation)


def client_address() -> str:
    # Behind a trusted proxy, ProxyFix has already put the real client here.
    return request.remote_addr or "unknown"


def session_is_presenter(session_data: Mapping[str, Any] | None = None) -> bool:
    """True when the (Flask or Socket.IO) session was logged in with the current token and generation."""
    data = session if session_data is None else session_data
    stored = data.get(SESSION_KEY)
    return isinstance(stored, str) and hmac.compare_digest(stored, _proof())


def try_token(token: object) -> Refusal | None:
    """``None`` when ``token`` is the presenter's; a 429 while this address is throttled, else a 403.

    Every wrong token counts against the address; while it is throttled, no token is even compared.
    """
    throttle = sessions().throttle
    address = client_address()
    wait = throttle.retry_after(address)
    if wait:
        return Refusal(429, f"Too many wrong presenter tokens from this address: try again in {wait} s.", wait)
    if token_matches(token, _expected()):
        return None
    throttle.failed(address)
    return Refusal(403, "Wrong presenter token.")


def log_in(token: object) -> Refusal | None:
    """Mark this browser's session as the presenter's when ``token`` is right (see :func:`try_token`)."""
    refusal = try_token(token)
    if refusal is None:
        session[SESSION_KEY] = _proof()
    return refusal


def grant(session_data: dict[str, Any]) -> None:
    """Give a (socket) session the current proof, after :func:`try_token` accepted its token."""
    session_data[SESSION_KEY] = _proof()


def log_out() -> None:
    """Log this browser out and revoke every presenter session issued before (copies of cookies too)."""
    sessions().revoke_all()
    session.pop(SESSION_KEY, None)


def same_origin() -> bool:
    """Whether this request's Origin (or Referer) is this show: same host and port as the request.

    A page on another port of the same host is another origin, though cookies ignore ports; a
    request that names no origin at all is refused too (our own pages always send one).
    """
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        origin = request.headers.get("Referer")
    if not origin:
        return False
    try:
        claimed = urlsplit(origin).netloc.lower()
    except ValueError:
        return False
    forwarded = request.headers.get("X-Forwarded-Host", "").split(",")[0].strip().lower()
    state = current_app.extensions.get("reality")
    public = getattr(getattr(state, "public", None), "origin", None)
    known = {request.host.lower(), forwarded, urlsplit(public).netloc.lower() if public else ""} - {""}
    return claimed in known


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def check_request() -> Refusal | None:
    """``None`` when this request comes from the presenter, else why not."""
    token = bearer_token()
    if token is not None:
        return try_token(token)
    if request.headers.get("Authorization"):
        return Refusal(401, "Use “Authorization: Bearer <token>” with the presenter token printed at start.")
    if session_is_presenter():
        # A state-changing request riding on the session cookie must be JSON (see the module docstring).
        if request.method not in ("GET", "HEAD") and not request.is_json:
            return Refusal(403, "Presenter actions from a browser must be sent as JSON.")
        return None
    return Refusal(401, "Presenter only: send “Authorization: Bearer <token>” (printed when the show started), "
                   "or log in on the dashboard.")


def refuse_unless_presenter() -> Response | None:
    """The presenter API's one guard (a ``before_request``): 401/403/429 JSON unless the presenter sent it.

    ``None`` lets the request through; a response ends it before any view runs. Flask's automatic
    ``OPTIONS`` answer (the allowed methods, no view) is not an action: it stays open, as it always was.
    """
    if request.method == "OPTIONS":
        return None
    refusal = check_request()
    if refusal is None:
        return None
    response = jsonify(message=refusal.message, status=refusal.status)
    response.status_code = refusal.status
    if refusal.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="reality-engine presenter"'
    if refusal.retry_after:
        response.headers["Retry-After"] = str(refusal.retry_after)
    return response
