"""The presenter's API under ``/api/presenter/``: one guard for the whole blueprint, then the actions.

Every request here is checked by :func:`.presenter.refuse_unless_presenter` before any view runs
(401/403/429 JSON otherwise); the show's refusals (:class:`~.answers.ActionRefused`) become HTTP
in :mod:`.api`.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Blueprint, Response, jsonify

from . import presenter
from .api import BadBody, json_flag, json_object, show

bp = Blueprint("presenter_api", __name__, url_prefix="/api/presenter")
bp.before_request(presenter.refuse_unless_presenter)


def _done(message: str, **extra: Any) -> Response:
    return jsonify(message=message, status=200, **extra)


@bp.post("/rate-limit")
def rate_limit() -> Response:
    enabled = json_flag("enabled")
    return _done(show().set_rate_limit(enabled), enabled=enabled)


@bp.post("/chaos")
def chaos() -> Response:
    target = json_object().get("target")
    return _done(show().chaos.kill(target), target=target)


@bp.post("/recover")
def recover() -> Response:
    target = json_object().get("target")
    message, kept = show().chaos.recover(target)
    return _done(message, target=target, data_kept=kept)


@bp.post("/reset")
def reset() -> Response:
    return _done(show().reset())


@bp.post("/mode")
def mode() -> Response:
    mode = json_object().get("mode")
    return _done(show().set_mode(mode), mode=mode)


@bp.post("/tests")
def tests() -> Response:
    response = _done(show().run_tests())
    response.status_code = 202
    return response


@bp.post("/scene")
def scene() -> Response:
    body = json_object()
    action = body.get("action")
    if not isinstance(action, str):
        raise BadBody(400, 'Send {"action": "next"} (or previous, goto with index, start, pause, restart).')
    if "index" in body and (not isinstance(body["index"], int) or isinstance(body["index"], bool)):
        raise BadBody(400, "index must be an integer (the scene to go to).")
    try:
        show().scenes.apply(action, body.get("index"))
    except ValueError as exc:
        raise BadBody(400, str(exc)) from exc
    return _done("Scene changed.", scene=show().scenes.snapshot())


@bp.post("/voting")
def voting() -> Response:
    voting_open = json_flag("open")
    return _done(show().set_voting(voting_open), voting_open=voting_open)


@bp.post("/results")
def results() -> Response:
    visible = json_flag("visible")
    return _done(show().set_results_visible(visible), results_visible=visible)


@bp.post("/theme")
def theme() -> Response:
    theme = json_object().get("theme")
    return _done(show().set_theme(theme), theme=theme)


@bp.get("/identities")
def identities() -> Response:
    """New voter identities per client address (top 10) and a warning when one takes a large share."""
    return jsonify(show().identities_report())


@bp.get("/export.csv")
def export() -> Response:
    """Every vote as CSV: phone (a short anonymous label), choice, time."""
    rows = show().export_rows()
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
