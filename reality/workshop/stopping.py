"""How a stop signal (Ctrl+C, a polite kill, the terminal closing) stops the workshop: once, cleanly.

The first one raises :class:`Stop` (a KeyboardInterrupt) wherever the main thread is; later ones wait
until the workshop has cleaned up (containers removed, pytest children stopped), and a stop Python
swallowed on the way (raised inside a finalizer) is raised again a moment later.
"""

from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager
from typing import Iterator

#: What stops the workshop: Ctrl+C, a polite kill, the terminal closing.
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class Stop(KeyboardInterrupt):
    """The KeyboardInterrupt a stop signal raises (a Ctrl+C, a polite kill, the terminal closing)."""


#: How long after Python swallowed a stop it is raised again (see :meth:`StopOnce.swallowed`).
RETRY_SECONDS = 0.05
#: The alarm that raises it again, where the platform has one (else the next Ctrl+C counts).
RETRY_SIGNAL = getattr(signal, "SIGALRM", None) if hasattr(signal, "setitimer") else None


class StopOnce:
    """The first stop signal raises :class:`Stop` (a KeyboardInterrupt); later ones are ignored until :meth:`rearm`.

    Stopping removes containers and stops pytest children; a second Ctrl+C from an impatient
    participant would cut that cleanup short, leave them behind, and print a traceback on top.
    """

    def __init__(self) -> None:
        self.stopping = False
        self.signum: int | None = None
        self.lost = False  # a stop Python swallowed, to be raised again

    def __call__(self, signum: int, frame: object) -> None:
        if not self.stopping:
            self.stopping = True
            self.signum = signum
            self.lost = False  # this one is raised: a stop lost before it must not come back after it
            raise Stop()

    def rearm(self) -> None:
        """The stop was handled (a cancelled check, cleaned up): the next Ctrl+C counts again."""
        self.stopping = False

    def swallowed(self, unraisable: sys.UnraisableHookArgs) -> bool:
        """Have a stop that Python swallowed raised again; True when ``unraisable`` was that stop.

        A signal's handler runs wherever the main thread is, a finalizer included (a garbage Docker
        client closing its sockets, collected in the middle of something else). An exception raised
        there cannot get out: Python printed "Exception ignored", went on, and every later Ctrl+C was
        ignored as "already stopping" while nothing was stopping. Instead the stop is raised again a
        moment later (from an alarm: raised from here, it would go off inside this very hook), from
        wherever the main thread is by then; and whatever happens, the next Ctrl+C counts.
        """
        if not (unraisable.exc_type is not None and issubclass(unraisable.exc_type, Stop) and self.stopping):
            return False
        self.raise_again()
        return True

    def raise_again(self) -> None:
        """The stop raised went nowhere: raise it again in a moment, and let the next stop signal count."""
        self.stopping = False
        self.lost = True
        if RETRY_SIGNAL is not None:
            signal.setitimer(signal.ITIMER_REAL, RETRY_SECONDS)

    def retry(self, signum: int, frame: object) -> None:
        """The alarm set by :meth:`raise_again`: the lost stop, raised now (unless another one came first)."""
        if self.lost and self.signum is not None:
            self.lost = False
            self(self.signum, frame)


@contextmanager
def stopped_once() -> Iterator[StopOnce]:
    """Stop signals go to a :class:`StopOnce` while the block runs (and a stop Python swallowed is raised again)."""
    stopper = StopOnce()
    if threading.current_thread() is not threading.main_thread():
        yield stopper  # only the main thread may handle signals (tests may run the workshop elsewhere)
        return
    report = sys.unraisablehook

    def unraisable_hook(unraisable: sys.UnraisableHookArgs) -> None:
        try:
            if not stopper.swallowed(unraisable):
                report(unraisable)
        except Stop:  # the stop raised again while this hook still ran: it cannot get out of here either
            stopper.raise_again()

    previous = {sig: signal.signal(sig, stopper) for sig in STOP_SIGNALS}
    if RETRY_SIGNAL is not None:
        previous[RETRY_SIGNAL] = signal.signal(RETRY_SIGNAL, stopper.retry)
    sys.unraisablehook = unraisable_hook
    try:
        yield stopper
    finally:
        sys.unraisablehook = report
        if RETRY_SIGNAL is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)  # before its handler goes: an alarm would end the process
        for sig, handler in previous.items():
            signal.signal(sig, handler)
