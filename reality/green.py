"""Running the show on gevent: one process, thousands of cheap greenlets instead of threads.

:func:`use_gevent` must run before anything else imports ``socket``, ``threading`` or ``ssl``
(the entry script calls it first). It also makes psycopg2 cooperative: without a wait callback a
query blocks the whole process, not just the greenlet that asked.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

#: Seconds a database socket may stay silent before the query fails (PostgreSQL killed mid-query);
#: just above the 2 s statement timeout, so a stalled database answers a phone within seconds.
DB_IO_TIMEOUT = 3.0


def use_gevent() -> None:
    """Monkey-patch the standard library for gevent and make psycopg2 yield while it waits."""
    from gevent import monkey

    with entry_points_read_once():
        monkey.patch_all()

    import psycopg2.extensions

    psycopg2.extensions.set_wait_callback(_wait_cooperatively)


@contextmanager
def entry_points_read_once() -> Iterator[None]:
    """While the block runs, ``importlib.metadata.entry_points`` reads the installed packages once.

    gevent's ``patch_all`` looks up its plugins' entry points once per module it patches (25 times),
    and each lookup reads the metadata of every installed distribution: 0.2 s of the show's start
    on a machine with 150 of them, for the same answer every time. Selecting from one reading gives
    the same entry points.
    """
    from importlib import metadata

    original = metadata.entry_points
    everything = original()

    def selected(**params: str):  # type: ignore[no-untyped-def]
        return everything.select(**params) if params else everything

    metadata.entry_points = selected  # type: ignore[assignment]
    try:
        yield
    finally:
        metadata.entry_points = original


def _wait_cooperatively(conn, timeout: float | None = None) -> None:
    """psycopg2 wait callback: poll the connection, parking this greenlet while the socket is busy."""
    import psycopg2
    import psycopg2.extensions
    from gevent.socket import wait_read, wait_write

    while True:
        state = conn.poll()
        try:
            if state == psycopg2.extensions.POLL_OK:
                return
            if state == psycopg2.extensions.POLL_READ:
                wait_read(conn.fileno(), timeout=timeout or DB_IO_TIMEOUT)
            elif state == psycopg2.extensions.POLL_WRITE:
                wait_write(conn.fileno(), timeout=timeout or DB_IO_TIMEOUT)
            else:
                raise psycopg2.OperationalError(f"unexpected poll state {state}")
        except OSError as exc:  # gevent raises socket.timeout (an OSError) when the wait runs out
            raise psycopg2.OperationalError(f"database did not answer within {timeout or DB_IO_TIMEOUT:.0f} s") from exc
