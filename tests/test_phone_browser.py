"""The phone page in a real browser (Debian's Chromium, Playwright) at 390×844, against the real show.

After a reload the phone says what it voted for and marks it; a 429 counts down on a disabled "Vote
again"; the fine print follows the mode, a PostgreSQL outage and a closed vote; five options and the
results fit one screen, readable and tappable; axe-core finds nothing serious. Screenshots land in
artifacts/ for people to look at.

A little over 300 lines: the phone's journeys and the small identity budget they run against (an app
served in this process, with a clock the test moves) are kept together.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from support.browser import AXE, PHONE, bar_count, settle
from support.stage import served, stage_app

REALITY_FINE = "enforced by a real PostgreSQL"
COUNTDOWN = re.compile(r"^Vote again in (\d+) s$")

#: Everything visible on the page: inside the viewport, not clipped, text at least 16 px, and every
#: button or link at least 44 px each way (a thumb, not a cursor).
LAYOUT_PROBLEMS = """() => {
  const problems = [];
  const width = window.innerWidth, height = window.innerHeight;
  for (const node of document.querySelectorAll("body *")) {
    if (["SCRIPT", "STYLE"].includes(node.tagName)) continue;
    const style = getComputedStyle(node);
    const box = node.getBoundingClientRect();
    if (style.display === "none" || style.visibility === "hidden" || (box.width === 0 && box.height === 0)) continue;
    const name = node.tagName.toLowerCase() + (node.id ? "#" + node.id : "") +
      (node.className && typeof node.className === "string" ? "." + node.className.split(" ").join(".") : "") +
      " «" + node.textContent.trim().slice(0, 30) + "»";
    if (box.left < -0.5 || box.top < -0.5 || box.right > width + 0.5 || box.bottom > height + 0.5) {
      problems.push("outside the screen: " + name);
    }
    if (node.clientWidth && (node.scrollWidth > node.clientWidth + 1 || node.scrollHeight > node.clientHeight + 1)) {
      problems.push("clipped: " + name);
    }
    const text = [...node.childNodes].some((child) => child.nodeType === 3 && child.textContent.trim());
    if (text && parseFloat(style.fontSize) < 16) problems.push("text below 16 px: " + name + " " + style.fontSize);
    if (["BUTTON", "A"].includes(node.tagName) && (box.height < 44 || box.width < 44)) {
      problems.push("tap target below 44 px: " + name + " " + Math.round(box.width) + "×" + Math.round(box.height));
    }
  }
  if (document.documentElement.scrollHeight > height) problems.push("scrolls: " + document.documentElement.scrollHeight);
  return problems;
}"""


def open_phone(open_page, url: str, **options) -> Page:
    # bypass_csp: axe-core is injected as an inline script, which the page's own policy refuses.
    return open_page(url, bypass_csp=True, **PHONE, **options)


def feedback_title(phone: Page):
    return phone.locator("#feedback-title")


def vote(phone: Page, choice: str, expected: str) -> None:
    again = phone.get_by_role("button", name="Vote again")
    if again.is_visible():
        again.click()
        expect(phone.locator("#feedback")).to_be_hidden()
    choice_button(phone, choice).click()
    expect(phone.locator("#feedback")).to_be_visible()  # the answer to this vote, not the last one
    expect(feedback_title(phone)).to_have_text(expected)


def choice_button(phone: Page, choice: str):
    return phone.locator(".choice", has=phone.locator(".choice-label", has_text=re.compile(f"^{re.escape(choice)}$")))


def serious_accessibility_violations(page: Page) -> list[dict]:
    """axe-core's serious and critical findings on the page as it is now."""
    assert AXE.is_file(), "axe-core is not installed: run `npm ci`"
    if not page.evaluate("typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE))
    violations = page.evaluate("""async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
        .map((v) => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" "))}))""")
    return [v for v in violations if v["impact"] in ("serious", "critical")]


def check_screen(phone: Page, artifacts_dir: Path, name: str) -> None:
    """One screen at 390×844: screenshot, fits without scrolling, readable, tappable, accessible."""
    settle(phone)  # the bars ease to their width
    phone.screenshot(path=artifacts_dir / f"phone-{name}.png")
    assert phone.evaluate(LAYOUT_PROBLEMS) == [], name
    assert serious_accessibility_violations(phone) == [], name


def test_after_a_reload_the_phone_says_what_it_voted_for_and_marks_it(fresh_show, open_page, artifacts_dir):
    phone = open_phone(open_page, fresh_show.url("/qr"))
    vote(phone, "Rust", "Vote recorded")
    expect(phone.locator('.bar-row[data-mine="true"]')).to_have_count(1)
    expect(phone.locator('.bar-row[data-mine="true"] .bar-label')).to_have_text("Rust")

    phone.reload()

    expect(feedback_title(phone)).to_have_text("You voted for Rust")
    expect(phone.locator("#feedback-detail")).to_contain_text("PostgreSQL keeps one vote per phone")
    expect(phone.locator("#phone-results")).to_be_visible()
    expect(phone.locator('.bar-row[data-mine="true"]')).to_have_count(1)
    expect(phone.locator('.bar-row[data-mine="true"] .bar-label')).to_have_text("Rust")
    expect(phone.locator('.bar-row[data-mine="true"] .mine-badge')).to_be_visible()
    expect(bar_count(phone, "Rust")).to_have_text("1")
    expect(phone.locator('.bar-row[data-mine="true"] .bar-pct')).to_have_text("(100%)")
    check_screen(phone, artifacts_dir, "reloaded")

    phone.get_by_role("button", name="Vote again").click()
    mine = phone.locator('.choice[data-mine="true"]')
    expect(mine).to_have_count(1)
    expect(mine).to_contain_text("Rust")
    expect(mine.locator(".mine-badge")).to_have_text("✓ your vote")
    check_screen(phone, artifacts_dir, "choices-marked")
    choice_button(phone, "Go").click()
    expect(feedback_title(phone)).to_have_text("You already voted!")
    expect(phone.locator('.bar-row[data-mine="true"] .bar-label')).to_have_text("Rust")  # still the stored one


def test_after_a_reset_the_phone_forgets_its_vote_and_can_vote_again(fresh_show, presenter, open_page):
    phone = open_phone(open_page, fresh_show.url("/qr"))
    vote(phone, "Go", "Vote recorded")
    presenter.reset()
    # The tally shows no vote for Go: the page asks the server again and offers the choices.
    expect(phone.locator("#choices")).to_be_visible()
    expect(phone.locator('[data-mine="true"]')).to_have_count(0)
    vote(phone, "Rust", "Vote recorded")
    expect(phone.locator('.bar-row[data-mine="true"] .bar-label')).to_have_text("Rust")


def test_a_phone_that_voted_elsewhere_learns_its_vote_when_refused(fresh_show, open_page):
    """The page loaded before the vote (another tab voted): the 409 makes it look the vote up and mark it."""
    phone = open_phone(open_page, fresh_show.url("/qr"))
    other_tab = phone.context.new_page()
    other_tab.goto(fresh_show.url("/qr"))
    vote(other_tab, "Java", "Vote recorded")
    vote(phone, "Go", "You already voted!")
    expect(phone.locator('.bar-row[data-mine="true"] .bar-label')).to_have_text("Java")


def test_a_429_counts_down_and_vote_again_stays_disabled_until_it_ends(fresh_show, open_page, artifacts_dir):
    phone = open_phone(open_page, "about:blank")
    phone.clock.install()  # the page's own clock: real time flows, and the test can jump ahead
    phone.goto(fresh_show.url("/qr"))
    vote(phone, "Go", "Vote recorded")
    vote(phone, "Python", "You already voted!")
    vote(phone, "Python", "You already voted!")
    vote(phone, "Python", "Slow down!")  # the fourth vote request in a minute

    again = phone.locator("#again")
    expect(again).to_be_disabled()
    expect(again).to_have_text(COUNTDOWN)
    expect(phone.locator("#feedback-detail")).not_to_contain_text("Try again in")  # no frozen count
    check_screen(phone, artifacts_dir, "slow-down")
    start = int(COUNTDOWN.match(again.inner_text()).group(1))
    assert 40 <= start <= 60, start

    # Real seconds pass: the count goes down by itself (waited for as it happens, not a fixed 2.5 s).
    expect(again).not_to_have_text(f"Vote again in {start} s")
    ticked = int(COUNTDOWN.match(again.inner_text()).group(1))
    assert start - 12 <= ticked <= start - 1, (start, ticked)  # slack for a loaded machine, never frozen
    expect(again).to_be_disabled()

    phone.clock.fast_forward((ticked - 2) * 1000)  # almost over: still waiting
    expect(again).to_have_text(re.compile(r"^Vote again in [1-3] s$"))
    expect(again).to_be_disabled()
    phone.clock.fast_forward(3500)  # over
    expect(again).to_have_text("Vote again")
    expect(again).to_be_enabled()
    again.click()
    expect(phone.locator("#choices")).to_be_visible()


def test_the_fine_print_follows_the_mode_an_outage_and_a_closed_vote(fresh_show, presenter, open_page, artifacts_dir):
    phone = open_phone(open_page, fresh_show.url("/qr"))
    fine = phone.locator("#phone-fine")
    expect(fine).to_contain_text(REALITY_FINE)
    vote(phone, "Go", "Vote recorded")

    presenter.ok("mode", {"mode": "fantasy"})
    expect(fine).to_contain_text("Fantasy mode: a mock stands in for PostgreSQL")  # pushed with the tally
    expect(fine).not_to_contain_text(REALITY_FINE)
    phone.reload()
    expect(fine).to_contain_text("Fantasy mode")
    expect(feedback_title(phone)).to_have_text("You voted for Go")  # the mock carried the vote over
    expect(phone.locator("#feedback-detail")).to_contain_text("the mock would count a second vote too")
    check_screen(phone, artifacts_dir, "fantasy")
    presenter.ok("mode", {"mode": "reality"})
    expect(fine).to_contain_text(REALITY_FINE)

    presenter.ok("chaos", {"target": "postgres"})
    expect(fine).to_have_text("PostgreSQL is down: votes are not being stored right now. Try again in a moment.")
    phone.reload()
    expect(fine).to_contain_text("votes are not being stored right now")
    expect(feedback_title(phone)).to_have_text("Your vote cannot be looked up right now")
    expect(phone.locator(".choice").first).to_be_visible()
    check_screen(phone, artifacts_dir, "postgres-down")

    recovered = presenter.ok("recover", {"target": "postgres"}, timeout=60)
    expect(fine).to_contain_text(REALITY_FINE)
    if recovered["data_kept"]:
        expect(feedback_title(phone)).to_have_text("You voted for Go")  # looked up again once it answers
        expect(phone.locator('.bar-row[data-mine="true"] .bar-label')).to_have_text("Go")
    else:
        expect(phone.locator("#feedback")).to_be_hidden()  # a fresh database: this phone can vote again

    presenter.ok("voting", {"open": False})
    expect(fine).to_have_text("Voting is closed: no more votes are taken.")
    expect(phone.locator("#phone-closed")).to_be_visible()
    if recovered["data_kept"]:
        expect(phone.locator("#again")).to_be_hidden()  # nothing to vote for while closed
    check_screen(phone, artifacts_dir, "closed")
    presenter.ok("voting", {"open": True})
    expect(fine).to_contain_text(REALITY_FINE)

    # Results hidden for a reveal: the phones keep the secret too, and show them again with the room.
    if recovered["data_kept"]:
        presenter.ok("results", {"visible": False})
        expect(phone.locator("#phone-results-hidden")).to_be_visible()
        expect(phone.locator("#phone-chart")).to_be_hidden()
        check_screen(phone, artifacts_dir, "results-hidden")
        presenter.ok("results", {"visible": True})
        expect(phone.locator("#phone-chart")).to_be_visible()
        expect(phone.locator("#phone-results-hidden")).to_be_hidden()
    if recovered["data_kept"]:
        expect(phone.locator("#again")).to_be_visible()


def test_five_options_fit_one_phone_screen_readable_and_accessible(fresh_show, open_page, new_phone, artifacts_dir):
    assert len(fresh_show.results()["options"]) == 5
    for choice, votes in (("Python", 3), ("JavaScript", 2), ("Go", 1)):
        for _ in range(votes):
            assert new_phone().vote(choice).status_code == 201
    phone = open_phone(open_page, fresh_show.url("/qr"))
    expect(phone.locator(".choice")).to_have_count(5)
    check_screen(phone, artifacts_dir, "five-options")

    vote(phone, "JavaScript", "Vote recorded")
    expect(bar_count(phone, "JavaScript")).to_have_text("3")
    expect(phone.locator("#phone-total")).to_have_text("· 7 votes")
    check_screen(phone, artifacts_dir, "voted")

    phone.reload()
    expect(feedback_title(phone)).to_have_text("You voted for JavaScript")
    expect(phone.locator("#phone-total")).to_have_text("· 7 votes")
    check_screen(phone, artifacts_dir, "voted-reloaded")
    # The README's picture (docs/phone.png is this one): a CSS pixel a pixel, the screen's used part.
    phone.screenshot(path=artifacts_dir / "phone-readme.png", scale="css", clip={"x": 0, "y": 0, "width": 390, "height": 660})


# -- too many new phones: the identity budget's 429 page counts down, then lets the phone in ------------

class BudgetClock:
    """The identity budget's clock: real time, which a test can move ahead (as the page's own clock)."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.ahead


@pytest.fixture
def small_budget_app(votes):
    """The app in this process with a budget of one new phone at once, then six a minute (one per 10 s).

    Returns its base URL and the budget's clock, so a test need not wait the 10 s out in real time.
    """
    from reality.identities import IdentityBudget

    app = stage_app(votes, IDENTITIES_BURST=1, IDENTITIES_PER_MINUTE=6)
    clock = BudgetClock()
    state = app.extensions["reality"]
    state.identities = IdentityBudget(per_minute=state.identities.per_minute, burst=state.identities.burst,
                                      clock=clock)
    with served(app) as base:
        yield base, clock


def test_too_many_new_phones_counts_down_and_then_lets_the_phone_in(small_budget_app, open_page, artifacts_dir):
    """The count is live (real seconds tick it down), and when it ends the page loads again and the
    budget has room by then: the first reload gets the phone in. The rest of the 10 s wait is skipped
    on the page's clock and the budget's alike, by the same amount."""
    base, budget_clock = small_budget_app
    first = open_phone(open_page, base + "/qr")
    expect(first.locator(".choice")).to_have_count(5)

    statuses: list[int] = []

    def follow(page: Page) -> None:
        page.clock.install()  # the page's own clock: real time flows, and the test can jump ahead
        page.on("response", lambda r: statuses.append(r.status) if r.url == base + "/qr" else None)

    second = open_phone(open_page, base + "/qr", before_load=follow)
    expect(second.locator("h1")).to_have_text("Too many new phones from your network right now.")
    expect(second.locator("body")).to_contain_text("gets 1 new voter identity at once, then")  # this app's budget
    seconds = second.locator("#countdown-seconds")
    start = int(seconds.inner_text())
    assert 5 <= start <= 10, start
    check_screen(second, artifacts_dir, "too-many-new-phones")
    expect(seconds).not_to_have_text(str(start))  # live, not frozen: real time counts it down
    left = int(seconds.inner_text())
    assert 1 <= left < start, (start, left)

    # The page reloads itself when the count ends, and the budget has room again by then.
    budget_clock.ahead += left  # first the server's clock, so the reload finds it moved
    second.clock.fast_forward(left * 1000)
    expect(second.locator(".choice")).to_have_count(5)
    assert statuses == [429, 200]  # one wait was enough: no second refusal
