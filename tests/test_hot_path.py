"""The vote path's shortcuts (see README, "Measured"), each checked for what it must still do."""

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
