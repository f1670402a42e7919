"""The show's small parts on their own: options, the phone address and its QR code, the local rate
limit, the scene clock, the tally cache, the presenter token, the test-run plugin. No containers."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest

from reality.events import EventBus
from reality.green import entry_points_read_once
from reality.poll import InvalidPoll, Poll
from reality.public_url import InvalidPublicUrl, normalise_public_url, phone_url
from reality.pytest_runner import skipped_plugin_options
from reality.ratelimit import VoterRateLimiter
from reality.testrun import MARKER, TestRun, describe
from reality.web.presenter import token_matches
from reality.web.qr import qr_svg
from reality.web.scenes import SCENES, SHOW_SECONDS, SceneClock
from reality.web.tally import ResultsCache
from support.paths import ROOT



def test_options_are_cleaned_and_keep_their_order():
    poll = Poll.parse("  Which   one? ", " Python ,Go,  Rust  ")
    assert poll.question == "Which one?"
    assert poll.options == ("Python", "Go", "Rust")
    assert "Go" in poll and "go" not in poll


def test_emoji_built_with_joiners_and_flags_are_plain_text():
    options = "👩\u200d💻 Developers,🏳\ufe0f\u200d🌈 Everyone,🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f Scots"
    assert len(Poll.parse("Who is here? 🧪", options).options) == 3


@pytest.mark.parametrize("options", ["Go", "Go,", "Go,Rust,GO", ",".join("ABCDEFGHI"), "Go,R\x00ust", "Go," + "x" * 33,
                                     "Go,\u202eRust"])
def test_bad_options_are_refused_with_one_line(options):
    with pytest.raises(InvalidPoll) as refused:
        Poll.parse("Question?", options)
    assert "\n" not in str(refused.value) and "--options" in str(refused.value)


def test_the_phone_address_in_codespaces():
    env = {"CODESPACE_NAME": "fuzzy-lamp-x7", "GITHUB_CODESPACES_PORT_FORWARDING_DOMAIN": "app.github.dev"}
    address = phone_url(5001, env=env)
    assert address.url == "https://fuzzy-lamp-x7-5001.app.github.dev/qr"
    assert address.source == "codespaces" and address.is_https


def test_an_explicit_public_url_wins_even_in_codespaces():
    env = {"CODESPACE_NAME": "fuzzy-lamp-x7", "GITHUB_CODESPACES_PORT_FORWARDING_DOMAIN": "app.github.dev"}
    address = phone_url(5001, public_url="https://vote.example.org", env=env)
    assert address.url == "https://vote.example.org/qr" and address.source == "public-url"


@pytest.mark.parametrize("given,base", [
    ("https://tunnel.example", "https://tunnel.example"),
    ("https://tunnel.example/", "https://tunnel.example"),
    ("https://tunnel.example/qr", "https://tunnel.example"),
    ("http://10.0.0.5:5001/show/", "http://10.0.0.5:5001/show"),
])
def test_a_given_public_url(given, base):
    address = phone_url(5001, public_url=given, env={})
    assert address.base == base and address.url == base + "/qr" and address.source == "public-url"


@pytest.mark.parametrize("bad", ["ftp://x.example", "tunnel.example", "https://", "javascript:alert(1)"])
def test_a_bad_public_url_is_refused(bad):
    with pytest.raises(InvalidPublicUrl):
        normalise_public_url(bad)


def test_a_show_listening_on_loopback_warns_that_phones_cannot_reach_it():
    for loopback in ("127.0.0.1", "::1", "localhost"):
        address = phone_url(5001, env={}, listen=loopback)
        assert "127." not in address.url and "--host 0.0.0.0" in address.warning, loopback
    # (Listening everywhere may still warn on a machine with no network at all, but not about --host.)
    assert "--host" not in (phone_url(5001, env={}, listen="0.0.0.0").warning or "")
    # Codespaces forwards its public URL to the loopback address: nothing to warn about there.
    codespace = {"CODESPACE_NAME": "demo", "GITHUB_CODESPACES_PORT_FORWARDING_DOMAIN": "app.github.dev"}
    assert phone_url(5001, env=codespace, listen="127.0.0.1").warning is None


def test_a_show_listening_on_one_address_gives_phones_that_address():
    assert phone_url(5001, env={}, listen="192.0.2.7").url == "http://192.0.2.7:5001/qr"
    assert phone_url(5001, env={}, listen="2001:db8::7").url == "http://[2001:db8::7]:5001/qr"


def test_without_codespaces_or_a_public_url_the_address_is_never_localhost():
    address = phone_url(5001, env={})
    assert address.url.endswith(":5001/qr")
    assert "localhost" not in address.url and "127." not in address.url


def test_the_qr_code_is_a_standalone_svg_with_a_white_background():
    svg = qr_svg("https://fuzzy-lamp-x7-5001.app.github.dev/qr")
    assert svg.startswith("<svg") and 'fill="white"' in svg and "viewBox" in svg


def test_entry_points_read_once_gives_the_same_entry_points_and_puts_the_lookup_back():
    from importlib import metadata

    original = metadata.entry_points
    groups = ["pytest11", "console_scripts", "gevent.plugins.monkey.will_patch_all"]

    def listed() -> dict[str, list[tuple[str, str]]]:
        return {group: sorted((ep.name, ep.value) for ep in metadata.entry_points(group=group)) for group in groups}

    before = listed()
    assert before["pytest11"], "pytest's own plugins are registered as entry points here"
    with entry_points_read_once():
        assert metadata.entry_points is not original
        inside = listed()
    assert inside == before
    assert metadata.entry_points is original


def test_the_local_rate_limit_counts_per_voter():
    limiter = VoterRateLimiter(None, per_minute=3)
    assert [limiter.hit("phone-1").allowed for _ in range(4)] == [True, True, True, False]
    blocked = limiter.hit("phone-1")
    assert blocked.backend == "local" and 1 <= blocked.retry_after <= 60
    assert limiter.hit("phone-2").allowed  # another phone, same everything else
    limiter.enabled = False
    assert limiter.hit("phone-1").allowed and limiter.hit("phone-1").backend == "off"
    limiter.enabled = True
    limiter.reset()
    assert limiter.hit("phone-1").allowed


def test_an_unreachable_redis_degrades_to_local_and_says_so_once():
    bus = EventBus()
    limiter = VoterRateLimiter("redis://127.0.0.1:1/0", bus, per_minute=2)  # nothing listens on port 1
    began = time.monotonic()
    decisions = [limiter.hit("phone-1") for _ in range(3)]
    assert time.monotonic() - began < 2  # no back-off retries against a dead Redis
    assert [d.allowed for d in decisions] == [True, True, False]
    assert {d.backend for d in decisions} == {"local"}
    assert limiter.degraded and limiter.backend == "local"
    assert [(e.kind, e.action) for e in bus.history()] == [("ratelimit", "degraded")]
    assert limiter.check_backend() is False
    assert len(bus.history()) == 1


def test_the_scene_clock_steps_and_runs():
    clock = SceneClock()
    assert clock.snapshot()["index"] == 0 and clock.snapshot()["running"] is False
    clock.apply("next")
    snap = clock.snapshot()
    assert snap["index"] == 1 and snap["running"] is True and snap["scene"]["key"] == SCENES[1].key
    clock.apply("previous")
    clock.apply("previous")
    assert clock.snapshot()["index"] == 0
    clock.apply("goto", 42)
    assert clock.snapshot()["index"] == len(SCENES) - 1
    clock.apply("pause")
    paused = clock.snapshot()["show_elapsed"]
    time.sleep(0.05)  # a running clock would have moved on by 0.05 s
    assert clock.snapshot()["show_elapsed"] == paused and clock.snapshot()["running"] is False
    with pytest.raises(ValueError):
        clock.apply("goto", "2")
    with pytest.raises(ValueError):
        clock.apply("jump")
    assert SHOW_SECONDS == 8 * 60


def test_a_reload_never_overwrites_votes_counted_while_it_ran():
    cache = ResultsCache(Poll.parse("Q?", "A,B"))
    cache.apply("A")
    started, finish = threading.Event(), threading.Event()

    def slow_read() -> dict[str, int]:
        started.set()
        finish.wait(5)
        return {"A": 1}  # read before the second vote landed

    reader = threading.Thread(target=lambda: results.append(cache.reload(slow_read)))
    results: list[bool] = []
    reader.start()
    started.wait(5)
    cache.apply("B")
    finish.set()
    reader.join(5)

    assert results == [False] and cache.reload_wanted
    assert cache.snapshot()["counts"] == {"A": 1, "B": 1}
    assert cache.reload(lambda: {"A": 1, "B": 1, "ghost": 7}) is True
    assert cache.snapshot()["counts"] == {"A": 1, "B": 1} and cache.snapshot()["total"] == 2


@pytest.mark.parametrize("given,ok", [("s3cret", True), ("s3cre", False), ("s3cret ", False), ("", False),
                                      (None, False), (["s3cret"], False), ("s3crét", False)])
def test_the_presenter_token_must_match_exactly(given, ok):
    assert token_matches(given, "s3cret") is ok


def test_the_test_run_plugin_reports_each_test_with_its_setup_time(tmp_path):
    (tmp_path / "test_sample.py").write_text(
        "import time, pytest\n"
        "@pytest.fixture\n"
        "def slow():\n    time.sleep(0.2)\n"
        "def test_ok(slow):\n    pass\n"
        "def test_bad():\n    assert 1 == 2, 'one is not two'\n"
        "@pytest.mark.skip\n"
        "def test_skipped():\n    pass\n")
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "reality.testrun", "-p", "no:cacheprovider",
                          *skipped_plugin_options(), str(tmp_path / "test_sample.py")],
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    lines = [json.loads(line.split(MARKER, 1)[1]) for line in run.stdout.splitlines() if MARKER in line]
    by_name = {line["nodeid"].split("::")[1]: line for line in lines}
    assert by_name["test_ok"]["outcome"] == "passed" and by_name["test_ok"]["duration"] >= 0.2
    assert by_name["test_bad"]["outcome"] == "failed" and "one is not two" in by_name["test_bad"]["message"]
    assert by_name["test_skipped"]["outcome"] == "skipped"
    assert describe("tests/test_reality.py::test_a_vote_is_stored") == ("reality", "a vote is stored")


def test_cancelling_a_test_run_waits_for_its_last_event_even_at_the_very_end(tmp_path):
    """Reset clears the feed after cancel(): the run's "finished" line must be in by then, not after."""
    (tmp_path / "test_one.py").write_text("def test_one():\n    pass\n")
    finishing, release = threading.Event(), threading.Event()

    class SlowBus(EventBus):
        def publish(self, kind, action, message, **data):
            if (kind, action) == ("test", "finished"):
                finishing.set()
                release.wait(10)  # a slow subscriber, right at the end of the run
            return super().publish(kind, action, message, **data)

    bus = SlowBus()
    run = TestRun(bus, root=ROOT, files=(str(tmp_path / "test_one.py"),))
    assert run.claim()
    worker = threading.Thread(target=run.run)
    worker.start()
    assert finishing.wait(60), "the run never finished"

    assert run.cancel(timeout=0.2) is False  # the run has not said its last word yet
    release.set()
    assert run.cancel(timeout=10) is True
    assert [event.action for event in bus.history(0)][-1] == "finished"
    worker.join(10)
    assert run.claim() and not run.cancel(timeout=0)  # a new run is not mistaken for the old one's end
    run.stop()


def test_a_stopping_signal_swallowed_during_the_boot_still_stops_the_show():
    """About one boot in 300 stopped with SIGTERM went live and stayed up: the KeyboardInterrupt the
    signal raised in the main flow was swallowed on the way. The boot looks once more before serving."""
    import os
    import signal

    from reality import show

    stops = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    saved = {signum: signal.getsignal(signum) for signum in stops}
    try:
        show.install_signal_handlers("threading")
        show.stop_if_asked_during_boot()  # nothing asked yet
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler runs here, at once
        except BaseException:  # noqa: BLE001  what a library on the boot's way may do with it
            pass
        with pytest.raises(KeyboardInterrupt):
            show.stop_if_asked_during_boot()
        show.install_signal_handlers("threading")  # the next run starts with nothing asked
        show.stop_if_asked_during_boot()
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
