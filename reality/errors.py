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


# -- one line of a message ----------------------------------------------------------------------------

def first_line(message: BaseException | str, limit: int | None = None) -> str:
    """The first non-blank line of an exception's message (its type's name when it has none) or of a text.

    ``limit`` cuts a longer line, with an ellipsis to say so.

        >>> first_line(ValueError("bad port\\nmore detail"))
        'bad port'
        >>> first_line("  \\n  ERROR:  duplicate key  \\n", limit=12)
        'ERROR:  dup…'
    """
    text = str(message)
    line = next((each.strip() for each in text.splitlines() if each.strip()), "")
    if not line and isinstance(message, BaseException):
        line = type(message).__name__
    return line if limit is None or len(line) <= limit else line[: limit - 1] + "…"
