"""One event model for container lifecycle, votes, rate limits and chaos.

Events are produced once, on an :class:`EventBus`, and fanned out to every subscriber: the dashboard's
websocket feed, the terminal monitor, tests. Each event gets a sequence number, so a consumer can
tell that nothing was lost or reordered.

    >>> bus = EventBus()
    >>> seen = []
    >>> unsubscribe = bus.subscribe(seen.append)
    >>> bus.publish("container", "ready", "PostgreSQL ready in 0.31 s", service="postgres").seq
    1
    >>> seen[0].action
    'ready'
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

Subscriber = Callable[["Event"], None]


@dataclass(frozen=True)
class Event:
    """Something that happened.

    ``kind`` groups events (``container``, ``vote``, ``ratelimit``, ``chaos``, ``system``, ``test``);
    ``action`` says what happened within the kind (``starting``, ``ready``, ``accepted``, ``refused``...).
    """

    kind: str
    action: str
    message: str
    service: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    ts: float = field(default_factory=time.time)
    seq: int = 0

    def to_dict(self) -> dict[str, Any]:
        # Not dataclasses.asdict: it deep-copies ``data`` for every event of every feed batch, and
        # the dict only goes on to be serialised. The copy of ``data`` keeps the event unchanged
        # should a consumer edit what it got.
        return {"kind": self.kind, "action": self.action, "message": self.message, "service": self.service,
                "data": dict(self.data), "ts": self.ts, "seq": self.seq}


class EventBus:
    """Thread-safe publish/subscribe with a bounded history for late joiners."""

    def __init__(self, history: int = 500) -> None:
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self._history: deque[Event] = deque(maxlen=history)
        self._subscribers: list[Subscriber] = []

    def publish(self, kind: str, action: str, message: str, service: str | None = None, **data: Any) -> Event:
        # Sequence numbering and delivery happen under one lock, so every subscriber sees events in
        # the same order as their numbers, whichever thread produced them.
        with self._lock:
            event = Event(kind, action, message, service, data, time.time(), next(self._seq))
            self._history.append(event)
            for subscriber in list(self._subscribers):
                try:
                    subscriber(event)
                except Exception:  # a broken consumer must never break the producer
                    pass
        return event

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Register ``subscriber``; returns a function that unsubscribes it."""
        with self._lock:
            self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            with self._lock:
                if subscriber in self._subscribers:
                    self._subscribers.remove(subscriber)

        return unsubscribe

    def history(self, since: int = 0) -> list[Event]:
        """Events still held with a sequence number above ``since``, oldest first."""
        with self._lock:
            return [event for event in self._history if event.seq > since]

    def clear(self) -> None:
        """Forget the history (numbering goes on, so consumers never see a number twice)."""
        with self._lock:
            self._history.clear()


def missed_before(held: list[Event], since: int) -> int:
    """How many events after ``since`` are gone from the bus's history (it keeps only the newest).

        >>> bus = EventBus(history=2)
        >>> for n in range(5): _ = bus.publish("system", "note", str(n))
        >>> missed_before(bus.history(1), 1)    # 2 and 3 are gone; 4 and 5 are held
        2
    """
    return max(0, held[0].seq - since - 1) if held and since > 0 else 0
