"""Everything the show is doing right now: votes, mode, rate limit, chaos, scenes, tests.

The web layer (routes and socket handlers) turns requests into calls on :class:`ShowState` and its
answers into responses; this module knows nothing about HTTP. It knows connection details and an
infrastructure controller (anything with ``kill(name)``, ``recover(name)`` and ``state(name)``), never
containers themselves.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, NoReturn, Protocol

from ..config import SERVICE_NAMES
from ..errors import RealityError
from ..events import EventBus
from ..identities import PUBLIC_NOTICE, Grant, IdentityBudget
from ..poll import Poll
from ..public_url import PublicAddress
from ..ratelimit import VoterRateLimiter
from ..testrun import TestRun, start_in_background
from ..votes import (AlreadyVoted, InMemoryVoteStore, Replay, Store, StoreBusy, StoreSealed, StoreUnavailable,
                     VoteStore)
from .health import SERVICES, HealthMonitor, PostgresProbe
from .scenes import SceneClock
from .tally import ResultsCache

NAMES = SERVICE_NAMES
MODES = ("reality", "fantasy")
THEMES = ("dark", "light")
#: How long a Recover waits for the app to use the service again before answering.
RECOVER_WAIT = 15.0
#: How long a vote waits for a switch back to reality (the replay into PostgreSQL) to finish.
SWITCH_WAIT = 10.0


class Controller(Protocol):
    """What the show needs from container orchestration (``reality.containers.Infrastructure`` fits)."""

    def kill(self, name: str) -> None: ...
    def recover(self, name: str) -> bool: ...
    def state(self, name: str) -> str: ...


class ShowError(Exception):
    """A presenter action that cannot be done now; ``status`` is the HTTP status that says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class VoteOutcome:
    """The answer to one vote: an HTTP status, a human message, and details for the phone."""

    status: int
    message: str
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OwnVote:
    """What the show knows of one phone's vote: ``known`` is False when the store cannot be asked now."""

    known: bool
    choice: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"known": self.known, "choice": self.choice}


def voter_label(voter_id: str) -> str:
    """A short, stable, non-reversible name for a phone in the feed ("phone 3f9a2c")."""
    return "phone " + hashlib.sha256(voter_id.encode()).hexdigest()[:6]


def _pg_reason(exc: BaseException) -> str:
    """PostgreSQL's own words for a refusal: the first line of the UniqueViolation."""
    cause = exc.__cause__
    text = getattr(cause, "pgerror", None) or str(cause or exc)
    first = text.strip().splitlines()[0] if text.strip() else "duplicate key value violates unique constraint"
    return first.removeprefix("ERROR:").strip()


class ShowState:
    """The live show behind the dashboard and the phones."""

    def __init__(self, *, poll: Poll, bus: EventBus, store: VoteStore | Store, limiter: VoterRateLimiter,
                 public: PublicAddress | None = None, infra: Controller | None = None,
                 postgres_probe: Callable[[], object] | None = None, tests: TestRun | None = None,
                 spawn: Callable[..., Any] | None = None, identities: IdentityBudget | None = None,
                 theme: str = "dark") -> None:
        self.poll = poll
        self.bus = bus
        self.real_store = store
        self.fantasy_store = InMemoryVoteStore()
        self.limiter = limiter
        self.rate_limit_default = limiter.enabled
        self.identities = identities or IdentityBudget()
        self.voting_open = True
        self.results_visible = True
        if theme not in THEMES:
            raise ValueError("theme must be “dark” or “light”.")
        self.theme = theme
        # What the stage counts for the room (the magic moment, chaos tiles, the mic drop).
        self.second_votes_refused = 0
        self.latest_refusal: str | None = None
        self.outage_refused = 0
        self._service_changes: dict[str, dict[str, Any]] = {}
        self._changes_lock = threading.Lock()
        self.public = public
        self.infra = infra
        self.tests = tests or TestRun(bus)
        self.spawn = spawn or (lambda target: threading.Thread(target=target, daemon=True).start())
        self.scenes = SceneClock()
        self.results_cache = ResultsCache(poll)
        self.started_at = time.time()
        # Names this run of the show: a page from an earlier run reloads instead of mixing two feeds.
        self.run_id = secrets.token_hex(6)
        self.notices: list[str] = []
        self.version = 0  # bumped whenever mode, limits or notices change (the health document)
        self._active: tuple[str, Store] = ("reality", store)
        self._control = threading.Lock()  # one presenter action at a time
        self._seen_postgres_up = False
        self._seen_redis_up = False
        if postgres_probe is None and isinstance(store, VoteStore):
            postgres_probe = PostgresProbe(lambda: store.dsn)  # re-read: it can change on recover
        self._postgres_probe = postgres_probe
        probes: dict[str, Callable[[], object]] = {}
        if postgres_probe is not None:
            probes["postgres"] = postgres_probe
        if limiter.redis_url is not None:
            probes["redis"] = self._probe_redis
        initial = {name: (infra.state(name) if infra is not None else "starting") for name in SERVICES}
        # The monitor counts a service as up only after its own probe; "up" from orchestration means
        # "the container answers", so start those as "starting" and let the first probe confirm.
        initial = {name: ("starting" if state == "up" else state) for name, state in initial.items()}
        if "redis" not in probes:
            initial["redis"] = "stopped"
        self.health = HealthMonitor(bus, probes, on_up={"postgres": self._postgres_back, "redis": self._redis_back},
                                    initial=initial,
                                    after_round=self.reload_if_wanted)

    # -- votes ------------------------------------------------------------------------------------

    @property
    def mode(self) -> str:
        return self._active[0]

    def vote(self, voter_id: str, choice: str) -> VoteOutcome:
        """Cast one vote for ``voter_id`` (already validated: a known voter and a known option)."""
        # Closed is closed, in either mode: nothing stored, and the phone's rate limit untouched.
        if not self.voting_open:
            return VoteOutcome(423, "Voting is closed.", "The presenter closed voting: nothing was stored.")
        who = voter_label(voter_id)
        mode, store = self._active
        # Known outage first: a phone must not use up its rate limit on our downtime.
        if mode == "reality" and not self.health.usable("postgres"):
            return self._postgres_unavailable(who, choice)
        decision = self.limiter.hit(voter_id)
        if not decision.allowed:
            self.bus.publish("ratelimit", "blocked",
                             f"{who} slowed down: more than {decision.limit} vote requests a minute"
                             + (" (local fallback)" if decision.backend == "local" else ""),
                             voter=who, backend=decision.backend, retry_after=decision.retry_after)
            return VoteOutcome(429, "Slow down!", f"At most {decision.limit} votes a minute per phone. "
                               f"Try again in {decision.retry_after} s.", {"retry_after": decision.retry_after})
        try:
            try:
                store.cast(voter_id, choice)
            except StoreSealed:
                # The mock is being replayed into PostgreSQL: wait for the switch to end, then the
                # vote goes where votes go now (PostgreSQL, or the mock again if the switch failed).
                mode, store = self._after_switch()
                if mode == "reality" and not self.health.usable("postgres"):
                    return self._postgres_unavailable(who, choice)
                store.cast(voter_id, choice)
        # PostgreSQL's UNIQUE constraint said no: the refusal the whole show is about.
        except AlreadyVoted as refused:
            reason = _pg_reason(refused)
            with self._changes_lock:
                self.second_votes_refused += 1
                self.latest_refusal = reason
            self.results_cache.touch()  # the room's counter rides on the tally
            self.bus.publish("vote", "refused", f"{who} tried to vote again: PostgreSQL refused it ({reason})",
                             voter=who, choice=choice, reason=reason)
            return VoteOutcome(409, "You already voted!",
                               f"PostgreSQL refused it: {reason}.", {"reason": reason})
        except StoreBusy:
            # PostgreSQL answers but is swamped: this phone retries; the projector shows no outage.
            self.bus.publish("vote", "failed", f"{who}'s vote for {choice} not stored: PostgreSQL busy (503)",
                             voter=who, choice=choice)
            return VoteOutcome(503, "Busy, try again", "The database is busy: your vote was not stored. "
                               "Try again in a second.", {"retry_after": 1})
        except StoreUnavailable:
            self.health.report_failure("postgres")
            return self._postgres_unavailable(who, choice)
        except StoreSealed:  # a second switch began while this vote waited: rare, and the phone retries
            return VoteOutcome(503, "Busy, try again", "The show is switching modes: your vote was not stored. "
                               "Try again in a second.", {"retry_after": 1})
        self.results_cache.apply(choice)
        note = " (fantasy: the mock takes anything)" if mode == "fantasy" else ""
        self.bus.publish("vote", "accepted", f"{who} voted {choice}{note}", voter=who, choice=choice, mode=mode)
        return VoteOutcome(201, "Vote recorded", f"Your vote for {choice} is in." if mode == "reality"
                           else f"Your vote for {choice} is in (fantasy mode: even a second one counts).")

    def _after_switch(self) -> tuple[str, Store]:
        """The store in use once a mode switch in progress is over (it holds the control lock)."""
        if self._control.acquire(timeout=SWITCH_WAIT):
            self._control.release()
        return self._active

    def vote_of(self, voter_id: str) -> OwnVote:
        """This phone's stored vote, for its page after a reload: one indexed lookup, none during a known outage."""
        mode, store = self._active
        if mode == "reality" and not self.health.usable("postgres"):
            return OwnVote(known=False)
        try:
            return OwnVote(known=True, choice=store.choice_of(voter_id))
        except (StoreUnavailable, StoreBusy):
            # The phone says it cannot tell; the probe, not a phone's page load, declares the outage.
            return OwnVote(known=False)

    def votes_stored(self) -> bool:
        """Whether a vote would be stored right now (PostgreSQL answers, or the fantasy mock takes it)."""
        return self.mode == "fantasy" or self.health.usable("postgres")

    def new_identity(self, address: str) -> Grant:
        """May ``address`` (see :func:`reality.identities.address_key`) have one more new voter identity now?"""
        grant = self.identities.take(address)
        if not grant.allowed:
            self._notice(PUBLIC_NOTICE)  # once: the projector says it happens, never who
        else:
            self.results_cache.touch()  # "N phones joined" on the join card rides on the tally
        return grant

    def _postgres_unavailable(self, who: str, choice: str) -> VoteOutcome:
        state = self.health.states["postgres"]
        why = "is starting" if state == "starting" else "is down"
        with self._changes_lock:
            self.outage_refused += 1
        self.results_cache.touch()
        self.bus.publish("vote", "failed", f"{who}'s vote for {choice} refused: PostgreSQL {why} (503, nothing stored)",
                         voter=who, choice=choice, service="postgres")
        return VoteOutcome(503, f"The database {why}: your vote was not stored.",
                           "Nothing was counted. Try again in a few seconds.", {"retry_after": 2})

    # -- reading ----------------------------------------------------------------------------------

    def results(self) -> dict[str, Any]:
        document = self.results_cache.snapshot()
        document["mode"] = self.mode
        document["run"] = self.run_id
        document["voting_open"] = self.voting_open
        document["results_visible"] = self.results_visible
        document["phones_joined"] = self.identities.issued
        document["second_votes_refused"] = self.second_votes_refused
        document["latest_refusal"] = self.latest_refusal
        document["outage_refused"] = self.outage_refused
        document["ready"] = self.votes_stored()
        return document

    def service_changes(self, states: dict[str, str]) -> dict[str, dict[str, Any]]:
        """Since when each service is in its state, with the vote counts at that moment.

        The chaos tiles show "down since 14:02:11 · 12 votes refused meanwhile": the room's counts
        now minus the counts recorded here. Recorded when a health document first sees the change
        (the broadcaster asks for one as soon as a state changes).
        """
        with self._changes_lock:
            for name, state in states.items():
                known = self._service_changes.get(name)
                if known is None or known["state"] != state:
                    self._service_changes[name] = {"state": state, "since": round(time.time(), 3),
                                                   "total": self.results_cache.snapshot()["total"],
                                                   "outage_refused": self.outage_refused}
            return {name: dict(change) for name, change in self._service_changes.items()}

    def health_document(self) -> dict[str, Any]:
        services = self.health.snapshot()
        return {
            "services": services,
            "service_changes": self.service_changes(services),
            "rate_limit": self.limiter.enabled,
            "rate_limit_backend": self.limiter.backend if self.limiter.enabled else "off",
            "rate_limit_per_minute": self.limiter.per_minute,
            "mode": self.mode,
            "voting_open": self.voting_open,
            "results_visible": self.results_visible,
            "theme": self.theme,
            "docker": self.health.docker,
            "ready": self.votes_stored(),
            "phone_url": self.public.url if self.public else None,
            "notices": list(self.notices),
            "tests_running": self.tests.running,
            "uptime_s": round(time.time() - self.started_at, 1),
            "version": self.version + self.health.version,
            "run": self.run_id,
        }

    # -- presenter actions ------------------------------------------------------------------------

    def set_rate_limit(self, enabled: bool) -> str:
        self.limiter.enabled = enabled
        self.version += 1
        if enabled:
            message = (f"Rate limit on: {self.limiter.per_minute} vote requests a minute per phone, counted in "
                       + ("Redis" if self.limiter.backend == "redis" else "local memory (Redis unreachable)"))
        else:
            message = "Rate limit off: phones can hammer the vote button"
        self.bus.publish("ratelimit", "enabled" if enabled else "disabled", message, backend=self.limiter.backend)
        return message

    def set_voting(self, open_: bool) -> str:
        """Open or close voting (a closed vote answers 423 and stores nothing).

        Not behind the presenter's action lock: closing the vote must be instant, also while a
        Recover is waiting for a container.
        """
        if open_ == self.voting_open:
            return "Voting is already " + ("open." if open_ else "closed.")
        self.voting_open = open_
        self.version += 1
        self.results_cache.touch()  # phones learn it with the tally they already receive
        message = ("Voting is open: phones can vote again" if open_
                   else "Voting is closed: votes answer 423 and nothing is stored")
        self.bus.publish("system", "voting-open" if open_ else "voting-closed", message, voting_open=open_)
        return message + "."

    def set_results_visible(self, visible: bool) -> str:
        """Show or hide the results on the audience screen and the phones (counting goes on)."""
        if visible == self.results_visible:
            return "The results are already " + ("shown." if visible else "hidden.")
        self.results_visible = visible
        self.version += 1
        self.results_cache.touch()
        message = ("Results revealed: the room sees the counts" if visible
                   else "Results hidden: votes still count, the room sees no numbers until you reveal them")
        self.bus.publish("system", "results-shown" if visible else "results-hidden", message, results_visible=visible)
        return message + "."

    def set_theme(self, theme: object) -> str:
        """The audience screen's colours: ``dark`` (a dark room) or ``light`` (a bright one)."""
        if theme not in THEMES:
            raise ShowError(400, "theme must be “dark” or “light”.")
        self.theme = str(theme)
        self.version += 1
        return f"The audience screen is {theme} now."

    def identities_report(self) -> dict[str, Any]:
        """For the presenter only (it names client addresses): see IdentityBudget.report."""
        return self.identities.report()

    def set_mode(self, mode: str) -> str:
        if mode not in MODES:
            raise ShowError(400, "mode must be “fantasy” or “reality”.")
        with self._control:
            if mode == self.mode:
                return f"Already in {mode} mode."
            if mode == "fantasy":
                fantasy = InMemoryVoteStore()
                try:
                    fantasy.carry_over(self.real_store.rows())
                    carried = "the votes so far carried over"
                except (StoreUnavailable, StoreBusy):
                    carried = "starting empty (PostgreSQL is down)"
                self.fantasy_store = fantasy
                self._active = ("fantasy", fantasy)
                message = (f"Fantasy mode: votes go to an in-memory mock with no UNIQUE constraint, {carried}. "
                           "Duplicates will pile up.")
                data: dict[str, Any] = {}
            else:
                replay = self._replay_fantasy()
                message = f"Reality mode: PostgreSQL decides again. {replay.summary()}."
                data = {"replayed": replay.replayed, "stored": replay.stored, "refused": replay.refused}
                if replay.refused:
                    # The mock's duplicates, refused by PostgreSQL's constraint on the way back: second votes too.
                    with self._changes_lock:
                        self.second_votes_refused += replay.refused
                    self.results_cache.touch()
            self._reload_results()
            if mode == "reality":
                # The tally is PostgreSQL's own again; a mock vote counted while it was re-read is
                # corrected by one more re-read on the health loop's next round.
                self.results_cache.request_reload()
            self.version += 1
        self.bus.publish("mode", mode, message, mode=mode, **data)
        return message

    def _replay_fantasy(self) -> Replay:
        """Hand the votes the mock accepted to PostgreSQL, in the order they were cast, and switch to it.

        PostgreSQL keeps each phone's first vote and its UNIQUE constraint refuses the rest. If it
        cannot be reached, nothing changes: still fantasy mode, every mock vote still there.
        """
        fantasy = self.fantasy_store
        if not self.health.usable("postgres"):
            starting = self.health.states["postgres"] == "starting"
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
        self._active = ("reality", self.real_store)
        return replay

    def _refuse_reality(self, why: str) -> NoReturn:
        message = (f"Still in fantasy mode: {why}, so the mock's votes cannot be replayed into it. Nothing changed: "
                   "recover PostgreSQL, then go back to reality.")
        self.bus.publish("mode", "refused", message, mode="fantasy")
        raise ShowError(409, message)

    def _controller(self) -> Controller:
        if self.infra is None:
            raise ShowError(409, "This app was started without container control: nothing to kill or recover.")
        if self.health.docker == "down":
            raise ShowError(503, "The Docker engine is unreachable: containers cannot be killed or recovered now.")
        return self.infra

    @staticmethod
    def _target(target: object) -> str:
        if target not in SERVICES:
            raise ShowError(400, "target must be “redis” or “postgres”.")
        return str(target)

    def chaos(self, target: object) -> str:
        """Kill a service's container for real."""
        name = self._target(target)
        infra = self._controller()
        with self._control:
            if self.health.states[name] in ("down", "stopped"):
                raise ShowError(409, f"{NAMES[name]} is already down: press Recover to bring it back.")
            consequence = ("votes keep working, the rate limit falls back to local memory" if name == "redis"
                           else "votes will be refused with a clear 503 until it is back")
            self.bus.publish("chaos", "kill", f"Chaos! Killing {NAMES[name]}: {consequence}", service=name)
            try:
                infra.kill(name)
            except RealityError as exc:
                raise ShowError(409, str(exc)) from exc
        if name == "redis":
            # Let the limiter notice now rather than on the next vote or health round.
            self.limiter.check_backend()
        return f"{NAMES[name]} killed: {consequence}."

    def recover(self, target: object) -> tuple[str, bool]:
        """Bring a service back; returns (message, whether its data survived)."""
        name = self._target(target)
        infra = self._controller()
        with self._control:
            if self.health.usable(name):
                return f"{NAMES[name]} is already up.", True
            self.bus.publish("chaos", "recover", f"Recovering {NAMES[name]}…", service=name)
            try:
                kept = infra.recover(name)
            # Docker itself may be failing (engine restarting, image removed): one line, no 500.
            except Exception as exc:
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                self.bus.publish("chaos", "failed", f"{NAMES[name]} could not be recovered: {reason}", service=name)
                raise ShowError(503, f"{NAMES[name]} could not be recovered: {reason}") from exc
        if not self.health.wait_until(name, "up", RECOVER_WAIT):
            raise ShowError(503, f"{NAMES[name]} restarted but does not answer yet: try Recover again.")
        if name == "redis":
            self.limiter.check_backend()
            return "Redis is back: the rate limit is counted in Redis again.", kept
        if kept:
            # PostgreSQL's own count: in fantasy mode the tally on screen is the mock's.
            try:
                stored = self.real_store.total()
            except (StoreUnavailable, StoreBusy):
                stored = self.results_cache.snapshot()["total"]
            return f"PostgreSQL is back with its data: {stored} vote(s) kept.", True
        return "PostgreSQL is back as a fresh, empty database: earlier votes are gone.", False

    def _postgres_back(self) -> str:
        """Before PostgreSQL counts as up again: fresh connections, the schema, a re-read tally."""
        store = self.real_store
        before = self.results_cache.snapshot()["total"] if self.mode == "reality" else None
        first = not self._seen_postgres_up
        if isinstance(store, VoteStore):
            if not first:
                store.reconnect()  # pooled connections from before the outage are dead sockets
            store.init_schema()  # a fresh container has no table yet
        total = store.total()
        self._seen_postgres_up = True
        self._reload_results()
        if first:
            return "PostgreSQL answers: ready for votes"
        if before and total == 0:
            # Said out loud on the dashboard: a fresh container is an empty database.
            self._notice(f"PostgreSQL came back as a fresh, empty database: the {before} earlier vote(s) are gone.")
            return f"PostgreSQL answers again, as a fresh, empty database: the {before} earlier vote(s) are gone"
        if before is not None and total < before:
            return f"PostgreSQL answers again: {total} of {before} vote(s) kept"
        if total == 0:
            return "PostgreSQL answers again: votes are accepted"
        return f"PostgreSQL answers again: votes are accepted, all {total} vote(s) kept"

    def _redis_back(self) -> str:
        first = not self._seen_redis_up
        self._seen_redis_up = True
        # After an outage the rate limiter announces the return itself ("counted in Redis again").
        return "Redis answers: the rate limit is counted in Redis" if first else ""

    def _notice(self, text: str) -> None:
        if text not in self.notices:
            self.notices.append(text)
            self.version += 1

    def _probe_redis(self) -> None:
        if not self.limiter.check_backend():
            raise ConnectionError("Redis does not answer")

    def _reload_results(self) -> None:
        mode, store = self._active
        try:
            if not self.results_cache.reload(store.counts):
                self.results_cache.request_reload()
        except (StoreUnavailable, StoreBusy):
            self.results_cache.request_reload()

    def reset(self) -> str:
        """A clean slate for the next show: services up, no votes, no limits, empty feed, first scene."""
        if self.infra is not None and self.health.docker == "up":
            for name in SERVICES:
                if self.health.states[name] in ("down", "stopped") and name in self.health.probes:
                    self.recover(name)
        with self._control:
            # A test run still going would stream its results into the cleared feed: stop it first
            # (a new run waits for this lock, so none starts before the feed is cleared).
            self.tests.cancel()
            try:
                self.real_store.reset()
            except (StoreUnavailable, StoreBusy) as exc:
                raise ShowError(503, "PostgreSQL is down: recover it, then reset again.") from exc
            self.fantasy_store = InMemoryVoteStore()
            self._active = ("reality", self.real_store)
            self.limiter.reset()
            self.limiter.enabled = self.rate_limit_default
            self.identities.reset()
            self.voting_open = True
            self.results_visible = True
            with self._changes_lock:
                self.second_votes_refused = 0
                self.latest_refusal = None
                self.outage_refused = 0
                self._service_changes.clear()  # the chaos tiles count from the clean slate
            self.scenes.reset()
            self.notices.clear()
            self.results_cache.clear()
            self._reload_results()
            self.tests.results = []
            self.tests.summary = None
            self.bus.clear()
            self.version += 1
        self.bus.publish("system", "reset", "Clean slate: votes, rate limits and the feed are cleared")
        return "Clean slate: votes, rate limits and the feed are cleared."

    def run_tests(self) -> str:
        with self._control:
            started = start_in_background(self.tests, self.spawn)
        if not started:
            raise ShowError(409, "The tests are already running: watch the feed.")
        return "Running the fantasy and the reality tests: results stream into the feed."

    def export_rows(self) -> list[tuple[str, str, str]]:
        """(voter label, choice, time) for every vote in the current store."""
        mode, store = self._active
        try:
            rows = store.rows()
        except (StoreUnavailable, StoreBusy) as exc:
            raise ShowError(503, "PostgreSQL is down: recover it to export the votes.") from exc
        return [(voter_label(voter), choice, cast_at) for voter, choice, cast_at in rows]

    # -- background work --------------------------------------------------------------------------

    def maintain(self) -> None:
        """The health loop: probes, plus re-reading the tally when asked (runs until :meth:`close`)."""
        self.health.run()

    def reload_if_wanted(self) -> None:
        if self.results_cache.reload_wanted and (self.mode == "fantasy" or self.health.usable("postgres")):
            self._reload_results()

    def close(self) -> None:
        self.health.stop()
        self.tests.stop()
        self.limiter.close()
        # The probe's connection is not closed here: the health task may be inside a query on it,
        # and closing a connection another greenlet uses blocks the whole process. It goes at exit.
