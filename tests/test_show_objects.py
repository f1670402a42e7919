"""The show's parts one by one, in process, on the real PostgreSQL (and a real Redis for the limiter).

The ballot (votes and modes), chaos and reconnection, the health monitor with its own probes, the
test run's ``clear``, the answers as values and what HTTP makes of them, the one presenter guard.

A little over 300 lines: the show state's small objects, a few tests each, on the same fixtures.
"""

from __future__ import annotations

import socket
import threading
from typing import Iterator

import pytest

from reality.orchestration import Infrastructure
from reality.errors import RealityError
from reality.events import EventBus
from reality.poll import Poll
from reality.ratelimit import VoterRateLimiter
from reality.votes import AlreadyVoted, VoteStore
from reality.web.answers import ActionRefused, Obstacle, VoteOutcome
from reality.web.api import OBSTACLE_STATUS
from reality.web.health import HealthMonitor
from reality.web.state import ShowState
from reality.web.vote_api import VOTE_STATUS
from support.waiting import wait_for



def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again on return: nothing listens there


def make_state(store: VoteStore, limiter: VoterRateLimiter | None = None, **parts) -> ShowState:
    state = ShowState(poll=Poll.parse("Which one?", "Go,Rust"), bus=EventBus(), store=store,
                      limiter=limiter or VoterRateLimiter(None, per_minute=3), **parts)
    state.health.check_once()  # what the health loop's first round does: PostgreSQL known up
    return state


@pytest.fixture
def state(votes: VoteStore) -> Iterator[ShowState]:
    state = make_state(votes)
    yield state
    state.close()


def events(state: ShowState) -> list[tuple[str, str]]:
    return [(event.kind, event.action) for event in state.bus.history()]


# -- the store says why it refused ----------------------------------------------------------------------

def test_the_store_names_the_constraint_that_refused_a_second_vote(votes):
    votes.cast("phone-1", "Go")
    with pytest.raises(AlreadyVoted) as refused:
        votes.cast("phone-1", "Rust")
    assert refused.value.constraint == "one_vote_per_voter"  # schema.sql's name, from PostgreSQL's diagnostics
    assert refused.value.reason == 'duplicate key value violates unique constraint "one_vote_per_voter"'


# -- votes: outcomes are values -----------------------------------------------------------------------

def test_a_vote_answers_with_an_outcome_and_a_refusal_carries_postgres_words(state, votes):
    assert state.vote("phone-a", "Go").outcome == VoteOutcome.ACCEPTED
    again = state.vote("phone-a", "Rust")

    assert again.outcome == VoteOutcome.ALREADY_VOTED
    assert again.reason == 'duplicate key value violates unique constraint "one_vote_per_voter"'
    assert state.results()["second_votes_refused"] == 1 and state.results()["latest_refusal"] == again.reason
    assert votes.total() == 1
    assert ("vote", "refused") in events(state)


def test_the_choice_is_checked_before_the_identity(state, votes):
    assert state.vote(None, "Cobol").outcome == VoteOutcome.BAD_CHOICE
    assert state.vote(None, 7).outcome == VoteOutcome.BAD_CHOICE
    assert state.vote(None, "Go").outcome == VoteOutcome.NO_IDENTITY
    assert votes.total() == 0 and not [kind for kind, _ in events(state) if kind in ("vote", "ratelimit")]


def test_a_closed_vote_spends_nothing_of_the_phones_rate_limit(state, votes):
    state.set_voting(False)
    assert {state.vote("phone-c", "Go").outcome for _ in range(5)} == {VoteOutcome.CLOSED}
    state.set_voting(True)

    answers = [state.vote("phone-c", "Go") for _ in range(4)]  # the limit is 3 a minute

    assert [a.outcome for a in answers] == [VoteOutcome.ACCEPTED, VoteOutcome.ALREADY_VOTED,
                                            VoteOutcome.ALREADY_VOTED, VoteOutcome.RATE_LIMITED]
    assert answers[-1].retry_after >= 1 and votes.total() == 1


def test_a_known_outage_refuses_at_once_and_counts_for_the_room(state, votes):
    state.health.report_failure("postgres")
    answer = state.vote("phone-d", "Go")

    assert answer.outcome == VoteOutcome.UNAVAILABLE and answer.retry_after == 2
    assert state.results()["outage_refused"] == 1 and state.results()["ready"] is False
    assert votes.total() == 0


def test_every_outcome_and_every_obstacle_has_its_http_status():
    assert set(VOTE_STATUS) == set(VoteOutcome)
    assert set(OBSTACLE_STATUS) == set(Obstacle)


def test_each_document_has_one_version_that_moves_when_it_changes(state):
    """What the broadcaster compares instead of reading its neighbours' internals."""
    results, health = state.results_version(), state.health_version()
    assert (state.results_version(), state.health_version()) == (results, health)  # nothing changed, nothing sent

    state.vote("phone-v", "Go")
    assert state.results_version() != results and state.health_version() == health
    results = state.results_version()
    state.health.report_failure("postgres")  # votes are not stored now: the phones' fine print says so
    assert state.results_version() != results and state.health_version() != health
    health = state.health_version()
    state.set_rate_limit(False)
    assert state.health_version() != health


# -- modes --------------------------------------------------------------------------------------------

def test_back_to_reality_replays_the_mocks_votes_and_counts_the_refused_ones(state, votes):
    state.vote("phone-p", "Go")
    before = state.health_version()
    state.set_mode("fantasy")
    assert state.health_version() != before  # the broadcaster learns the mode changed
    assert [state.vote(voter, choice).outcome for voter, choice in
            (("phone-p", "Rust"), ("phone-q", "Go"), ("phone-q", "Go"))] == [VoteOutcome.ACCEPTED] * 3

    message = state.set_mode("reality")

    assert "3 replayed: 1 stored, 2 refused by PostgreSQL as duplicates" in message
    assert votes.total() == 2 and state.results()["total"] == 2
    assert state.results()["second_votes_refused"] == 2 and state.mode == "reality"


def test_a_switch_that_cannot_be_done_is_refused_with_why(state):
    with pytest.raises(ActionRefused) as bad:
        state.set_mode("dream")
    assert bad.value.why == Obstacle.BAD_INPUT
    state.set_mode("fantasy")
    state.health.report_failure("postgres")
    with pytest.raises(ActionRefused) as not_now:
        state.set_mode("reality")
    assert not_now.value.why == Obstacle.NOT_NOW and "Still in fantasy mode" in not_now.value.message
    assert state.mode == "fantasy"


# -- chaos and reconnection -----------------------------------------------------------------------------

def test_chaos_without_a_controller_is_refused_and_a_bad_target_first(state):
    with pytest.raises(ActionRefused) as bad:
        state.chaos.kill("mysql")
    assert bad.value.why == Obstacle.BAD_INPUT
    with pytest.raises(ActionRefused) as no_control:
        state.chaos.recover("redis")
    assert no_control.value.why == Obstacle.NOT_NOW and "without container control" in no_control.value.message


def test_postgres_back_as_a_fresh_empty_database_is_said_out_loud(state, votes):
    assert state.vote("phone-1", "Go").outcome == state.vote("phone-2", "Rust").outcome == VoteOutcome.ACCEPTED
    state.health.report_failure("postgres")
    votes.reset()  # what a fresh container at the same address holds: nothing

    state.health.check_once()  # the probe answers; reconnection runs before "up"

    assert state.health.usable("postgres")
    assert "PostgreSQL came back as a fresh, empty database: the 2 earlier vote(s) are gone." in state.notices
    assert state.results()["total"] == 0
    back = [event.message for event in state.bus.history() if (event.kind, event.action) == ("service", "up")]
    assert back[-1] == "PostgreSQL answers again, as a fresh, empty database: the 2 earlier vote(s) are gone"


# -- health owns its probes ------------------------------------------------------------------------------

class NotReadyYet:
    """Readiness work that fails (a schema that cannot be created yet) until told otherwise."""

    def __init__(self) -> None:
        self.ready = False
        self.asked: list[str] = []

    def before_up(self, name: str) -> str | None:
        self.asked.append(name)
        if not self.ready:
            raise RuntimeError("not yet")
        return "ready now"


def test_health_probes_postgres_itself_and_counts_it_up_only_once_ready(votes):
    readiness = NotReadyYet()
    health = HealthMonitor(EventBus(), postgres=votes.dsn, readiness=readiness)
    try:
        health.check_once()
        assert health.states["postgres"] == "starting" and readiness.asked == ["postgres"]
        readiness.ready = True
        health.check_once()
        assert health.usable("postgres")
        assert [event.message for event in health.bus.history()] == ["ready now"]
        # No Redis configured: not probed, and said to be stopped (the limit runs locally).
        assert health.states["redis"] == "stopped" and not health.probed("redis")
    finally:
        health.stop()


def test_health_never_calls_an_unreachable_postgres_up(votes):
    health = HealthMonitor(EventBus(), postgres=f"postgresql://nobody:secret@127.0.0.1:{closed_port()}/votes",
                           redis_url=f"redis://127.0.0.1:{closed_port()}/0")
    try:
        health.check_once()
        assert health.snapshot() == {"postgres": "starting", "redis": "starting"}
    finally:
        health.stop()


# -- the test run and reset ----------------------------------------------------------------------------

def test_reset_clears_the_test_runs_results_through_its_own_method(state, votes):
    state.tests.results = [{"suite": "reality", "name": "x", "outcome": "passed"}]
    state.tests.summary = {"passed": 1}
    state.vote("phone-r", "Go")
    state.set_rate_limit(False)

    state.reset()

    assert state.tests.results == [] and state.tests.summary is None
    assert votes.total() == 0 and state.limiter.enabled is True
    assert events(state) == [("system", "reset")]


# -- one presenter guard ------------------------------------------------------------------------------

def test_every_presenter_endpoint_is_behind_the_one_guard(make_app):
    app = make_app()
    client = app.test_client()
    rules = [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/presenter/")]
    assert len(rules) == 12 and all(rule.endpoint.startswith("presenter_api.") for rule in rules)
    for rule in rules:
        method = "POST" if "POST" in rule.methods else "GET"
        answer = client.open(rule.rule, method=method, json={})
        assert answer.status_code == 401, rule.rule
        assert answer.headers["WWW-Authenticate"] == 'Bearer realm="reality-engine presenter"'
    # Flask's automatic OPTIONS answer runs no view: it lists the methods, as before the guard.
    options = client.options("/api/presenter/chaos")
    assert options.status_code == 200 and set(options.headers["Allow"].split(", ")) == {"OPTIONS", "POST"}


# -- settings come from reality.config ----------------------------------------------------------------

def test_the_web_settings_are_read_in_config_and_can_be_handed_in(monkeypatch, votes):
    from reality import config
    from reality.web import create_app, shutdown

    monkeypatch.setenv(config.PRESENTER_TOKEN_ENV, "from-the-environment-0123456789")
    monkeypatch.setenv(config.IDENTITIES_BURST_ENV, "7")
    settings = config.web_settings()
    assert settings["PRESENTER_TOKEN"] == "from-the-environment-0123456789" and settings["IDENTITIES_BURST"] == 7

    handed = dict(settings, PRESENTER_TOKEN="handed-in-token-0123456789")
    app = create_app({"ASYNC_MODE": "threading", "BACKGROUND_TASKS": False}, bus=EventBus(), store=votes,
                     settings=handed)
    try:
        assert app.config["PRESENTER_TOKEN"] == "handed-in-token-0123456789"  # not the environment's
        assert app.config["IDENTITIES_BURST"] == 7
    finally:
        shutdown(app)


# -- Redis: health answers "is it up", the limiter follows ---------------------------------------------

@pytest.fixture(scope="module")
def redis_infra() -> Iterator[Infrastructure]:
    try:
        infra = Infrastructure(role="tests-objects")
    except RealityError as exc:
        pytest.fail(str(exc), pytrace=False)
    with infra:
        infra.start("redis")
        yield infra


def test_the_limiter_follows_what_health_knows_of_redis_through_a_kill_and_a_recover(redis_infra, votes):
    bus = redis_infra.bus
    url = lambda: redis_infra.redis_url  # noqa: E731 (read again: a recovered Redis can move)
    state = ShowState(poll=Poll.parse("Which one?", "Go,Rust"), bus=bus, store=votes,
                      limiter=VoterRateLimiter(url, bus, per_minute=3), redis_url=url, infra=redis_infra)
    loop = threading.Thread(target=state.maintain, daemon=True)
    loop.start()
    try:
        assert state.health.wait_until("redis", "up", 20) and state.health.wait_until("postgres", "up", 20)
        assert state.limiter.backend == "redis"
        since = bus.history()[-1].seq

        assert "Redis killed" in state.chaos.kill("redis")

        # The kill's event marks Redis down; the loop's round moves the limiter to local memory.
        wait_for(lambda: state.limiter.backend == "local", 20, "the limiter on local memory")
        assert ("ratelimit", "degraded") in [(e.kind, e.action) for e in bus.history(since)]
        assert state.vote("phone-k", "Go").outcome == VoteOutcome.ACCEPTED  # votes keep working

        message, _kept = state.chaos.recover("redis")

        assert message == "Redis is back: the rate limit is counted in Redis again."
        wait_for(lambda: state.limiter.backend == "redis", 20, "the limiter back on Redis")
        assert ("ratelimit", "restored") in [(e.kind, e.action) for e in bus.history(since)]
    finally:
        state.close()
        loop.join(timeout=10)
