"""The show's HTTP contract: the app in this process for the contract, a real show for chaos.

Covers what the README promises: the vote API (201/409/429/400/503), results and health, the presenter's
controls and their authorization, fantasy vs reality, reset, CSV export, the test run from the
dashboard, and a bad-input matrix that must never produce a 5xx or store anything. These run on the
show's app in this process (``local_show``: real PostgreSQL, real Redis, Flask's test client), each
test on a fresh app. Chaos and recovery kill real containers, so they run against a real
``reality_engine.py`` (``fresh_show``), as does the check of where its databases listen.
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


# -- bad input: 4xx, a human message, nothing stored, never a 5xx ---------------------------------------

def _raw(body: bytes, content_type: str | None = "application/json") -> dict:
    headers = {"Content-Type": content_type} if content_type else {}
    return {"data": body, "headers": headers}


BAD_VOTES = {
    "form-encoded": (_raw(b"choice=Python", "application/x-www-form-urlencoded"), 415),
    "text-plain": (_raw(b'{"choice": "Python"}', "text/plain"), 415),
    "no-content-type": (_raw(b'{"choice": "Python"}', None), 415),
    "malformed-json": (_raw(b'{"choice": "Pyth'), 400),
    "empty-body": (_raw(b""), 400),
    "json-array": (_raw(b'["Python"]'), 400),
    "json-string": (_raw(b'"Python"'), 400),
    "json-null": (_raw(b"null"), 400),
    "missing-choice": (_raw(b'{"vote": "Python"}'), 400),
    "choice-null": (_raw(b'{"choice": null}'), 400),
    "choice-number": (_raw(b'{"choice": 1}'), 400),
    "choice-list": (_raw(b'{"choice": ["Python"]}'), 400),
    "choice-object": (_raw(b'{"choice": {"$ne": ""}}'), 400),
    "choice-nan": (_raw(b'{"choice": NaN}'), 400),
    "unknown-choice": (_raw(b'{"choice": "COBOL"}'), 400),
    "wrong-case": (_raw(b'{"choice": "python"}'), 400),
    "trailing-space": (_raw(b'{"choice": "Python "}'), 400),
    "markup-choice": (_raw(b'{"choice": "<script>alert(1)</script>"}'), 400),
    "sql-choice": (_raw(b'{"choice": "Python\'); DROP TABLE votes;--"}'), 400),
    "invalid-utf8": (_raw(b'{"choice": "Pyth\xff\xfeon"}'), 400),
    "latin1-encoded": (_raw('{"choice": "Pythön"}'.encode("latin-1")), 400),
    "utf16-unknown": (_raw('{"choice": "COBOL"}'.encode("utf-16")), 400),
    "deeply-nested": (_raw(b"[" * 1500 + b"]" * 1500), 400),
    "oversize-body": (_raw(b'{"choice": "Python", "padding": "' + b"x" * 20_000 + b'"}'), 413),
}


@pytest.mark.parametrize("case", list(BAD_VOTES), ids=list(BAD_VOTES))
def test_bad_votes_get_a_4xx_with_a_message_and_nothing_is_stored(local_show, case):
    request, status = BAD_VOTES[case]
    phone = local_show.phone()

    response = phone.http.post("/api/vote", **request)

    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json
    assert isinstance(body["message"], str) and body["message"]
    assert "<script>" not in response.text and "DROP TABLE" not in response.text  # never echoed
    assert local_show.results()["total"] == 0
    assert local_show.database_rows() == 0
    assert phone.vote("Python").status_code == 201  # and the phone is not punished for it


@pytest.mark.parametrize("cookie", [None, "forged", "tampered", "other-secret"])
def test_votes_without_a_valid_voter_cookie_are_refused(local_show, cookie):
    phone = local_show.phone(open_page=False)
    if cookie == "forged":
        phone.http.set_cookie(local_show.cookie_name, "eyJ2b3RlciI6ImFiYyJ9.Zx.abc")
    elif cookie == "tampered":
        real = local_show.phone().cookie()
        phone.http.set_cookie(local_show.cookie_name, real[:-2] + ("AA" if not real.endswith("AA") else "BB"))
    elif cookie == "other-secret":
        from flask import Flask

        other = Flask(__name__)
        other.secret_key = "not-the-show's-secret"
        serializer = other.session_interface.get_signing_serializer(other)
        phone.http.set_cookie(local_show.cookie_name, serializer.dumps({"voter": "a" * 32}))

    response = phone.vote("Python")

    assert response.status_code == 403
    assert "voter identity" in response.json["message"]
    assert local_show.database_rows() == 0


@pytest.mark.parametrize("path,method,status", [
    ("/api/vote", "GET", 405),
    ("/api/results", "POST", 405),
    ("/api/nothing-here", "GET", 404),
    ("/api/feed?since=abc", "GET", 400),
    ("/api/feed?since=-1", "GET", 400),
    ("/api/feed?since=\u00b2", "GET", 400),
    ("/api/feed?since=" + "9" * 5000, "GET", 400),
    ("/api/presenter/reset", "GET", 405),
])
def test_other_endpoints_answer_json_4xx(local_show, path, method, status):
    response = local_show.browser().open(path, method=method)
    assert response.status_code == status
    assert response.json["message"]


@pytest.mark.parametrize("action,body,status", [
    ("rate-limit", {"enabled": "false"}, 400),
    ("rate-limit", {}, 400),
    ("mode", {"mode": "FANTASY"}, 400),
    ("mode", {"mode": ["fantasy"]}, 400),
    ("chaos", {"target": "<img src=x onerror=alert(1)>"}, 400),
    ("scene", {"action": None}, 400),
])
def test_presenter_bad_input_is_400_and_changes_nothing(local_show, action, body, status):
    before = local_show.health()
    response = local_show.presenter.post(action, body)
    assert response.status_code == status
    assert "<img" not in response.text
    after = local_show.health()
    assert (after["services"], after["mode"], after["rate_limit"]) == (
        before["services"], before["mode"], before["rate_limit"])


def test_presenter_malformed_json_and_wrong_content_type(local_show):
    presenter = local_show.presenter
    broken = presenter.http.post("/api/presenter/mode", data=b'{"mode": ', headers={"Content-Type": "application/json"})
    assert broken.status_code == 400
    form = presenter.http.post("/api/presenter/mode", data={"mode": "fantasy"})
    assert form.status_code == 415
    assert local_show.health()["mode"] == "reality"


def test_markup_in_the_login_token_is_not_echoed(local_show):
    response = local_show.get("/?token=%3Cscript%3Ealert(1)%3C/script%3E")
    assert response.status_code == 401
    assert "<script>alert(1)" not in response.text
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_the_voter_cookie_is_secure_exactly_when_the_request_came_over_https(local_show):
    plain = local_show.get("/qr")
    forwarded = local_show.get("/qr", headers={"X-Forwarded-Proto": "https"})

    assert "Secure" not in plain.headers["Set-Cookie"]  # http://127.0.0.1 or the LAN: must still stick
    assert "Secure" in forwarded.headers["Set-Cookie"]  # Codespaces or a tunnel terminate https


# -- chaos and recovery: real containers killed under a real show ---------------------------------------


def test_back_to_reality_while_postgres_is_down_is_409_and_changes_nothing(fresh_show, presenter, new_phone):
    assert new_phone().vote("Go").status_code == 201
    presenter.ok("mode", {"mode": "fantasy"})
    a, b = new_phone(), new_phone()
    assert [a.vote("Rust").status_code, a.vote("Rust").status_code, b.vote("Java").status_code] == [201] * 3
    since = fresh_show.last_seq()
    try:
        presenter.ok("chaos", {"target": "postgres"})
        fresh_show.wait_for_service("postgres", "down")
        before = fresh_show.results()

        refused = presenter.post("mode", {"mode": "reality"})

        assert refused.status_code == 409
        assert "Still in fantasy mode" in refused.json()["message"]
        assert "Nothing changed" in refused.json()["message"]
        assert fresh_show.health()["mode"] == "fantasy"
        assert fresh_show.results() == before and before["total"] == 4 and before["mode"] == "fantasy"
        assert fresh_show.wait_for_event(since, "mode", "refused")["data"]["mode"] == "fantasy"
        assert "Still in fantasy mode" in fresh_show.log()  # the presenter's terminal says so too
    finally:
        recovered = presenter.ok("recover", {"target": "postgres"})
    assert recovered["data_kept"] is True and "1 vote(s) kept" in recovered["message"]
    back_up = fresh_show.wait_for_event(since, "service", "up")
    assert " of " not in back_up["message"] and "gone" not in back_up["message"]  # PostgreSQL lost nothing

    back = presenter.ok("mode", {"mode": "reality"})

    assert "3 replayed: 2 stored, 1 refused by PostgreSQL as duplicates" in back["message"]
    assert fresh_show.results()["total"] == 3 == fresh_show.database_rows()
    assert a.vote("Go").status_code == 409


# -- chaos and recovery -------------------------------------------------------------------------------


def test_kill_redis_votes_keep_working_on_the_local_fallback_then_recover(fresh_show, presenter, new_phone):
    since = fresh_show.last_seq()
    try:
        assert "Redis killed" in presenter.ok("chaos", {"target": "redis"})["message"]
        assert fresh_show.container("redis").status == "exited"  # killed for real
        fresh_show.wait_for_event(since, "ratelimit", "degraded")
        health = fresh_show.health()
        assert health["services"]["redis"] == "down" and health["rate_limit_backend"] == "local"

        phone = new_phone()
        assert [phone.vote("Rust").status_code for _ in range(4)] == [201, 409, 409, 429]  # limit still holds
        assert fresh_show.feed(since)[-1]["data"]["backend"] == "local"
    finally:
        recovered = presenter.ok("recover", {"target": "redis"})
    assert recovered["target"] == "redis"
    fresh_show.wait_for_event(since, "ratelimit", "restored")
    health = fresh_show.health()
    assert health["services"]["redis"] == "up" and health["rate_limit_backend"] == "redis"
    assert new_phone().vote("Rust").status_code == 201
    assert fresh_show.database_rows() == 2


def test_kill_postgres_votes_get_503_then_recover_keeps_the_data(fresh_show, presenter, new_phone):
    assert new_phone().vote("Go").status_code == 201
    since = fresh_show.last_seq()
    try:
        presenter.ok("chaos", {"target": "postgres"})
        phone = new_phone()
        refused = phone.vote("Go")
        assert refused.status_code == 503
        assert "not stored" in refused.json()["message"]
        # Reading still works while the database is down (served from memory).
        assert fresh_show.results()["total"] == 1
        assert fresh_show.health()["services"]["postgres"] == "down"
    finally:
        recovered = presenter.ok("recover", {"target": "postgres"})
    assert recovered["data_kept"] is True and "1 vote(s) kept" in recovered["message"]
    assert phone.vote("Go").status_code == 201  # the refused phone had nothing stored: it may vote now
    assert fresh_show.database_rows() == 2 == fresh_show.results()["total"]
    assert any(e["kind"] == "service" and e["action"] == "up" for e in fresh_show.feed(since))


def test_a_postgres_container_removed_from_a_terminal_comes_back_fresh_and_the_dashboard_says_so(
        fresh_show, presenter, new_phone):
    assert new_phone().vote("Java").status_code == 201
    since = fresh_show.last_seq()
    fresh_show.container("postgres").remove(force=True)  # what `docker rm -f` does
    fresh_show.wait_for_service("postgres", "down")
    assert fresh_show.wait_for_event(since, "container", "killed")["data"]["external"] is True

    recovered = presenter.ok("recover", {"target": "postgres"})

    assert recovered["data_kept"] is False and "fresh, empty database" in recovered["message"]
    assert fresh_show.results()["total"] == 0
    assert any("fresh, empty database" in notice for notice in fresh_show.health()["notices"])
    assert new_phone().vote("Java").status_code == 201
    presenter.reset()
    assert fresh_show.health()["notices"] == []


def test_docker_kill_from_a_terminal_is_noticed(fresh_show, presenter):
    since = fresh_show.last_seq()
    fresh_show.container("redis").kill()
    try:
        event = fresh_show.wait_for_event(since, "container", "killed")
        assert event["data"]["external"] is True
        fresh_show.wait_for_service("redis", "down")
    finally:
        presenter.ok("recover", {"target": "redis"})
    fresh_show.wait_for_service("redis", "up")


def test_chaos_on_a_dead_service_and_unknown_targets_are_4xx(fresh_show, presenter):
    assert presenter.post("chaos", {"target": "mysql"}).status_code == 400
    assert presenter.post("recover", {"target": None}).status_code == 400
    try:
        presenter.ok("chaos", {"target": "redis"})
        again = presenter.post("chaos", {"target": "redis"})
        assert again.status_code == 409 and "already down" in again.json()["message"]
    finally:
        presenter.ok("recover", {"target": "redis"})
    assert "already up" in presenter.ok("recover", {"target": "redis"})["message"]




def test_the_databases_are_reachable_from_this_machine_only(show):
    """On conference Wi-Fi nobody else may reach the show's PostgreSQL or Redis."""
    for service, port in (("postgres", "5432/tcp"), ("redis", "6379/tcp")):
        container = show.container(service)
        container.reload()
        bindings = container.attrs["NetworkSettings"]["Ports"][port]
        assert bindings and {binding["HostIp"] for binding in bindings} == {"127.0.0.1"}, bindings


