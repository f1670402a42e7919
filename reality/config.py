"""Settings read from the environment, with defaults that work out of the box.

Images are chosen by configuration: ``REALITY_POSTGRES_IMAGE`` / ``REALITY_REDIS_IMAGE`` pin one;
otherwise the official images are preferred and the locally built drop-ins are the fallback.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import tempfile
from pathlib import Path
from typing import Any

#: Official images, preferred wherever they are present or can be pulled.
OFFICIAL_IMAGES = {"postgres": "postgres:15-alpine", "redis": "redis:7-alpine"}
#: Drop-in images that ``setup.py`` builds from Debian's packages when no registry is reachable.
LOCAL_IMAGES = {"postgres": "reality-engine/postgres:15-bookworm", "redis": "reality-engine/redis:7-bookworm"}
#: Environment variables that pin an image.
IMAGE_ENV = {"postgres": "REALITY_POSTGRES_IMAGE", "redis": "REALITY_REDIS_IMAGE"}

#: Credentials baked into the drop-in image's pre-initialised cluster (also testcontainers' defaults).
POSTGRES_USER = "test"
POSTGRES_PASSWORD = "test"
POSTGRES_DB = "test"

#: Label namespace of this project; Testcontainers' own ``org.testcontainers.*`` labels stay as they are.
LABEL_PROJECT = "dev.reality-engine.project"
LABEL_SERVICE = "dev.reality-engine.service"
LABEL_ROLE = "dev.reality-engine.role"
LABEL_PID = "dev.reality-engine.pid"
LABEL_HOST = "dev.reality-engine.host"
#: Which run of that pid: its boot and start time since boot (see reality/owners.py).
LABEL_PROCESS = "dev.reality-engine.process"
#: The checkout (resolved path) whose code created the object: cleanup.py and the sweep keep to their own.
LABEL_CHECKOUT = "dev.reality-engine.checkout"
PROJECT = "reality-engine"
#: Testcontainers' own labels (testcontainers.core.labels), restated so that tools reading them need
#: not import Testcontainers.
LABEL_TESTCONTAINERS = "org.testcontainers"
LABEL_TC_SESSION = "org.testcontainers.session-id"

SERVICES = ("postgres", "redis")
#: How the feed, the dashboard and the terminal name each service.
SERVICE_NAMES = {"postgres": "PostgreSQL", "redis": "Redis"}

#: New voter identities per client address (see reality/identities.py): the refill and the burst.
IDENTITIES_PER_MINUTE_ENV = "REALITY_IDENTITIES_PER_MINUTE"
IDENTITIES_BURST_ENV = "REALITY_IDENTITIES_BURST"
#: Set (to 1) by ``reality_engine.py --behind-proxy``; Codespaces' port forwarding is a proxy too.
BEHIND_PROXY_ENV = "REALITY_BEHIND_PROXY"


def _positive_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdecimal()) or not 1 <= int(raw) <= 1_000_000:
        raise ValueError(f"{name}={raw!r} is not a whole number from 1 to 1000000 (default {default}).")
    return int(raw)


def identity_budget() -> tuple[int, int]:
    """(per minute, burst) of new voter identities per client address; ValueError in one line when malformed."""
    from .identities import DEFAULT_BURST, DEFAULT_PER_MINUTE

    return (_positive_int(IDENTITIES_PER_MINUTE_ENV, DEFAULT_PER_MINUTE),
            _positive_int(IDENTITIES_BURST_ENV, DEFAULT_BURST))


#: Seconds a whole HTTP request (line, headers, body) may take to arrive (reality/web/server.py).
REQUEST_TIMEOUT_ENV = "REALITY_REQUEST_TIMEOUT"
DEFAULT_REQUEST_TIMEOUT = 10


def request_timeout() -> int:
    """Seconds a request may take to arrive (the tests shorten it); ValueError in one line when malformed."""
    return _positive_int(REQUEST_TIMEOUT_ENV, DEFAULT_REQUEST_TIMEOUT)


#: At most one summary line of dropped traffic this often, in seconds (reality/web/traffic.py).
TRAFFIC_REPORT_ENV = "REALITY_TRAFFIC_REPORT_SECONDS"
DEFAULT_TRAFFIC_REPORT = 5


def traffic_report_seconds() -> int:
    """Seconds between two lines saying what traffic was dropped (tests shorten it); ValueError in one line."""
    return _positive_int(TRAFFIC_REPORT_ENV, DEFAULT_TRAFFIC_REPORT)


def behind_proxy() -> bool:
    """Whether a proxy in front of the show appends the client's address to ``X-Forwarded-For``.

    Only then is that header believed: anyone can send it, so without a proxy it is ignored.
    """
    return os.environ.get(BEHIND_PROXY_ENV, "") not in ("", "0") or os.environ.get("CODESPACES") == "true"


#: This checkout of the kit: the folder holding ``reality/`` (each clone on a machine has its own).
CHECKOUT = Path(__file__).resolve().parent.parent


def runtime_dir() -> Path:
    """Per-user directory for run-time state (every checkout's shows; ``REALITY_RUNTIME_DIR`` overrides)."""
    base = os.environ.get("REALITY_RUNTIME_DIR") or os.path.join(tempfile.gettempdir(), f"reality-engine-{os.getuid()}")
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path


def checkout_state_dir(checkout: Path = CHECKOUT, runtime: Path | None = None) -> Path:
    """Where one checkout keeps its shows' pid files: named by a hash of its resolved path."""
    key = hashlib.sha256(str(checkout.resolve()).encode()).hexdigest()[:16]
    return (runtime or runtime_dir()) / f"checkout-{key}"


def pid_file(port: int, checkout: Path = CHECKOUT, runtime: Path | None = None) -> Path:
    """Where a running ``reality_engine.py`` on ``port`` records itself (read by ``cleanup.py``)."""
    return checkout_state_dir(checkout, runtime) / f"show-{port}.json"


#: Shortest presenter token the show accepts: 4 digits were found by a script in 2 s.
MIN_PRESENTER_TOKEN = 16


def presenter_token_problem(env: dict[str, str] | None = None) -> str | None:
    """Why ``REALITY_PRESENTER_TOKEN`` is unfit (set but too short to resist guessing), or None."""
    token = (os.environ if env is None else env).get(PRESENTER_TOKEN_ENV) or ""
    if token and len(token) < MIN_PRESENTER_TOKEN:
        return (f"REALITY_PRESENTER_TOKEN has {len(token)} characters: use at least {MIN_PRESENTER_TOKEN} "
                "(or unset it for a random one).")
    return None


#: The web app's own settings (see :func:`web_settings`).
SECRET_KEY_ENV = "REALITY_SECRET_KEY"
PRESENTER_TOKEN_ENV = "REALITY_PRESENTER_TOKEN"


def web_settings() -> dict[str, Any]:
    """The web app's settings from the environment: ``create_app``'s defaults (its ``test_config`` overrides them).

    The secret key and the presenter token are never constants: a per-run random value unless the
    operator sets one (cookies then survive restarts). ValueError in one line when a number is malformed.
    """
    per_minute, burst = identity_budget()
    return {
        "SECRET_KEY": os.environ.get(SECRET_KEY_ENV) or secrets.token_hex(32),
        "PRESENTER_TOKEN": os.environ.get(PRESENTER_TOKEN_ENV) or secrets.token_urlsafe(12),
        "IDENTITIES_PER_MINUTE": per_minute,
        "IDENTITIES_BURST": burst,
        "BEHIND_PROXY": behind_proxy(),
        "TRAFFIC_REPORT_SECONDS": traffic_report_seconds(),
        "NODE_MODULES": str(CHECKOUT / "node_modules"),
    }


# -- Start-up and orchestration settings ---------------------------------------------------------
# Read here only; the modules that act on them (concurrency.py, provision.py, orchestration/) are
# handed the values.

ASYNC_MODE_ENV = "REALITY_ASYNC_MODE"
#: How the web server runs concurrent work (see reality/concurrency.py).
ASYNC_MODES = ("threading", "gevent")
DEFAULT_ASYNC_MODE = "gevent"
#: ``0`` keeps clients on the ports published on loopback (see reality/orchestration/addresses.py).
DIRECT_CONNECT_ENV = "REALITY_DIRECT_CONNECT"
#: Testcontainers' own switch for its reaper: when set either way, the kit leaves the choice alone.
RYUK_DISABLED_ENV = "TESTCONTAINERS_RYUK_DISABLED"


def async_mode() -> str:
    """The async mode ``REALITY_ASYNC_MODE`` asks for (``gevent`` by default); ValueError in one line for another."""
    mode = os.environ.get(ASYNC_MODE_ENV, "").strip() or DEFAULT_ASYNC_MODE
    if mode not in ASYNC_MODES:
        raise ValueError(f"{ASYNC_MODE_ENV}={mode!r} is not a mode: use {' or '.join(ASYNC_MODES)}.")
    return mode


def pinned_image(service: str) -> str | None:
    """The image ``REALITY_POSTGRES_IMAGE`` / ``REALITY_REDIS_IMAGE`` pins for ``service``, or ``None``."""
    return os.environ.get(IMAGE_ENV[service]) or None


def direct_connect_allowed() -> bool:
    """Whether clients may use the containers' bridge addresses (unless ``REALITY_DIRECT_CONNECT=0``)."""
    return os.environ.get(DIRECT_CONNECT_ENV, "1").strip() != "0"


def reaper_choice_given() -> bool:
    """Whether ``TESTCONTAINERS_RYUK_DISABLED`` is set at all (then the kit never overrides it)."""
    return os.environ.get(RYUK_DISABLED_ENV) is not None
