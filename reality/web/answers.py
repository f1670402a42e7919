"""The show's answers as values: what became of a vote, and why a presenter action cannot be done.

The show's objects (:mod:`.ballot`, :mod:`.chaos`, :mod:`.state`) answer in these terms and know
nothing of HTTP; the blueprints (:mod:`.vote_api`, :mod:`.presenter_api`) map them to status codes,
bodies and headers (README.md, "HTTP contract").

    >>> VoteAnswer(VoteOutcome.CLOSED, "Voting is closed.").outcome == "closed"
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class VoteOutcome(StrEnum):
    """What became of one vote."""

    ACCEPTED = "accepted"
    ALREADY_VOTED = "already-voted"  # PostgreSQL's UNIQUE constraint refused it
    RATE_LIMITED = "rate-limited"
    BUSY = "busy"  # not stored: PostgreSQL swamped, or a mode switch under way; retry at once
    UNAVAILABLE = "unavailable"  # not stored: PostgreSQL down or starting
    CLOSED = "closed"  # the presenter closed voting
    BAD_CHOICE = "bad-choice"  # not one of the poll's options
    NO_IDENTITY = "no-identity"  # no voter cookie: the phone page was never opened


@dataclass(frozen=True)
class VoteAnswer:
    """The answer to one vote: its outcome, a human message and details for the phone."""

    outcome: VoteOutcome
    message: str
    detail: str = ""
    #: Seconds after which trying again makes sense (rate limited, busy, unavailable).
    retry_after: int | None = None
    #: PostgreSQL's own words for a refusal (already voted).
    reason: str | None = None


class Obstacle(StrEnum):
    """Why a presenter action cannot be done."""

    BAD_INPUT = "bad-input"  # the request named no valid target, mode, theme …
    NOT_NOW = "not-now"  # not in the show's current state (already down, already running, no control)
    SERVICE_DOWN = "service-down"  # a service it needs (PostgreSQL, Docker) does not answer


class ActionRefused(Exception):
    """A presenter action that cannot be done now, and why (see :class:`Obstacle`)."""

    def __init__(self, why: Obstacle, message: str) -> None:
        super().__init__(message)
        self.why = why
        self.message = message
