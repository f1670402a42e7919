"""The HTTP contract as a machine-readable document (reality/web/openapi.json), fuzzed.

Schemathesis reads the document the show serves at ``/api/openapi.json`` and sends generated
requests, valid and invalid, to the show's app in this process (real PostgreSQL and Redis, through
Schemathesis' WSGI transport), presenter routes included with the token: no answer may be a 5xx the
document does not promise, and every answer must match the document (status code, content type,
headers, body schema). The presenter actions that would pull the floor from under the fuzz itself
(kill a container, wipe the show, start pytest) are checked one by one instead, against the same
document and the same checks, on a real ``reality_engine.py`` (chaos kills real containers).
"""

from __future__ import annotations

import itertools
import json

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import ignored_auth, not_a_server_error

from support.paths import ROOT
from support.app import Phone
from support.show import OPTIONS, TOKEN, session_from
from support.show import Phone as RealPhone
from support.waiting import wait_for

DOCUMENT = ROOT / "reality" / "web" / "openapi.json"
PRESENTER_HEADERS = {"Authorization": f"Bearer {TOKEN}"}

#: Presenter actions that would disturb the fuzz itself: chaos kills a container, recover waits for
#: one, reset wipes the show, tests starts a pytest run with containers of its own. Covered by
#: test_disruptive_presenter_actions_conform_to_the_contract instead.
NOT_FUZZED = {("POST", "/api/presenter/chaos"), ("POST", "/api/presenter/recover"),
              ("POST", "/api/presenter/reset"), ("POST", "/api/presenter/tests")}

#: Generated cases per operation (on top of the schema's examples and the boundary cases Schemathesis
#: derives): enough to find a 5xx or a mismatch in this small API, bounded for a loaded 2-core machine.
MAX_EXAMPLES = 40

#: Where the fuzz's requests come from (every 127.x.y.z is this machine): see FromAddressByCredentials.
FUZZ_PRESENTER = "127.0.0.77"
FUZZ_GUESSER = "127.0.0.78"


def documented_operations() -> set[tuple[str, str]]:
    """(METHOD, path) of every operation in the document, with Flask's ``<name>`` as ``{name}``."""
    paths = json.loads(DOCUMENT.read_text())["paths"]
    return {(method.upper(), path) for path, item in paths.items() for method in item
            if method in ("get", "post", "put", "patch", "delete")}


def app_routes() -> set[tuple[str, str]]:
    """(METHOD, path) of every URL rule of the app, as Flask builds it (no server, no database)."""
    from reality.votes import InMemoryVoteStore
    from support.app import build_app, close_app

    app = build_app(InMemoryVoteStore())
    try:
        routes = set()
        for rule in app.url_map.iter_rules():
            # <path:filename> and <filename> are both {filename} in OpenAPI.
            path = rule.rule
            for argument in rule.arguments:
                path = path.replace(f"<path:{argument}>", f"{{{argument}}}").replace(f"<{argument}>", f"{{{argument}}}")
            routes |= {(method, path) for method in rule.methods - {"HEAD", "OPTIONS"}}
        return routes
    finally:
        close_app(app)


# -- the document and the app agree -----------------------------------------------------------------

def test_every_route_of_the_app_is_in_the_document():
    missing = app_routes() - documented_operations()
    assert not missing, (f"routes without documentation in {DOCUMENT.name}: {sorted(missing)}; "
                         "describe them there (and in README.md's HTTP contract)")


def test_the_document_describes_no_route_the_app_lacks_except_pending_ones():
    extra = documented_operations() - app_routes()
    assert not extra, f"{DOCUMENT.name} describes routes the app does not have: {sorted(extra)}"


def test_the_document_is_valid_openapi_3_1():
    schema = schemathesis.openapi.from_path(DOCUMENT)
    assert schema.raw_schema["openapi"].startswith("3.1")
    schema.validate()  # against the OpenAPI 3.1 meta-schema
    # Resolving every operation fails on a broken $ref or a malformed operation.
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {(op.method.upper(), op.path) for op in operations} == documented_operations()


def test_the_show_serves_the_document_from_the_repository(local_show):
    response = local_show.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    served = response.json
    kept = json.loads(DOCUMENT.read_text())
    # What only the running show knows: its options are the valid choices, its cookie is named after its port.
    assert served["components"]["schemas"]["Choice"].pop("enum") == list(OPTIONS)
    assert "enum" not in kept["components"]["schemas"]["Choice"]
    for scheme in ("presenterSession", "voterCookie"):
        assert served["components"]["securitySchemes"][scheme]["name"] == local_show.cookie_name
        served["components"]["securitySchemes"][scheme]["name"] = kept["components"]["securitySchemes"][scheme]["name"]
    assert served == kept


# -- the fuzz -----------------------------------------------------------------------------------------

def show_credentials(show):
    """Schemathesis' auth provider for ``show``: the presenter's token, and a fresh phone for each vote.

    Given through Schemathesis, not added to each request by hand, so that it knows the credentials
    are real: it leaves them out where a case tests their absence, and checks that the show refuses
    the request without them or with forged ones (401/403).
    """

    class ShowCredentials:
        votes = itertools.count()
        phone: Phone | None = None

        def get(self, case, context) -> dict[str, str]:
            if case.operation.path == "/api/vote":
                # A new phone every fifth vote: valid votes reach PostgreSQL (201, 409) and the limit (429).
                if next(ShowCredentials.votes) % 5 == 0 or ShowCredentials.phone is None:
                    ShowCredentials.phone = show.phone()
                return {"voter": ShowCredentials.phone.cookie()}
            return {"token": TOKEN}

        def set(self, case, data: dict[str, str], context) -> None:
            if "voter" in data:
                case.cookies = {**(case.cookies or {}), show.cookie_name: data["voter"]}
            else:
                case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data['token']}"}

    return ShowCredentials


class FromAddressByCredentials:
    """In front of the app: a request with the presenter's token comes from one address, any other from another.

    The fuzz sends wrong tokens on purpose, and the show throttles them per client address: after 10
    in a minute every try from that address is refused (429), the right token too. From one address,
    the fuzz's presenter requests would nearly all be 429 (measured: 257 of 263) and the presenter
    routes never fuzzed. (Over the network this is the client's source address; in this process, the
    address the WSGI server would have put in the request.)
    """

    def __init__(self, app) -> None:
        self.app = app

    def __call__(self, environ, start_response):
        right = environ.get("HTTP_AUTHORIZATION") == PRESENTER_HEADERS["Authorization"]
        environ["REMOTE_ADDR"] = FUZZ_PRESENTER if right else FUZZ_GUESSER
        answer = self.app(environ, start_response)
        # Read to the end and closed, as a server does (Schemathesis' WSGI transport reads a file's
        # answer, the Socket.IO client, without closing it).
        try:
            return [b"".join(answer)]
        finally:
            if hasattr(answer, "close"):
                answer.close()


@pytest.fixture
def contract_schema(local_show):
    """The document as the show's app serves it, with the credentials (the operations left out are below).

    A fresh app for each operation's fuzz: whatever it switched (fantasy mode, limits, scenes,
    votes), the next starts clean.
    """
    local_show.app.wsgi_app = FromAddressByCredentials(local_show.app.wsgi_app)
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", local_show.app)
    schema.config.generation.update(max_examples=MAX_EXAMPLES)
    schema.auth(refresh_interval=None).apply_to(path_regex="^/api/(vote|presenter/)")(show_credentials(local_show))
    return schema


contract = schemathesis.pytest.from_fixture("contract_schema").exclude(
    func=lambda ctx: (ctx.operation.method.upper(), ctx.operation.path) in NOT_FUZZED)


@contract.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_the_show_keeps_its_contract(case):
    # Schemathesis' own check that auth is enforced sends a wrong token after each accepted presenter
    # request: from the presenter's address, ten of those and the show (rightly) refuses the rest of
    # the fuzz there. test_every_presenter_operation_refuses_a_missing_or_wrong_token checks it instead.
    skip = [ignored_auth] if case.operation.path.startswith("/api/presenter/") else []
    case.call_and_validate(excluded_checks=skip)


def presenter_operations() -> list[tuple[str, str]]:
    return sorted(op for op in documented_operations() if op[1].startswith("/api/presenter/"))


@pytest.mark.parametrize("number, operation", enumerate(presenter_operations()),
                         ids=[f"{method} {path}" for method, path in presenter_operations()])
def test_every_presenter_operation_refuses_a_missing_or_wrong_token(local_show, number, operation):
    method, path = operation
    guesser = local_show.browser(f"127.0.1.{number + 1}")
    missing = guesser.open(path, method=method, json={})
    wrong = guesser.open(path, method=method, json={}, headers={"Authorization": "Bearer wrong"})
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert wrong.status_code == 403
    assert missing.json["status"] == 401 and wrong.json["status"] == 403


# -- the presenter actions the fuzz leaves out, one by one ------------------------------------------------

def test_disruptive_presenter_actions_conform_to_the_contract(fresh_show):
    schema = schemathesis.openapi.from_url(fresh_show.url("/api/openapi.json"))
    schema.config.update(base_url=fresh_show.base_url, request_timeout=60)

    def call(path: str, body: object = None, headers: dict | None = PRESENTER_HEADERS, expect: int = 200):
        operation = schema[path]["POST"]
        case = operation.Case(body=body, media_type="application/json") if body is not None else operation.Case()
        # A wrong token from an address of its own: the shared show throttles wrong tokens per address.
        with session_from("127.0.3.1") as guesser:
            response = case.call_and_validate(headers=headers, session=guesser if headers != PRESENTER_HEADERS else None)
        assert response.status_code == expect, f"{path} {body}: {response.status_code} {response.text}"
        return response.json()

    # Refusals: no token, a wrong token, bad input. Nothing happens.
    call("/api/presenter/chaos", {"target": "redis"}, headers={}, expect=401)
    call("/api/presenter/chaos", {"target": "redis"}, headers={"Authorization": "Bearer wrong"}, expect=403)
    call("/api/presenter/chaos", {"target": "mysql"}, expect=400)
    call("/api/presenter/recover", ["postgres"], expect=400)
    call("/api/presenter/reset", headers={}, expect=401)
    call("/api/presenter/tests", headers={}, expect=401)
    assert fresh_show.health()["services"] == {"postgres": "up", "redis": "up"}

    # Chaos and recovery, for real: Redis, then PostgreSQL with a vote refused in between (503).
    assert call("/api/presenter/chaos", {"target": "redis"})["target"] == "redis"
    call("/api/presenter/chaos", {"target": "redis"}, expect=409)
    assert call("/api/presenter/recover", {"target": "redis"})["target"] == "redis"
    call("/api/presenter/chaos", {"target": "postgres"})
    fresh_show.wait_for_service("postgres", "down")
    phone = RealPhone(fresh_show)
    vote = schema["/api/vote"]["POST"].Case(body={"choice": "Python"}, media_type="application/json",
                                            cookies={fresh_show.cookie_name: phone.http.cookies[fresh_show.cookie_name]})
    # The one 5xx the contract promises: PostgreSQL is down, nothing stored (checked against the
    # document like every other answer, only not counted as a server error).
    assert vote.call_and_validate(excluded_checks=[not_a_server_error]).status_code == 503
    assert call("/api/presenter/recover", {"target": "postgres"})["data_kept"] is True

    # A test run: 202, a second one while it goes on is 409; reset stops it and answers 200.
    call("/api/presenter/tests", expect=202)
    call("/api/presenter/tests", expect=409)
    call("/api/presenter/reset")
    wait_for(lambda: not fresh_show.health()["tests_running"], 30, "the test run to stop")


def test_logging_in_and_out_conforms_to_the_contract(local_show):
    # The fuzz cannot guess the token: the right one (303 to the presenter console) is checked here.
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", local_show.app)
    browser = local_show.browser()  # one cookie jar for the three requests, as a browser keeps it
    logged_in = schema["/"]["GET"].Case(query={"token": TOKEN}).call_and_validate(session=browser)
    # (Schemathesis' answers hold headers by lowercase name, as lists.)
    assert logged_in.status_code == 303 and logged_in.headers["location"] == ["/presenter"]
    form = schema["/login"]["POST"].Case(body={"token": TOKEN}, media_type="application/x-www-form-urlencoded")
    by_form = form.call_and_validate(session=browser)
    assert by_form.status_code == 303 and by_form.headers["location"] == ["/presenter"]  # not /presenter?login=failed
    # /logout only from the show's own pages, as a browser sends it.
    out = schema["/logout"]["POST"].Case(headers={"Origin": "http://localhost"})
    answer = out.call_and_validate(session=browser)
    assert answer.status_code == 303 and answer.headers["location"] == ["/presenter"]
    assert browser.post("/api/presenter/scene", json={"action": "next"}).status_code == 401  # logged out for real
    wrong = schema["/"]["GET"].Case(query={"token": "wrong"}).call_and_validate(session=local_show.browser("127.0.2.1"))
    assert wrong.status_code == 401 and wrong.headers["content-type"][0].startswith("text/html")


# -- what the fuzz found, pinned down ------------------------------------------------------------------

def test_a_method_not_allowed_says_which_methods_are(local_show):
    # RFC 9110: a 405 carries Allow. The JSON error answer used to drop werkzeug's header.
    response = local_show.browser().delete("/api/vote")
    assert response.status_code == 405
    assert response.headers["Allow"].replace(" ", "").split(",").count("POST") == 1
    assert response.json["status"] == 405


@pytest.mark.parametrize("index", [{}, "2", True, None, 1.5])
def test_a_scene_step_with_an_index_that_is_not_an_integer_is_refused(local_show, index):
    before = local_show.get("/api/scene").json["version"]
    response = local_show.presenter.post("scene", {"action": "next", "index": index})
    assert response.status_code == 400 and "index" in response.json["message"]
    assert local_show.get("/api/scene").json["version"] == before  # nothing moved
