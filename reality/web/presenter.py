"""Who may press the buttons: the presenter, proven by a token.

Scripts send ``Authorization: Bearer <token>``. A browser logs in once (``/?token=…`` or the login
form); the signed session then carries a fingerprint of the token, so a changed token logs everyone
out. Browser requests authorized by the session must be JSON, which a cross-site form cannot send
without the browser asking first (and the cookie is SameSite=Lax anyway). Comparisons are
constant-time.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from typing import Any, Callable, Mapping

from flask import current_app, jsonify, request, session

SESSION_KEY = "presenter"


def token_matches(given: object, expected: str) -> bool:
    """Constant-time comparison of a presented token with the real one."""
    if not isinstance(given, str) or not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8"))


def fingerprint(token: str, secret: str | bytes) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()[:32]


def _expected() -> str:
    return current_app.config["PRESENTER_TOKEN"]


def session_is_presenter(session_data: Mapping[str, Any] | None = None) -> bool:
    """True when the (Flask or Socket.IO) session was logged in with the current token."""
    data = session if session_data is None else session_data
    stored = data.get(SESSION_KEY)
    wanted = fingerprint(_expected(), current_app.secret_key)
    return isinstance(stored, str) and hmac.compare_digest(stored, wanted)


def log_in(token: object) -> bool:
    """Mark this browser's session as the presenter's when ``token`` is right."""
    if not token_matches(token, _expected()):
        return False
    session[SESSION_KEY] = fingerprint(_expected(), current_app.secret_key)
    return True


def log_out() -> None:
    session.pop(SESSION_KEY, None)


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def check_request() -> tuple[int, str] | None:
    """``None`` when this request comes from the presenter, else (status, message)."""
    token = bearer_token()
    if token is not None:
        if token_matches(token, _expected()):
            return None
        return 403, "Wrong presenter token."
    if request.headers.get("Authorization"):
        return 401, "Use “Authorization: Bearer <token>” with the presenter token printed at start."
    if session_is_presenter():
        # A state-changing request riding on the session cookie must be JSON (see the module docstring).
        if request.method not in ("GET", "HEAD") and not request.is_json:
            return 403, "Presenter actions from a browser must be sent as JSON."
        return None
    return 401, ("Presenter only: send “Authorization: Bearer <token>” (printed when the show started), "
                 "or log in on the dashboard.")


def presenter_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse the view with 401/403 JSON unless the presenter sent the request; nothing else runs."""

    @functools.wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        refusal = check_request()
        if refusal is not None:
            status, message = refusal
            response = jsonify(message=message, status=status)
            response.status_code = status
            if status == 401:
                response.headers["WWW-Authenticate"] = 'Bearer realm="reality-engine presenter"'
            return response
        return view(*args, **kwargs)

    return guarded
