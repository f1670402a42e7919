"""One small exception hierarchy for everything that can go wrong with infrastructure.

Every message is one line a person can act on; entry scripts print it and exit non-zero.
"""

from __future__ import annotations


class RealityError(RuntimeError):
    """Base class: an expected failure with a one-line, actionable message."""


class DockerUnavailable(RealityError):
    """No Docker engine answers."""


class ImageMissing(RealityError):
    """An image is neither present nor pullable."""


class ContainerStartError(RealityError):
    """A container started but never became ready."""


class PortTaken(RealityError):
    """The web server's port is already in use."""


class ServiceUnavailable(RealityError):
    """A backing service (PostgreSQL or Redis) cannot be reached right now."""


def first_line(exc: BaseException | str) -> str:
    """The first non-blank line of an exception's message (or of a text), else the exception's type name.

    Docker's and PostgreSQL's errors run over several lines; a person needs the first one.

        >>> first_line(RuntimeError("\\n  port is already allocated\\n  details…"))
        'port is already allocated'
        >>> first_line(TimeoutError())
        'TimeoutError'
    """
    text = exc if isinstance(exc, str) else str(exc)
    for line in text.strip().splitlines():
        if line.strip():
            return line.strip()
    return "" if isinstance(exc, str) else type(exc).__name__
