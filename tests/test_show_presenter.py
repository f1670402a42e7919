"""Presenter sessions you can trust, in-process on the real PostgreSQL (Flask's and Socket.IO's test clients).

Logout and a new token revoke every session issued before, copies of the cookie included; wrong
tokens are throttled per client address; ``/logout`` only from the show's own origin; a socket gets
presenter rights only with the same proof as HTTP. (The token length check at start and the logout
from a real browser need real processes: ``test_show_boot.py``, ``test_show_browser.py``.)
"""

from __future__ import annotations


import pytest
from flask import Flask
from flask.testing import FlaskClient

from reality.config import presenter_token_problem
from reality.web.presenter import LoginThrottle
from support.app import BEARER, TOKEN, Socket, build_app, close_app
from support.waiting import wait_for

BASE = "http://show.example:5001"
ORIGIN = {"Origin": BASE}


class ShowBrowser(FlaskClient):
    """Flask's test client, talking to the show at ``BASE`` (a host and a port, as a real browser does)."""

    def open(self, *args, **kwargs):
        kwargs.setdefault("base_url", BASE)
        return super().open(*args, **kwargs)


def browser(app: Flask, address: str = "127.0.0.1") -> FlaskClient:
    """A browser on the show's address, from client ``address``."""
    app.test_client_class = ShowBrowser
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def logged_in(app: Flask, address: str = "127.0.0.1") -> FlaskClient:
    client = browser(app, address)
    response = client.get(f"/?token={TOKEN}")
    assert response.status_code == 303
    return client


def scene(client: FlaskClient, **headers: str) -> int:
    return client.post("/api/presenter/scene", json={"action": "next"}, headers=headers).status_code


def copy_of_cookie(app: Flask, client: FlaskClient) -> FlaskClient:
    """Another browser carrying a copy of ``client``'s session cookie (what a thief would take)."""
    thief = browser(app, "127.9.9.9")
    thief.set_cookie("reality", client.get_cookie("reality", domain="show.example").value, domain="show.example")
    return thief


# -- logout and a new token revoke sessions --------------------------------------------------------

def test_logout_revokes_every_session_issued_before_copies_of_the_cookie_included(app):
    laptop = logged_in(app)
    tablet = logged_in(app, "127.0.0.2")  # the presenter logged in on a second device too
    stolen = copy_of_cookie(app, laptop)
    assert scene(stolen) == 200 and stolen.get("/api/presenter/export.csv").status_code == 200

    assert laptop.post("/logout", headers=ORIGIN).status_code == 303

    assert scene(stolen) == 401
    assert stolen.get("/api/presenter/export.csv").status_code == 401
    assert scene(tablet) == 401
    assert scene(laptop) == 401
    assert 'id="controls"' not in stolen.get("/presenter").get_data(as_text=True)
    # Logging in again works, and gives no life back to the old copy.
    again = logged_in(app)
    assert scene(again) == 200 and scene(stolen) == 401


def test_a_new_token_revokes_the_sessions_issued_with_the_old_one(app):
    laptop = logged_in(app)
    assert scene(laptop) == 200

    app.config["PRESENTER_TOKEN"] = TOKEN + "-rotated"

    assert scene(laptop) == 401
    assert scene(browser(app), Authorization=f"Bearer {TOKEN}") == 403
    assert scene(browser(app), Authorization=f"Bearer {TOKEN}-rotated") == 200


def test_a_restart_with_the_same_secret_key_brings_no_revoked_session_back(app, votes):
    laptop = logged_in(app)
    stolen = copy_of_cookie(app, laptop)
    laptop.post("/logout", headers=ORIGIN)
    restarted = build_app(votes, SECRET_KEY=app.secret_key, TESTING=True)
    try:
        assert scene(copy_of_cookie(restarted, stolen)) == 401
        assert browser(restarted).get("/qr").status_code == 200  # the key is the same: cookies still read
    finally:
        close_app(restarted)


def test_a_bearer_token_still_works_after_a_logout(app):
    logged_in(app).post("/logout", headers=ORIGIN)
    assert scene(browser(app), **BEARER) == 200


# -- /logout only from the show's own pages -------------------------------------------------------

@pytest.mark.parametrize("headers", [
    {"Origin": "http://show.example:5002"},  # another show (or any page) on another port of the same host
    {"Origin": "http://evil.example:5001"},
    {"Origin": "null"},  # a page that hides its origin
    {"Referer": "http://show.example:5002/attack.html"},
    {"Origin": "null", "Referer": "http://show.example:5002/"},
    {},  # no origin at all
], ids=["other-port", "other-host", "null", "referer-other-port", "null-and-referer", "none"])
def test_logout_from_another_origin_is_refused_and_the_presenter_stays_logged_in(app, headers):
    laptop = logged_in(app)

    refused = laptop.post("/logout", headers=headers)

    assert refused.status_code == 403 and "console" in refused.get_json()["message"]
    assert scene(laptop) == 200


@pytest.mark.parametrize("headers", [ORIGIN, {"Referer": BASE + "/"}, {"Origin": "null", "Referer": BASE + "/"}],
                         ids=["origin", "referer", "null-origin-and-own-referer"])
def test_logout_from_the_shows_own_page_works(app, headers):
    laptop = logged_in(app)
    assert laptop.post("/logout", headers=headers).status_code == 303
    assert scene(laptop) == 401


def test_the_console_lets_its_own_forms_say_their_origin(app):
    # With the site-wide "no-referrer" a form post says "Origin: null", which /logout must refuse.
    assert logged_in(app).get("/presenter").headers["Referrer-Policy"] == "same-origin"


# -- wrong tokens are throttled per client address -------------------------------------------------

def test_ten_wrong_tokens_in_a_minute_throttle_every_token_try_from_that_address(app):
    attacker = browser(app, "127.6.6.6")
    tries = [attacker.post("/login", data={"token": "guess-0"}),
             attacker.get("/?token=guess-1"),
             *[attacker.post("/api/presenter/scene", json={"action": "next"},
                             headers={"Authorization": f"Bearer guess-{n}"}) for n in range(2, 10)]]
    assert [r.status_code for r in tries] == [303, 401] + [403] * 8

    # The right token now: still refused, until the minute is over.
    answers = [attacker.post("/api/presenter/scene", json={"action": "next"}, headers=BEARER),
               attacker.get(f"/?token={TOKEN}"),
               attacker.post("/login", data={"token": TOKEN})]
    assert [r.status_code for r in answers] == [429, 429, 429]
    for answer in answers:
        assert 1 <= int(answer.headers["Retry-After"]) <= 60
    assert "try again in" in answers[0].get_json()["message"]
    assert "Too many wrong presenter tokens" in answers[1].get_data(as_text=True)
    assert scene(attacker) == 401  # and no session came of it

    # Another address is not affected, and a logged-in presenter's session on the same address still works.
    assert scene(browser(app, "127.0.0.1"), **BEARER) == 200


def test_a_logged_in_presenter_behind_the_same_address_keeps_working(app):
    laptop = logged_in(app, "127.6.6.7")
    attacker = browser(app, "127.6.6.7")
    for n in range(11):
        attacker.get(f"/?token=guess-{n}")
    assert scene(attacker, **BEARER) == 429
    assert scene(laptop) == 200  # the session is proof enough: no token is tried


def test_the_throttle_lifts_when_the_oldest_failure_leaves_the_window():
    throttle = LoginThrottle(10, window_s=1)  # a 1-second window (the shortest), to see it lift within a test
    for _ in range(10):
        assert throttle.retry_after("127.0.0.1") == 0
        throttle.failed("127.0.0.1")
    wait = throttle.retry_after("127.0.0.1")
    assert wait == 1
    assert throttle.retry_after("127.0.0.2") == 0
    wait_for(lambda: throttle.retry_after("127.0.0.1") == 0, 10, "the throttle to lift", interval=0.1)


@pytest.mark.parametrize("token,refused", [("", False), ("x" * 15, True), ("x" * 16, False), ("1234", True)])
def test_a_presenter_token_needs_16_characters(token, refused):
    problem = presenter_token_problem({"REALITY_PRESENTER_TOKEN": token})
    assert (problem is not None) is refused
    if refused:
        assert "\n" not in problem and "at least 16" in problem


# -- sockets need the same proof -------------------------------------------------------------------

def scene_over_socket(socket: Socket) -> int:
    return socket.call("scene", {"action": "next"})["status"]


def test_a_socket_with_the_token_loses_its_rights_when_the_presenter_logs_out(app):
    # Flask-SocketIO's test client sends the cookies a client holds for "localhost".
    laptop = FlaskClient(app, app.response_class)
    assert laptop.get(f"/?token={TOKEN}").status_code == 303
    with_token = Socket(app, token=TOKEN)
    with_cookie = Socket(app, browser=laptop)
    assert scene_over_socket(with_token) == 200 and scene_over_socket(with_cookie) == 200

    assert laptop.post("/logout", headers={"Origin": "http://localhost"}).status_code == 303

    assert scene_over_socket(with_token) == 403
    assert scene_over_socket(with_cookie) == 403
    with_token.close()
    with_cookie.close()


def test_a_forged_socket_presenter_flag_gives_no_rights(app):
    """A session saying only ``socket_presenter: true`` (signed with the real key) is not proof."""
    forged = app.session_interface.get_signing_serializer(app).dumps({"socket_presenter": True})
    client = FlaskClient(app, app.response_class)
    client.set_cookie("reality", forged)
    socket = Socket(app, browser=client)

    assert scene_over_socket(socket) == 403
    socket.close()


def test_wrong_socket_tokens_count_towards_the_throttle(app):
    attacker = FlaskClient(app, app.response_class)
    attacker.environ_base["REMOTE_ADDR"] = "127.6.6.8"
    for n in range(10):
        socket = Socket(app, browser=attacker, token=f"g{n}")
        assert scene_over_socket(socket) == 403
        socket.close()
    socket = Socket(app, browser=attacker, token=TOKEN)
    assert scene_over_socket(socket) == 403  # throttled: even the right token is not even compared
    socket.close()
    assert scene(attacker, **BEARER) == 429
