"""One small exception hierarchy for everything that can go wrong with infrastructure.

Every message is one line a person can act on; entry scripts print it and exit non-zero.
"""


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
