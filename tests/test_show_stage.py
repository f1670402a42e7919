"""The stage's two views and the room's numbers, in-process on the real PostgreSQL (Flask's test client).

``/`` is the audience screen (no controls, notes, clocks or login), ``/presenter`` the console behind
the presenter's login; results can be hidden and revealed; the documents count phones joined, second
votes refused (with PostgreSQL's words) and votes refused during an outage. What a browser shows of
all this is in ``test_show_browser.py``.
"""

from __future__ import annotations

import json

import pytest
from flask import Flask
from flask.testing import FlaskClient

from reality.web.scenes import SCENES
from support.app import BEARER, TOKEN, Socket, show_state


def phone(app: Flask, address: str = "127.0.0.1") -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    assert client.get("/qr").status_code == 200
    return client


# -- two views ---------------------------------------------------------------------------------------

def test_the_audience_screen_has_no_controls_notes_clocks_or_login(app):
    page = app.test_client().get("/")
    html = page.get_data(as_text=True)

    assert page.status_code == 200
    for absent in ('id="controls"', "/login", "/presenter", 'name="token"', "show-timer", "scene-timer",
                   "data-action=", "Log out"):
        assert absent not in html, absent
    for scene in SCENES:
        assert scene.notes not in html  # not even in the page's JSON
    assert 'id="qr"' in html and 'id="fullscreen"' in html


def test_no_public_document_carries_the_presenters_notes(app):
    # /api/scene and the socket's scene event reach every screen and anyone curious in the room.
    client = app.test_client()
    for index in range(len(SCENES)):
        show_state(app).scenes.apply("goto", index)
        document = client.get("/api/scene").get_json()
        assert document["index"] == index and "notes" not in document["scene"]
        assert not any(scene.notes in json.dumps(document) for scene in SCENES)
    client.get("/qr")  # a phone, then a screen connecting as the audience does
    screen = Socket(app, browser=client)
    scenes = screen.received("scene")
    assert scenes and all("notes" not in document["scene"] for document in scenes)
    screen.close()


def test_the_console_needs_a_login_and_the_token_in_the_url_lands_there(app):
    laptop = app.test_client()
    form = laptop.get("/presenter")
    assert form.status_code == 200 and 'name="token"' in form.get_data(as_text=True)
    assert 'id="controls"' not in form.get_data(as_text=True)

    wrong = laptop.get("/?token=nope")
    assert wrong.status_code == 401 and 'name="token"' in wrong.get_data(as_text=True)

    landed = laptop.get(f"/?token={TOKEN}")
    assert landed.status_code == 303 and landed.headers["Location"] == "/presenter"
    console = laptop.get("/presenter").get_data(as_text=True)
    assert 'id="controls"' in console and SCENES[0].notes in console
    for control in ('data-action="voting"', 'data-action="results"', 'data-action="theme"'):
        assert control in console

    again = app.test_client().get(f"/presenter?token={TOKEN}")
    assert again.status_code == 303 and again.headers["Location"] == "/presenter"


def test_a_failed_login_form_comes_back_with_a_notice(app):
    answer = app.test_client().post("/login", data={"token": "nope"}, follow_redirects=True)
    assert answer.status_code == 200 and "Wrong presenter token." in answer.get_data(as_text=True)


# -- results hidden and revealed ---------------------------------------------------------------------

@pytest.mark.parametrize("body", [{}, {"visible": "no"}, {"visible": 1}, {"visible": None}])
def test_results_visibility_needs_a_boolean(app, body):
    answer = app.test_client().post("/api/presenter/results", json=body, headers=BEARER)
    assert answer.status_code == 400 and "visible" in answer.get_json()["message"]


def test_results_visibility_is_the_presenters_only(app):
    answer = app.test_client().post("/api/presenter/results", json={"visible": False})
    assert answer.status_code == 401
    assert app.test_client().get("/api/health").get_json()["results_visible"] is True


def test_hiding_and_revealing_the_results_shows_in_health_and_the_tally(client):
    assert client.get("/api/results").get_json()["results_visible"] is True
    version = client.get("/api/results").get_json()["version"]

    hidden = client.post("/api/presenter/results", json={"visible": False}, headers=BEARER)

    assert hidden.status_code == 200 and hidden.get_json()["results_visible"] is False
    assert client.get("/api/health").get_json()["results_visible"] is False
    tally = client.get("/api/results").get_json()
    assert tally["results_visible"] is False and tally["version"] > version  # the tally push carries it
    assert "already hidden" in client.post("/api/presenter/results", json={"visible": False},
                                           headers=BEARER).get_json()["message"]
    assert client.post("/api/presenter/results", json={"visible": True}, headers=BEARER).status_code == 200
    assert client.get("/api/health").get_json()["results_visible"] is True


def test_reset_reveals_the_results_again(client):
    client.post("/api/presenter/results", json={"visible": False}, headers=BEARER)
    assert client.post("/api/presenter/reset", json={}, headers=BEARER).status_code == 200
    assert client.get("/api/health").get_json()["results_visible"] is True


# -- the theme ---------------------------------------------------------------------------------------

def test_the_theme_is_dark_by_default_and_the_console_switches_it(client):
    assert client.get("/api/health").get_json()["theme"] == "dark"
    assert client.post("/api/presenter/theme", json={"theme": "pink"}, headers=BEARER).status_code == 400

    assert client.post("/api/presenter/theme", json={"theme": "light"}, headers=BEARER).status_code == 200

    assert client.get("/api/health").get_json()["theme"] == "light"
    assert 'data-theme="light"' in client.get("/").get_data(as_text=True)


def test_the_theme_can_be_chosen_at_start(make_app):
    app = make_app(THEME="light")
    assert app.test_client().get("/api/health").get_json()["theme"] == "light"


# -- the room's numbers ------------------------------------------------------------------------------

def test_phones_joined_counts_distinct_phones_not_page_loads(app):
    first = phone(app)
    phone(app, "127.0.0.2")
    assert first.get("/qr").status_code == 200  # a reload with its cookie is the same phone

    assert app.test_client().get("/api/results").get_json()["phones_joined"] == 2


def test_second_votes_refused_are_counted_with_postgres_own_words(app):
    voter = phone(app)
    assert voter.post("/api/vote", json={"choice": "Go"}).status_code == 201
    assert voter.post("/api/vote", json={"choice": "Rust"}).status_code == 409

    tally = app.test_client().get("/api/results").get_json()

    assert tally["second_votes_refused"] == 1
    assert "unique constraint" in tally["latest_refusal"]
    assert '"' in tally["latest_refusal"]  # the constraint's name, quoted by PostgreSQL, is all there
    assert tally["outage_refused"] == 0


def test_votes_refused_during_an_outage_are_counted_and_the_tiles_know_since_when(app):
    state = show_state(app)
    before = app.test_client().get("/api/health").get_json()["service_changes"]["postgres"]
    assert before["state"] == "up"
    state.health.report_failure("postgres")  # what a vote finding PostgreSQL gone does
    down = app.test_client().get("/api/health").get_json()["service_changes"]["postgres"]

    assert phone(app).post("/api/vote", json={"choice": "Go"}).status_code == 503

    assert down["state"] == "down" and down["since"] >= before["since"]
    assert app.test_client().get("/api/results").get_json()["outage_refused"] == down["outage_refused"] + 1


def test_reset_starts_the_room_counters_again(app):
    voter = phone(app)
    voter.post("/api/vote", json={"choice": "Go"})
    voter.post("/api/vote", json={"choice": "Go"})
    client = app.test_client()
    assert client.get("/api/health").get_json()["service_changes"]["postgres"]["total"] == 1  # up since 1 vote

    assert client.post("/api/presenter/reset", json={}, headers=BEARER).status_code == 200

    tally = client.get("/api/results").get_json()
    assert (tally["second_votes_refused"], tally["latest_refusal"], tally["outage_refused"]) == (0, None, 0)
    assert tally["phones_joined"] == 0
    assert client.get("/api/health").get_json()["service_changes"]["postgres"]["total"] == 0


def test_duplicates_the_mock_took_count_as_refused_when_postgres_decides_again(app, client):
    assert client.post("/api/presenter/mode", json={"mode": "fantasy"}, headers=BEARER).status_code == 200
    voter = phone(app)
    assert [voter.post("/api/vote", json={"choice": "Go"}).status_code for _ in range(2)] == [201, 201]

    assert client.post("/api/presenter/mode", json={"mode": "reality"}, headers=BEARER).status_code == 200

    tally = client.get("/api/results").get_json()
    assert tally["total"] == 1 and tally["second_votes_refused"] == 1
