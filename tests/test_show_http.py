"""The show's HTTP contract, on the show's app in this process.

Covers what the README promises: the vote API (201/409/429/400/503), results and health, the presenter's
controls and their authorization, fantasy vs reality, reset, CSV export, the test run from the
dashboard. These run on the show's app in this process (``local_show``: real PostgreSQL, real Redis,
Flask's test client), each test on a fresh app. Bad input: test_show_bad_input.py; chaos and recovery,
which kill real containers under a real ``reality_engine.py``: test_show_chaos.py.
"""

from __future__ import annotations

import csv
import io

import pytest

from support.show import OPTIONS, QUESTION, TOKEN
from support.waiting import wait_for

# -- the contract ---------------------------------------------------------------------------------


def test_pages_are_served_and_the_phone_page_gives_a_signed_voter_cookie(local_show):
    dashboard = local_show.get("/")
    assert dashboard.status_code == 200
    assert QUESTION in dashboard.text
    phone = local_show.get("/qr")
    assert phone.status_code == 200
    for option in OPTIONS:
        assert f'data-choice="{option}"' in phone.text
    cookie = phone.headers["Set-Cookie"]
    assert cookie.startswith(f"{local_show.cookie_name}=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    # Signed, not a bare id: the value carries Flask's signature, so it cannot be forged.
    assert cookie.split(";")[0].split("=", 1)[1].count(".") >= 2


def test_a_vote_is_accepted_then_the_same_phone_is_refused_by_postgres(local_show):
    phone = local_show.phone()

    first = phone.vote("Go")
    assert first.status_code == 201
    assert first.json["message"] == "Vote recorded"

    second = phone.vote("Rust")
    assert second.status_code == 409
    body = second.json
    assert body["message"] == "You already voted!"
    assert "PostgreSQL refused it" in body["detail"] and "unique constraint" in body["detail"]

    results = local_show.results()
    assert results["counts"]["Go"] == 1 and results["counts"]["Rust"] == 0
    assert local_show.database_rows() == 1


def test_results_document(local_show):
    local_show.phone().vote("Python")
    local_show.phone().vote("Python")
    local_show.phone().vote("Java")

    results = local_show.results()

    assert results["question"] == QUESTION
    assert results["options"] == list(OPTIONS)
    assert list(results["counts"]) == list(OPTIONS)  # in the options' order, zeros included
    assert results["counts"] == {"Python": 2, "JavaScript": 0, "Go": 0, "Rust": 0, "Java": 1}
    assert results["total"] == 3 == local_show.database_rows()


def test_health_document(local_show):
    health = local_show.health()
    assert health["services"] == {"postgres": "up", "redis": "up"}
    assert health["rate_limit"] is True
    assert health["rate_limit_backend"] == "redis"
    assert health["mode"] in ("reality", "fantasy")
    assert health["docker"] == "up"
    assert health["phone_url"].endswith("/qr")
    assert "localhost" not in health["phone_url"] and "127.0.0.1" not in health["phone_url"]


def test_every_event_has_a_sequence_number_in_order(local_show):
    local_show.presenter.reset()
    for choice in ("Go", "Rust", "Java"):
        local_show.phone().vote(choice)
    events = local_show.feed()
    seqs = [event["seq"] for event in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # nothing missing in between
    assert events[0]["kind"] == "system" and events[0]["action"] == "reset"
    assert [e["data"]["choice"] for e in events if e["kind"] == "vote"] == ["Go", "Rust", "Java"]


# -- rate limit (counted in the session's real Redis) ---------------------------------------------


def test_fourth_request_in_a_minute_is_rate_limited_per_voter_not_per_ip(local_show):
    phone = local_show.phone()
    statuses = [phone.vote("Go").status_code for _ in range(4)]
    assert statuses == [201, 409, 409, 429]
    limited = phone.vote("Go")
    assert limited.status_code == 429
    assert limited.json["message"] == "Slow down!"
    # What the limit counts is a phone's tries: it has one vote, and the refused second ones count too.
    assert limited.json["detail"].startswith("At most 3 tries a minute per phone. Try again in ")
    assert int(limited.headers["Retry-After"]) >= 1
    # Same IP address, another phone: not limited.
    assert local_show.phone().vote("Go").status_code == 201
    blocked = [e for e in local_show.feed() if e["kind"] == "ratelimit" and e["action"] == "blocked"]
    assert len(blocked) == 2 and blocked[0]["data"]["backend"] == "redis"


def test_rate_limit_can_be_switched_off_and_on(local_show):
    presenter = local_show.presenter
    assert presenter.ok("rate-limit", {"enabled": False})["enabled"] is False
    assert local_show.health()["rate_limit"] is False
    phone = local_show.phone()
    assert [phone.vote("Go").status_code for _ in range(5)] == [201, 409, 409, 409, 409]
    presenter.ok("rate-limit", {"enabled": True})
    assert local_show.health()["rate_limit"] is True
    phone = local_show.phone()
    assert [phone.vote("Go").status_code for _ in range(4)][-1] == 429


# -- presenter authorization ------------------------------------------------------------------------

PRESENTER_ACTIONS = [
    ("rate-limit", {"enabled": False}),
    ("chaos", {"target": "redis"}),
    ("chaos", {"target": "postgres"}),
    ("recover", {"target": "postgres"}),
    ("reset", {}),
    ("mode", {"mode": "fantasy"}),
    ("tests", {}),
    ("scene", {"action": "next"}),
]


@pytest.mark.parametrize("action,body", PRESENTER_ACTIONS, ids=[a for a, _ in PRESENTER_ACTIONS])
@pytest.mark.parametrize("headers,status", [
    ({}, 401),
    ({"Authorization": "Bearer wrong-token"}, 403),
    ({"Authorization": f"Bearer {TOKEN}x"}, 403),
    ({"Authorization": f"Basic {TOKEN}"}, 401),
    ({"Authorization": "Bearer "}, 401),
], ids=["no-token", "wrong-token", "longer-token", "basic-scheme", "empty-bearer"])
def test_presenter_actions_refuse_without_the_token_and_nothing_happens(local_show, action, body, headers, status):
    local_show.phone().vote("Go")
    before_health, before_results, before_seq = local_show.health(), local_show.results(), local_show.last_seq()

    # From an address of its own: wrong tokens tried here never throttle the presenter's.
    response = local_show.browser("127.77.0.1").post(f"/api/presenter/{action}", json=body, headers=headers)

    assert response.status_code == status
    assert response.json["message"]
    after = local_show.health()
    assert after["services"] == before_health["services"] == {"postgres": "up", "redis": "up"}
    assert after["mode"] == before_health["mode"] and after["rate_limit"] == before_health["rate_limit"]
    assert after["tests_running"] is False
    assert local_show.results() == before_results
    assert local_show.last_seq() == before_seq  # not even an event
    assert local_show.get("/api/scene").json["index"] == 0


def test_a_token_guessing_script_gets_ten_tries_a_minute_then_429(local_show):
    """The finding: 658 wrong Bearer tries a second, unthrottled. Now ten a minute per address."""
    script = local_show.browser("127.77.0.1")
    statuses = [script.post("/api/presenter/scene", json={"action": "next"},
                            headers={"Authorization": f"Bearer guess-{n}"}).status_code for n in range(40)]
    assert statuses[:10] == [403] * 10
    assert set(statuses[10:]) == {429}
    right = script.post("/api/presenter/scene", json={"action": "goto", "index": 0},
                        headers={"Authorization": f"Bearer {TOKEN}"})
    assert right.status_code == 429 and 1 <= int(right.headers["Retry-After"]) <= 60
    # The presenter's own address is not throttled for it.
    assert local_show.presenter.post("scene", {"action": "goto", "index": 0}).status_code == 200


def test_token_in_the_query_string_does_not_authorize_the_api(local_show):
    response = local_show.browser().post(f"/api/presenter/reset?token={TOKEN}", json={})
    assert response.status_code == 401


def test_export_needs_the_token_and_lists_every_vote(local_show):
    assert local_show.get("/api/presenter/export.csv").status_code == 401
    for choice in ("Go", "Rust"):
        local_show.phone().vote(choice)

    response = local_show.presenter.http.get("/api/presenter/export.csv")

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["phone", "choice", "cast_at"]
    assert sorted(row[1] for row in rows[1:]) == ["Go", "Rust"]
    assert all(row[0].startswith("phone ") and row[2] for row in rows[1:])


def test_a_browser_session_logs_in_with_the_token_and_then_needs_json(local_show):
    browser = local_show.browser()
    wrong = browser.get("/?token=nope")
    assert wrong.status_code == 401 and "nope" not in wrong.text

    login = browser.get(f"/?token={TOKEN}")
    assert login.status_code == 303 and login.headers["Location"] == "/presenter"  # the token leaves the URL
    assert 'id="controls"' in browser.get("/presenter").text
    assert 'id="controls"' not in browser.get("/").text  # the projector never has them

    # A form post riding on the cookie (what a cross-site page could send) is refused.
    refused = browser.post("/api/presenter/scene", data={"action": "next"})
    assert refused.status_code == 403
    moved = browser.post("/api/presenter/scene", json={"action": "goto", "index": 0})
    assert moved.status_code == 200

    browser.post("/logout", headers={"Origin": "http://localhost"})
    assert browser.post("/api/presenter/scene", json={"action": "next"}).status_code == 401


# -- fantasy vs reality -----------------------------------------------------------------------------


def test_fantasy_mode_lets_duplicates_in_and_reality_replays_them_into_postgres(local_show):
    presenter = local_show.presenter
    alice, bob = local_show.phone(), local_show.phone()
    assert alice.vote("Go").status_code == 201
    assert "Fantasy mode" in presenter.ok("mode", {"mode": "fantasy"})["message"]
    assert local_show.health()["mode"] == "fantasy"
    assert alice.vote("Go").status_code == 201  # the mock takes the duplicate
    assert [bob.vote("Go").status_code for _ in range(2)] == [201, 201]
    assert local_show.results()["counts"]["Go"] == 4 and local_show.results()["mode"] == "fantasy"
    assert local_show.database_rows() == 1  # PostgreSQL has not seen them yet

    back = presenter.ok("mode", {"mode": "reality"})

    # Replayed in order: alice's duplicate and bob's second are refused by the UNIQUE constraint.
    assert "3 replayed: 1 stored, 2 refused by PostgreSQL as duplicates" in back["message"]
    assert local_show.results()["counts"]["Go"] == 2 == local_show.database_rows()
    assert alice.vote("Go").status_code == 409
    assert bob.vote("Go").status_code == 409  # bob's first fantasy vote is in PostgreSQL now


# -- reset, scenes, tests -----------------------------------------------------------------------------


def test_reset_is_a_clean_slate(local_show):
    presenter = local_show.presenter
    phone = local_show.phone()
    phone.vote("Go")
    phone.vote("Go")
    presenter.ok("scene", {"action": "next"})
    presenter.ok("mode", {"mode": "fantasy"})

    presenter.reset()

    results = local_show.results()
    assert results["total"] == 0 and local_show.database_rows() == 0
    events = local_show.feed()
    assert [(e["kind"], e["action"]) for e in events] == [("system", "reset")]
    assert local_show.health()["mode"] == "reality"
    scene = local_show.get("/api/scene").json
    assert scene["index"] == 0 and scene["running"] is False
    assert phone.vote("Go").status_code == 201  # limits cleared too: the phone may vote again


def test_scene_steps_forward_and_back_and_keeps_time(local_show):
    presenter = local_show.presenter
    scene = presenter.ok("scene", {"action": "next"})["scene"]
    assert scene["index"] == 1 and scene["running"] is True and scene["scene"]["key"] == "qr-voting"
    assert presenter.ok("scene", {"action": "previous"})["scene"]["index"] == 0
    assert presenter.ok("scene", {"action": "goto", "index": 99})["scene"]["index"] == 5  # clamped
    assert presenter.ok("scene", {"action": "pause"})["scene"]["running"] is False
    assert presenter.post("scene", {"action": "dance"}).status_code == 400
    assert presenter.post("scene", {"action": "goto", "index": "2"}).status_code == 400


def test_the_dashboard_runs_the_fantasy_and_reality_tests_and_streams_each_result(local_show):
    presenter = local_show.presenter
    started = presenter.post("tests")
    assert started.status_code == 202
    assert presenter.post("tests").status_code == 409  # one run at a time

    state = wait_for(lambda: (lambda s: s if s["summary"] else None)(local_show.get("/api/tests").json), 180,
                     "the test run to finish", interval=0.2)

    outcomes = {(r["suite"], r["outcome"]) for r in state["results"]}
    assert outcomes == {("fantasy", "passed"), ("reality", "passed")}
    assert sum(r["suite"] == "fantasy" for r in state["results"]) == 3
    assert sum(r["suite"] == "reality" for r in state["results"]) == 4
    assert all(r["duration_ms"] >= 0 for r in state["results"])
    events = [e for e in local_show.feed() if e["kind"] == "test"]
    assert events[0]["action"] == "started" and events[-1]["action"] == "finished"
    assert [e["action"] for e in events[1:-1]] == ["passed"] * 7
    assert "7 passed, 0 failed" in events[-1]["message"]


def test_reset_during_a_test_run_stops_it_before_clearing_the_feed(local_show):
    presenter = local_show.presenter
    assert presenter.post("tests").status_code == 202
    wait_for(lambda: any(e["kind"] == "test" and e["action"] == "started" for e in local_show.feed()), 15,
             "the test run to start")

    presenter.reset()

    tests = local_show.get("/api/tests").json
    assert tests["running"] is False and tests["results"] == [] and tests["summary"] is None
    # The run ended before the feed was cleared: nothing of it can arrive after the clean slate.
    assert [e["action"] for e in local_show.feed()] == ["reset"]
    assert presenter.post("tests").status_code == 202  # and the runner is free for the next show
    wait_for(lambda: any(e["kind"] == "test" and e["action"] == "finished" for e in local_show.feed()), 180,
             "the second test run to finish", interval=0.2)
