"""What every answer shares: JSON errors, the request's JSON body, error handlers and security headers.

The contract (also in README.md, "HTTP contract"): every ``/api/`` answer is JSON with a human
``message`` where something went wrong; bad input gets a 4xx, never a 5xx. The show's objects answer
in values (:mod:`.answers`); the status code each of them means is written here and in :mod:`.vote_api`.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from .answers import ActionRefused, Obstacle
from .state import ShowState

#: What an obstacle to a presenter action means in HTTP.
OBSTACLE_STATUS = {Obstacle.BAD_INPUT: 400, Obstacle.NOT_NOW: 409, Obstacle.SERVICE_DOWN: 503}


class BadBody(Exception):
    """The request's body is not what the endpoint takes (415: not JSON; 400: not the right JSON)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def show() -> ShowState:
    """This app's live show (made by ``create_app``)."""
    return current_app.extensions["reality"]


def api_error(status: int, message: str, **extra: Any) -> Response:
    response = jsonify(message=message, status=status, **extra)
    response.status_code = status
    return response


def parse_json() -> Any:
    """The request's JSON body, or None when it is not valid JSON (in UTF-8, UTF-16 or UTF-32)."""
    try:
        return request.get_json(silent=True)
    except RecursionError:  # "[[[[…" nested past Python's limit is not a ValueError: still bad input
        return None


def json_object() -> dict[str, Any]:
    if not request.is_json:
        raise BadBody(415, "Send JSON (Content-Type: application/json).")
    body = parse_json()
    if not isinstance(body, dict):
        raise BadBody(400, "The body must be a JSON object.")
    return body


def json_flag(field: str) -> bool:
    """The boolean ``field`` of a presenter's JSON body (a switch: rate limit, voting, results)."""
    value = json_object().get(field)
    if not isinstance(value, bool):
        raise BadBody(400, f'Send {{"{field}": true}} or {{"{field}": false}}.')
    return value


# -- errors and headers ------------------------------------------------------------------------------

def action_refused(exc: ActionRefused) -> Response:
    return api_error(OBSTACLE_STATUS[exc.why], exc.message)


def bad_body(exc: BadBody) -> Response:
    return api_error(exc.status, exc.message)


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


def unexpected_error(exc: Exception) -> Any:
    current_app.logger.exception("unexpected error on %s", request.path)
    return api_error(500, "Something went wrong on the server: the presenter can see it in the terminal.")


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


def init_app(app: Flask) -> None:
    """Register the error handlers and the security headers on ``app``."""
    app.register_error_handler(ActionRefused, action_refused)
    app.register_error_handler(BadBody, bad_body)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, unexpected_error)
    app.after_request(security_headers)
