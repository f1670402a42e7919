"""Readiness: a container is ready when it answers from the host, polled often, given up on shutdown.

Testcontainers' own checks poll once a second (and PostgreSQL's runs ``psql`` inside the container),
which alone would double the time a test session waits for a container ready in 0.3 s. The probes
here are handed the host port the container was bound to: asking Testcontainers for it
(``get_exposed_port``) costs two or three Docker API calls on every 20 ms poll.
"""

from __future__ import annotations

import threading
from typing import Callable

import psycopg2
from testcontainers.core.waiting_utils import WaitStrategy, WaitStrategyTarget

from ..config import SERVICE_NAMES

#: How often readiness is probed.
POLL_INTERVAL = 0.02
STARTUP_TIMEOUT = 60
LOOPBACK = "127.0.0.1"


class StartCancelled(Exception):
    """The run is shutting down: a container's readiness is no longer awaited."""


class CancellableWait(WaitStrategy):
    """A wait that gives up at the next poll once ``cancel`` is set (Ctrl+C during boot)."""

    def __init__(self, cancel: threading.Event | None = None) -> None:
        super().__init__()
        self.cancel = cancel or threading.Event()
        self.with_poll_interval(POLL_INTERVAL).with_startup_timeout(STARTUP_TIMEOUT)

    def _check(self, probe: Callable[[], bool]) -> bool:
        if self.cancel.is_set():
            raise StopIteration  # ends Testcontainers' poll loop at once
        return probe()

    def _wait(self, probe: Callable[[], bool], what: str) -> None:
        # WaitStrategy._poll is the loop Testcontainers' own strategies are built on; it has no public name.
        if not self._poll(lambda: self._check(probe)):
            if self.cancel.is_set():
                raise StartCancelled(f"stopped waiting for {what}: shutting down")
            raise TimeoutError(f"{what} did not answer within {STARTUP_TIMEOUT} s")


class QueryWaitStrategy(CancellableWait):
    """Ready when PostgreSQL at ``url`` answers ``SELECT 1`` from the host, polled every ``POLL_INTERVAL``."""

    def __init__(self, url: str, cancel: threading.Event | None = None) -> None:
        super().__init__(cancel)
        self.url = url
        self.with_transient_exceptions(psycopg2.OperationalError)

    def wait_until_ready(self, container: WaitStrategyTarget) -> None:
        def answers() -> bool:
            with psycopg2.connect(self.url, connect_timeout=2) as conn:
                with conn.cursor() as cursor:
                    cursor.execute("SELECT 1")
            conn.close()
            return True

        self._wait(answers, SERVICE_NAMES["postgres"])


class PingWaitStrategy(CancellableWait):
    """Ready when Redis on host ``port`` answers ``PING``, polled every ``POLL_INTERVAL``.

    redis-py is imported when this strategy is made (a Redis is about to start): a session that
    starts only PostgreSQL (the lesson's ``pytest tests/test_reality.py``) would otherwise pay 70 ms
    for loading it.
    """

    def __init__(self, port: int, cancel: threading.Event | None = None) -> None:
        import redis

        super().__init__(cancel)
        self.port = port
        self.with_transient_exceptions(redis.exceptions.ConnectionError)

    def wait_until_ready(self, container: WaitStrategyTarget) -> None:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        def pong() -> bool:
            # No retries inside the probe: redis-py's default back-off (with jitter, up to a second)
            # would hold a refused PING while the next poll, 20 ms later, could already succeed.
            client = redis.Redis(host=LOOPBACK, port=self.port,
                                 socket_connect_timeout=1, socket_timeout=1, retry=Retry(NoBackoff(), 0))
            try:
                return client.ping()
            finally:
                client.close()

        self._wait(pong, SERVICE_NAMES["redis"])
