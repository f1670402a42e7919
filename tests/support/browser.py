"""Debian's Chromium driven by Playwright, as the browser tests use it (fixtures ``browser`` and
``open_page`` in ``tests/conftest.py``), and what they read on its screens.

- :func:`launch`: one Chromium for a test process (each pytest-xdist worker).
- :class:`ContextPool`: contexts handed from one test to the next, emptied (a new one costs Chromium a
  renderer process: half a second of CPU).
- :func:`settle`: a screen at rest, as the room sees it; :func:`bar_count`, :func:`expect_live_console`,
  :func:`decode_qr`: what the tests read.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from support.paths import ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-features=LocalNetworkAccessChecks"]
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
TIMEOUT_MS = 15_000
#: axe-core (npm), injected into a page by the accessibility checks only: the show never serves it.
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
# expect() keeps its own default of 5 s (page.set_default_timeout does not reach it): too short on a
# loaded 2-core machine for what follows a click, such as a killed PostgreSQL replaying its log.
expect.set_options(timeout=TIMEOUT_MS)

#: Where an idle context's one page waits: inert (no script, no socket) and on the show's site, so that
#: Chromium keeps the renderer process the next test's pages of that site will share.
KEEPER_PATH = "/static/show.css"
#: True in a page whose timers are Playwright's clock: installed in a context for good.
CLOCK_INSTALLED = "() => !Function.prototype.toString.call(setTimeout).includes('[native code]')"


@contextmanager
def launch() -> Iterator[Browser]:
    """Chromium, started by Playwright, closed (with Playwright) at the end of the block."""
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


def empty_for_the_next_test(context: BrowserContext) -> bool:
    """Empty ``context`` for the next test: its pages, cookies, permissions and routes gone, its renderer
    kept by a page of its own on the show's site; ``False`` when it cannot be (close it then).

    Not emptied: localStorage and IndexedDB (the show's pages use neither: a page's sessionStorage goes
    with the page), the HTTP cache (as a browser keeps it; a routed page bypasses it).
    """
    # The test's pages (not an earlier keeper): a show's, on this machine's address, one renderer
    # process whatever their port (Chromium's site is the scheme and the host).
    shows = [urlsplit(page.url) for page in context.pages
             if page.url.startswith("http") and urlsplit(page.url).path != KEEPER_PATH]
    if not shows:
        return False  # nothing to keep (a page left blank), or the test closed the context
    keeper = context.new_page()  # before the test's pages close, while their renderer is alive
    keeper.goto(urlunsplit((shows[0].scheme, shows[0].netloc, KEEPER_PATH, "", "")), wait_until="commit",
                timeout=TIMEOUT_MS)
    for page in context.pages:
        if page is not keeper:
            page.close()
    context.unroute_all(behavior="ignoreErrors")
    context.clear_cookies()
    context.clear_permissions()
    return not keeper.evaluate(CLOCK_INSTALLED)


class ContextPool:
    """Contexts of one Chromium that tests have finished with, by their options, ready for the next test."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.idle: dict[str, list[BrowserContext]] = {}

    @contextmanager
    def opener(self) -> Iterator[Callable[..., Page]]:
        """``open_page(url, before_load=None, **context_options)`` for one test: a new page at ``url`` in a
        context no other page of the test shares (its own cookies); ``before_load(page)`` runs first.

        The next test with the same options gets its pages in a context this one has finished with,
        emptied by :func:`empty_for_the_next_test`. A page with ``before_load`` gets a new context,
        closed after the test. A context whose timers run on Playwright's clock (installed for good)
        is closed; a test that changes its context in another way that lasts (an init script, offline,
        extra headers, local storage) closes it itself: ``page.context.close()``.
        """
        used: list[tuple[str | None, BrowserContext]] = []

        def open_page(url: str, before_load: Callable[[Page], None] | None = None, **context_options) -> Page:
            # A page prepared before it loads (routes, a clock, scripts) gets a context and a renderer of
            # its own: nothing an earlier test's pages left in a renderer (its memory of their files) serves it.
            key = json.dumps(context_options, sort_keys=True, default=str) if before_load is None else None
            idle = self.idle.setdefault(key, []) if key is not None else []
            context = idle.pop() if idle else self.browser.new_context(**context_options)
            used.append((key, context))
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            if before_load is not None:
                before_load(page)
            page.goto(url)
            return page

        try:
            yield open_page
        finally:
            for key, context in used:
                try:
                    reusable = key is not None and empty_for_the_next_test(context)
                except PlaywrightError:  # closed by the test, or its show is gone
                    reusable = False
                if reusable:
                    self.idle[key].append(context)
                else:
                    context.close()


def bar_count(page: Page, option: str, part: str = ".bar-count"):
    """The count of ``option`` on a chart (the audience screen's count without its percentage: ``.bar-num``)."""
    return page.locator(".bar-row", has=page.locator(".bar-label", has_text=re.compile(f"^{re.escape(option)}$")))\
        .locator(part)


def expect_live_console(console: Page) -> None:
    """The console's scripts run and its socket is connected (its HTML alone already says "● live")."""
    expect(console.locator("#feed-live")).to_have_attribute("data-connected", "true")
    expect(console.locator("#feed-live")).to_have_text("● live")


#: A finite animation or transition still running (the bars easing to their width, a feed item
#: arriving); infinite ones (a blinking dot) never end and do not move the layout.
RUNNING = """() => document.getAnimations().filter((animation) => animation.playState === "running"
    && animation.effect && animation.effect.getComputedTiming().endTime !== Infinity)"""
#: The screen at rest: nothing of ``RUNNING``, no number counting up to its value (count-up.js marks
#: the node it counts, frame by frame).
SETTLED = f"""() => ({RUNNING})().length === 0
    && ![...document.querySelectorAll("[data-value]")].some((node) => node.counting)"""


def settle(page: Page) -> None:
    """The screen at rest, as the room sees it once things stop moving: running animations jump to their
    end (where they were going), numbers count up to theirs."""
    page.evaluate(f"() => ({RUNNING})().forEach((animation) => animation.finish())")
    page.wait_for_function(SETTLED)


def decode_qr(image: Path) -> str:
    """What zbar reads in a screenshot (the QR code anywhere in it); empty when it finds none."""
    zbarimg = shutil.which("zbarimg")
    decoded = subprocess.run([zbarimg, "--raw", "-q", str(image)], capture_output=True, text=True, timeout=30)
    return decoded.stdout.strip() if decoded.returncode == 0 else ""
