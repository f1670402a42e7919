"""The vote path's shortcuts (see README, "Measured"), each checked for what it must still do.

Over 300 lines: each shortcut of the vote path sits next to the proof that it still does what the
slow path did, one section per shortcut.
"""

from __future__ import annotations

from dataclasses import asdict

import pytest
from itsdangerous import BadSignature

from reality.events import EventBus
from reality.show import make_server


def _serve_once(app, path: str) -> tuple[bytes, list[bytes]]:
    """One request to ``app`` on the show's gevent server; the raw answer and each send the server made."""
    import gevent.socket

    listener = gevent.socket.socket()  # the show's process is monkey-patched: its sockets are gevent's
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    server = make_server("gevent", listener, app)
    sends: list[bytes] = []
    handler = server.handler_class

    class Counting(handler):
        def _sendall(self, data):
            sends.append(bytes(data))
            return super()._sendall(data)

        def format_request(self):
            sends.append(b"<a request log line formatted>")
            return super().format_request()

    server.handler_class = Counting
    server.start()
    try:
        client = gevent.socket.create_connection(listener.getsockname(), timeout=5)
        client.sendall(f"GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
        client.close()
    finally:
        server.stop(timeout=1)
        listener.close()
    return answer, sends


def _raw_app(environ, start_response):
    if environ["PATH_INFO"] == "/stream":  # no length known: chunked, as gevent does it
        start_response("200 OK", [("Content-Type", "text/plain")])
        return iter([b"one ", b"two"])
    body = b'{"message": "Vote recorded"}'
    start_response("201 Created", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def _app():
    """The raw answers above behind the show's own server, which expects a Flask app with its traffic report."""
    from flask import Flask

    from reality.web.traffic import TrafficReport

    app = Flask(__name__)
    app.extensions["reality.traffic"] = TrafficReport(lambda line: None)
    app.wsgi_app = _raw_app
    return app


def test_a_small_answer_leaves_in_one_send_headers_and_body_together():
    answer, sends = _serve_once(_app(), "/api/vote")
    assert answer.startswith(b"HTTP/1.1 201 Created\r\n")
    assert answer.endswith(b'\r\n\r\n{"message": "Vote recorded"}')
    # gevent's own handler makes two sends, the headers then the body, and formats a log line nobody reads.
    assert len(sends) == 1


def test_a_streamed_answer_is_still_chunked():
    answer, sends = _serve_once(_app(), "/stream")
    assert b"Transfer-Encoding: chunked" in answer
    assert answer.endswith(b"4\r\none \r\n3\r\ntwo\r\n0\r\n\r\n")


def test_an_event_as_a_dict_has_every_field_and_is_a_copy():
    event = EventBus().publish("vote", "accepted", "phone 3f9a2c voted Go", voter="phone 3f9a2c", choice="Go")
    document = event.to_dict()
    assert document == asdict(event)
    document["data"]["choice"] = "Rust"
    assert event.data["choice"] == "Go"


def test_a_vote_is_one_statement_with_no_begin_or_commit_round_trips(votes):
    votes.cast("phone-1", "Python")
    conn, generation = votes._checkout()
    try:
        # Autocommit: the INSERT is its own transaction, so psycopg2 sends no BEGIN before it and
        # no COMMIT after it (two round trips saved per vote); the UNIQUE constraint still decides.
        assert conn.autocommit
        assert conn.get_transaction_status() == 0  # idle, not inside a transaction left open
    finally:
        votes._checkin(conn, generation)
    assert votes.counts() == {"Python": 1}


def test_the_cookie_serializer_is_built_once_per_key_and_again_when_the_key_changes():
    from reality.votes import InMemoryVoteStore
    from reality.web import create_app

    app = create_app({"SECRET_KEY": "first-key-" * 4, "BACKGROUND_TASKS": False, "ASYNC_MODE": "threading"},
                     store=InMemoryVoteStore())
    interface = app.session_interface
    first = interface.get_signing_serializer(app)
    assert interface.get_signing_serializer(app) is first
    client = app.test_client()
    client.get("/qr")
    cookie = client.get_cookie("reality").value
    assert first.loads(cookie)["voter"]

    app.secret_key = "second-key-" * 4
    second = interface.get_signing_serializer(app)
    assert second is not first
    with pytest.raises(BadSignature):
        second.loads(cookie)  # signed with the old key: refused once the key changed


# -- the vote answered without Flask's request machinery (reality/web/direct.py) ----------------

def _vote(client, choice="Python", **kwargs):
    answer = client.post("/api/vote", json={"choice": choice}, **kwargs)
    body = answer.get_json()
    body.pop("retry_after", None)  # seconds left in the window: compared apart (see below)
    headers = [(name, value) for name, value in answer.headers.items() if name != "Retry-After"]
    return answer.status, headers, body, answer.headers.get("Retry-After")


def _through_flask(app):
    """The same app with the direct layer taken out of its WSGI stack."""
    class Around:
        def __enter__(self):
            self.direct = app.wsgi_app
            app.wsgi_app = self.direct.wsgi_app

        def __exit__(self, *exc):
            app.wsgi_app = self.direct

    return Around()


def _phone_session(app):
    state = app.extensions["reality"]
    state.ballot.real_store.reset()
    state.limiter.reset()
    state.set_voting(True)
    client = app.test_client()
    assert client.get("/qr").status_code == 200
    return client


def test_the_direct_vote_answers_every_outcome_as_the_flask_route_does(make_app):
    app = make_app()
    direct = app.wsgi_app
    state = app.extensions["reality"]
    answers = {}
    for way in ("direct", "flask"):
        client = _phone_session(app)
        cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
        around = _through_flask(app) if way == "flask" else None
        if around:
            around.__enter__()
        try:
            # 201, 409 (PostgreSQL's constraint), 409, then 429 (the 4th request in a minute).
            run = [_vote(client) for _ in range(4)]
            state.set_voting(False)
            run.append(_vote(client))  # 423
            state.set_voting(True)
        finally:
            if around:
                around.__exit__()
        answers[way] = (run, cookie)
    direct_run, flask_run = answers["direct"][0], answers["flask"][0]
    assert [status for status, *_ in direct_run] == ["201 CREATED", "409 CONFLICT", "409 CONFLICT",
                                                     "429 TOO MANY REQUESTS", "423 LOCKED"]
    # Status line, every header, the JSON body: the same (the seconds left in the window aside).
    assert [answer[:3] for answer in direct_run] == [answer[:3] for answer in flask_run]
    assert [answer[3] is None for answer in direct_run] == [answer[3] is None for answer in flask_run]
    assert direct_run[3][3] is not None and int(direct_run[3][3]) > 0  # the 429 says when to try again
    assert ("Vary", "Cookie") in direct_run[0][1] and ("Cache-Control", "no-store") in direct_run[0][1]
    assert direct.answered == 5  # the direct layer answered the five itself; Flask the other five


def test_anything_but_the_common_vote_is_left_to_flask(make_app):
    app = make_app()
    direct = app.wsgi_app
    client = _phone_session(app)
    assert client.post("/api/vote", data='{"choice": "Python"}', content_type="text/plain").status_code == 415
    assert client.post("/api/vote", data="{not json", content_type="application/json").status_code == 400
    assert client.post("/api/vote", json={"choice": "COBOL"}).get_json()["options"]  # Flask's 400, with options
    assert client.post("/api/vote", json=["Python"]).status_code == 400
    assert client.get("/api/vote").status_code == 405
    assert app.test_client().post("/api/vote", json={"choice": "Python"}).status_code == 403  # no cookie
    forged = app.test_client()
    forged.set_cookie(app.config["SESSION_COOKIE_NAME"], client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value[:-2] + "xx")
    assert forged.post("/api/vote", json={"choice": "Python"}).status_code == 403  # a bad signature
    assert direct.answered == 0
    assert client.post("/api/vote", json={"choice": "Python"}).status_code == 201  # the body was handed on intact
    assert direct.answered == 1


def test_an_unexpected_error_in_a_direct_vote_gets_the_apps_own_500(make_app, monkeypatch):
    app = make_app()
    client = _phone_session(app)
    state = app.extensions["reality"]

    def broken(voter, choice):
        raise RuntimeError("a bug")

    monkeypatch.setattr(state, "vote", broken)
    direct = client.post("/api/vote", json={"choice": "Python"})
    with _through_flask(app):
        routed = client.post("/api/vote", json={"choice": "Python"})
    assert direct.status_code == routed.status_code == 500
    assert direct.get_json() == routed.get_json()
    assert "Traceback" not in direct.get_data(as_text=True)


# -- the rate limit's one Redis call (reality/ratelimit.py) --------------------------------------

# ``redis_url``: the session's real Redis (conftest.py).


def test_the_rate_limit_counts_each_phone_in_redis_with_one_call_per_vote(redis_url):
    import redis

    from reality.ratelimit import KEY_PREFIX, VoterRateLimiter

    limiter = VoterRateLimiter(redis_url, per_minute=3)
    limiter.reset()
    server = redis.Redis.from_url(redis_url)
    assert limiter.hit("phone-0").allowed  # the script loaded once (a fresh Redis has none)

    def calls() -> dict[str, int]:
        stats = server.info("commandstats")
        return {name: stat["calls"] - stat.get("failed_calls", 0) for name, stat in stats.items()}

    before = calls()
    allowed = [limiter.hit("phone-1") for _ in range(3)]
    after = calls()
    changed = {name: after[name] - before.get(name, 0) for name in after if after[name] != before.get(name, 0)}
    # One call per allowed vote, and nothing else (no PING or health check per call): the INFO is
    # ours, and Redis counts the commands the script runs inside it too.
    inside_the_script = {"cmdstat_lindex", "cmdstat_lpush", "cmdstat_ltrim", "cmdstat_expire"}
    assert {name: n for name, n in changed.items() if name not in inside_the_script} == {
        "cmdstat_evalsha": 3, "cmdstat_info": 1}
    refused = limiter.hit("phone-1")  # the 4th in a minute
    assert [d.allowed for d in allowed] == [True, True, True] and not refused.allowed
    assert {d.backend for d in allowed + [refused]} == {"redis"}
    assert refused.retry_after > 0
    assert limiter.hit("phone-2").allowed  # per phone, not per limiter
    # Counted in Redis, in limits' own moving-window list: three entries for phone-1, one for phone-2.
    assert server.llen(f"{KEY_PREFIX}:LIMITER/phone-1/3/1/minute") == 3
    assert server.llen(f"{KEY_PREFIX}:LIMITER/phone-2/3/1/minute") == 1

    server.script_flush()  # as after a Redis restart: the script is loaded again, the count goes on
    assert not limiter.hit("phone-1").allowed
    assert limiter.hit("phone-3").allowed
    limiter.reset()
    assert limiter.hit("phone-1").allowed
    limiter.close()


def test_a_redis_that_stops_answering_puts_the_limit_on_local_memory(redis_url):
    from reality.ratelimit import VoterRateLimiter

    limiter = VoterRateLimiter(redis_url, per_minute=3)
    assert limiter.hit("phone-9").backend == "redis"
    # The kept connection now points at a port where nobody answers: the next vote falls back.
    limiter._connections._make = lambda: __import__("redis").Connection(host="127.0.0.1", port=1, socket_timeout=0.25,
                                                                      socket_connect_timeout=0.25)
    limiter._connections._idle.clear()
    decision = limiter.hit("phone-9")
    assert decision.allowed and decision.backend == "local"
    assert limiter.degraded
    limiter.close()


def test_a_redis_answering_at_another_address_is_followed_at_once(redis_url):
    """A recovered Redis can come back at another bridge address, and the old one can be handed to
    another container: the limiter's check goes to the address asked for now, never the one it had."""
    from reality.ratelimit import VoterRateLimiter

    address = {"url": redis_url}
    limiter = VoterRateLimiter(lambda: address["url"], per_minute=3)
    assert limiter.hit("phone-10").backend == "redis" and not limiter.moved()
    address["url"] = "redis://127.0.0.1:1/0"  # moved: nothing answers there (the old one still would)
    assert limiter.moved()
    assert limiter.check_backend() is False and limiter.degraded
    address["url"] = redis_url
    assert limiter.check_backend() is True and limiter.hit("phone-10").backend == "redis"
    limiter.close()


# -- the phone page rendered once per variant (reality/web/cached_page.py) -------------------------

def _jinja_page(app, client_cookie=None):
    """The phone page as render_template makes it for the show's state right now (no cache)."""
    from flask import render_template

    from reality.web.pages import socket_client_available

    state = app.extensions["reality"]
    with app.test_request_context("/qr"):
        voter = None
        if client_cookie:
            voter = app.session_interface.get_signing_serializer(app).loads(client_cookie)["voter"]
        own = state.vote_of(voter).to_dict() if voter else {"known": True, "choice": None}
        return render_template("phone.html", poll=state.poll, page_state={
            "results": state.results(), "live": socket_client_available(), "my_vote": own})


def test_the_cached_phone_page_is_what_jinja_renders_and_each_phone_gets_its_own_cookie(make_app):
    app = make_app()
    state = app.extensions["reality"]
    name = app.config["SESSION_COOKIE_NAME"]
    phones = [app.test_client() for _ in range(3)]
    pages = [phone.get("/qr").get_data(as_text=True) for phone in phones]
    cookies = [phone.get_cookie(name).value for phone in phones]
    assert len(set(cookies)) == 3  # one identity per phone, cached page or not
    assert {app.session_interface.get_signing_serializer(app).loads(c)["voter"] for c in cookies}.__len__() == 3
    assert pages[2] == _jinja_page(app)  # the same state: byte for byte (3 phones joined, no votes)

    assert phones[0].post("/api/vote", json={"choice": "Go"}).status_code == 201
    reloaded = phones[0].get("/qr").get_data(as_text=True)
    assert reloaded == _jinja_page(app, cookies[0])
    assert '"choice":"Go"' in reloaded.replace(" ", "")  # its own vote, in its own page

    state.set_voting(False)  # another variant of the HTML: the buttons disabled
    closed = phones[1].get("/qr").get_data(as_text=True)
    assert closed == _jinja_page(app, cookies[1])
    assert "disabled" in closed and closed != reloaded
    state.set_voting(True)
    assert phones[2].get("/qr").get_data(as_text=True) == _jinja_page(app, cookies[2])
    assert len(app.extensions["reality.cached_pages"]) == 2  # rendered by Jinja once per variant


def test_a_verified_cookie_is_remembered_but_still_expires_and_a_changed_one_is_refused(monkeypatch):
    import time

    from itsdangerous import SignatureExpired

    from reality.votes import InMemoryVoteStore
    from reality.web import RememberingSerializer, create_app

    app = create_app({"SECRET_KEY": "a-key-" * 6, "BACKGROUND_TASKS": False, "ASYNC_MODE": "threading"},
                     store=InMemoryVoteStore())
    serializer = app.session_interface.get_signing_serializer(app)
    assert isinstance(serializer, RememberingSerializer)
    cookie = serializer.dumps({"voter": "a" * 32})
    verified = []
    inner_loads = serializer.serializer.loads
    monkeypatch.setattr(serializer.serializer, "loads", lambda *a, **k: verified.append(1) or inner_loads(*a, **k))
    assert serializer.loads(cookie, max_age=100) == {"voter": "a" * 32}
    copy = serializer.loads(cookie, max_age=100)
    assert copy == {"voter": "a" * 32} and len(verified) == 1  # the second time from memory
    copy["voter"] = "changed"
    assert serializer.loads(cookie, max_age=100)["voter"] == "a" * 32  # what one request changes stays its own
    with pytest.raises(BadSignature):
        serializer.loads(cookie[:-3] + "abc", max_age=100)  # never seen: verified in full, and refused
    later = time.time() + 200
    monkeypatch.setattr(time, "time", lambda: later)
    with pytest.raises(SignatureExpired):
        serializer.loads(cookie, max_age=100)  # remembered, and too old all the same


# -- the request's headers without the email package (reality/web/server.py) ---------------------

@pytest.mark.parametrize("block", [
    b"Host: 127.0.0.1:5001\r\nAccept: */*\r\nUser-Agent: Python/3.11 aiohttp/3.9\r\n"
    b"Cookie: reality-5001=eyJfcGVybWFuZW50Ijp0cnVl.Z.x\r\nContent-Length: 20\r\nContent-Type: application/json\r\n\r\n",
    b"Host: x\r\nX-A:   spaced  \r\nX-B:\tt\r\nX-C:\r\nx-c: two\r\n\r\n",  # values as the email parser cuts them
    b"Host: x\r\nX-Folded: a\r\n b\r\n\r\n",  # a folded line: the standard library's parse
    b"Host: x\r\nX-Latin: \xe9t\xe9\r\n\r\n",
    b"Host: x\r\nNoColon\r\n\r\n",
    b"Host: x\nBare: lf\n\n",
    b"Host: x\r\n",  # the connection ended in the headers
    b"".join(b"X-H%d: %d\r\n" % (i, i) for i in range(99)) + b"\r\n",  # 99 and the blank line: the most allowed
    b"Host: x\r\nX-Long: " + b"a" * 70000 + b"\r\n\r\n",  # a line over 64 KiB
])
def test_headers_are_read_as_gevents_own_parse_reads_them(block):
    import io

    from gevent.pywsgi import headers_factory

    from reality.web.server import parse_headers

    ours, theirs = parse_headers(io.BytesIO(block)), headers_factory(io.BytesIO(block))
    assert (ours.status, list(ours.headers), ours.typeheader, ours.get("content-length")) == (
        theirs.status, list(theirs.headers), theirs.typeheader, theirs.get("content-length"))


def test_more_than_100_header_lines_raise_what_the_standard_library_raises():
    import http.client
    import io

    from reality.web.server import parse_headers

    with pytest.raises(http.client.HTTPException, match="got more than 100 headers"):
        parse_headers(io.BytesIO(b"".join(b"X-H%d: %d\r\n" % (i, i) for i in range(100)) + b"\r\n"))


# -- the phone page answered without Flask's request machinery (reality/web/direct.py) ------------

def _page(client):
    import re

    answer = client.get("/qr")
    cookie = answer.headers.get("Set-Cookie")
    headers = [(name, value) for name, value in answer.headers.items() if name != "Set-Cookie"]
    # The tally's version counts every change since the app started: not the same between two runs.
    page = re.sub(r'"version": \d+', '"version": N', answer.get_data(as_text=True))
    return answer.status, headers, page, cookie


def test_the_direct_phone_page_is_the_flask_routes_page_with_the_same_cookie(make_app):
    app = make_app()
    direct = app.wsgi_app
    state = app.extensions["reality"]
    name = app.config["SESSION_COOKIE_NAME"]
    app.test_client().get("/qr")  # the first page is Flask's: it learns whether the Socket.IO client is there
    first_pages = direct.pages
    new, returning, cookies = {}, {}, {}
    for way in ("flask", "direct"):
        state.reset()  # no votes, no identities: each way starts from the same show
        client = app.test_client()
        with (_through_flask(app) if way == "flask" else _Nothing()):
            new[way] = _page(client)
            assert client.post("/api/vote", json={"choice": "Go"}).status_code == 201
            returning[way] = _page(client)
        cookies[way] = client.get_cookie(name).value
    assert direct.pages == first_pages + 2
    # A new phone: the same page (1 phone joined), headers, and a cookie with the same attributes.
    assert new["direct"][:3] == new["flask"][:3]
    flask_cookie, direct_cookie = new["flask"][3], new["direct"][3]
    assert flask_cookie.split(";", 1)[0] != direct_cookie.split(";", 1)[0]  # each phone its own identity
    attributes = lambda cookie: sorted(part.strip().split("=")[0] for part in cookie.split(";")[1:])  # noqa: E731
    assert attributes(direct_cookie) == attributes(flask_cookie) == ["Expires", "HttpOnly", "Path", "SameSite"]
    serializer = app.session_interface.get_signing_serializer(app)
    assert serializer.loads(cookies["direct"]).keys() == serializer.loads(cookies["flask"]).keys() == {"voter", "_permanent"}
    # A returning phone: its own vote in its page, no new cookie, and the same answer as Flask's.
    assert returning["direct"][3] is None and returning["flask"][3] is None
    assert returning["direct"][2].replace(" ", "").count('"my_vote":{"choice":"Go","known":true}') == 1
    assert returning["direct"][:2] == returning["flask"][:2]


class _Nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_a_spent_budget_and_other_sessions_are_left_to_flask(make_app):
    app = make_app(IDENTITIES_BURST=1, IDENTITIES_PER_MINUTE=1)
    direct = app.wsgi_app
    state = app.extensions["reality"]
    app.test_client().get("/qr")  # Flask's first page (learns about the Socket.IO client): the one identity
    pages = direct.pages
    refused = app.test_client().get("/qr")
    assert refused.status_code == 429 and refused.headers["Retry-After"]
    assert "Too many new phones" in refused.get_data(as_text=True)
    assert state.identities.refused == 1  # looked at by the direct layer, refused and counted once, by Flask
    forged = app.test_client()
    forged.set_cookie(app.config["SESSION_COOKIE_NAME"], "not-a-signed-session")
    assert forged.get("/qr").status_code == 429  # a cookie that does not verify: Flask's, as a new phone
    assert state.identities.refused == 2
    assert direct.pages == pages
