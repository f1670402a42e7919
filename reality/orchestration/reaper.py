"""Testcontainers' reaper (Ryuk): turned off, once per process, where its image cannot be had.

Testcontainers' setting is process-wide, so it is decided once (the first time a run starts a
container), never in a constructor. Without Ryuk the kit's own cleanup (context managers, signal
handlers, labels, ``cleanup.py``, the show's start-up sweep) does what it would do.
"""

from __future__ import annotations

import threading

import docker
from testcontainers.core.config import testcontainers_config

from ..config import RYUK_DISABLED_ENV, reaper_choice_given
from ..provision import RYUK_IMAGE, is_present

_decided = threading.Lock()


def configure_reaper(client: docker.DockerClient) -> str | None:
    """Disable Ryuk when its image is not on this machine; returns a note saying so, or ``None``.

    Testcontainers would otherwise try to pull it and fail on a machine with no registry. An
    explicit ``TESTCONTAINERS_RYUK_DISABLED`` is always left as it is.
    """
    with _decided:
        if testcontainers_config.ryuk_disabled or reaper_choice_given():
            return None
        if is_present(client, testcontainers_config.ryuk_image):
            return None
        testcontainers_config.ryuk_disabled = True
    return (f"Ryuk ({RYUK_IMAGE}) is not on this machine: reaper disabled; "
            "Reality Engine removes its own containers (and cleanup.py catches leftovers).")


def reaper_environment() -> dict[str, str]:
    """This process's reaper setting, for a child process that starts containers of its own."""
    return {RYUK_DISABLED_ENV: "true"} if testcontainers_config.ryuk_disabled else {}
