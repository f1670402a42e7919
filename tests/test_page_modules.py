"""The pages' scripts are small ES modules: what that must not cost.

Modules run deferred, after the page is parsed, so the HTML itself already shows what the audience
screen's first paint must show (the scene, the services, the mode, the short address under the QR
code). And a page's script is now a graph of files: one request lost on the way fails the whole
graph, so the page loads itself again (at most twice in a row) instead of sitting there without
live updates.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from playwright.sync_api import Route, expect



class _Elements(HTMLParser):
    """Each element with an id: its attributes and its text (enough to read a page as first painted)."""

    def __init__(self) -> None:
        super().__init__()
        self.by_id: dict[str, dict] = {}
        self.body: dict[str, str | None] = {}
        self.scripts: list[dict[str, str | None]] = []
        self._open: list[dict] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "body":
            self.body = attributes
        if tag == "script":
            self.scripts.append(attributes)
        if tag in ("wbr", "img", "meta", "link", "br", "input"):
            return
        element = {"attrs": attributes, "text": ""}
        if "id" in attributes:
            self.by_id[attributes["id"]] = element
        self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        if self._open and tag not in ("wbr", "img", "meta", "link", "br", "input"):
            self._open.pop()

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element["text"] += data


def read(html: str) -> _Elements:
    parser = _Elements()
    parser.feed(html)
    return parser


def test_the_audience_html_already_shows_what_its_scripts_would(make_app):
    app = make_app()
    client = app.test_client()
    page = read(client.get("/").get_data(as_text=True))
    health = client.get("/api/health").get_json()
    scene = client.get("/api/scene").get_json()

    assert page.body["data-scene"] == scene["scene"]["key"]
    assert page.body["data-mode"] == "reality" and page.body["data-voting-open"] == "true"
    assert page.by_id["scene-cue"]["text"] == scene["scene"]["cue"]
    for name in ("postgres", "redis"):
        state = health["services"][name]
        pill = page.by_id[f"pill-{name}"]
        assert pill["text"].endswith(state.upper())
        assert pill["attrs"]["data-state"] == (state if state in ("up", "starting") else "down")
    assert page.by_id["pill-mode"]["text"] == "REALITY"
    # The address as the room reads it: no scheme, breakable only between its parts.
    assert page.by_id["phone-url"]["text"] == "localhost/qr"
    # Scripts: the page's state as data, then same-origin files only (the CSP allows nothing inline).
    assert [s.get("type") for s in page.scripts if "src" not in s] == ["application/json"]
    assert page.scripts[-1]["type"] == "module" and page.scripts[-1]["src"].endswith("/audience.js")
    csp = client.get("/").headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "unsafe-inline" not in csp


def _lose_first(lost: list[str], times: int):
    """A route handler that aborts the first ``times`` requests (as a dropped connection would)."""
    def handle(route: Route) -> None:
        if len(lost) < times:
            lost.append(route.request.url)
            route.abort("connectionreset")
        else:
            route.continue_()
    return handle


def _open_losing_bars(show, open_page, times: int, clock: bool = False):
    """The audience screen with its first ``times`` requests for bars.js lost.

    Returns the page, the documents requested, the requests lost and the documents that finished
    loading (their modules' errors handled by then). With ``clock``, the page runs on Playwright's
    clock (real time flows; the test can jump ahead).
    """
    documents: list[str] = []
    lost: list[str] = []
    loaded: list[str] = []

    def before_load(page):
        if clock:
            page.clock.install()
        page.on("load", lambda p: loaded.append(p.url))
        page.on("request", lambda r: r.resource_type == "document" and documents.append(r.url))
        page.route(re.compile(r".*/static/bars\.js$"), _lose_first(lost, times))

    page = open_page(show.base + "/", before_load=before_load, viewport={"width": 1280, "height": 720})
    return page, documents, lost, loaded


def test_a_module_lost_on_the_way_loads_the_page_again(stage, open_page):  # noqa: F811
    show = stage("Tabs or spaces?", ["Tabs", "Spaces"])
    show.vote("Tabs", 2)
    page, documents, lost, _ = _open_losing_bars(show, open_page, times=1)
    # The first load's module graph failed; the second one runs and draws the tally.
    expect(page.locator("body")).to_have_attribute("data-total", "2")
    assert len(lost) == 1 and len(documents) == 2


def test_a_module_that_never_loads_stops_the_reloads_after_two(stage, open_page):  # noqa: F811
    show = stage("Tabs or spaces?", ["Tabs", "Spaces"])
    page, documents, lost, loaded = _open_losing_bars(show, open_page, times=1_000, clock=True)
    # The two reloads come 0.5 s and 1 s apart on the page's clock, which the test moves ahead.
    for _ in range(300):  # up to 15 s of real time for them, on a loaded machine
        if len(loaded) >= 3:
            break
        page.clock.fast_forward(100)
        page.wait_for_timeout(50)
    assert len(documents) == 3, documents  # the first load and two more
    # The third page loaded (its modules failed, its guard has decided): far past the guard's longest
    # wait (1 s; a third would be 1.5 s) on the page's clock, then a real second for a navigation it
    # started to show up. No fourth load comes.
    page.clock.fast_forward(10_000)
    page.wait_for_timeout(1000)
    assert len(documents) == 3 and len(lost) == 3 and len(loaded) == 3
    assert page.locator("body").get_attribute("data-total") is None  # no script ever drew
