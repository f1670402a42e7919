"""Fantasy and back to reality, in-process on the real PostgreSQL: no vote lost, none invented.

Going back to reality replays the votes the mock accepted into PostgreSQL in the order they were
cast; the UNIQUE constraint keeps each phone's first vote and refuses the rest. Going back while
PostgreSQL is dead changes nothing: here with a container of the test's own killed for real before the
app noticed, and in ``test_show_chaos.py`` through the show's own chaos button.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from reality.votes import VoteStore
from support.app import BEARER, build_app, close_app, show_state
from support.docker import Infrastructure, session_infrastructure, start_or_fail
from support.waiting import wait_for


def phone(app: Flask) -> FlaskClient:
    client = app.test_client()
    assert client.get("/qr").status_code == 200  # the voter cookie
    return client


def vote(client: FlaskClient, choice: str = "Go") -> int:
    return client.post("/api/vote", json={"choice": choice}).status_code


def set_mode(app: Flask, mode: str):
    return app.test_client().post("/api/presenter/mode", json={"mode": mode}, headers=BEARER)


def test_back_to_reality_replays_the_mock_votes_and_postgres_keeps_each_phones_first(app, votes):
    for _ in range(3):
        assert vote(phone(app)) == 201
    assert set_mode(app, "fantasy").status_code == 200
    a, b = phone(app), phone(app)
    assert [vote(a, "Rust"), vote(a, "Java"), vote(b, "Python")] == [201, 201, 201]  # the mock takes it all
    assert app.test_client().get("/api/results").get_json()["total"] == 6
    assert votes.total() == 3  # PostgreSQL has not seen them yet

    back = set_mode(app, "reality")

    assert back.status_code == 200
    message = back.get_json()["message"]
    assert "3 replayed: 2 stored, 1 refused by PostgreSQL as duplicates" in message
    results = app.test_client().get("/api/results").get_json()
    assert results["mode"] == "reality" and results["total"] == 5 == votes.total()
    assert results["counts"] == {**{option: 0 for option in results["options"]}, **votes.counts()}
    # A's first vote (Rust) is the one PostgreSQL kept; its second (Java) was refused.
    assert votes.counts().get("Rust") == 1 and votes.counts().get("Java") is None
    assert vote(a) == 409 and vote(b) == 409
    feed = app.test_client().get("/api/feed").get_json()["events"]
    switch = [e for e in feed if e["kind"] == "mode" and e["action"] == "reality"][-1]
    assert "3 replayed: 2 stored, 1 refused by PostgreSQL as duplicates" in switch["message"]
    assert (switch["data"]["replayed"], switch["data"]["stored"], switch["data"]["refused"]) == (3, 2, 1)


def test_a_phone_that_voted_in_reality_and_again_in_fantasy_is_refused_by_postgres_on_the_way_back(app, votes):
    early = phone(app)
    assert vote(early, "Go") == 201
    set_mode(app, "fantasy")
    assert vote(early, "Rust") == 201

    message = set_mode(app, "reality").get_json()["message"]

    assert "1 replayed: 0 stored, 1 refused by PostgreSQL as duplicates" in message
    assert votes.counts() == {"Go": 1}
    assert app.test_client().get("/api/results").get_json()["total"] == 1


def test_the_replay_keeps_the_order_and_the_time_the_votes_were_cast(app, votes):
    set_mode(app, "fantasy")
    phones = [phone(app) for _ in range(4)]
    for client, choice in zip(phones, ["Go", "Rust", "Java", "Python"]):
        assert vote(client, choice) == 201
    in_fantasy = [datetime.fromisoformat(row[2]) for row in show_state(app).export_rows()]

    set_mode(app, "reality")

    rows = votes.rows()  # ordered by id: the order PostgreSQL stored them in
    assert [choice for _, choice, _ in rows] == ["Go", "Rust", "Java", "Python"]
    assert [datetime.fromisoformat(cast_at) for _, _, cast_at in rows] == in_fantasy  # when cast, not replayed


def test_an_empty_fantasy_replays_nothing_and_says_so(app, votes):
    assert vote(phone(app)) == 201
    set_mode(app, "fantasy")

    message = set_mode(app, "reality").get_json()["message"]

    assert "0 replayed: 0 stored, 0 refused by PostgreSQL as duplicates" in message
    assert votes.total() == 1 == app.test_client().get("/api/results").get_json()["total"]


def test_a_vote_arriving_during_the_replay_waits_and_then_goes_to_postgres(app, votes, monkeypatch):
    """The mock is sealed while it is replayed: a vote then is neither lost in it nor counted twice."""
    set_mode(app, "fantasy")
    assert vote(phone(app), "Go") == 201
    late = phone(app)
    answers: list[int] = []
    voters: list[threading.Thread] = []
    replay = votes.replay

    def replay_while_a_phone_votes(pending):
        voter = threading.Thread(target=lambda: answers.append(vote(late, "Java")))
        voter.start()
        voters.append(voter)
        voter.join(0.3)
        assert voter.is_alive() and not answers  # it waits: the mock is sealed, reality not yet on
        return replay(pending)

    monkeypatch.setattr(votes, "replay", replay_while_a_phone_votes)
    assert set_mode(app, "reality").status_code == 200
    voters[0].join(10)

    assert answers == [201]
    assert votes.counts() == {"Go": 1, "Java": 1}
    assert app.test_client().get("/api/results").get_json()["total"] == 2


@pytest.fixture
def own_postgres() -> Iterator[Infrastructure]:
    """A PostgreSQL container of this test's own, to kill (the session's is shared with other tests)."""
    # Its own event bus: the app is not told of the kill. Durable commits, as the show has: with the
    # suite's fast storage a kill loses the last acknowledged vote. A role of its own: leaving, an
    # Infrastructure sweeps every container of this process with its role (the session's too).
    infra = session_infrastructure(role="tests-chaos", fast_storage=False)
    with infra:
        start_or_fail(infra, "postgres")
        yield infra


def test_back_to_reality_when_postgres_died_unnoticed_is_409_and_changes_nothing(own_postgres):
    store = VoteStore(own_postgres.postgres_url)
    store.init_schema()
    app = build_app(store, TESTING=True)  # the health probe's first round included
    state = show_state(app)
    try:
        assert vote(phone(app)) == 201
        set_mode(app, "fantasy")
        a, b = phone(app), phone(app)
        assert [vote(a, "Rust"), vote(a, "Rust"), vote(b, "Java")] == [201] * 3
        before = app.test_client().get("/api/results").get_json()
        own_postgres.kill("postgres")  # for real; the app's health monitor has not noticed yet
        assert state.health.usable("postgres")

        refused = set_mode(app, "reality")

        assert refused.status_code == 409
        assert "Still in fantasy mode" in refused.get_json()["message"]
        assert "Nothing changed" in refused.get_json()["message"]
        assert app.test_client().get("/api/results").get_json() == before
        assert before["mode"] == "fantasy" and before["total"] == 4
        assert app.test_client().get("/api/health").get_json()["mode"] == "fantasy"
        assert vote(phone(app), "Go") == 201  # the mock still takes votes: nothing was sealed for good

        assert own_postgres.recover("postgres") is True

        def probed_up() -> bool:
            state.health.check_once()  # what the health loop does, four times a second while it is down
            return state.health.usable("postgres")

        wait_for(probed_up, 15, "the health probe to find PostgreSQL back", interval=0.1)
        back = set_mode(app, "reality")

        assert back.status_code == 200
        assert "4 replayed: 3 stored, 1 refused by PostgreSQL as duplicates" in back.get_json()["message"]
        assert app.test_client().get("/api/results").get_json()["total"] == 4 == store.total()
        feed = app.test_client().get("/api/feed").get_json()["events"]
        assert any(e["kind"] == "mode" and e["action"] == "refused" for e in feed)
        back_up = [e["message"] for e in feed if e["kind"] == "service" and e["action"] == "up"]
        assert back_up and not any(" of " in message or "gone" in message for message in back_up)
    finally:
        close_app(app)
        store.close()
