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
from pathlib import Path
from typing import Callable, Protocol, TypeVar

import psycopg2
import psycopg2.errors

from .errors import ServiceUnavailable

SCHEMA = (Path(__file__).parent / "schema.sql").read_text()
UNREACHABLE = "PostgreSQL is unreachable: votes cannot be stored right now."
T = TypeVar("T")


class AlreadyVoted(Exception):
    """This voter has voted before: PostgreSQL refused the row."""


class StoreUnavailable(ServiceUnavailable):
    """The database cannot be reached right now."""


class StoreBusy(ServiceUnavailable):
    """The database answers but not in time (every connection taken, or a statement timed out)."""


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
    seconds instead of hanging a phone. ``dsn`` is a URL, or a function returning the current one
    (read at every new connection: a recovered container may answer at another address).
    """

    def __init__(self, dsn: str | Callable[[], str], max_connections: int = 8, timeout: float = 2.0) -> None:
        self._dsn = dsn
        self.timeout = timeout
        self._idle: list[psycopg2.extensions.connection] = []  # most recently used last
        self._generation = 0
        self._lock = threading.Lock()
        # At most ``max_connections`` in use (idle ones never exceed that either); extra callers
        # wait their turn for up to ``timeout`` instead of failing at once.
        self._slots = threading.BoundedSemaphore(max_connections)

    @property
    def dsn(self) -> str:
        return self._dsn() if callable(self._dsn) else self._dsn

    def _connect(self) -> psycopg2.extensions.connection:
        conn = psycopg2.connect(self.dsn, connect_timeout=max(1, round(self.timeout)),
                                options=f"-c statement_timeout={int(self.timeout * 1000)}",
                                application_name="reality-engine")
        # Every unit of work here is one statement, which PostgreSQL runs as its own transaction.
        # Without autocommit psycopg2 wraps it in BEGIN … COMMIT: two more round trips per vote.
        conn.autocommit = True
        return conn

    def _checkout(self) -> tuple[psycopg2.extensions.connection, int]:
        with self._lock:
            generation = self._generation
            if self._idle:
                return self._idle.pop(), generation
        return self._connect(), generation

    def _checkin(self, conn: psycopg2.extensions.connection, generation: int) -> None:
        with self._lock:
            if not conn.closed and generation == self._generation:
                self._idle.append(conn)
                return
        conn.close()  # broken, or opened before the database went away

    def _run(self, work: Callable[[psycopg2.extensions.cursor], T]) -> T:
        """Run ``work`` (one statement: its own transaction, in autocommit) with a pooled cursor.

        A pooled connection can be stale (the database restarted since it was opened): then the
        work is retried once on a fresh connection before the database is declared unreachable.
        """
        for attempt in (1, 2):
            if not self._slots.acquire(timeout=self.timeout):
                raise StoreBusy("The database is busy: try again in a moment.")
            conn = None
            try:
                try:
                    conn, generation = self._checkout()
                except psycopg2.Error as exc:
                    raise StoreUnavailable(UNREACHABLE) from exc
                try:
                    with conn.cursor() as cursor:
                        return work(cursor)
                except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
                    if conn.closed and attempt == 1:
                        # The server went away since this connection was opened: every idle one is
                        # just as dead, so drop them and try once more on a new connection.
                        self.reconnect()
                        continue
                    if not conn.closed:  # the server answered, with a timeout: slow, not gone
                        raise StoreBusy("The database is busy: try again in a moment.") from exc
                    raise StoreUnavailable(UNREACHABLE) from exc
            finally:
                if conn is not None:
                    self._checkin(conn, generation)
                self._slots.release()
        raise AssertionError("unreachable")

    def init_schema(self) -> None:
        """Create the ``votes`` table if it is not there yet."""
        self._run(lambda cursor: cursor.execute(SCHEMA))

    def cast(self, voter_id: str, choice: str) -> None:
        """Store one vote; :class:`AlreadyVoted` if this voter has voted before."""
        try:
            self._run(lambda cursor: cursor.execute(
                "INSERT INTO votes (voter_id, choice) VALUES (%s, %s)", (voter_id, choice)))
        # The UNIQUE constraint on voter_id said no: this is the refusal the show is about.
        except psycopg2.errors.UniqueViolation as exc:
            raise AlreadyVoted(voter_id) from exc

    def counts(self) -> dict[str, int]:
        def query(cursor: psycopg2.extensions.cursor) -> dict[str, int]:
            cursor.execute("SELECT choice, count(*) FROM votes GROUP BY choice")
            return {choice: count for choice, count in cursor.fetchall()}

        return self._run(query)

    def total(self) -> int:
        def query(cursor: psycopg2.extensions.cursor) -> int:
            cursor.execute("SELECT count(*) FROM votes")
            return cursor.fetchone()[0]

        return self._run(query)

    def rows(self) -> list[tuple[str, str, str]]:
        """Every vote as (voter, choice, ISO time), oldest first (for the CSV export)."""
        def query(cursor: psycopg2.extensions.cursor) -> list[tuple[str, str, str]]:
            cursor.execute("SELECT voter_id, choice, cast_at FROM votes ORDER BY id")
            return [(voter, choice, cast_at.isoformat()) for voter, choice, cast_at in cursor.fetchall()]

        return self._run(query)

    def reset(self) -> None:
        """Remove every vote (the table, and its constraint, stay)."""
        self._run(lambda cursor: cursor.execute("TRUNCATE votes RESTART IDENTITY"))

    def reconnect(self) -> None:
        """Drop pooled connections, e.g. after the database was replaced.

        Only idle connections are closed here; those in use are closed by their users when they
        come back. Closing a connection another greenlet is using would block the whole process
        (psycopg2 waits on a lock that greenlet holds, on the same OS thread).
        """
        with self._lock:
            self._generation += 1
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

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
