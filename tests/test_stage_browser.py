"""The audience screen as the back of the room sees it, in a real browser (Debian's Chromium).

Every scene, at 1920×1080, 1366×768, 1280×720 and 1024×768, with the longest poll the show accepts
(a 140-character question, 8 options of 32 characters) and the shortest: no two text boxes overlap,
none is clipped or off screen, nothing scrolls. At 1920×1080 every text is at least 32 px and the
address, the counts and the totals at least 48 px; bar tracks stand out from the page (3:1). The
projector shows no notes, clocks, controls or login link. axe-core (npm, served from node_modules
only to these tests) finds no serious or critical violation on ``/`` and ``/presenter``. A screenshot
(JPEG) of every scene at 1920×1080, and at any size where something does not fit, lands in artifacts/.

A little over 300 lines: the measuring scripts (layout, font sizes, contrast) are JavaScript kept
next to the tests that read their answers.
"""

from __future__ import annotations

import itertools
from typing import Callable

import pytest
from playwright.sync_api import Page, expect

from reality.web.scenes import SCENES
from support.browser import AXE, TIMEOUT_MS, settle
from support.show import TOKEN
from support.stage import Stage, served_stage

#: A page's clock from its start, and where it stops (a test moves it on by hand).
CLOCK_FROM, PAUSED_AT = "2026-01-01T00:00:00", "2026-01-01T00:00:01"
SIZES = [(1920, 1080), (1366, 768), (1280, 720), (1024, 768)]

LONGEST_QUESTION = ("When a test of yours talks to a database, a cache or a queue, what does it really talk to "
                    "on your team today, honestly? Tell us now, please")
LONGEST_OPTIONS = ["Mocks for the whole repository!!", "Mocks for the database driver 42",
                   "Testcontainers for PostgreSQL 16", "Testcontainers for the whole lot",
                   "A shared staging database server", "SQLite in memory instead of this",
                   "Integrationstestumgebungsserver!", "Nothing at all: we test by hand!"]
SHORTEST = ("Tabs or spaces?", ["Tabs", "Spaces"])

#: What the back of the room cannot read: every element with text of its own that is visible, and
#: each problem found with it (off screen, clipped, overlapping another, a word broken over two lines,
#: the page scrolling).
LAYOUT = r"""() => {
  const W = innerWidth, H = innerHeight, problems = [];
  const shown = (el) => getComputedStyle(el).visibility !== "hidden" && el.getClientRects().length > 0;
  const ownText = (el) => [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
  const boxes = [...document.body.querySelectorAll("*")]
    .filter((el) => !el.closest(".banners") && shown(el) && (ownText(el) || el.id === "qr"))
    .map((el) => ({ el, rects: [...el.getClientRects()].filter((r) => r.width > 0 && r.height > 0) }));
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + " “" + el.textContent.trim().slice(0, 40) + "”";
  for (const { el, rects } of boxes) {
    for (const r of rects) {
      if (r.left < -1 || r.top < -1 || r.right > W + 1 || r.bottom > H + 1) problems.push("off screen: " + name(el));
    }
    if (el.clientWidth > 0 && (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1)) {
      problems.push("clipped: " + name(el));
    }
  }
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i], b = boxes[j];
      if (a.el.contains(b.el) || b.el.contains(a.el)) continue;
      for (const ra of a.rects) for (const rb of b.rects) {
        const w = Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left);
        const h = Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top);
        if (w > 2 && h > 2) problems.push("overlap: " + name(a.el) + " / " + name(b.el));
      }
    }
  }
  // A word split over two lines ("JavaScr/ipt") where breaking between words would do.
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || el.closest(".banners") || !shown(el)) continue;
    for (const match of node.textContent.matchAll(/[^\s\-–—]+/g)) {
      const range = document.createRange();
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      const lines = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top)));
      if (lines.size > 1) problems.push("word broken: “" + match[0] + "” in " + name(el));
    }
  }
  const doc = document.documentElement;
  if (doc.scrollHeight > H || doc.scrollWidth > W) problems.push("the page scrolls: " + doc.scrollWidth + "×" + doc.scrollHeight);
  return { problems, texts: boxes.length };
}"""

#: Computed font sizes of every visible text on the screen (banners included: they overlay it).
FONT_SIZES = """(big) => {
  const ownText = (el) => [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
  return [...document.body.querySelectorAll("*")]
    .filter((el) => ownText(el) && getComputedStyle(el).visibility !== "hidden" && el.getClientRects().length > 0)
    .map((el) => ({ text: el.textContent.trim().slice(0, 50), px: parseFloat(getComputedStyle(el).fontSize),
                    big: el.matches(big) }));
}"""
MUST_BE_BIG = "#phone-url, #phone-url *, .bar-count, .bar-count *, #total, #joined, .a-num, .a-big, .a-summary dd"

CONTRAST = """(selector) => {
  const rgb = (text) => text.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const lum = ([r, g, b]) => {
    const c = [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const page = lum(rgb(getComputedStyle(document.body).backgroundColor));
  const track = lum(rgb(getComputedStyle(document.querySelector(selector)).borderTopColor));
  return (Math.max(page, track) + 0.05) / (Math.min(page, track) + 0.05);
}"""


def full_room(stage_factory, question: str, options: list[str]) -> Stage:
    """A show in the middle of its story: votes in, a second vote refused, tests run."""
    show = stage_factory(question, options)
    for index, option in enumerate(options):
        show.vote(option, max(1, 4 - index))
    show.second_vote(options[0])
    show.tests_ran()
    return show


def step_through_scenes(page: Page, show: Stage):
    for index, scene in enumerate(SCENES):
        show.scene(index)
        expect(page.locator("body")).to_have_attribute("data-scene", scene.key)
        # Numbers and bars ease in for half a second (on the first load; a scene change moves nothing
        # today): the screen at rest, rather than a fixed 700 ms a scene.
        settle(page)
        yield index, scene


@pytest.fixture(scope="module")
def projector_layouts(postgres_url, browser, artifacts_dir) -> Callable[[str], dict]:
    """``layouts(poll)[(width, height)]``: each scene's layout on a full room at every size, looked at once per poll.

    One page per poll, resized to each size in each scene (the stage's layout is CSS: a resize lays it
    out as a page opened at that size would; numbers and bars ease in once per scene, not per size).
    """
    from reality.votes import VoteStore

    store = VoteStore(postgres_url)
    store.init_schema()
    found: dict[str, dict] = {}

    def layouts(poll: str) -> dict:
        if poll in found:
            return found[poll]
        question, options = (LONGEST_QUESTION, LONGEST_OPTIONS) if poll == "longest" else SHORTEST
        assert len(question) <= 140 and max(map(len, options)) <= 32
        store.reset()
        with served_stage(store, question, options) as show:
            for index, option in enumerate(options):  # the full room of full_room()
                show.vote(option, max(1, 4 - index))
            show.second_vote(options[0])
            show.tests_ran()
            context = browser.new_context(viewport={"width": SIZES[0][0], "height": SIZES[0][1]})
            try:
                page = context.new_page()
                page.set_default_timeout(TIMEOUT_MS)
                page.goto(show.base + "/")
                expect(page.locator("#tests .tests-list li")).to_have_count(7)
                sizes: dict[tuple[int, int], dict] = {size: {} for size in SIZES}
                moves = itertools.count()
                for index, scene in step_through_scenes(page, show):
                    for width, height in SIZES:
                        page.set_viewport_size({"width": width, "height": height})
                        page.mouse.move(10 + next(moves) % 2, 10)  # the full-screen button shows (3 s): it must fit too
                        # No script reacts to a resize (the layout is CSS, which measuring lays out at
                        # once): only a transition the new size started, if any, is brought to its end.
                        settle(page)
                        layout = page.evaluate(LAYOUT)
                        # For people to look at: every scene at the full size, and any size where something
                        # does not fit (the other 36 pictures cost 1.5 s). JPEG: half the time of PNG.
                        if (width, height) == SIZES[0] or layout["problems"]:
                            page.screenshot(path=artifacts_dir / f"stage-{poll}-{width}x{height}-{index + 1}-{scene.key}.jpg",
                                            type="jpeg", quality=80)
                        layout["qr_height"] = page.locator("#qr").bounding_box()["height"] \
                            if scene.key == "qr-voting" else None
                        sizes[(width, height)][scene.key] = layout
            finally:
                context.close()
        found[poll] = sizes
        return sizes

    yield layouts
    store.close()


# One page per poll serves the four sizes' tests: on one pytest-xdist worker (--dist loadgroup).
@pytest.mark.xdist_group("stage_projector_layouts")
@pytest.mark.parametrize("width,height", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
@pytest.mark.parametrize("poll", ["longest", "shortest"])
def test_every_scene_fits_the_projector_with_nothing_overlapping_clipped_or_scrolling(
        projector_layouts, width, height, poll):
    scenes = projector_layouts(poll)[(width, height)]

    assert list(scenes) == [scene.key for scene in SCENES]
    for key, layout in scenes.items():
        assert layout["texts"] > 5, key
    # The join card: a QR code the back row can scan.
    assert scenes["qr-voting"]["qr_height"] >= 0.55 * height
    assert {key: layout["problems"] for key, layout in scenes.items() if layout["problems"]} == {}


def test_the_audience_text_meets_the_readability_floor_at_1920x1080(stage, open_page):
    show = full_room(stage, LONGEST_QUESTION, LONGEST_OPTIONS)
    page = open_page(show.base + "/", viewport={"width": 1920, "height": 1080})
    expect(page.locator("#tests .tests-list li")).to_have_count(7)
    show.post("mode", {"mode": "fantasy"})  # a banner on screen too
    expect(page.locator(".banner-fantasy")).to_be_visible()
    page.mouse.move(10, 10)

    too_small = {}
    for _, scene in step_through_scenes(page, show):
        sizes = page.evaluate(FONT_SIZES, MUST_BE_BIG)
        assert any(size["big"] for size in sizes) or scene.key == "test-comparison"
        small = [s for s in sizes if s["px"] < (48 if s["big"] else 32)]
        if small:
            too_small[scene.key] = small
    assert too_small == {}


@pytest.mark.parametrize("theme", ["dark", "light"])
def test_bar_tracks_stand_out_from_the_page(stage, open_page, theme):
    show = stage(*SHORTEST)
    show.post("theme", {"theme": theme})
    page = open_page(show.base + "/", viewport={"width": 1920, "height": 1080})
    expect(page.locator("html")).to_have_attribute("data-theme", theme)
    assert page.evaluate(CONTRAST, ".bar-track") >= 3
    assert page.evaluate(CONTRAST, ".a-pill") >= 3


def test_the_audience_screen_shows_no_notes_clock_control_or_login_link(stage, open_page):
    show = full_room(stage, *SHORTEST)
    show.post("scene", {"action": "start"})  # the show clock runs: still none on the projector
    # The page's own clock: real time flows, and the test can jump ahead to when the mouse has rested.
    page = open_page(show.base + "/", before_load=lambda p: p.clock.install(), viewport={"width": 1920, "height": 1080})
    page.mouse.move(10, 10)

    for index, scene in step_through_scenes(page, show):
        page.mouse.move(10 + index, 10)  # wakes the full-screen button
        text = page.locator("body").inner_text()
        assert scene.notes not in text and not any(s.notes in text for s in SCENES)
        assert page.locator("a:visible, input:visible, select:visible, form").count() == 0
        assert [b.get_attribute("id") for b in page.locator("button:visible").all()] == ["fullscreen"]
        assert "Presenter" not in text and "Log in" not in text and "/8:00" not in text.replace(" ", "")
        assert page.locator("#show-timer, #scene-timer, .timer").count() == 0

    # The one control, the full-screen button, hides itself when the mouse rests (3 s).
    expect(page.locator("#fullscreen")).to_be_visible()
    page.clock.fast_forward(3_000)
    expect(page.locator("#fullscreen")).to_be_hidden()
    page.mouse.move(200, 200)
    expect(page.locator("#fullscreen")).to_be_visible()


def test_bars_and_numbers_animate_to_new_values(stage, open_page):
    show = stage(*SHORTEST)
    show.vote("Tabs", 9)
    show.vote("Spaces", 3)
    # Every value the total shows, from the first script on: the page draws 12 from one document.
    record = """window.__seen = []; new MutationObserver(() => { const node = document.getElementById('total');
        if (node) window.__seen.push(node.textContent); }).observe(document, { childList: true, subtree: true,
        characterData: true });"""

    def paused(page: Page) -> None:
        # The page's frames on Playwright's clock, stopped: on a loaded machine a renderer may draw
        # no frame for half a second, and the count would end before it was seen.
        page.add_init_script(record)
        page.clock.install(time=CLOCK_FROM)
        page.clock.pause_at(PAUSED_AT)

    page = open_page(show.base + "/", before_load=paused, viewport={"width": 1280, "height": 720})
    # The page has its 12 and starts counting up to it; each step is a frame or a few.
    expect(page.locator("#total")).to_have_attribute("data-value", "12")
    for _ in range(12):
        page.clock.run_for(50)

    expect(page.locator("#total")).to_have_text("12")
    expect(page.locator(".bar-row").first.locator(".bar-pct")).to_have_text("75%")
    assert page.evaluate("getComputedStyle(document.querySelector('.bar-fill')).transitionDuration") != "0s"
    seen = [int(value) for value in page.evaluate("window.__seen") if value.isdigit()]
    # Counted up through values in between (a jump would show 0 and 12 only).
    assert seen == sorted(seen) and len(set(seen) - {0, 12}) >= 2, seen


@pytest.mark.parametrize("path,theme", [("/", "dark"), ("/", "light"), ("/presenter", "dark"),
                                        ("/presenter", "light"), ("/presenter-login", "dark")])
def test_axe_finds_no_serious_or_critical_violation(stage, browser, needs_tool, path, theme):  # noqa: F811
    needs_tool(AXE.is_file(), "axe-core", "npm ci")
    show = full_room(stage, *SHORTEST)
    show.post("theme", {"theme": theme})
    show.post("mode", {"mode": "fantasy"})  # a banner on the page, in the theme's colours
    # The page's Content-Security-Policy allows only its own scripts: axe comes from node_modules, for tests only.
    context = browser.new_context(viewport={"width": 1280, "height": 720}, bypass_csp=True)
    try:
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        # axe looks at the page once what its scripts add after the first paint is there (not after a
        # fixed second): the live connection, what they fetch, the numbers and bars at rest.
        if path == "/presenter":
            page.goto(f"{show.base}/?token={TOKEN}")
            expect(page.locator("#controls")).to_be_visible()
            expect(page.locator("#feed-live")).to_have_attribute("data-connected", "true")
            expect(page.locator("#identities")).to_contain_text("New voter identities")
        elif path == "/":
            page.goto(show.base + path)
            expect(page.locator("body")).to_have_attribute("data-live", "live")
            expect(page.locator("#tests .tests-list li")).to_have_count(7)
        else:  # the login form: no scripts
            page.goto(show.base + "/presenter")
            expect(page.locator("form.login-form")).to_be_visible()
        settle(page)
        page.add_script_tag(path=str(AXE))
        result = page.evaluate("""async () => {
            const run = await axe.run(document);
            return { passes: run.passes.map((rule) => rule.id), violations: run.violations.map((v) => (
                { id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5) })) };
        }""")
    finally:
        context.close()
    assert "color-contrast" in result["passes"]  # axe really looked at the page's text
    assert [v for v in result["violations"] if v["impact"] in ("serious", "critical")] == []


def test_banners_overlay_the_screen_and_the_layout_never_jumps(stage, open_page):
    show = full_room(stage, LONGEST_QUESTION, LONGEST_OPTIONS)
    page = open_page(show.base + "/", viewport={"width": 1280, "height": 720})
    show.scene(1)
    expect(page.locator("body")).to_have_attribute("data-scene", "qr-voting")
    settle(page)
    boxes = "() => ['question', 'chart', 'qr', 'phone-url'].map((id) => JSON.stringify(document.getElementById(id).getBoundingClientRect()))"
    before = page.evaluate(boxes)

    show.post("mode", {"mode": "fantasy"})
    expect(page.locator(".banner-fantasy")).to_be_visible()
    show.post("results", {"visible": False})
    expect(page.locator("#results-hidden")).to_be_visible()

    assert page.evaluate(boxes) == before
    show.post("results", {"visible": True})
    expect(page.locator("#chart")).to_be_visible()
    assert page.evaluate(boxes) == before
