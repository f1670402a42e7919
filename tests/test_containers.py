"""Container orchestration: what happens when the host port it picked is gone by the time Docker binds it."""

from __future__ import annotations

import socket

import psycopg2
import pytest

from reality import containers
from reality.containers import ContainerStartError, Infrastructure


@pytest.fixture
def taken_port():
    """A loopback port someone else is listening on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def test_a_port_taken_between_picking_and_binding_is_picked_again(monkeypatch, taken_port):
    picks = iter([taken_port])
    real_free_port = containers.free_port
    # The race made certain: the first pick is a port another program grabbed in the meantime.
    monkeypatch.setattr(containers, "free_port", lambda: next(picks, None) or real_free_port())
    with Infrastructure(role="tests-port") as infra:
        infra.start("postgres")
        events = [event.action for event in infra.bus.history(0) if event.kind == "container"]
        port = infra.services["postgres"].host_port
        assert port != taken_port
        with psycopg2.connect(infra.postgres_url, connect_timeout=5) as connection:
            assert connection.server_version >= 150000
    assert events.count("failed") == 0 and events[-1] == "ready"


def test_a_port_given_by_the_caller_is_not_swapped_for_another(taken_port):
    with Infrastructure(role="tests-port") as infra:
        with pytest.raises(ContainerStartError, match="in use|allocated"):
            infra._start_one("postgres", taken_port)
        assert infra.state("postgres") == "down"
