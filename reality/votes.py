"""The vote store: PostgreSQL for reality, an in-memory stand-in for the fantasy.

    >>> store = InMemoryVoteStore()
    >>> store.cast("phone-1", "Python"); store.cast("phone-1", "Python")   # the mock lets it in
    >>> store.counts()
    {'Python': 2}

:class:`VoteStore` refuses the second vote, because the ``votes`` table (``schema.sql``) has a UNIQUE
constraint on the voter: :meth:`VoteStore.cast` raises :class:`AlreadyVoted`, whose ``__cause__`` is
PostgreSQL's own ``UniqueViolation``.
"""

from __future__ import annotations

import threading
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Protocol

import psycopg2
import psycopg2.errors
import psycopg2.pool

from .errors import ServiceUnavailable

SCHEMA = (Path(__file__).parent / "schema.sql").read_text()


class AlreadyVoted(Exception):
    """This voter has voted before: PostgreSQL refused the row."""


class StoreUnavailable(ServiceUnavailable):
    """The database cannot be reached right now."""


class Store(Protocol):
    """What the app needs from a vote store, real or fantasy."""

    def cast(self, voter_id: str, choice: str) -> None: ...
    def counts(self) -> dict[str, int]: ...
    def total(self) -> int: ...
    def reset(self) -> None: ...
    def rows(self) -> list[tuple[str, str, str]]: ...


class VoteStore:
    """Votes in PostgreSQL, through a small pool of connections shared by all requests.

    ``timeout`` bounds both connecting and every statement, so a dead database answers within
    seconds instead of hanging a phone.
    """

    def __init__(self, dsn: str, max_connections: int = 8, timeout: float = 2.0) -> None:
        self.dsn = dsn
        self.timeout = timeout
        self._max = max_connections
        self._pool: psycopg2.pool.ThreadedConnectionPool | None = None
        self._pool_lock = threading.Lock()
        # The pool hands out at most ``max_connections``; this makes extra callers wait their turn
        # instead of failing with "connection pool exhausted".
        self._slots = threading.BoundedSemaphore(max_connections)

    def _get_pool(self) -> psycopg2.pool.ThreadedConnectionPool:
        with self._pool_lock:
            if self._pool is None:
                self._pool = psycopg2.pool.ThreadedConnectionPool(
                    0, self._max, self.dsn, connect_timeout=max(1, round(self.timeout)),
                    options=f"-c statement_timeout={int(self.timeout * 1000)}",
                    application_name="reality-engine",
                )
            return self._pool

    @contextmanager
    def _connection(self) -> Iterator[psycopg2.extensions.connection]:
        if not self._slots.acquire(timeout=self.timeout):
            raise StoreUnavailable("The database is busy: try again in a moment.")
        conn = None
        broken = False
        try:
            try:
                conn = self._get_pool().getconn()
            except psycopg2.Error as exc:
                raise StoreUnavailable("PostgreSQL is unreachable: votes cannot be stored right now.") from exc
            try:
                with conn:  # commits on success, rolls back on error
                    yield conn
            except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
                broken = True
                raise StoreUnavailable("PostgreSQL is unreachable: votes cannot be stored right now.") from exc
        finally:
            if conn is not None:
                try:
                    self._get_pool().putconn(conn, close=broken or bool(conn.closed))
                except psycopg2.pool.PoolError:
                    pass
            self._slots.release()

    def init_schema(self) -> None:
        """Create the ``votes`` table if it is not there yet."""
        with self._connection() as conn, conn.cursor() as cursor:
            cursor.execute(SCHEMA)

    def cast(self, voter_id: str, choice: str) -> None:
        """Store one vote; :class:`AlreadyVoted` if this voter has voted before."""
        try:
            with self._connection() as conn, conn.cursor() as cursor:
                cursor.execute("INSERT INTO votes (voter_id, choice) VALUES (%s, %s)", (voter_id, choice))
        # The UNIQUE constraint on voter_id said no: this is the refusal the show is about.
        except psycopg2.errors.UniqueViolation as exc:
            raise AlreadyVoted(voter_id) from exc

    def counts(self) -> dict[str, int]:
        with self._connection() as conn, conn.cursor() as cursor:
            cursor.execute("SELECT choice, count(*) FROM votes GROUP BY choice")
            return {choice: count for choice, count in cursor.fetchall()}

    def total(self) -> int:
        with self._connection() as conn, conn.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM votes")
            return cursor.fetchone()[0]

    def rows(self) -> list[tuple[str, str, str]]:
        """Every vote as (voter, choice, ISO time), oldest first (for the CSV export)."""
        with self._connection() as conn, conn.cursor() as cursor:
            cursor.execute("SELECT voter_id, choice, cast_at FROM votes ORDER BY id")
            return [(voter, choice, cast_at.isoformat()) for voter, choice, cast_at in cursor.fetchall()]

    def reset(self) -> None:
        """Remove every vote (the table, and its constraint, stay)."""
        with self._connection() as conn, conn.cursor() as cursor:
            cursor.execute("TRUNCATE votes RESTART IDENTITY")

    def reconnect(self) -> None:
        """Drop pooled connections, e.g. after the database was replaced."""
        with self._pool_lock:
            if self._pool is not None:
                self._pool.closeall()
                self._pool = None

    def close(self) -> None:
        self.reconnect()


class InMemoryVoteStore:
    """A stand-in for the database with no constraints: what a mock-based test talks to.

    It accepts every vote, duplicates included: the bug the fantasy tests never see.
    """

    def __init__(self) -> None:
        self._votes: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def cast(self, voter_id: str, choice: str) -> None:
        with self._lock:
            self._votes.append((voter_id, choice))

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(Counter(choice for _, choice in self._votes))

    def total(self) -> int:
        with self._lock:
            return len(self._votes)

    def rows(self) -> list[tuple[str, str, str]]:
        with self._lock:
            return [(voter, choice, "") for voter, choice in self._votes]

    def reset(self) -> None:
        with self._lock:
            self._votes.clear()
