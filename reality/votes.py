"""The vote store: PostgreSQL for reality, an in-memory stand-in for the fantasy.

    >>> store = InMemoryVoteStore()
    >>> store.cast("phone-1", "Python"); store.cast("phone-1", "Python")   # the mock lets it in
    >>> store.counts()
    {'Python': 2}

:class:`VoteStore` refuses the second vote, because the ``votes`` table (``schema.sql``) has a UNIQUE
constraint on the voter: :meth:`VoteStore.cast` raises :class:`AlreadyVoted`, whose ``__cause__`` is
PostgreSQL's own ``UniqueViolation``.

A little over 300 lines: the real store and its fantasy stand-in share one interface, and
keeping them side by side is what lets a reader compare the lie with the truth.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Protocol, TypeVar

import psycopg2
import psycopg2.errors

from .errors import ServiceUnavailable, first_line

SCHEMA = (Path(__file__).parent / "schema.sql").read_text()
UNREACHABLE = "PostgreSQL is unreachable: votes cannot be stored right now."
T = TypeVar("T")


class AlreadyVoted(Exception):
    """This voter has voted before: PostgreSQL refused the row.

    ``constraint`` is the constraint that refused it and ``reason`` PostgreSQL's own first line
    (``duplicate key value violates unique constraint "votes_voter_id_key"``): what the room is shown.
    """

    def __init__(self, voter_id: str, constraint: str | None = None, reason: str | None = None) -> None:
        super().__init__(voter_id)
        self.voter_id = voter_id
        self.constraint = constraint
        self.reason = reason or ("duplicate key value violates unique constraint"
                                 + (f' "{constraint}"' if constraint else ""))


class StoreUnavailable(ServiceUnavailable):
    """The database cannot be reached right now."""


class StoreBusy(ServiceUnavailable):
    """The database answers but not in time (every connection taken, or a statement timed out)."""


class StoreSealed(Exception):
    """The fantasy store is being handed back to PostgreSQL: this vote must go to the store in use now."""


@dataclass(frozen=True)
class Replay:
    """What PostgreSQL made of the votes the mock had accepted."""

    replayed: int
    stored: int
    refused: int

    def summary(self) -> str:
        return f"{self.replayed} replayed: {self.stored} stored, {self.refused} refused by PostgreSQL as duplicates"


class Store(Protocol):
    """What the app needs from a vote store, real or fantasy."""

    def cast(self, voter_id: str, choice: str) -> None: ...
    def choice_of(self, voter_id: str) -> str | None: ...
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
            first = first_line(exc.pgerror or "")
            raise AlreadyVoted(voter_id, exc.diag.constraint_name,
                               first.removeprefix("ERROR:").strip() or None) from exc

    def choice_of(self, voter_id: str) -> str | None:
        """This voter's stored choice, or None: one lookup in the UNIQUE constraint's index."""
        def query(cursor: psycopg2.extensions.cursor) -> str | None:
            cursor.execute("SELECT choice FROM votes WHERE voter_id = %s", (voter_id,))
            row = cursor.fetchone()
            return row[0] if row else None

        return self._run(query)

    def replay(self, votes: Iterable[tuple[str, str, datetime]]) -> Replay:
        """INSERT each (voter, choice, time cast) in order; the UNIQUE constraint refuses a voter's later votes.

        One transaction, a savepoint per vote: a refused vote rolls back only itself, and if the
        database goes away half-way nothing at all is stored (the caller can try again later).
        """
        votes = list(votes)

        def insert_all(cursor: psycopg2.extensions.cursor) -> Replay:
            stored = refused = 0
            # The pool's connections are in autocommit (one statement, one transaction): this one
            # work is many statements, so it opens its own transaction block.
            cursor.execute("BEGIN")
            try:
                for voter_id, choice, cast_at in votes:
                    cursor.execute("SAVEPOINT replay_vote")
                    try:
                        cursor.execute("INSERT INTO votes (voter_id, choice, cast_at) VALUES (%s, %s, %s)",
                                       (voter_id, choice, cast_at))
                    # PostgreSQL's UNIQUE constraint refused it: this voter already has a row.
                    except psycopg2.errors.UniqueViolation:
                        cursor.execute("ROLLBACK TO SAVEPOINT replay_vote")
                        refused += 1
                    else:
                        cursor.execute("RELEASE SAVEPOINT replay_vote")
                        stored += 1
                cursor.execute("COMMIT")
            except BaseException:
                if not cursor.connection.closed:  # back to the pool with no transaction left open
                    try:
                        cursor.execute("ROLLBACK")
                    except psycopg2.Error:
                        pass
                raise
            return Replay(len(votes), stored, refused)

        return self._run(insert_all)

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
        """Remove every vote (the table, and its constraint, stay).

        ``DELETE``, not ``TRUNCATE``: for a show's few thousand rows it is 0.3 ms instead of 3 ms
        (17 ms on a fresh database, which every test's emptied table pays), and it takes no lock
        that would hold the phones voting meanwhile. Row ids go on from where they were.
        """
        self._run(lambda cursor: cursor.execute("DELETE FROM votes"))

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

    It accepts every vote, duplicates included: the bug the fantasy tests never see. For the show's
    fantasy mode it also remembers which votes it took itself (after the ones carried over from
    PostgreSQL), so that going back to reality can hand exactly those to PostgreSQL.
    """

    def __init__(self) -> None:
        self._votes: list[tuple[str, str, datetime | None, str]] = []  # voter, choice, time cast, as ISO text
        self._carried = 0  # the first rows came from PostgreSQL: already stored there
        self._sealed = False
        self._lock = threading.Lock()

    def carry_over(self, rows: Iterable[tuple[str, str, str]]) -> None:
        """Start from PostgreSQL's rows (voter, choice, time): shown in the tally, never replayed."""
        with self._lock:
            self._votes.extend((voter, choice, None, cast_at) for voter, choice, cast_at in rows)
            self._carried = len(self._votes)

    def cast(self, voter_id: str, choice: str) -> None:
        with self._lock:
            if self._sealed:
                raise StoreSealed(voter_id)
            now = datetime.now(timezone.utc)
            self._votes.append((voter_id, choice, now, now.isoformat()))

    def choice_of(self, voter_id: str) -> str | None:
        """This voter's latest choice (the mock counts them all), or None."""
        with self._lock:
            return next((vote[1] for vote in reversed(self._votes) if vote[0] == voter_id), None)

    def seal(self) -> list[tuple[str, str, datetime]]:
        """Take no more votes (they raise :class:`StoreSealed`); returns the votes cast here, in order."""
        with self._lock:
            self._sealed = True
            return [(voter, choice, at) for voter, choice, at, _ in self._votes[self._carried:] if at is not None]

    def unseal(self) -> None:
        """Take votes again (handing them over failed)."""
        with self._lock:
            self._sealed = False

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(Counter(vote[1] for vote in self._votes))

    def total(self) -> int:
        with self._lock:
            return len(self._votes)

    def rows(self) -> list[tuple[str, str, str]]:
        with self._lock:
            return [(voter, choice, cast_at) for voter, choice, _, cast_at in self._votes]

    def reset(self) -> None:
        with self._lock:
            self._votes.clear()
            self._carried = 0
