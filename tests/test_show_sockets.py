"""Socket.IO: the feed, the tally, the presenter's keys, on the show's app in this process.

A dashboard must receive every event, in sequence order, with nothing lost — also across a reconnect —
and the tally must arrive coalesced (fewer messages than votes) and end equal to the database. The
dashboards are Flask-SocketIO's test client, through the show's own socket handlers, with the show's
broadcaster running on its thread as in the show. (Real websockets: a real browser in
``test_show_browser.py``, raw ones in ``test_hostile_sockets.py``.)
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import pytest

from support.show import TOKEN
from support.waiting import wait_for


@pytest.fixture
def live(local_show):
    """The in-process show with its broadcaster running (feed batches, tallies, scenes)."""
    local_show.start_broadcasting()
    return local_show


def test_a_dashboard_receives_every_event_in_sequence_order(local_show):
    local_show.presenter.reset()
    local_show.start_broadcasting()
    client = local_show.socket()
    wait_for(client.events, 10, "the catch-up batch")

    phones = [local_show.phone() for _ in range(12)]
    for phone in phones:
        assert phone.vote("Go").status_code == 201
        assert phone.vote("Go").status_code == 409

    last = local_show.last_seq()
    wait_for(lambda: client.seqs() and client.seqs()[-1] >= last, 10, "the live feed to catch up")
    seqs = client.seqs()
    first = seqs[0]
    assert seqs == list(range(first, last + 1)), "events lost or reordered"
    events = client.events()
    assert (events[0]["kind"], events[0]["action"]) == ("system", "reset")  # history since the reset
    received = [e for e in events if e["kind"] == "vote"]
    assert [e["action"] for e in received].count("accepted") == 12
    assert [e["action"] for e in received].count("refused") == 12


def test_a_reconnecting_dashboard_gets_exactly_what_it_missed(live):
    first = live.socket()
    live.phone().vote("Rust")
    seen = wait_for(lambda: first.seqs() and first.seqs()[-1] >= live.last_seq() and first.seqs()[-1], 10,
                    "the first dashboard to see the vote")
    first.close()

    for _ in range(5):
        live.phone().vote("Java")  # published while the dashboard is away

    again = live.socket(since=seen)
    last = live.last_seq()
    wait_for(lambda: again.seqs() and again.seqs()[-1] >= last, 10, "the catch-up")
    assert again.seqs() == list(range(seen + 1, last + 1))
    assert again.received("feed")[0]["gap"] == 0


def test_tally_updates_are_coalesced_and_end_equal_to_the_database(live):
    client = live.socket()
    wait_for(lambda: client.received("tally"), 10, "the first tally")
    phones = [live.phone() for _ in range(40)]

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda phone: phone.vote("Python").status_code, phones))

    assert statuses == [201] * 40
    wait_for(lambda: client.received("tally")[-1]["total"] == 40, 10, "the tally to reach 40")
    assert live.database_rows() == 40
    assert client.received("tally")[-1]["counts"]["Python"] == 40
    # Broadcasts are paced by time, not by votes: far fewer tally messages than votes.
    updates = [t for t in client.received("tally") if t["total"] > 0]
    assert len(updates) < 40


def test_a_phone_gets_the_tally_but_not_the_feed(live):
    phone_socket = live.socket(role="phone")
    watcher = live.socket()
    live.phone().vote("Go")
    wait_for(lambda: phone_socket.received("tally")[-1]["total"] == 1, 10, "the phone's tally")
    wait_for(lambda: any(e["kind"] == "vote" for e in watcher.events()), 10, "the dashboard's feed")
    assert phone_socket.events() == [] and phone_socket.received("scene") == []


@pytest.mark.parametrize("token", [None, "wrong-token", ""])
def test_scene_keys_need_the_presenter_and_nothing_happens_without(live, token):
    client = live.socket(token=token) if token is not None else live.socket()
    assert client.hello["presenter"] is False

    answer = client.call("scene", {"action": "next"})

    assert answer["ok"] is False and answer["status"] == 403
    assert live.get("/api/scene").json["index"] == 0


def test_the_presenter_steps_scenes_over_the_socket_and_every_dashboard_follows(live):
    projector = live.socket()
    wait_for(lambda: projector.received("scene"), 10, "the projector's first scene")
    laptop = live.socket(token=TOKEN)
    assert laptop.hello["presenter"] is True

    answer = laptop.call("scene", {"action": "next"})

    assert answer["ok"] is True and answer["scene"]["index"] == 1
    wait_for(lambda: projector.received("scene")[-1]["index"] == 1, 10, "the projector to follow")
    assert projector.received("scene")[-1]["scene"]["key"] == "qr-voting"
    bad = laptop.call("scene", {"action": "goto", "index": "x"})
    assert bad["ok"] is False and bad["status"] == 400


def test_a_browser_session_logged_in_as_presenter_is_a_presenter_on_the_socket(live):
    browser = live.browser()
    assert browser.get(f"/?token={TOKEN}").status_code == 303
    client = live.socket(browser=browser)
    assert client.hello["presenter"] is True
    assert client.call("scene", {"action": "next"})["ok"] is True


def test_dashboards_that_leave_before_their_catch_up_are_skipped_not_a_traceback(local_show, caplog):
    """A page closed at once (a phone leaving the Wi-Fi) must not break the broadcaster's round."""
    for _ in range(10):
        local_show.socket().close()  # each asked for a catch-up, none will be there for it
    watcher = local_show.socket()
    local_show.start_broadcasting()
    # Catch-ups are served in the order the dashboards connected: once this one has its batch, the
    # broadcaster has been through every one of those that left.
    with caplog.at_level(logging.ERROR):
        wait_for(lambda: watcher.received("feed"), 10, "the catch-up")
    assert not [record for record in caplog.records if "broadcast round failed" in record.getMessage()]
