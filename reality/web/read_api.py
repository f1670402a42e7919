"""The read API: results, health, the feed, the scene, the test run and the contract itself (anyone may read)."""

from __future__ import annotations

import json
from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, request

from ..events import missed_before
from .api import api_error, show

bp = Blueprint("read", __name__)

#: The HTTP contract as an OpenAPI 3.1 document (README.md, "HTTP contract"; tests/test_openapi.py fuzzes it).
OPENAPI_DOCUMENT = Path(__file__).with_name("openapi.json")


@bp.get("/api/results")
def results() -> Response:
    return jsonify(show().results())


@bp.get("/api/health")
def health() -> Response:
    return jsonify(show().health_document())


@bp.get("/api/feed")
def feed() -> Response:
    """Events after ``?since=<seq>``, oldest first (what the websocket pushes, for polling clients)."""
    raw = request.args.get("since", "0")
    # isdecimal, not isdigit ("²" is a digit int() refuses); 18 digits keep int() far from its limit.
    if not (raw.isascii() and raw.isdecimal() and len(raw) <= 18):
        return api_error(400, "since must be a sequence number (0 or more).")
    since = int(raw)
    held = show().bus.history(since)
    return jsonify(events=[event.to_dict() for event in held], gap=missed_before(held, since))


@bp.get("/api/scene")
def scene() -> Response:
    return jsonify(show().scenes.snapshot())


@bp.get("/api/tests")
def tests() -> Response:
    run = show().tests
    return jsonify(running=run.running, results=run.results, summary=run.summary)


@bp.get("/api/openapi.json")
def openapi() -> Response:
    """This contract, machine-readable: the document kept in the repository, with this show's options."""
    document = json.loads(OPENAPI_DOCUMENT.read_text(encoding="utf-8"))
    # The options are chosen at start (--options): only the running show knows the valid choices.
    document["components"]["schemas"]["Choice"]["enum"] = list(show().poll.options)
    # The cookie is named after the port (two shows on one host keep their own): say this show's name.
    for scheme in ("presenterSession", "voterCookie"):
        document["components"]["securitySchemes"][scheme]["name"] = current_app.config["SESSION_COOKIE_NAME"]
    return jsonify(document)
