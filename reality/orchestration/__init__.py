"""Container orchestration: the only package that knows Testcontainers.

- :mod:`.lifecycle`: :class:`Infrastructure`, one run's PostgreSQL and Redis (start, addresses, chaos, stop);
- :mod:`.services`: how each container is built (image, loopback port, labels, readiness, storage);
- :mod:`.waiting`: readiness from the host, polled every 20 ms, given up on shutdown;
- :mod:`.addresses`: bridge address or published port;
- :mod:`.docker_events`: Docker's event stream, through :mod:`reality.docker_engine`;
- :mod:`.leftovers`: removing a run's containers, and earlier runs' orphans (by :mod:`reality.owners`' rule);
- :mod:`.reaper`: Testcontainers' Ryuk, decided once per process.
"""

from .leftovers import Sweep, remove_containers, sweep_orphans
from .lifecycle import Infrastructure, Service
from .reaper import configure_reaper, reaper_environment
from .services import free_port, project_labels
from .waiting import LOOPBACK, StartCancelled

__all__ = [
    "Infrastructure", "Service", "LOOPBACK", "StartCancelled", "Sweep", "configure_reaper", "free_port",
    "project_labels", "reaper_environment", "remove_containers", "sweep_orphans",
]
