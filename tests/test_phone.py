"""The phone knows its own vote: after a reload, from the server, by its cookie.

The app runs in-process on the real PostgreSQL (the ``votes`` fixture); an outage is a real store
whose PostgreSQL does not answer (a closed port), never a mock. The phone page in a real browser is
in tests/test_phone_browser.py.
"""

from __future__ import annotations

import json
import re
import socket

import pytest

from reality.votes import InMemoryVoteStore, StoreUnavailable, VoteStore
from support.app import BEARER, show_state
PAGE_STATE = re.compile(r'<script type="application/json" id="page-state">(.*?)</script>', re.S)


class CountingStore(VoteStore):
    """The real store, counting the lookups the phone page makes (to prove the hot path's cost)."""

    lookups = 0

    def choice_of(self, voter_id: str) -> str | None:
        self.lookups += 1
        return super().choice_of(voter_id)



def page_state(response) -> dict:
    assert response.status_code == 200, response.status_code
    return json.loads(PAGE_STATE.search(response.get_data(as_text=True)).group(1))


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again on return: nothing listens there


def test_choice_of_reads_the_stored_vote_of_one_voter(votes):
    assert votes.choice_of("phone-1") is None
    votes.cast("phone-1", "Go")
    votes.cast("phone-2", "Rust")
    assert votes.choice_of("phone-1") == "Go"
    assert votes.choice_of("phone-2") == "Rust"
    assert votes.choice_of("phone-3") is None


def test_the_lookup_can_use_the_unique_constraints_index(votes, postgres_url):
    import psycopg2

    with psycopg2.connect(postgres_url) as conn, conn.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")  # a tiny table is scanned anyway; ask what else there is
        cursor.execute("EXPLAIN SELECT choice FROM votes WHERE voter_id = %s", ("phone-1",))
        plan = " ".join(row[0] for row in cursor.fetchall())
    conn.close()
    assert "one_vote_per_voter" in plan, plan


def test_the_mock_remembers_the_latest_of_its_many_votes():
    store = InMemoryVoteStore()
    store.carry_over([("phone-1", "Go", "2026-01-01T00:00:00+00:00")])
    assert store.choice_of("phone-1") == "Go"
    store.cast("phone-1", "Rust")  # the mock takes a second vote: the phone now sees its latest
    assert store.choice_of("phone-1") == "Rust"
    assert store.choice_of("phone-2") is None


def test_choice_of_on_an_unreachable_database_says_so():
    store = VoteStore(f"postgresql://nobody:secret@127.0.0.1:{closed_port()}/votes", timeout=1.0)
    with pytest.raises(StoreUnavailable):
        store.choice_of("phone-1")


def test_a_reloaded_phone_page_carries_its_vote_and_a_new_phone_costs_no_query(make_app, postgres_url):
    store = CountingStore(postgres_url)
    app = make_app(store)
    phone = app.test_client()
    first = page_state(phone.get("/qr"))
    assert first["my_vote"] == {"known": True, "choice": None}
    assert store.lookups == 0  # a new cookie: it cannot have voted, so nothing is asked

    assert page_state(phone.get("/qr"))["my_vote"] == {"known": True, "choice": None}
    assert store.lookups == 1  # a reload with the cookie: one lookup
    assert phone.post("/api/vote", json={"choice": "Go"}).status_code == 201
    again = page_state(phone.get("/qr"))
    assert again["my_vote"] == {"known": True, "choice": "Go"}
    assert again["results"]["ready"] is True and again["results"]["mode"] == "reality"
    assert store.lookups == 2
    assert phone.get("/api/my-vote").get_json() == {"known": True, "choice": "Go"}
    other = app.test_client()
    assert other.get("/api/my-vote").get_json() == {"known": True, "choice": None}  # no cookie, no vote
    store.close()


def test_in_fantasy_mode_the_phone_sees_its_vote_in_the_mock(make_app):
    app = make_app()
    phone, presenter = app.test_client(), app.test_client()
    phone.get("/qr")
    assert phone.post("/api/vote", json={"choice": "Go"}).status_code == 201
    assert presenter.post("/api/presenter/mode", json={"mode": "fantasy"}, headers=BEARER).status_code == 200
    assert page_state(phone.get("/qr"))["my_vote"] == {"known": True, "choice": "Go"}  # carried over
    assert phone.post("/api/vote", json={"choice": "Rust"}).status_code == 201  # the mock takes it
    state = page_state(phone.get("/qr"))
    assert state["my_vote"] == {"known": True, "choice": "Rust"}
    assert state["results"]["mode"] == "fantasy" and state["results"]["ready"] is True


def test_while_postgres_is_down_the_vote_is_unknown_and_the_page_says_votes_are_not_stored(make_app):
    dead = VoteStore(f"postgresql://nobody:secret@127.0.0.1:{closed_port()}/votes", timeout=1.0)
    app = make_app(dead)
    assert not show_state(app).health.usable("postgres")  # never answered: "starting", not up
    phone = app.test_client()
    phone.get("/qr")
    state = page_state(phone.get("/qr"))
    assert state["my_vote"] == {"known": False, "choice": None}
    assert state["results"]["ready"] is False
    answer = phone.get("/api/my-vote")
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "2"
    assert answer.get_json() == {"known": False, "choice": None, "status": 503,
                                 "message": "PostgreSQL does not answer: this phone's vote cannot be looked up right now."}
    assert app.test_client().get("/api/health").get_json()["ready"] is False


def test_a_lookup_that_fails_while_the_probe_still_says_up_is_unknown_too(make_app, votes):
    address = {"dsn": votes.dsn}
    store = VoteStore(lambda: address["dsn"], timeout=1.0)  # the address is read at every new connection
    app = make_app(store)
    state = app.extensions["reality"]
    phone = app.test_client()
    phone.get("/qr")
    # The database went away between two probes: the phone's lookup fails, and the page says it cannot tell.
    address["dsn"] = f"postgresql://nobody:secret@127.0.0.1:{closed_port()}/votes"
    store.reconnect()
    assert state.health.usable("postgres")
    assert page_state(phone.get("/qr"))["my_vote"] == {"known": False, "choice": None}
    assert phone.get("/api/my-vote").status_code == 503
