"""The live show behind the dashboard and the phones: small parts, composed by a thin :class:`ShowState`.

- :class:`~.ballot.Ballot`: votes and modes (the store in use, fantasy and back-to-reality replay);
- :class:`~.chaos.Chaos`, :class:`~.chaos.Reconnection`: kill, recover, reconnect;
- :class:`~.health.HealthMonitor`: service states, from its own probes and lifecycle events;
- :class:`~reality.testrun.TestRun`, :class:`~.scenes.SceneClock`, :class:`~.tally.ResultsCache`.

``ShowState`` holds the presenter's switches (rate limit, voting, results, theme), the notices,
reset, and the two documents every screen reads (results and health) with a version for each. It
answers in values (:mod:`.answers`) and knows nothing of HTTP; it knows connection details and a
controller (``kill``, ``recover``, ``state``), never containers.
"""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any, Callable, Hashable

from ..config import SERVICES
from ..events import EventBus
from ..identities import PUBLIC_NOTICE, Grant, IdentityBudget
from ..poll import Poll
from ..public_url import PublicAddress
from ..ratelimit import VoterRateLimiter
from ..testrun import TestRun, start_in_background
from ..votes import Store, VoteStore
from ..vocabulary import Kind, Mode, RateLimitAction, ServiceState, SystemAction
from .answers import ActionRefused, Obstacle, VoteAnswer, VoteOutcome
from .ballot import Ballot, OwnVote, voter_label
from .chaos import Chaos, Controller, Reconnection, ServiceChanges
from .health import Address, HealthMonitor
from .scenes import SceneClock
from .tally import ResultsCache

__all__ = ["ShowState", "OwnVote", "voter_label", "Controller", "THEMES"]

THEMES = ("dark", "light")


class ShowState:
    """The live show behind the dashboard and the phones."""

    def __init__(self, *, poll: Poll, bus: EventBus, store: Store, limiter: VoterRateLimiter,
                 redis_url: Address | None = None, public: PublicAddress | None = None,
                 infra: Controller | None = None, tests: TestRun | None = None,
                 spawn: Callable[..., Any] | None = None, identities: IdentityBudget | None = None,
                 theme: str = "dark") -> None:
        if theme not in THEMES:
            raise ValueError("theme must be “dark” or “light”.")
        self.poll = poll
        self.bus = bus
        self.limiter = limiter
        self.identities = identities or IdentityBudget()
        self.public = public
        self.infra = infra
        self.tests = tests or TestRun(bus)
        self.spawn = spawn or (lambda target: threading.Thread(target=target, daemon=True).start())
        self.scenes = SceneClock()
        self.results_cache = ResultsCache(poll)
        self.results_visible = True
        self.theme = theme
        self.started_at = time.time()
        # Names this run of the show: a page from an earlier run reloads instead of mixing two feeds.
        self.run_id = secrets.token_hex(6)
        self.notices: list[str] = []
        self.version = 0  # bumped whenever limits, switches or notices change (the health document)
        self._control = threading.Lock()  # one presenter action at a time

        # The monitor counts a service as up only after its own probe; "up" from orchestration means
        # "the container answers", so those start as "starting" until the first probe confirms.
        initial = {name: (infra.state(name) if infra is not None else ServiceState.STARTING)
                   for name in SERVICES}
        initial = {name: (ServiceState.STARTING if state == ServiceState.UP else state) for name, state in initial.items()}
        postgres = (lambda: store.dsn) if isinstance(store, VoteStore) else None  # re-read: it can change on recover
        self.health = HealthMonitor(bus, postgres=postgres, redis_url=redis_url, initial=initial)
        self.ballot = Ballot(poll=poll, bus=bus, store=store, limiter=limiter, health=self.health,
                             results=self.results_cache, control=self._control)
        self.health.readiness = Reconnection(self.ballot, self._notice)
        self.chaos = Chaos(infra=infra, health=self.health, bus=bus, ballot=self.ballot, control=self._control)
        self.service_changes = ServiceChanges(self.ballot)

    # -- votes ------------------------------------------------------------------------------------

    @property
    def mode(self) -> Mode:
        return self.ballot.mode

    @property
    def voting_open(self) -> bool:
        return self.ballot.voting_open

    def vote(self, voter_id: str | None, choice: object) -> VoteAnswer:
        """One phone's vote: a known option first, then a voter identity, then the ballot's answer."""
        if not isinstance(choice, str) or choice not in self.poll:
            return VoteAnswer(VoteOutcome.BAD_CHOICE, "Unknown choice: pick one of " + ", ".join(self.poll.options) + ".")
        if voter_id is None:
            return VoteAnswer(VoteOutcome.NO_IDENTITY,
                              "No voter identity: open the phone page (/qr) first, with cookies enabled.")
        return self.ballot.vote(voter_id, choice)

    def vote_of(self, voter_id: str) -> OwnVote:
        return self.ballot.vote_of(voter_id)

    def votes_stored(self) -> bool:
        return self.ballot.votes_stored()

    def new_identity(self, address: str) -> Grant:
        """May ``address`` (see :func:`reality.identities.address_key`) have one more new voter identity now?"""
        grant = self.identities.take(address)
        if not grant.allowed:
            self._notice(PUBLIC_NOTICE)  # once: the projector says it happens, never who
        else:
            self.results_cache.touch()  # "N phones joined" on the join card rides on the tally
        return grant

    def export_rows(self) -> list[tuple[str, str, str]]:
        return self.ballot.export_rows()

    # -- the documents every screen reads, and when they change -------------------------------------

    def results(self) -> dict[str, Any]:
        counters = self.ballot.counters
        document = self.results_cache.snapshot()
        document["mode"] = self.mode
        document["run"] = self.run_id
        document["voting_open"] = self.voting_open
        document["results_visible"] = self.results_visible
        document["phones_joined"] = self.identities.issued
        document["second_votes_refused"] = counters.second_votes_refused
        document["latest_refusal"] = counters.latest_refusal
        document["outage_refused"] = counters.outage_refused
        document["ready"] = self.votes_stored()
        return document

    def results_version(self) -> Hashable:
        """Changes whenever :meth:`results` would (readiness too: a phone says when votes are not stored)."""
        return (self.results_cache.version, self.mode, self.votes_stored())

    def health_document(self) -> dict[str, Any]:
        services = self.health.snapshot()
        return {
            "services": services,
            "service_changes": self.service_changes.seen(services),
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
            "version": self.version + self.ballot.version + self.health.version,
            "run": self.run_id,
        }

    def health_version(self) -> Hashable:
        """Changes whenever :meth:`health_document` would (apart from the uptime)."""
        return (self.version, self.ballot.version, self.health.version, self.limiter.backend, self.limiter.enabled,
                self.tests.running)

    # -- presenter actions ------------------------------------------------------------------------

    def set_mode(self, mode: object) -> str:
        return self.ballot.set_mode(mode)

    def set_rate_limit(self, enabled: bool) -> str:
        self.limiter.enabled = enabled
        self.version += 1
        if enabled:
            message = (f"Rate limit on: {self.limiter.per_minute} vote requests a minute per phone, counted in "
                       + ("Redis" if self.limiter.backend == "redis" else "local memory (Redis unreachable)"))
        else:
            message = "Rate limit off: phones can hammer the vote button"
        self.bus.publish(Kind.RATELIMIT, RateLimitAction.ENABLED if enabled else RateLimitAction.DISABLED, message,
                         backend=self.limiter.backend)
        return message

    def set_voting(self, open_: bool) -> str:
        """Open or close voting (a closed vote is refused and stores nothing).

        Not behind the presenter's action lock: closing the vote must be instant, also while a
        Recover is waiting for a container.
        """
        if not self.ballot.open_voting(open_):
            return "Voting is already " + ("open." if open_ else "closed.")
        return self._switched(SystemAction.VOTING_OPEN if open_ else SystemAction.VOTING_CLOSED,
                              "Voting is open: phones can vote again" if open_
                              else "Voting is closed: votes answer 423 and nothing is stored", voting_open=open_)

    def set_results_visible(self, visible: bool) -> str:
        """Show or hide the results on the audience screen and the phones (counting goes on)."""
        if visible == self.results_visible:
            return "The results are already " + ("shown." if visible else "hidden.")
        self.results_visible = visible
        return self._switched(SystemAction.RESULTS_SHOWN if visible else SystemAction.RESULTS_HIDDEN,
                              "Results revealed: the room sees the counts" if visible
                              else "Results hidden: votes still count, the room sees no numbers until you reveal them",
                              results_visible=visible)

    def _switched(self, action: SystemAction, message: str, **data: object) -> str:
        """A switch the room sees flipped: documents change, phones learn it with the tally they already
        receive, the feed says so; the presenter's answer."""
        self.version += 1
        self.results_cache.touch()
        self.bus.publish(Kind.SYSTEM, action, message, **data)
        return message + "."

    def set_theme(self, theme: object) -> str:
        """The audience screen's colours: ``dark`` (a dark room) or ``light`` (a bright one)."""
        if theme not in THEMES:
            raise ActionRefused(Obstacle.BAD_INPUT, "theme must be “dark” or “light”.")
        self.theme = str(theme)
        self.version += 1
        return f"The audience screen is {theme} now."

    def identities_report(self) -> dict[str, Any]:
        """For the presenter only (it names client addresses): see IdentityBudget.report."""
        return self.identities.report()

    def run_tests(self) -> str:
        with self._control:
            started = start_in_background(self.tests, self.spawn)
        if not started:
            raise ActionRefused(Obstacle.NOT_NOW, "The tests are already running: watch the feed.")
        return "Running the fantasy and the reality tests: results stream into the feed."

    def reset(self) -> str:
        """A clean slate for the next show: services up, no votes, no limits, empty feed, first scene."""
        self.chaos.recover_all()
        with self._control:
            # A test run still going would stream its results into the cleared feed: stop it first
            # (a new run waits for this lock, so none starts before the feed is cleared).
            self.tests.cancel()
            self.ballot.reset()  # raises (nothing else changed) while PostgreSQL is down
            self.limiter.reset()
            self.identities.reset()
            self.results_visible = True
            self.service_changes.clear()
            self.scenes.reset()
            self.notices.clear()
            self.tests.clear()
            self.bus.clear()
            self.version += 1
        self.bus.publish(Kind.SYSTEM, SystemAction.RESET, "Clean slate: votes, rate limits and the feed are cleared")
        return "Clean slate: votes, rate limits and the feed are cleared."

    def _notice(self, text: str) -> None:
        if text not in self.notices:
            self.notices.append(text)
            self.version += 1

    # -- background work --------------------------------------------------------------------------

    def maintain(self) -> None:
        """The health loop (runs until :meth:`close`): probes, the rate limit following Redis, the tally re-read."""
        while not self.health.stopped:
            self.health.check_once()
            try:
                self.after_round()
            except Exception:
                pass  # a failed extra never stops the probes
            self.health.pause()

    def after_round(self) -> None:
        """What follows a round of probes: the limiter on the Redis health knows of, a wanted re-read of the tally."""
        self._limiter_follows_health()
        self.ballot.reload_if_wanted()

    def _limiter_follows_health(self) -> None:
        # The one place the limiter is told to check its backend: when health says Redis is up while the
        # limiter counts locally (go back to Redis), or down while it still counts in Redis (fall back),
        # or when a recovered Redis answers at another address (the old one may be another container's).
        if (self.health.probed("redis") and self.health.usable("redis") == self.limiter.degraded) or self.limiter.moved():
            self.limiter.check_backend()

    def close(self) -> None:
        self.health.stop()
        self.tests.stop()
        self.limiter.close()
        # The probes' connections are not closed here: the health task may be inside a query on one,
        # and closing a connection another greenlet uses blocks the whole process. They go at exit.
