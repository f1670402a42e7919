"""Bad input to the show: a 4xx with a human message, nothing stored, never a 5xx.

Votes sent every wrong way, voter cookies missing, forged or tampered, other endpoints, the presenter's
actions with bad bodies, markup in the login token, the voter cookie's Secure flag; on the show's app in
this process (``local_show``: real PostgreSQL, real Redis, Flask's test client).
"""

from __future__ import annotations

import pytest


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
