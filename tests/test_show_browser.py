"""The show in a real browser: Debian's Chromium, driven by Playwright, against the real show.

A phone votes on /qr and the audience screen's chart and the console's feed change over the websocket;
the second vote says "You already voted!"; the QR code on the audience screen decodes (with zbar) to
the phone URL; the presenter runs the show from the console (/presenter) with the keyboard and the
buttons while the projector (/) follows; markup in the question or the options is shown as text and
never runs. Screenshots land in artifacts/ for people to look at. The stage's layout, readability and
accessibility: test_stage_browser.py.

Over 300 lines: each journey is a page-long story in a real browser (the presenter's whole show is one
test), and the journeys share the show they run on.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Page, expect

from reality.web.scenes import SCENES
from support.browser import (KEEPER_PATH, PHONE, TIMEOUT_MS, bar_count, decode_qr, empty_for_the_next_test,
                             expect_live_console)
from support.show import TOKEN


def test_a_phone_vote_reaches_the_audience_screen_and_the_console_over_the_websocket(fresh_show, open_page,
                                                                                      artifacts_dir):
    sockets, polls = [], []
    dashboard = open_page("about:blank", viewport={"width": 1280, "height": 720})
    dashboard.on("websocket", lambda ws: sockets.append(ws.url))
    dashboard.on("request", lambda r: polls.append(r.url) if "/api/feed" in r.url or "/api/results" in r.url else None)
    dashboard.goto(fresh_show.url("/"))
    expect(dashboard.locator("body")).to_have_attribute("data-live", "live")
    console = open_page(fresh_show.url(f"/?token={TOKEN}"), viewport={"width": 1280, "height": 720})
    expect_live_console(console)

    phone = open_page(fresh_show.url("/qr"), **PHONE)
    phone.screenshot(path=artifacts_dir / "phone-390x844.png")
    phone.get_by_role("button", name="Rust").click()

    expect(phone.locator("#feedback-title")).to_have_text("Vote recorded")
    expect(phone.get_by_role("button", name="Vote again")).to_be_visible()
    expect(bar_count(phone, "Rust")).to_have_text("1")  # the phone's own live results
    expect(bar_count(dashboard, "Rust", ".bar-num")).to_have_text("1")
    expect(bar_count(dashboard, "Rust", ".bar-pct")).to_have_text("100%")
    expect(dashboard.locator("#total")).to_have_text("1")
    expect(dashboard.locator("#joined")).to_have_text("1")  # "1 phone joined", live on the join card
    expect(console.locator("#feed .feed-item").first).to_contain_text("voted Rust")
    expect(console.locator("#stat-joined")).to_have_text("1")
    assert any("/socket.io/" in url and "transport=websocket" in url for url in sockets)
    assert polls == [], "the audience screen polled instead of listening to the websocket"
    phone.screenshot(path=artifacts_dir / "phone-voted.png")
    dashboard.screenshot(path=artifacts_dir / "audience-1280x720.png")
    console.screenshot(path=artifacts_dir / "presenter-1280x720.png")


def test_the_second_vote_shows_you_already_voted(fresh_show, open_page, artifacts_dir):
    phone = open_page(fresh_show.url("/qr"), **PHONE)
    phone.get_by_role("button", name="Go").click()
    expect(phone.locator("#feedback-title")).to_have_text("Vote recorded")

    phone.get_by_role("button", name="Vote again").click()
    phone.get_by_role("button", name="Python").click()

    expect(phone.locator("#feedback-title")).to_have_text("You already voted!")
    expect(phone.locator("#feedback-detail")).to_contain_text("PostgreSQL refused it")
    expect(bar_count(phone, "Python")).to_have_text("0")
    expect(bar_count(phone, "Go")).to_have_text("1")
    phone.screenshot(path=artifacts_dir / "phone-already-voted.png")

    phone.get_by_role("button", name="Vote again").click()
    phone.get_by_role("button", name="Python").click()
    phone.get_by_role("button", name="Vote again").click()
    phone.get_by_role("button", name="Python").click()
    expect(phone.locator("#feedback-title")).to_have_text("Slow down!")


def test_a_phone_with_a_stale_cookie_gets_a_new_identity_and_its_vote_counts(fresh_show, open_page):
    phone = open_page(fresh_show.url("/qr"), **PHONE)
    # What a phone keeps from an earlier run of the show: a cookie signed with another key.
    phone.context.clear_cookies()
    phone.context.add_cookies([{"name": fresh_show.cookie_name, "value": "eyJ2b3RlciI6ImFiYyJ9.Zx.old", "url": fresh_show.base_url}])

    statuses = []
    phone.on("response", lambda r: statuses.append(r.status) if r.url.endswith("/api/vote") else None)

    phone.get_by_role("button", name="Java", exact=True).click()

    expect(phone.locator("#feedback-title")).to_have_text("Vote recorded")
    assert statuses == [403, 201]  # refused once, new identity from /qr, counted
    assert fresh_show.results()["counts"]["Java"] == 1


def test_a_context_handed_to_the_next_test_starts_as_a_new_one_would(fresh_show, browser):
    """What ``open_page`` does between tests: the phone's cookie (its identity), a permission and a route
    are gone; a context on Playwright's clock is not handed on."""
    context = browser.new_context(**PHONE)
    try:
        phone = context.new_page()
        phone.goto(fresh_show.url("/qr"))
        assert [cookie["name"] for cookie in context.cookies()] == [fresh_show.cookie_name]
        context.grant_permissions(["clipboard-read"])
        context.route("**/qr", lambda route: route.fulfill(body="routed"))

        assert empty_for_the_next_test(context)

        assert context.cookies() == []
        [keeper] = context.pages
        assert keeper.url == fresh_show.url(KEEPER_PATH)
        page = context.new_page()
        page.goto(fresh_show.url("/qr"))
        assert page.locator("#feedback-title").count() == 1  # the show's page, not the route's body
        assert page.evaluate("navigator.permissions.query({name: 'clipboard-read'}).then((p) => p.state)") != "granted"

        page.clock.install()
        assert not empty_for_the_next_test(context)
    finally:
        context.close()


def test_the_qr_code_decodes_to_the_phone_url_in_every_scene(fresh_show, open_page, artifacts_dir, needs_tool,
                                                             presenter):
    needs_tool(shutil.which("zbarimg") is not None, "zbarimg", "python3 setup.py --with-browser, or apt-get install zbar-tools")
    projector = open_page(fresh_show.url("/"), viewport={"width": 1920, "height": 1080})
    projector.wait_for_function("document.getElementById('qr').naturalWidth > 0")
    phone_url = fresh_show.health()["phone_url"]
    assert phone_url.endswith("/qr") and "localhost" not in phone_url and "127.0.0.1" not in phone_url

    for index, scene in enumerate(SCENES):
        presenter.ok("scene", {"action": "goto", "index": index})
        expect(projector.locator("body")).to_have_attribute("data-scene", scene.key)
        shot = artifacts_dir / f"audience-qr-{index + 1}-{scene.key}.png"
        projector.screenshot(path=shot)
        assert decode_qr(shot) == phone_url, f"no QR code to scan in scene {scene.title!r}"

    assert requests.get(phone_url, timeout=5).status_code == 200  # a phone scanning it gets the page
    expect(projector.locator("#phone-url-warning")).to_have_count(0)
    expect(projector.locator("#phone-url")).to_have_text(phone_url.split("://", 1)[1])  # short: no scheme

    presenter.ok("voting", {"open": False})  # closed: nothing to scan, and the screen says so
    presenter.ok("scene", {"action": "goto", "index": 1})
    expect(projector.locator("#join-closed")).to_be_visible()
    expect(projector.locator("#qr")).to_be_hidden()
    presenter.ok("voting", {"open": True})
    expect(projector.locator("#qr")).to_be_visible()


def test_the_presenter_runs_the_show_from_the_console_and_the_projector_follows(fresh_show, open_page, new_phone,
                                                                               artifacts_dir, needs_tool):
    projector = open_page(fresh_show.url("/"), viewport={"width": 1280, "height": 720})
    laptop = open_page(fresh_show.url(f"/?token={TOKEN}"), viewport={"width": 1280, "height": 720})
    assert laptop.url == fresh_show.url("/presenter")  # logged in, and the token left the address bar
    expect(projector.locator("#controls")).to_have_count(0)  # read-only for everyone else
    expect_live_console(laptop)
    expect(laptop.locator("#next-title")).to_have_text("Scan and vote")

    laptop.keyboard.press("ArrowRight")
    expect(projector.locator("body")).to_have_attribute("data-scene", "qr-voting")
    expect(laptop.locator("#scene-step")).to_have_text("2/6")
    expect(laptop.locator("#scene-notes")).to_contain_text("Everyone votes once")
    laptop.keyboard.press("PageDown")  # what a presentation clicker sends
    expect(projector.locator("body")).to_have_attribute("data-scene", "magic-moment")
    laptop.keyboard.press("ArrowLeft")
    expect(projector.locator("body")).to_have_attribute("data-scene", "qr-voting")
    laptop.keyboard.press("PageUp")
    expect(laptop.locator("#scene-title")).to_have_text("Cold open")
    laptop.keyboard.press(" ")
    expect(laptop.locator("#scene-title")).to_have_text("Scan and vote")

    laptop.get_by_role("button", name="Hide results").click()
    expect(projector.locator("#results-hidden")).to_be_visible()
    expect(projector.locator("#chart")).to_be_hidden()
    laptop.get_by_role("button", name="Reveal results").click()
    expect(projector.locator("#chart")).to_be_visible()
    laptop.get_by_role("button", name="Light theme").click()
    expect(projector.locator("html")).to_have_attribute("data-theme", "light")
    projector.screenshot(path=artifacts_dir / "audience-light-1280x720.png")
    laptop.get_by_role("button", name="Dark theme").click()
    expect(projector.locator("html")).to_have_attribute("data-theme", "dark")

    laptop.get_by_role("button", name="Switch to fantasy").click()
    expect(projector.locator("#pill-mode")).to_contain_text("FANTASY")
    expect(projector.locator(".banner-fantasy")).to_be_visible()
    phone = new_phone()
    assert [phone.vote("Go").status_code, phone.vote("Go").status_code] == [201, 201]  # the mock takes both
    laptop.get_by_role("button", name="Back to reality").click()
    expect(projector.locator("#pill-mode")).to_contain_text("REALITY")
    # The lesson's strongest moment, in the console's feed and answer, and counted on the projector.
    replayed = "2 replayed: 1 stored, 1 refused by PostgreSQL as duplicates"
    expect(laptop.locator("#feed")).to_contain_text(replayed)
    expect(laptop.locator("#toast")).to_contain_text(replayed)
    expect(projector.locator("#total")).to_have_text("1")
    expect(projector.locator("#refused-count")).to_have_text("1")

    for _ in range(3):
        laptop.keyboard.press("ArrowRight")
    expect(projector.locator("body")).to_have_attribute("data-scene", "chaos")
    laptop.get_by_role("button", name="Kill Redis").click()
    expect(projector.locator("#tile-redis")).to_have_attribute("data-state", "down")
    expect(projector.locator(".banner-warn")).to_contain_text("Redis is down")
    assert new_phone().vote("Go").status_code == 201
    expect(projector.locator("#tile-redis .tile-votes")).to_contain_text("1 vote kept meanwhile")
    projector.screenshot(path=artifacts_dir / "audience-redis-killed.png")
    laptop.get_by_role("button", name="Recover Redis").click()
    expect(projector.locator("#tile-redis")).to_have_attribute("data-state", "up")

    laptop.get_by_role("button", name="Kill PostgreSQL").click()
    expect(projector.locator(".banner-down")).to_contain_text("PostgreSQL is down")
    expect(projector.locator("#tile-postgres")).to_have_attribute("data-state", "down")
    assert new_phone().vote("Go").status_code == 503
    expect(projector.locator("#tile-postgres .tile-votes")).to_contain_text("1 vote refused meanwhile")
    projector.screenshot(path=artifacts_dir / "audience-postgres-killed.png")
    laptop.get_by_role("button", name="Export CSV").click()
    expect(laptop.locator("#toast")).to_have_text("PostgreSQL is down: recover it to export the votes.")
    laptop.get_by_role("button", name="Switch to fantasy").click()  # the mock does not need PostgreSQL
    expect(projector.locator(".banner-down")).to_have_count(0)
    expect(projector.locator(".banner-warn")).to_contain_text("fantasy mock does not need it")
    laptop.get_by_role("button", name="Back to reality").click()  # refused: the mock's votes need PostgreSQL
    expect(laptop.locator("#toast")).to_contain_text("Still in fantasy mode")
    laptop.get_by_role("button", name="Recover PostgreSQL").click()
    expect(projector.locator("#tile-postgres")).to_have_attribute("data-state", "up")
    laptop.get_by_role("button", name="Back to reality").click()
    expect(projector.locator("#pill-mode")).to_contain_text("REALITY")
    with laptop.expect_download() as download:
        laptop.get_by_role("button", name="Export CSV").click()
    assert Path(download.value.path()).read_text().splitlines()[0] == "phone,choice,cast_at"
    expect(projector.locator(".banner-down")).to_have_count(0)

    laptop.keyboard.press("ArrowLeft")
    expect(projector.locator("body")).to_have_attribute("data-scene", "test-comparison")
    laptop.get_by_role("button", name="Run tests").click()
    expect(projector.locator('.tests-col[data-suite="reality"] .tests-list li')).to_have_count(4, timeout=120_000)
    expect(projector.locator('.tests-col[data-suite="fantasy"] .tests-list li')).to_have_count(3)
    expect(projector.locator('.tests-col[data-suite="fantasy"]')).to_have_attribute("data-verdict", "lie")
    expect(projector.locator("#verdict-fantasy")).to_contain_text("the duplicate-vote bug ships")
    # The QR code stays after a test run, and after a reload.
    needs_tool(shutil.which("zbarimg") is not None, "zbarimg", "apt-get install zbar-tools")
    phone_url = fresh_show.health()["phone_url"]
    for moment in ("after-tests", "after-reload"):
        if moment == "after-reload":
            projector.reload()
            expect(projector.locator("#verdict-fantasy")).to_contain_text("the duplicate-vote bug ships")
        shot = artifacts_dir / f"audience-tests-{moment}.png"
        projector.screenshot(path=shot)
        assert decode_qr(shot) == phone_url, moment
    laptop.keyboard.press("ArrowRight")
    laptop.keyboard.press("ArrowRight")
    expect(projector.locator("body")).to_have_attribute("data-scene", "mic-drop")
    expect(projector.locator("#winner")).to_contain_text("Go wins")
    expect(projector.locator("#sum-outage")).to_have_text("1")
    expect(projector.locator("#sum-tests")).to_have_text("mocks lied")
    projector.screenshot(path=artifacts_dir / "audience-mic-drop.png")

    reset = laptop.get_by_role("button", name="Reset")
    reset.click()
    expect(laptop.locator("#btn-reset")).to_have_text("Click again to reset")  # a slip cannot wipe the votes
    laptop.locator("#btn-reset").click()
    expect(laptop.locator("#scene-step")).to_have_text("1/6")
    expect(projector.locator("body")).to_have_attribute("data-scene", "cold-open")
    expect(laptop.locator("#feed .feed-item")).to_have_count(1)
    expect(laptop.locator("#feed .feed-item").first).to_contain_text("Clean slate")


def test_space_or_enter_on_a_focused_button_presses_it_and_p_and_h_work(fresh_show, open_page):
    laptop = open_page(fresh_show.url(f"/?token={TOKEN}"), viewport={"width": 1280, "height": 720})
    expect_live_console(laptop)

    laptop.locator("#btn-results").focus()
    laptop.keyboard.press(" ")
    expect(laptop.locator("#btn-results")).to_have_text("Reveal results")
    expect(laptop.locator("#btn-results")).to_be_enabled()
    expect(laptop.locator("#btn-results")).to_be_focused()  # still: the next key presses it again
    laptop.keyboard.press("Enter")
    expect(laptop.locator("#btn-results")).to_have_text("Hide results")

    assert fresh_show.results()["results_visible"] is True
    laptop.wait_for_timeout(500)  # time for a wrong scene change to arrive
    expect(laptop.locator("#scene-step")).to_have_text("1/6")
    assert requests.get(fresh_show.url("/api/scene"), timeout=5).json()["index"] == 0

    laptop.locator("#btn-results").blur()  # the page's own keys: P starts and pauses the clock, H hides the controls
    laptop.keyboard.press("p")
    expect(laptop.locator("#timer-toggle")).to_have_text("Pause")
    laptop.keyboard.press("P")
    expect(laptop.locator("#timer-toggle")).to_have_text("Resume")
    laptop.keyboard.press("h")
    expect(laptop.locator("#controls")).to_be_hidden()
    laptop.keyboard.press("H")
    expect(laptop.locator("#controls")).to_be_visible()


def test_a_presenter_click_sends_only_what_was_clicked(fresh_show, open_page):
    """A button sends its own action; a click anywhere else on the console sends nothing."""
    sent: list[str] = []

    def record_frames(page: Page) -> None:
        page.on("websocket", lambda socket: socket.on("framesent", lambda payload: sent.append(str(payload))))

    laptop = open_page(fresh_show.url(f"/?token={TOKEN}"), before_load=record_frames,
                       viewport={"width": 1280, "height": 720})
    expect_live_console(laptop)

    laptop.locator("#question").click()  # not a control
    laptop.get_by_role("button", name="Rate limit: on").click()
    expect(laptop.locator("#toast")).to_contain_text("Rate limit off")
    laptop.get_by_role("button", name="Next ▶").click()
    expect(laptop.locator("#scene-step")).to_have_text("2/6")

    scene_frames = [frame for frame in sent if '"scene"' in frame]
    assert len(scene_frames) == 1 and '"action":"next"' in scene_frames[0], scene_frames
    expect(laptop.locator("#toast")).to_have_attribute("data-ok", "true")


@pytest.mark.parametrize("path,total", [("/", "1"), ("/qr", "· 1 vote")], ids=["dashboard", "phone"])
def test_a_page_from_an_earlier_run_of_the_show_reloads_itself(fresh_show, open_page, new_phone, path, total):
    """After a restart, a projector or phone left open must not mix the old run's feed with the new one.

    It loads itself once, and then stays: it takes this run's live updates (a vote's tally) without
    loading itself again, as a page still taking itself for an earlier run would at the first of them.
    """
    run = fresh_show.results()["run"]
    served: list[str] = []
    loaded: list[str] = []

    def first_from_an_earlier_run(route) -> None:
        response = route.fetch()
        body = response.text()
        served.append(body)
        if len(served) == 1:
            assert run in body
            body = body.replace(run, "an-earlier-run")
        route.fulfill(response=response, body=body)

    # What the page went through, for a failure to tell why it loaded again (seen once in a CI run).
    seen: list[str] = []

    def before_load(page: Page) -> None:
        page.on("load", lambda p: loaded.append(p.url))
        page.on("framenavigated", lambda frame: seen.append(f"navigated {frame.url}") if frame.parent_frame is None
                else None)
        page.on("console", lambda message: seen.append(f"console {message.type}: {message.text}"))
        page.on("requestfailed", lambda request: seen.append(f"request failed {request.url}: {request.failure}"))
        page.route(fresh_show.url(path), first_from_an_earlier_run)

    page = open_page(fresh_show.url(path), before_load=before_load, viewport={"width": 1280, "height": 720})

    # Playwright serves the route from this thread: wait with the page's clock, not time.sleep.
    for _ in range(150):
        if len(loaded) >= 2:
            break
        page.wait_for_timeout(100)
    assert len(loaded) == 2, f"the page did not reload itself; the page saw: {seen}"
    expect(page.locator("h1").first).to_contain_text("Which language")
    page.evaluate("window.stayed = true")  # lost if this document is replaced
    assert new_phone().vote("Go").status_code == 201
    expect(page.locator("#total" if path == "/" else "#phone-total")).to_have_text(total)
    why = f"; served this run: {[run in body for body in served]}; loads: {loaded}; the page saw: {seen}"
    assert page.evaluate("window.stayed === true"), "the page loaded itself again" + why
    assert len(served) == 2, f"the page was asked for {len(served)} times" + why


def test_without_the_socket_client_the_pages_poll_and_say_so(fresh_show, browser, new_phone):
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    # What a machine without `npm ci` serves: no Socket.IO client.
    context.route("**/vendor/socket.io.min.js", lambda route: route.fulfill(status=404, body="not installed"))
    try:
        dashboard = context.new_page()
        dashboard.set_default_timeout(TIMEOUT_MS)
        dashboard.goto(fresh_show.url("/"))
        expect(dashboard.locator(".banners")).to_contain_text("Live updates unavailable")
        expect(dashboard.locator("body")).to_have_attribute("data-live", "polling")
        console = context.new_page()
        console.set_default_timeout(TIMEOUT_MS)
        console.goto(fresh_show.url(f"/?token={TOKEN}"))
        expect(console.locator("#feed-live")).to_have_text("● polling")

        assert new_phone().vote("Java").status_code == 201

        expect(bar_count(dashboard, "Java", ".bar-num")).to_have_text("1")
        expect(console.locator("#feed .feed-item").first).to_contain_text("voted Java")
    finally:
        context.close()


# -- markup is text: an app in this process, with markup in its question and options -------------------

MARKUP_QUESTION = 'Which <b>is</b> best? <img src=x onerror="window.__owned=1">'
MARKUP_OPTIONS = ["<script>__owned=2</script>", "Go", "<img src=y onerror=__owned=3>"]


@pytest.fixture
def poll_app(stage):
    """Serves the app in this process with a given question and options; returns its base URL."""
    return lambda question, options: stage(question, options).base


@pytest.fixture
def markup_app(poll_app):
    return poll_app(MARKUP_QUESTION, MARKUP_OPTIONS)


def test_markup_in_the_question_and_options_is_shown_as_text_and_never_runs(markup_app, open_page, artifacts_dir):
    dialogs = []
    phone = open_page(markup_app + "/qr", **PHONE)
    phone.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    expect(phone.locator(".phone-question")).to_have_text(MARKUP_QUESTION)

    phone.get_by_role("button", name=MARKUP_OPTIONS[0]).click()
    expect(phone.locator("#feedback-title")).to_have_text("Vote recorded")

    dashboard = open_page(markup_app + "/", viewport={"width": 1280, "height": 720})
    console = open_page(f"{markup_app}/?token={TOKEN}", viewport={"width": 1280, "height": 720})
    expect(dashboard.locator("#question")).to_have_text(MARKUP_QUESTION)
    expect(console.locator("#question")).to_have_text(MARKUP_QUESTION)
    expect(console.locator("#feed")).to_contain_text(f"voted {MARKUP_OPTIONS[0]}")
    expect(bar_count(dashboard, MARKUP_OPTIONS[2], ".bar-num")).to_have_text("0")
    expect(bar_count(dashboard, MARKUP_OPTIONS[0], ".bar-num")).to_have_text("1")
    for page in (phone, dashboard, console):
        assert page.evaluate("window.__owned") is None
        assert page.locator("img[src='x'], img[src='y'], h1 b, h2 b, .chart script").count() == 0
    assert dialogs == []
    dashboard.screenshot(path=artifacts_dir / "dashboard-markup-as-text.png")
    assert requests.get(markup_app + "/api/results", timeout=5).json()["counts"][MARKUP_OPTIONS[0]] == 1


# -- the longest poll the show accepts still reads from the back of the room and on a small phone -------

LONG_QUESTION = ("When a test of yours talks to a database, a cache or a queue, what does it really talk to on "
                 "your team today, honestly?")[:140]
LONG_OPTIONS = ["Mocks for the repository layer", "Mocks for the database driver", "Testcontainers for PostgreSQL",
                "Testcontainers for everything", "A shared staging database", "SQLite in memory instead",
                "Integrationstestumgebungsserver", "Nothing at all, we test by hand"]

CLIPPED = """(selector) => [...document.querySelectorAll(selector)].filter(
    (node) => node.scrollWidth > node.clientWidth + 1 || node.scrollHeight > node.clientHeight + 1
).map((node) => node.textContent)"""


def test_the_longest_poll_fits_a_small_phone_without_zooming(poll_app, open_page, artifacts_dir):
    base = poll_app(LONG_QUESTION, LONG_OPTIONS)
    phone = open_page(base + "/qr", viewport={"width": 320, "height": 640}, is_mobile=True, has_touch=True)
    expect(phone.get_by_role("button", name=LONG_OPTIONS[6])).to_be_visible()
    phone.screenshot(path=artifacts_dir / "phone-longest-poll-320.png", full_page=True)

    assert phone.evaluate("document.documentElement.scrollWidth") <= 320  # no sideways scrolling, no zoom-out
    assert phone.evaluate(CLIPPED, ".choice") == []


@pytest.fixture
def page_on_another_port(tmp_path):
    """Serves one HTML page from another port of the same host (cookies ignore ports; origins do not)."""
    from functools import partial
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def serve(html: str) -> str:
        (tmp_path / "page.html").write_text(html)
        return f"http://127.0.0.1:{server.server_port}/page.html"

    yield serve
    server.shutdown()
    server.server_close()


def test_logout_holds_against_another_port_and_revokes_copies_of_the_cookie(fresh_show, browser,
                                                                             page_on_another_port):
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    try:
        laptop = context.new_page()
        laptop.set_default_timeout(TIMEOUT_MS)
        laptop.goto(fresh_show.url(f"/?token={TOKEN}"))
        expect(laptop.locator("#controls")).to_be_visible()
        copied = {c["name"]: c["value"] for c in context.cookies() if c["name"] == "reality"}

        # A page on another port of the same host submits a logout form: the browser sends the cookie
        # (same site), but the origin is not the show's.
        hostile = context.new_page()
        attack = page_on_another_port(f'<form method="post" action="{fresh_show.url("/logout")}"></form>'
                                      "<script>document.forms[0].submit()</script>")
        with hostile.expect_response(fresh_show.url("/logout")) as answer:
            hostile.goto(attack)
        assert answer.value.status == 403
        laptop.bring_to_front()  # back to the console's tab (a click in a tab behind another waits 2 s here)
        laptop.reload()
        expect(laptop.locator("#controls")).to_be_visible()  # still the presenter

        laptop.get_by_role("button", name="Log out").click()  # the console's own form: its origin is the show

        expect(laptop.locator("#controls")).to_have_count(0)
        expect(laptop.locator("form.login-form")).to_be_visible()
        stolen = requests.post(fresh_show.url("/api/presenter/scene"), json={"action": "next"}, cookies=copied,
                               timeout=5)
        assert stolen.status_code == 401
        assert requests.get(fresh_show.url("/api/presenter/export.csv"), cookies=copied, timeout=5).status_code == 401
    finally:
        context.close()
