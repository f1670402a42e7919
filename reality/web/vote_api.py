"""The vote API: ``POST /api/vote`` and ``GET /api/my-vote``, and what each vote outcome means in HTTP."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from .answers import VoteAnswer, VoteOutcome
from .api import api_error, parse_json, show
from .ballot import OwnVote
from .voters import voter_id

bp = Blueprint("votes", __name__)

#: The HTTP status of each vote outcome (README.md, "HTTP contract").
VOTE_STATUS = {
    VoteOutcome.ACCEPTED: 201,
    VoteOutcome.ALREADY_VOTED: 409,
    VoteOutcome.CLOSED: 423,
    VoteOutcome.RATE_LIMITED: 429,
    VoteOutcome.BUSY: 503,
    VoteOutcome.UNAVAILABLE: 503,
    VoteOutcome.BAD_CHOICE: 400,
    VoteOutcome.NO_IDENTITY: 403,
}


@bp.post("/api/vote")
def vote() -> Response:
    """``{"choice": "<option>"}`` → 201, 409 (already voted), 423 (closed), 429 (slow down), 4xx, 503 (no database)."""
    if not request.is_json:
        return api_error(415, "Send the vote as JSON (Content-Type: application/json).")
    body = parse_json()
    if body is None:
        return api_error(400, 'The body is not valid JSON: send {"choice": "<one of the options>"}.')
    if not isinstance(body, dict) or "choice" not in body:
        return api_error(400, 'Say what you vote for: {"choice": "<one of the options>"}.')
    state = show()
    answer = state.vote(voter_id(), body["choice"])
    return vote_response(answer, body["choice"], state.mode, state.poll.options)


def vote_response(answer: VoteAnswer, choice: object, mode: str, options: tuple[str, ...]) -> Response:
    """The HTTP answer to a vote: its status, the JSON body the phone reads, ``Retry-After`` when it helps."""
    if answer.outcome == VoteOutcome.BAD_CHOICE:
        return api_error(VOTE_STATUS[answer.outcome], answer.message, options=list(options))
    if answer.outcome == VoteOutcome.NO_IDENTITY:
        return api_error(VOTE_STATUS[answer.outcome], answer.message)
    status, body = vote_reply(answer, choice, mode)
    response = jsonify(body)
    response.status_code = status
    if answer.retry_after is not None:
        response.headers["Retry-After"] = str(answer.retry_after)
    return response


def vote_reply(answer: VoteAnswer, choice: object, mode: str) -> tuple[int, dict[str, object]]:
    """A counted vote's status and JSON body (what the phone reads); ``web/direct.py`` answers with it too."""
    status = VOTE_STATUS[answer.outcome]
    body: dict[str, object] = {"message": answer.message, "detail": answer.detail, "status": status,
                               "choice": choice, "mode": mode}
    if answer.reason is not None:
        body["reason"] = answer.reason
    if answer.retry_after is not None:
        body["retry_after"] = answer.retry_after
    return status, body


@bp.get("/api/my-vote")
def my_vote() -> Response:
    """This phone's stored vote (by its cookie): ``{"known": true, "choice": "Go"|null}``; 503 when it cannot be looked up."""
    voter = voter_id()
    own = show().vote_of(voter) if voter is not None else OwnVote(known=True)
    if not own.known:
        response = api_error(503, "PostgreSQL does not answer: this phone's vote cannot be looked up right now.",
                             **own.to_dict())
        response.headers["Retry-After"] = "2"
        return response
    return jsonify(own.to_dict())
