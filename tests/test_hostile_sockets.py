"""Socket.IO within budget: a socket that floods the show cannot freeze it, grow it or fill its terminal.

Found in the hostile-room review: 300 ``catch_up`` messages froze every vote for 1.35 s, 3,000 froze
the server for 30 s and grew it from 92 to 372 MB; 2,000 malformed 11-byte packets printed 22,000
lines of tracebacks. Here the same attack runs against a real show while phones vote.
"""

from __future__ import annotations

import multiprocessing
import re
import statistics
import time
from concurrent.futures import ProcessPoolExecutor

import pytest
import websocket

from reality.events import EventBus
from reality.web import sockets
from reality.web.traffic import TrafficReport
from support.app import broadcaster, show_state, socket_guard, socketio, traffic
from support.flood import flood, open_dashboard_socket
from support.hostile import ShowTerminal, rss_mb, start_hostile_show
from support.show import Phone
from support.waiting import wait_for

CATCH_UP = '42["catch_up",{"since":-1}]'
MALFORMED = '42[not json'  # 11 bytes, as in the review


# The module's tests share its show: on one pytest-xdist worker (--dist loadgroup), the show booted once.
pytestmark = pytest.mark.xdist_group("hostile_sockets")


@pytest.fixture(scope="module")
def hostile_show(docker_client, artifacts_dir):
    show = start_hostile_show(docker_client, artifacts_dir / "show-hostile-sockets.log")
    yield show
    show.stop()


def _timed_vote(show) -> float:
    phone = Phone(show)
    began = time.perf_counter()
    assert phone.vote().status_code == 201
    return time.perf_counter() - began


def test_3000_catch_ups_and_2000_malformed_packets_leave_votes_fast_and_memory_flat(hostile_show):
    # Warm up what the attack and the votes use (code paths, pools), then take the baseline.
    for _ in range(5):
        _timed_vote(hostile_show)
        open_dashboard_socket(hostile_show.port).close()
    quiet_votes = [_timed_vote(hostile_show) for _ in range(20)]  # the same votes, no attack
    # At once: a baseline taken before the warm-up has quite settled can only be lower, and the growth
    # measured against it larger.
    before = rss_mb(hostile_show)
    terminal = ShowTerminal(hostile_show)

    # The review's attack from one socket, repeated on a fresh socket 10 times (50,000 packets),
    # from another process while phones vote.
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=spawn) as attackers:
        attack = attackers.submit(flood, hostile_show.port, [CATCH_UP] * 3000 + [MALFORMED] * 2000, 10)
        during: list[float] = []
        while not attack.done() and len(during) < 150:
            during.append(_timed_vote(hostile_show))
        sent = attack.result(timeout=120)
        # Malformed packets within a connection's budget are dropped without disconnecting it: 40 sockets x 50.
        quiet = attackers.submit(flood, hostile_show.port, [MALFORMED] * 50, 40, True).result(timeout=120)
    assert quiet == 2000
    after = [_timed_vote(hostile_show) for _ in range(20)]

    def malformed_counted() -> int:
        return sum(int(n.replace(",", "")) for n in re.findall(r"([\d,]+) malformed Socket.IO packets",
                                                               " ".join(terminal.summaries())))
    wait_for(lambda: malformed_counted() == 2000, 15, "summary lines counting the 2,000 malformed packets")
    # Measured once the show has said all it dropped: every packet was handled by then, and some
    # seconds have passed since the attack (the report's interval) for anything still settling.
    grown = rss_mb(hostile_show) - before
    printed = terminal.new()
    summaries = terminal.summaries()
    print(f"\nwithout attack: votes median {statistics.median(quiet_votes) * 1000:.0f} ms, max "
          f"{max(quiet_votes) * 1000:.0f} ms")
    print(f"flood: {sent:,} packets on 10 sockets; {len(during)} votes during it: median "
          f"{statistics.median(during) * 1000:.0f} ms, max {max(during) * 1000:.0f} ms; after: max "
          f"{max(after) * 1000:.0f} ms; memory {before:.0f} MB -> {before + grown:.0f} MB; terminal: {summaries}")
    assert sent >= 10 * 100  # at least each socket's budget went through
    assert len(during) >= 3, "the attack ended before votes were measured: nothing was tested"
    # Medians: single votes on a shared 2-core machine wait for other work now and then, attack or
    # not (the quiet votes' maximum is printed to compare). A freeze, as before (30 s), fails the max.
    assert statistics.median(during) < 0.2, during
    assert statistics.median(after) < 0.2, after
    assert max(during + after) < 3, during + after
    assert grown < 20, f"the show grew by {grown:.0f} MB"
    assert "Traceback" not in printed
    assert len(printed.splitlines()) == len(summaries) <= 6, printed
    flooding = re.findall(r"([\d,]+) flooding sockets disconnected", " ".join(summaries))
    assert sum(int(n) for n in flooding) == 10  # each flooding socket cut off once


def test_a_normal_dashboard_is_never_disconnected(hostile_show):
    ws = open_dashboard_socket(hostile_show.port)
    try:
        for _ in range(30):  # a presenter pressing keys, a reconnecting page: far below the budget
            ws.send('42["catch_up",{"since":0}]')
            time.sleep(0.02)
        ws.settimeout(5)
        frames = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(f.startswith('42["feed"') for f in frames):
            frames.append(ws.recv())
        assert any(f.startswith('42["feed"') for f in frames)
        ws.send("3")  # a pong, as the client sends
        time.sleep(0.5)
        ws.send('42["catch_up",{"since":0}]')  # still served: a second replay comes
        frames = []
        while time.monotonic() < deadline + 10 and not any(f.startswith('42["feed"') for f in frames):
            frames.append(ws.recv())
        assert any(f.startswith('42["feed"') for f in frames)
    finally:
        ws.close()


# -- the broadcaster and the guard, in-process on a real vote store ---------------------------------------

@pytest.fixture
def app(make_app):
    return make_app(SECRET_KEY="test")


def test_repeated_catch_ups_merge_into_one_bounded_replay(app):
    state = show_state(app)
    for index in range(600):  # the feed holds the last 500
        state.bus.publish("system", "note", f"event {index}")
    broadcaster(app).tick()  # the live batch goes out (to no dashboard yet)
    client = socketio.test_client(app, auth={"role": "dashboard", "since": 590})
    for since in (450, 120, 300) * 100:
        client.emit("catch_up", {"since": since})
    client.get_received()

    broadcaster(app).tick()

    feeds = [message["args"][0] for message in client.get_received() if message["name"] == "feed"]
    assert len(feeds) == 1, "300 catch-ups and the connect's own must be one replay"
    replayed = feeds[0]["events"]
    assert len(replayed) == sockets.REPLAY_LIMIT
    last = state.bus.history(0)[-1].seq
    assert [e["seq"] for e in replayed] == list(range(last - sockets.REPLAY_LIMIT + 1, last + 1))  # the newest
    assert feeds[0]["gap"] == replayed[0]["seq"] - 121  # merged to the lowest since (120): the rest is the gap
    client.disconnect()


def test_a_catch_up_since_a_known_event_replays_exactly_what_was_missed(app):
    state = show_state(app)
    seqs = [state.bus.publish("system", "note", f"event {index}").seq for index in range(50)]
    broadcaster(app).tick()
    client = socketio.test_client(app, auth={"role": "dashboard", "since": seqs[39]})
    broadcaster(app).tick()
    feeds = [m["args"][0] for m in client.get_received() if m["name"] == "feed"]
    assert [e["seq"] for e in feeds[0]["events"]] == seqs[40:]
    assert feeds[0]["gap"] == 0
    client.disconnect()


def _guard(app, report: TrafficReport, **settings) -> sockets.SocketGuard:
    """The app's own guard (in front of python-socketio), with a test's budget, clock and report."""
    guard = socket_guard(app)
    guard.report = report
    for name, value in settings.items():
        setattr(guard, name, value)
    return guard


def test_the_guard_drops_malformed_packets_and_cuts_off_a_flood(app):
    lines: list[str] = []
    now = [0.0]
    report = TrafficReport(lines.append, clock=lambda: now[0])
    guard = _guard(app, report, rate=10, burst=2500, clock=lambda: now[0])
    cut: list[str] = []
    socketio.server.start_background_task = lambda target, sid: cut.append(sid)  # record, do not run

    # What the guard sees is the Socket.IO packet inside the Engine.IO message (no leading "4").
    for packet in [MALFORMED[1:], "9", "", "4", '51-["x",{"_placeholder":true,"num":0}]', b"\x00binary",
                   '0{"x"', "2[]"] * 250:
        guard.on_message("attacker", packet)
    assert cut == []  # within its budget: malformed packets are dropped, the connection stays
    assert report.totals[sockets.MALFORMED] == 2000
    for _ in range(600):
        guard.on_message("attacker", CATCH_UP[1:])
    assert cut == ["attacker"]  # once, however much more it sends
    assert report.totals[sockets.FLOODING] == 1

    assert report.flush() is not None
    assert lines == [f"Dropped in the last 0 s: 2,000 {sockets.MALFORMED} from 1 connection; "
                     f"1 {sockets.FLOODING} from 1 connection."]
    guard.on_message("other", MALFORMED[1:])
    assert report.flush() is None  # at most one line per interval
    now[0] += 5
    assert "1 malformed" in report.flush()


def test_a_budget_refills_with_time(app):
    now = [0.0]
    report = TrafficReport(lambda line: None, clock=lambda: now[0])
    guard = _guard(app, report, rate=20, burst=100, clock=lambda: now[0])
    cut: list[str] = []
    socketio.server.start_background_task = lambda target, sid: cut.append(sid)
    for second in range(60):  # 20 a second for a minute, after a burst of 100: never cut off
        now[0] = float(second)
        for _ in range(100 if second == 0 else 20):
            guard.on_message("busy", MALFORMED[1:])
    assert cut == []
    guard.on_message("busy", MALFORMED[1:])
    assert cut == ["busy"]


def test_broken_engine_io_frames_are_dropped_quietly(hostile_show):
    terminal = ShowTerminal(hostile_show)
    outcomes = []
    for frame in ("x", "", "4", "\x00\x01", "9" * 5000, "4" + "[" * 3000):
        ws = open_dashboard_socket(hostile_show.port, role="phone")
        ws.send(frame)
        ws.send('421["scene",{"action":"next"}]')  # acknowledged (refused: a phone) if the socket is open
        ws.settimeout(10)
        try:
            while not ws.recv().startswith("431"):
                pass
            outcomes.append("kept")
        except websocket.WebSocketException:
            outcomes.append("closed")
        finally:
            ws.close(timeout=0)
    assert _timed_vote(hostile_show) < 2
    wait_for(lambda: terminal.summaries(), 15, "a summary line")
    time.sleep(1)
    assert "Traceback" not in terminal.new()
    assert terminal.new().splitlines() == terminal.summaries() and len(terminal.summaries()) <= 2, terminal.new()
    print(f"\nbroken frames: {outcomes}; terminal: {terminal.summaries()}")


def test_library_errors_are_counted_not_printed(app, caplog):
    import logging

    try:
        raise ValueError("a packet the library could not handle")
    except ValueError:
        logging.getLogger("engineio.server").exception("message async handler error")
    logging.getLogger("socketio.server").error("another one")

    assert traffic(app).totals["Socket.IO errors"] == 2
    assert not [r for r in caplog.records if r.name in ("engineio.server", "socketio.server")]


def test_a_failing_handler_is_the_servers_bug_and_shown_in_full(app, caplog):
    @socketio.on("explode")  # on this app's server only (it exists already)
    def explode(data=None):
        raise ZeroDivisionError("a bug in a handler")

    client = socketio.test_client(app, auth={"role": "phone"})
    socket_guard(app).on_message(client.eio_sid, '2["explode",{}]')

    failures = [r for r in caplog.records if r.name == "reality.web.sockets"]
    assert failures and failures[0].exc_info[0] is ZeroDivisionError
    assert "Socket.IO errors" not in traffic(app).totals
    client.disconnect()


def test_a_websocket_sending_too_many_bytes_is_cut_off_before_they_are_parsed(hostile_show):
    from reality.web.server import WEBSOCKET_BURST

    terminal = ShowTerminal(hostile_show)
    ws = open_dashboard_socket(hostile_show.port, role="phone")
    packet = '42["catch_up",{"pad":"%s"}]' % ("x" * 1000)  # 1 KB each: 30 of them are far below 100 events
    assert 30 * len(packet) > WEBSOCKET_BURST
    closed = False
    try:
        for _ in range(30):
            ws.send(packet)
        ws.settimeout(10)
        while ws.recv():  # the tally and the connect's answer, then nothing: phones get no feed
            pass
        closed = True
    except websocket.WebSocketTimeoutException:
        pass  # still open after 10 s: not cut off
    except (websocket.WebSocketException, OSError):
        closed = True
    finally:
        ws.close(timeout=0)
    assert closed, "a socket that sent 30 KB at once was not cut off"
    summary = wait_for(lambda: [s for s in terminal.summaries() if "flooding sockets disconnected" in s], 15,
                       "the cut-off in a summary line")
    assert "1 flooding sockets disconnected from 1 connection" in summary[0]
