"""New voter identities, budgeted per client address: what bounds ballot stuffing.

"One vote per phone" means one vote per *browser identity*: a random id the phone page (``/qr``)
puts in the signed session cookie, and PostgreSQL's UNIQUE constraint refuses that id's second row.
A script can still drop its cookie and fetch ``/qr`` for a new identity before every vote, and no
server can tell that from a new phone. What bounds it is how fast one network address gets new
identities: a token bucket per address, ``burst`` at once and then ``per_minute`` more a minute.
The defaults (300 at once, 5 a second) let a whole conference room behind one NAT address in within
a minute (500 phones: 300 at once, the other 200 over 40 s) and hold a script to 350 votes in its
first 10 s instead of thousands.

Only a *new* identity costs a token: a phone that reloads the page with its cookie costs nothing.
The buckets live in this process's memory: the show is one process, and a restart gives every phone
a new identity anyway (the cookie key changes) unless ``REALITY_SECRET_KEY`` is set.

    >>> budget = IdentityBudget(per_minute=60, burst=2, clock=lambda: 0.0)
    >>> [budget.take("203.0.113.7").allowed for _ in range(3)]
    [True, True, False]
    >>> budget.take("203.0.113.7").retry_after
    1
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable

#: The issue's figures: a burst of 300 and 5 a second.
DEFAULT_BURST = 300
DEFAULT_PER_MINUTE = 300
#: Addresses listed to the presenter.
TOP_ADDRESSES = 10
#: An address is worth a warning once it took at least this many identities and this share of all.
WARN_AT_LEAST = 50
WARN_SHARE = 0.5
#: Memory bound: beyond this many addresses, full buckets are forgotten (a full bucket is the same
#: as no bucket) and new addresses are counted in the total only.
MAX_ADDRESSES = 10_000
#: What the public projector says when the budget refuses someone (never an address: it is public).
PUBLIC_NOTICE = ("New voter identities are being refused past the budget for one network address: a script "
                 "fetching fresh cookies, or more phones behind one NAT than the budget allows.")


def address_key(remote_addr: str | None) -> str:
    """The budget's key for a client address: IPv4 as is, IPv6 by its /64 (one device can hold a whole /64)."""
    if not remote_addr:
        return "unknown"
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        return remote_addr[:64]  # not an IP (a Unix socket, a test client): its own bucket all the same
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


@dataclass(frozen=True)
class Grant:
    """Whether an address may have one more new identity now."""

    allowed: bool
    retry_after: int = 0  # whole seconds until its next one (0 when allowed)


class IdentityBudget:
    """A token bucket of new voter identities per client address, with counts for the presenter."""

    def __init__(self, per_minute: int = DEFAULT_PER_MINUTE, burst: int = DEFAULT_BURST,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute < 1 or burst < 1:
            raise ValueError("The identity budget needs at least 1 a minute and a burst of at least 1.")
        self.per_minute = per_minute
        self.burst = burst
        self._rate = per_minute / 60.0
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # address -> (tokens, when counted)
        self._issued: Counter[str] = Counter()
        self._refused: Counter[str] = Counter()
        self.issued = 0
        self.refused = 0

    def take(self, address: str) -> Grant:
        """Spend one new identity for ``address`` (a key from :func:`address_key`), if its bucket allows."""
        now = self._clock()
        with self._lock:
            tokens, then = self._buckets.get(address, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + max(0.0, now - then) * self._rate)
            if len(self._buckets) >= MAX_ADDRESSES and address not in self._buckets:
                self._forget_full_buckets(now)
            if tokens >= 1.0:
                self._buckets[address] = (tokens - 1.0, now)
                self.issued += 1
                self._count(self._issued, address)
                return Grant(True)
            self._buckets[address] = (tokens, now)
            self.refused += 1
            self._count(self._refused, address)
            return Grant(False, max(1, math.ceil((1.0 - tokens) / self._rate)))

    def available(self, address: str) -> bool:
        """Whether :meth:`take` would grant ``address`` a new identity now (nothing is spent or counted)."""
        now = self._clock()
        with self._lock:
            tokens, then = self._buckets.get(address, (float(self.burst), now))
            return min(float(self.burst), tokens + max(0.0, now - then) * self._rate) >= 1.0

    def _count(self, counter: Counter[str], address: str) -> None:
        if address in counter or len(counter) < MAX_ADDRESSES:
            counter[address] += 1

    def _forget_full_buckets(self, now: float) -> None:
        full = [key for key, (tokens, then) in self._buckets.items()
                if tokens + (now - then) * self._rate >= self.burst]
        for key in full:
            del self._buckets[key]

    def report(self) -> dict[str, Any]:
        """For the presenter: identities issued, the top addresses with their share, and a warning or None."""
        with self._lock:
            issued, refused = self.issued, self.refused
            top = self._issued.most_common(TOP_ADDRESSES)
            refused_by = dict(self._refused)
        addresses = [{"address": address, "issued": count, "share": round(count / issued, 3) if issued else 0.0,
                      "refused": refused_by.get(address, 0)} for address, count in top]
        return {"issued": issued, "refused": refused, "per_minute": self.per_minute, "burst": self.burst,
                "addresses": addresses, "warning": self._warning(issued, top, refused_by)}

    def _warning(self, issued: int, top: list[tuple[str, int]], refused_by: dict[str, int]) -> str | None:
        if refused_by:
            address, count = max(refused_by.items(), key=lambda item: item[1])
            return (f"{address} was refused {count} new identit{'y' if count == 1 else 'ies'} past the budget "
                    f"({self.burst} at once, then {self.per_minute} a minute): a script dropping its cookie, or "
                    "more phones behind one NAT than that (raise REALITY_IDENTITIES_BURST / "
                    "REALITY_IDENTITIES_PER_MINUTE).")
        if top and top[0][1] >= WARN_AT_LEAST and top[0][1] / issued >= WARN_SHARE:
            address, count = top[0]
            return (f"{address} took {round(100 * count / issued)}% of the {issued} identities issued: one NAT "
                    "for a whole room, or one script fetching fresh cookies.")
        return None

    def reset(self) -> None:
        """Forget every bucket and count (a clean slate for the next show)."""
        with self._lock:
            self._buckets.clear()
            self._issued.clear()
            self._refused.clear()
            self.issued = 0
            self.refused = 0
