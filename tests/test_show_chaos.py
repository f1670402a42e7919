"""Chaos and recovery: real containers killed under a real ``reality_engine.py`` (``fresh_show``).

Redis killed (votes go on, on the local fallback), PostgreSQL killed (503, then recovered with its
data), a container removed or killed from a terminal (noticed), chaos on a dead service or an unknown
target (4xx), going back to reality while PostgreSQL is down (409, nothing changed); and where the
show's databases listen (this machine only).
"""

from __future__ import annotations


def test_back_to_reality_while_postgres_is_down_is_409_and_changes_nothing(fresh_show, presenter, new_phone):
    assert new_phone().vote("Go").status_code == 201
    presenter.ok("mode", {"mode": "fantasy"})
    a, b = new_phone(), new_phone()
    assert [a.vote("Rust").status_code, a.vote("Rust").status_code, b.vote("Java").status_code] == [201] * 3
    since = fresh_show.last_seq()
    try:
        presenter.ok("chaos", {"target": "postgres"})
        fresh_show.wait_for_service("postgres", "down")
        before = fresh_show.results()

        refused = presenter.post("mode", {"mode": "reality"})

        assert refused.status_code == 409
        assert "Still in fantasy mode" in refused.json()["message"]
        assert "Nothing changed" in refused.json()["message"]
        assert fresh_show.health()["mode"] == "fantasy"
        assert fresh_show.results() == before and before["total"] == 4 and before["mode"] == "fantasy"
        assert fresh_show.wait_for_event(since, "mode", "refused")["data"]["mode"] == "fantasy"
        assert "Still in fantasy mode" in fresh_show.log()  # the presenter's terminal says so too
    finally:
        recovered = presenter.ok("recover", {"target": "postgres"})
    assert recovered["data_kept"] is True and "1 vote(s) kept" in recovered["message"]
    back_up = fresh_show.wait_for_event(since, "service", "up")
    assert " of " not in back_up["message"] and "gone" not in back_up["message"]  # PostgreSQL lost nothing

    back = presenter.ok("mode", {"mode": "reality"})

    assert "3 replayed: 2 stored, 1 refused by PostgreSQL as duplicates" in back["message"]
    assert fresh_show.results()["total"] == 3 == fresh_show.database_rows()
    assert a.vote("Go").status_code == 409


def test_kill_redis_votes_keep_working_on_the_local_fallback_then_recover(fresh_show, presenter, new_phone):
    since = fresh_show.last_seq()
    try:
        assert "Redis killed" in presenter.ok("chaos", {"target": "redis"})["message"]
        assert fresh_show.container("redis").status == "exited"  # killed for real
        fresh_show.wait_for_event(since, "ratelimit", "degraded")
        health = fresh_show.health()
        assert health["services"]["redis"] == "down" and health["rate_limit_backend"] == "local"

        phone = new_phone()
        assert [phone.vote("Rust").status_code for _ in range(4)] == [201, 409, 409, 429]  # limit still holds
        assert fresh_show.feed(since)[-1]["data"]["backend"] == "local"
    finally:
        recovered = presenter.ok("recover", {"target": "redis"})
    assert recovered["target"] == "redis"
    fresh_show.wait_for_event(since, "ratelimit", "restored")
    health = fresh_show.health()
    assert health["services"]["redis"] == "up" and health["rate_limit_backend"] == "redis"
    assert new_phone().vote("Rust").status_code == 201
    assert fresh_show.database_rows() == 2


def test_kill_postgres_votes_get_503_then_recover_keeps_the_data(fresh_show, presenter, new_phone):
    assert new_phone().vote("Go").status_code == 201
    since = fresh_show.last_seq()
    try:
        presenter.ok("chaos", {"target": "postgres"})
        phone = new_phone()
        refused = phone.vote("Go")
        assert refused.status_code == 503
        assert "not stored" in refused.json()["message"]
        # Reading still works while the database is down (served from memory).
        assert fresh_show.results()["total"] == 1
        assert fresh_show.health()["services"]["postgres"] == "down"
    finally:
        recovered = presenter.ok("recover", {"target": "postgres"})
    assert recovered["data_kept"] is True and "1 vote(s) kept" in recovered["message"]
    assert phone.vote("Go").status_code == 201  # the refused phone had nothing stored: it may vote now
    assert fresh_show.database_rows() == 2 == fresh_show.results()["total"]
    assert any(e["kind"] == "service" and e["action"] == "up" for e in fresh_show.feed(since))


def test_a_postgres_container_removed_from_a_terminal_comes_back_fresh_and_the_dashboard_says_so(
        fresh_show, presenter, new_phone):
    assert new_phone().vote("Java").status_code == 201
    since = fresh_show.last_seq()
    fresh_show.container("postgres").remove(force=True)  # what `docker rm -f` does
    fresh_show.wait_for_service("postgres", "down")
    assert fresh_show.wait_for_event(since, "container", "killed")["data"]["external"] is True

    recovered = presenter.ok("recover", {"target": "postgres"})

    assert recovered["data_kept"] is False and "fresh, empty database" in recovered["message"]
    assert fresh_show.results()["total"] == 0
    assert any("fresh, empty database" in notice for notice in fresh_show.health()["notices"])
    assert new_phone().vote("Java").status_code == 201
    presenter.reset()
    assert fresh_show.health()["notices"] == []


def test_docker_kill_from_a_terminal_is_noticed(fresh_show, presenter):
    since = fresh_show.last_seq()
    fresh_show.container("redis").kill()
    try:
        event = fresh_show.wait_for_event(since, "container", "killed")
        assert event["data"]["external"] is True
        fresh_show.wait_for_service("redis", "down")
    finally:
        presenter.ok("recover", {"target": "redis"})
    fresh_show.wait_for_service("redis", "up")


def test_chaos_on_a_dead_service_and_unknown_targets_are_4xx(fresh_show, presenter):
    assert presenter.post("chaos", {"target": "mysql"}).status_code == 400
    assert presenter.post("recover", {"target": None}).status_code == 400
    try:
        presenter.ok("chaos", {"target": "redis"})
        again = presenter.post("chaos", {"target": "redis"})
        assert again.status_code == 409 and "already down" in again.json()["message"]
    finally:
        presenter.ok("recover", {"target": "redis"})
    assert "already up" in presenter.ok("recover", {"target": "redis"})["message"]




def test_the_databases_are_reachable_from_this_machine_only(show):
    """On conference Wi-Fi nobody else may reach the show's PostgreSQL or Redis."""
    for service, port in (("postgres", "5432/tcp"), ("redis", "6379/tcp")):
        container = show.container(service)
        container.reload()
        bindings = container.attrs["NetworkSettings"]["Ports"][port]
        assert bindings and {binding["HostIp"] for binding in bindings} == {"127.0.0.1"}, bindings
