"""Per-voter rate limit: a few vote requests a minute per phone, counted in Redis.

Keyed by the voter (the phone's signed cookie), never by IP address: a whole audience can share one
conference NAT address. Counting happens in Redis, so the limit holds across workers and restarts of
the web process. When Redis is unreachable the limit keeps working from this process's memory (the
local fallback) and an event says so; when Redis answers again the limiter goes back to it and an
event says that too.

Why not Flask-Limiter, which the project otherwise prefers: measured on this machine with a Redis
container, Flask-Limiter (4.1) notices a recovered Redis only while requests arrive, with an
exponential back-off (1, 2, 4 … 32 s): after a 35 s outage it stayed on its fallback for another
28 s, and it offers no hook to tell the dashboard about either transition. Its request hook also cost
about 0.3 ms per vote on top of the Redis round trip. This module uses the same engine underneath
(the ``limits`` library, by the same author) with an explicit fallback and a recovery check that the
app's health monitor drives every second.

The allowed path is one Redis call, ``EVALSHA`` of ``limits``' own moving-window script on the same
keys, sent on a connection this limiter keeps (see :class:`_Connections`): redis-py's pool checks
every connection it hands out for unread data (a ``select`` on the socket, which gevent turns into a
watcher and a switch), and with its command bookkeeping that was about 0.1 ms of CPU per vote, as
much as the round trip itself.

    >>> limiter = VoterRateLimiter(None, per_minute=2)    # no Redis: local memory only
    >>> [limiter.hit("phone-1").allowed for _ in range(3)]
    [True, True, False]
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable

import redis
from limits import RateLimitItemPerMinute
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage
from limits.strategies import MovingWindowRateLimiter
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError
from redis.retry import Retry

from .errors import first_line
from .events import EventBus
from .vocabulary import Kind, RateLimitAction

#: The issue's figure: three vote requests per minute per voter.
DEFAULT_PER_MINUTE = 3
#: A vote must never wait on a dead Redis: short timeouts, and no retries with back-off (redis-py 7
#: retries three times with a back-off starting at one second by default, which would stall a phone
#: for several seconds while the presenter demonstrates that killing Redis changes nothing).
REDIS_TIMEOUT = 0.25
KEY_PREFIX = "reality-engine:votes"

REDIS_ERRORS = (redis.exceptions.RedisError, StorageError, OSError)


@dataclass(frozen=True)
class Decision:
    """Whether one request may go ahead, and what the limiter knows about it."""

    allowed: bool
    limit: int
    remaining: int
    retry_after: int  # seconds until this voter may try again (0 when allowed)
    backend: str  # "redis", "local" (the fallback), or "off" (limit disabled)


class VoterRateLimiter:
    """A moving-window limit per voter, in Redis with a local in-memory fallback."""

    def __init__(self, redis_url: str | Callable[[], str] | None, bus: EventBus | None = None,
                 per_minute: int = DEFAULT_PER_MINUTE,
                 enabled: bool = True, timeout: float = REDIS_TIMEOUT) -> None:
        self.redis_url = redis_url
        self.bus = bus
        self.item = RateLimitItemPerMinute(per_minute)
        self.enabled = self.enabled_by_default = enabled
        self.timeout = timeout
        self._lock = threading.Lock()
        self._memory = MemoryStorage()
        self._local = MovingWindowRateLimiter(self._memory)
        self._redis_storage: RedisStorage | None = None
        self._redis: MovingWindowRateLimiter | None = None
        self._connections: _Connections | None = None
        self._url_in_use: str | None = None
        self._degraded = False
        if redis_url is not None:
            self._connect()

    @property
    def per_minute(self) -> int:
        return self.item.amount

    @property
    def backend(self) -> str:
        """``redis`` while Redis counts the votes, ``local`` while the in-memory fallback does."""
        return "local" if self._degraded or self._redis is None else "redis"

    @property
    def degraded(self) -> bool:
        """True while a configured Redis is unreachable and the local fallback is in use."""
        return self.redis_url is not None and self._degraded

    def _connect(self) -> None:
        # A fresh client and pool: connections from before an outage are dead sockets.
        if self._redis_storage is not None:
            _close_quietly(self._redis_storage)
        if self._connections is not None:
            self._connections.close()
        # The URL may be a function: a recovered Redis can answer at another address.
        url = self._url_in_use = self._current_url()
        self._redis_storage = RedisStorage(
            url, key_prefix=KEY_PREFIX, wrap_exceptions=True,
            socket_timeout=self.timeout, socket_connect_timeout=self.timeout, retry=Retry(NoBackoff(), 0),
        )
        self._redis = MovingWindowRateLimiter(self._redis_storage)
        self._connections = _Connections(self._redis_storage)

    def _current_url(self) -> str | None:
        return self.redis_url() if callable(self.redis_url) else self.redis_url

    def moved(self) -> bool:
        """Whether Redis now answers at another address than the one counted on (a replaced container).

        The old address must not be used a moment longer: Docker may already have given it to another
        container — another show's Redis, whose counts are not this show's.
        """
        return self.redis_url is not None and self._current_url() != self._url_in_use

    def hit(self, voter_id: str) -> Decision:
        """Count one request from ``voter_id`` and say whether it may go ahead."""
        if not self.enabled:
            return Decision(True, self.per_minute, self.per_minute, 0, "off")
        limiter = self._redis if not self._degraded else None
        if limiter is not None:
            try:
                return self._decide(limiter, voter_id, "redis")
            except REDIS_ERRORS as exc:
                self._degrade(exc)
        return self._decide(self._local, voter_id, "local")

    def _decide(self, limiter: MovingWindowRateLimiter, voter_id: str, backend: str) -> Decision:
        allowed = (self._connections.acquire(self.item, voter_id) if backend == "redis" and self._connections
                   else limiter.hit(self.item, voter_id))
        if allowed:
            # Remaining is only reported (never used to decide), so the allowed path stays at one round trip.
            return Decision(True, self.per_minute, -1, 0, backend)
        stats = limiter.get_window_stats(self.item, voter_id)
        retry_after = max(1, int(stats.reset_time - time.time() + 0.999))
        return Decision(False, self.per_minute, 0, retry_after, backend)

    def _degrade(self, exc: BaseException) -> None:
        with self._lock:
            if self._degraded:
                return
            self._degraded = True
        self._publish(RateLimitAction.DEGRADED, "Redis unreachable: the rate limit now runs from local memory (fallback); "
                                  "votes keep working", error=first_line(exc))

    def check_backend(self) -> bool:
        """Ping Redis; go back to it when it answers again, fall back when it stops. True when it answers."""
        if self.redis_url is None:
            return False
        if self.moved():
            self._connect()
        storage = self._redis_storage
        answers = storage is not None and storage.check()
        if not answers and self._degraded:
            # After a restart the old pool may hold dead sockets; try once with a fresh client.
            self._connect()
            answers = self._redis_storage is not None and self._redis_storage.check()
        with self._lock:
            was_degraded = self._degraded
            self._degraded = not answers
        if answers and was_degraded:
            self._publish(RateLimitAction.RESTORED, "Redis is back: the rate limit is counted in Redis again")
        elif not answers and not was_degraded:
            self._publish(RateLimitAction.DEGRADED, "Redis unreachable: the rate limit now runs from local memory (fallback); "
                                      "votes keep working")
        return answers

    def reset(self) -> None:
        """A clean slate: every voter's count forgotten, in Redis (if it answers) and in the local
        fallback, and the limit on or off as it was made."""
        self.enabled = self.enabled_by_default
        self._memory.reset()
        if self._redis_storage is not None and not self._degraded:
            try:
                self._redis_storage.reset()
            except REDIS_ERRORS:
                pass  # Redis died meanwhile: its counts expire within a minute anyway

    def close(self) -> None:
        if self._redis_storage is not None:
            _close_quietly(self._redis_storage)
        if self._connections is not None:
            self._connections.close()

    def _publish(self, action: RateLimitAction, message: str, **data: object) -> None:
        if self.bus is not None:
            self.bus.publish(Kind.RATELIMIT, action, message, service="redis", backend=self.backend, **data)


class _Connections:
    """Redis connections kept for the allowed path: one ``EVALSHA`` of ``limits``' moving-window script.

    The same script, keys and arguments as ``MovingWindowRateLimiter.hit`` on ``storage``, so
    ``limits`` still reads the window (``get_window_stats``) and clears it (``reset``). A connection
    that fails in the middle of a command is closed, never reused (it could hold half an answer);
    one that answered goes back, clean, so it needs no check when taken again.
    """

    def __init__(self, storage: RedisStorage) -> None:
        self._storage = storage
        pool = storage.storage.connection_pool
        self._make = lambda: pool.connection_class(**pool.connection_kwargs)
        self._script = storage.lua_acquire_moving_window
        self._idle: list[redis.connection.AbstractConnection] = []
        self._closed = False

    def acquire(self, item: RateLimitItemPerMinute, voter_id: str) -> bool:
        """Count one hit for ``voter_id``; False when its window is full (``limits``' moving window)."""
        key = self._storage.prefixed_key(item.key_for(voter_id))
        args = (time.time(), item.amount, item.get_expiry(), 1)
        try:
            conn, kept = self._idle.pop(), True
        except IndexError:
            conn, kept = self._make(), False
        try:
            answer = self._evaluate(conn, key, args)
        except redis.exceptions.ConnectionError:
            if not kept:
                raise
            # A kept connection goes stale when its Redis is replaced at the same address (chaos, then
            # recover): the new Redis resets it, so it counted nothing there; a fresh connection decides.
            conn = self._make()
            answer = self._evaluate(conn, key, args)
        if self._closed:
            conn.disconnect()
        else:
            self._idle.append(conn)
        return bool(answer)

    def _evaluate(self, conn: redis.connection.AbstractConnection, key: str, args: tuple) -> object:
        try:
            try:
                conn.send_command("EVALSHA", self._script.sha, 1, key, *args)
                return conn.read_response()
            except NoScriptError:  # a restarted Redis forgot its scripts: EVAL loads it again
                conn.send_command("EVAL", self._script.script, 1, key, *args)
                return conn.read_response()
        except BaseException:
            conn.disconnect()  # it could hold half an answer: never reused
            raise

    def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.disconnect()


def _close_quietly(storage: RedisStorage) -> None:
    try:
        storage.storage.close()
    except Exception:
        pass
