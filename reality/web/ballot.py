"""Votes and modes: which store takes a vote now, what became of it, and the room's counters.

Reality mode sends votes to PostgreSQL, whose UNIQUE constraint refuses a phone's second vote;
fantasy mode sends them to an in-memory mock that takes anything. Going back to reality replays the
mock's votes into PostgreSQL in the order they were cast. Answers are values
(:class:`~.answers.VoteAnswer`, :class:`~.answers.ActionRefused`): HTTP is the blueprints' business.

A little over 300 lines: casting, switching modes and the replay back to reality share the
store in use, the switch's control lock and the room's counters.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from typing import Any, NoReturn

from ..events import EventBus
from ..poll import Poll
from ..ratelimit import VoterRateLimiter
from ..votes import AlreadyVoted, InMemoryVoteStore, Replay, Store, StoreBusy, StoreSealed, StoreUnavailable
from ..vocabulary import Kind, Mode, ModeAction, RateLimitAction, ServiceState, VoteAction
from .answers import ActionRefused, Obstacle, VoteAnswer, VoteOutcome
from .health import HealthMonitor
from .tally import ResultsCache

#: How long a vote waits for a switch back to reality (the replay into PostgreSQL) to finish.
SWITCH_WAIT = 10.0


def voter_label(voter_id: str) -> str:
    """A short, stable, non-reversible name for a phone in the feed ("phone 3f9a2c")."""
    return "phone " + hashlib.sha256(voter_id.encode()).hexdigest()[:6]


@dataclass(frozen=True)
class OwnVote:
    """What the show knows of one phone's vote: ``known`` is False when the store cannot be asked now."""

    known: bool
    choice: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"known": self.known, "choice": self.choice}


class RoomCounters:
    """What the stage counts for the room: second votes refused (the magic moment), votes refused in an outage."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self.second_votes_refused = 0
            self.latest_refusal: str | None = None
            self.outage_refused = 0

    def refused(self, reason: str) -> None:
        """PostgreSQL refused a phone's second vote, in these words."""
        with self._lock:
            self.second_votes_refused += 1
            self.latest_refusal = reason

    def replay_refused(self, count: int) -> None:
        """PostgreSQL refused ``count`` of the mock's duplicates on the way back to reality."""
        with self._lock:
            self.second_votes_refused += count

    def outage(self) -> None:
        with self._lock:
            self.outage_refused += 1


class Ballot:
    """The store in use (PostgreSQL or the fantasy mock), votes cast into it, and switching between them.

    ``control`` is the show's one-presenter-action-at-a-time lock: a mode switch holds it, and a
    vote that meets a switch in progress waits for it to be released.
    """

    def __init__(self, *, poll: Poll, bus: EventBus, store: Store, limiter: VoterRateLimiter,
                 health: HealthMonitor, results: ResultsCache, control: threading.Lock) -> None:
        self.poll = poll
        self.bus = bus
        self.real_store = store
        self.fantasy_store = InMemoryVoteStore()
        self.limiter = limiter
        self.health = health
        self.results_cache = results
        self.counters = RoomCounters()
        self.voting_open = True
        self.version = 0  # bumped on every switch of mode
        self._active: tuple[Mode, Store] = (Mode.REALITY, store)
        self._control = control

    @property
    def mode(self) -> Mode:
        return self._active[0]

    def votes_stored(self) -> bool:
        """Whether a vote would be stored right now (PostgreSQL answers, or the fantasy mock takes it)."""
        return self.mode == Mode.FANTASY or self.health.usable("postgres")

    # -- casting ----------------------------------------------------------------------------------

    def vote(self, voter_id: str, choice: str) -> VoteAnswer:
        """Cast one vote for ``voter_id`` (already validated: a known voter and a known option)."""
        # Closed is closed, in either mode: nothing stored, and the phone's rate limit untouched.
        if not self.voting_open:
            return VoteAnswer(VoteOutcome.CLOSED, "Voting is closed.", "The presenter closed voting: nothing was stored.")
        who = voter_label(voter_id)
        mode, store = self._active
        # Known outage first: a phone must not use up its rate limit on our downtime.
        if mode == Mode.REALITY and not self.health.usable("postgres"):
            return self._postgres_unavailable(who, choice)
        decision = self.limiter.hit(voter_id)
        if not decision.allowed:
            self.bus.publish(Kind.RATELIMIT, RateLimitAction.BLOCKED,
                             f"{who} slowed down: more than {decision.limit} vote requests a minute"
                             + (" (local fallback)" if decision.backend == "local" else ""),
                             voter=who, backend=decision.backend, retry_after=decision.retry_after)
            return VoteAnswer(VoteOutcome.RATE_LIMITED, "Slow down!", f"At most {decision.limit} tries a minute per "
                              f"phone. Try again in {decision.retry_after} s.", retry_after=decision.retry_after)
        try:
            try:
                store.cast(voter_id, choice)
            except StoreSealed:
                # The mock is being replayed into PostgreSQL: wait for the switch to end, then the
                # vote goes where votes go now (PostgreSQL, or the mock again if the switch failed).
                mode, store = self._after_switch()
                if mode == Mode.REALITY and not self.health.usable("postgres"):
                    return self._postgres_unavailable(who, choice)
                store.cast(voter_id, choice)
        # PostgreSQL's UNIQUE constraint said no: the refusal the whole show is about.
        except AlreadyVoted as refused:
            self.counters.refused(refused.reason)
            self.results_cache.touch()  # the room's counter rides on the tally
            self.bus.publish(Kind.VOTE, VoteAction.REFUSED,
                             f"{who} tried to vote again: PostgreSQL refused it ({refused.reason})",
                             voter=who, choice=choice, reason=refused.reason)
            return VoteAnswer(VoteOutcome.ALREADY_VOTED, "You already voted!",
                              f"PostgreSQL refused it: {refused.reason}.", reason=refused.reason)
        except StoreBusy:
            # PostgreSQL answers but is swamped: this phone retries; the projector shows no outage.
            self.bus.publish(Kind.VOTE, VoteAction.FAILED, f"{who}'s vote for {choice} not stored: PostgreSQL busy (503)",
                             voter=who, choice=choice)
            return VoteAnswer(VoteOutcome.BUSY, "Busy, try again", "The database is busy: your vote was not stored. "
                              "Try again in a second.", retry_after=1)
        except StoreUnavailable:
            self.health.report_failure("postgres")
            return self._postgres_unavailable(who, choice)
        except StoreSealed:  # a second switch began while this vote waited: rare, and the phone retries
            return VoteAnswer(VoteOutcome.BUSY, "Busy, try again", "The show is switching modes: your vote was not "
                              "stored. Try again in a second.", retry_after=1)
        self.results_cache.apply(choice)
        note = " (fantasy: the mock takes anything)" if mode == Mode.FANTASY else ""
        self.bus.publish(Kind.VOTE, VoteAction.ACCEPTED, f"{who} voted {choice}{note}", voter=who, choice=choice, mode=mode)
        return VoteAnswer(VoteOutcome.ACCEPTED, "Vote recorded", f"Your vote for {choice} is in." if mode == Mode.REALITY
                          else f"Your vote for {choice} is in (fantasy mode: even a second one counts).")

    def _after_switch(self) -> tuple[Mode, Store]:
        """The store in use once a mode switch in progress is over (it holds the control lock)."""
        if self._control.acquire(timeout=SWITCH_WAIT):
            self._control.release()
        return self._active

    def _postgres_unavailable(self, who: str, choice: str) -> VoteAnswer:
        why = "is starting" if self.health.states["postgres"] == ServiceState.STARTING else "is down"
        self.counters.outage()
        self.results_cache.touch()
        self.bus.publish(Kind.VOTE, VoteAction.FAILED,
                         f"{who}'s vote for {choice} refused: PostgreSQL {why} (503, nothing stored)",
                         voter=who, choice=choice, service="postgres")
        return VoteAnswer(VoteOutcome.UNAVAILABLE, f"The database {why}: your vote was not stored.",
                          "Nothing was counted. Try again in a few seconds.", retry_after=2)

    # -- reading ----------------------------------------------------------------------------------

    def vote_of(self, voter_id: str) -> OwnVote:
        """This phone's stored vote, for its page after a reload: one indexed lookup, none during a known outage."""
        mode, store = self._active
        if mode == Mode.REALITY and not self.health.usable("postgres"):
            return OwnVote(known=False)
        try:
            return OwnVote(known=True, choice=store.choice_of(voter_id))
        except (StoreUnavailable, StoreBusy):
            # The phone says it cannot tell; the probe, not a phone's page load, declares the outage.
            return OwnVote(known=False)

    def export_rows(self) -> list[tuple[str, str, str]]:
        """(voter label, choice, time) for every vote in the current store."""
        mode, store = self._active
        try:
            rows = store.rows()
        except (StoreUnavailable, StoreBusy) as exc:
            raise ActionRefused(Obstacle.SERVICE_DOWN, "PostgreSQL is down: recover it to export the votes.") from exc
        return [(voter_label(voter), choice, cast_at) for voter, choice, cast_at in rows]

    def reload_results(self) -> None:
        """Re-read the tally from the store in use (again on a later round if votes raced the read)."""
        mode, store = self._active
        try:
            if not self.results_cache.reload(store.counts):
                self.results_cache.request_reload()
        except (StoreUnavailable, StoreBusy):
            self.results_cache.request_reload()

    def reload_if_wanted(self) -> None:
        if self.results_cache.reload_wanted and self.votes_stored():
            self.reload_results()

    # -- switching ----------------------------------------------------------------------------------

    def set_mode(self, mode: object) -> str:
        """Switch to ``fantasy`` (the mock, votes so far carried over) or back to ``reality`` (replayed)."""
        if mode not in (Mode.FANTASY, Mode.REALITY):
            raise ActionRefused(Obstacle.BAD_INPUT, "mode must be “fantasy” or “reality”.")
        mode = Mode(mode)
        with self._control:
            if mode == self.mode:
                return f"Already in {mode} mode."
            if mode == Mode.FANTASY:
                message, data = self._to_fantasy(), {}
            else:
                replay = self._replay_fantasy()
                message = f"Reality mode: PostgreSQL decides again. {replay.summary()}."
                data = {"replayed": replay.replayed, "stored": replay.stored, "refused": replay.refused}
                if replay.refused:
                    # The mock's duplicates, refused by PostgreSQL's constraint on the way back: second votes too.
                    self.counters.replay_refused(replay.refused)
                    self.results_cache.touch()
            self.reload_results()
            if mode == Mode.REALITY:
                # The tally is PostgreSQL's own again; a mock vote counted while it was re-read is
                # corrected by one more re-read on the health loop's next round.
                self.results_cache.request_reload()
            self.version += 1
        self.bus.publish(Kind.MODE, ModeAction(mode), message, mode=mode, **data)
        return message

    def _to_fantasy(self) -> str:
        fantasy = InMemoryVoteStore()
        try:
            fantasy.carry_over(self.real_store.rows())
            carried = "the votes so far carried over"
        except (StoreUnavailable, StoreBusy):
            carried = "starting empty (PostgreSQL is down)"
        self.fantasy_store = fantasy
        self._active = (Mode.FANTASY, fantasy)
        return (f"Fantasy mode: votes go to an in-memory mock with no UNIQUE constraint, {carried}. "
                "Duplicates will pile up.")

    def _replay_fantasy(self) -> Replay:
        """Hand the votes the mock accepted to PostgreSQL, in the order they were cast, and switch to it.

        PostgreSQL keeps each phone's first vote and its UNIQUE constraint refuses the rest. If it
        cannot be reached, nothing changes: still fantasy mode, every mock vote still there.
        """
        fantasy = self.fantasy_store
        if not self.health.usable("postgres"):
            starting = self.health.states["postgres"] == ServiceState.STARTING
            self._refuse_reality("PostgreSQL is starting" if starting else "PostgreSQL is down")
        # Votes arriving from now on wait for the switch (StoreSealed), so none slips in after the snapshot.
        pending = fantasy.seal()
        try:
            replay = self.real_store.replay(pending)
        except StoreUnavailable:
            fantasy.unseal()
            self.health.report_failure("postgres")
            self._refuse_reality("PostgreSQL is unreachable")
        except StoreBusy:
            fantasy.unseal()
            self._refuse_reality("PostgreSQL is too busy to answer in time")
        self._active = (Mode.REALITY, self.real_store)
        return replay

    def _refuse_reality(self, why: str) -> NoReturn:
        message = (f"Still in fantasy mode: {why}, so the mock's votes cannot be replayed into it. Nothing changed: "
                   "recover PostgreSQL, then go back to reality.")
        self.bus.publish(Kind.MODE, ModeAction.REFUSED, message, mode=Mode.FANTASY)
        raise ActionRefused(Obstacle.NOT_NOW, message)

    def open_voting(self, open_: bool) -> bool:
        """Open or close voting (a closed vote is refused and stores nothing); False when it already was."""
        if open_ == self.voting_open:
            return False
        self.voting_open = open_
        return True

    def reset(self) -> None:
        """No votes, reality mode, voting open, counters at zero (the caller holds the control lock)."""
        try:
            self.real_store.reset()
        except (StoreUnavailable, StoreBusy) as exc:
            raise ActionRefused(Obstacle.SERVICE_DOWN, "PostgreSQL is down: recover it, then reset again.") from exc
        self.fantasy_store = InMemoryVoteStore()
        self._active = (Mode.REALITY, self.real_store)
        self.voting_open = True
        self.version += 1
        self.counters.clear()
        self.results_cache.clear()
        self.reload_results()
