"""The show's web app: dashboard, phone page, vote API, presenter controls, live updates.

    app = create_app({"DATABASE_URL": infra.postgres_url, "REDIS_URL": infra.redis_url}, bus=bus, infra=infra)

The app knows URLs and clients, never containers: orchestration hands it connection details and a
controller with ``kill``, ``recover`` and ``state``.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any, Mapping

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface
from flask_socketio import SocketIO
from werkzeug.middleware.proxy_fix import ProxyFix

from .. import config
from ..concurrency import patched_for_gevent
from ..events import EventBus
from ..identities import IdentityBudget
from ..poll import DEFAULT_OPTIONS, DEFAULT_QUESTION, Poll
from ..public_url import PublicAddress
from ..ratelimit import VoterRateLimiter
from ..testrun import TestRun
from ..votes import Store, VoteStore
from ..vocabulary import Kind, SystemAction
from .traffic import REPORT_INTERVAL, TrafficReport, count_library_errors

socketio = SocketIO()

#: A vote is a few dozen bytes; nothing the app accepts comes near this.
MAX_BODY = 4 * 1024
#: Socket.IO long-polling posts batch packets: their own, larger bound.
MAX_SOCKET_BODY = 64 * 1024


def _allowed_origins(public: PublicAddress | None):
    """Socket.IO origin check: the page's own host (also behind a proxy) and the public URL."""
    extra = {public.origin} if public is not None else set()

    def allowed(origin: str | None, environ: Mapping[str, Any]) -> bool:
        if origin is None:
            return True  # not a browser
        hosts = {environ.get("HTTP_HOST", "")} | {h.split(",")[0].strip() for h in
                                                 [environ.get("HTTP_X_FORWARDED_HOST", "")] if h}
        return origin in extra or any(origin in (f"http://{h}", f"https://{h}") for h in hosts if h)

    return allowed


class PerRequestSecureSessions(SecureCookieSessionInterface):
    """Cookies marked Secure on https requests only.

    The same show is reached over https (Codespaces, a tunnel: ``X-Forwarded-Proto``) and over plain
    http (the presenter's http://127.0.0.1, a laptop on the LAN); a Secure cookie sent over http is
    dropped by the browser, and the presenter's login would silently not stick.
    """

    def get_cookie_secure(self, app: Flask) -> bool:
        return self.secure_for(request.environ)

    @staticmethod
    def secure_for(environ: Mapping[str, Any]) -> bool:
        """Whether this request came over https (itself, or to the proxy in front)."""
        return (environ.get("wsgi.url_scheme") == "https"
                or environ.get("HTTP_X_FORWARDED_PROTO", "").split(",")[0].strip() == "https")

    def get_signing_serializer(self, app: Flask):  # -> URLSafeTimedSerializer | None
        # Flask builds a new serializer on every request (every vote reads the cookie): keep one per
        # set of keys instead. A changed SECRET_KEY or fallback list gets a new one.
        keys = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        cached = getattr(self, "_serializer", None)
        if cached is None or cached[0] != keys:
            serializer = super().get_signing_serializer(app)
            cached = (keys, RememberingSerializer(serializer) if serializer is not None else None)
            self._serializer = cached
        return cached[1]


class RememberingSerializer:
    """A cookie serializer that verifies each cookie once: a phone's cookie arrives with every vote.

    Verifying a session cookie (HMAC, base64, Flask's tagged JSON) was about 0.07 ms of CPU per
    request. A cookie string that verified before is remembered with its data and the time it was
    signed; the maximum age is still checked on every use, and a cookie never seen is verified in
    full. Bounded (the oldest are forgotten first), and dropped with the serializer when the keys change.
    """

    MAX_REMEMBERED = 10_000  # about 650 bytes each: 6.5 MB at most, and a room is a few thousand phones

    def __init__(self, serializer: Any) -> None:
        self.serializer = serializer
        self._verified: dict[str, tuple[Any, int]] = {}  # cookie -> (its data, when it was signed)

    def dumps(self, obj: Any, **kwargs: Any) -> Any:
        return self.serializer.dumps(obj, **kwargs)

    def loads(self, s: str | bytes, max_age: int | None = None, **kwargs: Any) -> Any:
        if kwargs or max_age is None or not isinstance(s, str):
            return self.serializer.loads(s, max_age=max_age, **kwargs)
        known = self._verified.get(s)
        if known is not None and 0 <= int(time.time()) - known[1] <= max_age:  # as itsdangerous counts
            return dict(known[0])  # a copy: a session changed in one request is not the next one's
        data, signed = self.serializer.loads(s, max_age=max_age, return_timestamp=True)
        if isinstance(data, dict):
            if len(self._verified) >= self.MAX_REMEMBERED:
                try:
                    del self._verified[next(iter(self._verified))]
                except (KeyError, StopIteration, RuntimeError):  # another thread got there first
                    pass
            self._verified[s] = (dict(data), int(signed.timestamp()))
        return data


def create_app(test_config: Mapping[str, Any] | None = None, *, bus: EventBus | None = None,
               store: Store | None = None, infra: Any = None, public: PublicAddress | None = None,
               tests: TestRun | None = None, settings: Mapping[str, Any] | None = None):
    """Build the app. ``test_config`` overrides settings; the keywords hand over live objects.

    ``settings`` are the ones read from the environment (default: :func:`reality.config.web_settings`).

    Settings: ``DATABASE_URL`` (used when no ``store`` is given), ``REDIS_URL`` (the rate limit's
    Redis; none means local memory only), ``QUESTION``, ``OPTIONS``, ``PRESENTER_TOKEN``,
    ``SECRET_KEY``, ``ASYNC_MODE`` (``gevent`` or ``threading``), ``RATE_LIMIT_PER_MINUTE``,
    ``NODE_MODULES``, ``BACKGROUND_TASKS`` (start the background work now; off,
    :func:`start_background_tasks` does it later), ``PORT`` (names the cookie: two shows on one host
    never share it), ``IDENTITIES_PER_MINUTE`` and ``IDENTITIES_BURST`` (new voter identities per
    client address), ``BEHIND_PROXY`` (believe ``X-Forwarded-For``), ``TRAFFIC_REPORT_SECONDS`` (at
    most one summary line of dropped traffic this often).
    """
    app = Flask(__name__)
    app.config.from_mapping(
        QUESTION=DEFAULT_QUESTION,
        OPTIONS=",".join(DEFAULT_OPTIONS),
        DATABASE_URL=None,
        REDIS_URL=None,
        ASYNC_MODE=None,
        RATE_LIMIT_PER_MINUTE=3,
        RATE_LIMIT_ENABLED=True,
        MAX_CONTENT_LENGTH=MAX_BODY,
        SESSION_COOKIE_NAME="reality",
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_REFRESH_EACH_REQUEST=False,  # no re-signed cookie on every vote
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        BACKGROUND_TASKS=True,
        PORT=None,
        THEME="dark",
        TRAFFIC_REPORT_SECONDS=REPORT_INTERVAL,
    )
    # What the environment says (read in reality.config only): the secret key, the presenter token,
    # the identity budget, whether a proxy is in front, where node_modules is.
    app.config.update(config.web_settings() if settings is None else settings)
    if test_config:
        app.config.update(test_config)
    if app.config["PORT"] and not (test_config and "SESSION_COOKIE_NAME" in test_config):
        # Cookies ignore the port: two shows on one host (5001 and 5002) would otherwise read and
        # overwrite each other's cookie, logging the presenter out and renewing phones' identities.
        app.config["SESSION_COOKIE_NAME"] = f"reality-{int(app.config['PORT'])}"
    app.session_interface = PerRequestSecureSessions()
    app.json.sort_keys = False  # counts follow the options' order
    if not app.config["PRESENTER_TOKEN"]:
        raise ValueError("PRESENTER_TOKEN must not be empty.")

    poll = Poll.parse(app.config["QUESTION"], app.config["OPTIONS"])
    bus = bus or EventBus()
    if store is None:
        if not app.config["DATABASE_URL"]:
            raise ValueError("create_app needs a vote store or DATABASE_URL.")
        store = VoteStore(app.config["DATABASE_URL"])
    limiter = VoterRateLimiter(app.config["REDIS_URL"], bus, per_minute=int(app.config["RATE_LIMIT_PER_MINUTE"]),
                               enabled=bool(app.config["RATE_LIMIT_ENABLED"]))
    identities = IdentityBudget(per_minute=int(app.config["IDENTITIES_PER_MINUTE"]),
                                burst=int(app.config["IDENTITIES_BURST"]))
    # Imported before init_app: socket handlers declared while ``socketio`` has no server yet are kept
    # and given to every server init_app makes; declared later, only the first app would have them.
    from . import routes, sockets

    # gevent only in a process patched for it (reality_engine.py does that); threads otherwise.
    async_mode = app.config["ASYNC_MODE"] or ("gevent" if patched_for_gevent() else "threading")
    # async_handlers=False: a connection's packets are handled one after another on its own reader,
    # so a socket that floods waits for itself instead of spawning a task per packet.
    socketio.init_app(app, async_mode=async_mode, cors_allowed_origins=_allowed_origins(public),
                      max_http_buffer_size=MAX_SOCKET_BODY, logger=False, engineio_logger=False,
                      async_handlers=False)
    # A phone's page and votes answered without Flask's per-request machinery (same contract: direct.py).
    from .direct import DirectPhoneRequests

    app.wsgi_app = DirectPhoneRequests(app.wsgi_app, app)  # type: ignore[method-assign]
    if app.config["BEHIND_PROXY"]:
        # The client's address (what the identity budget counts) from the one proxy in front:
        # ProxyFix takes the last X-Forwarded-For entry, the one that proxy appended, so a client
        # cannot choose its own. Outermost, so the Socket.IO middleware sees it too.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1)  # type: ignore[method-assign]

    from .state import ShowState

    state = ShowState(poll=poll, bus=bus, store=store, limiter=limiter, redis_url=app.config["REDIS_URL"],
                      public=public, infra=infra, tests=tests, spawn=socketio.start_background_task,
                      identities=identities, theme=app.config["THEME"])
    app.extensions["reality"] = state

    routes.register(app)
    broadcaster = sockets.Broadcaster(socketio, state)
    app.extensions["reality.broadcaster"] = broadcaster
    # Dropped traffic (malformed packets, floods, broken requests) reaches the terminal and the
    # dashboard's feed as one summary line at most every few seconds.
    traffic = TrafficReport(lambda line: bus.publish(Kind.SYSTEM, SystemAction.TRAFFIC, line),
                            interval=float(app.config["TRAFFIC_REPORT_SECONDS"]))
    app.extensions["reality.traffic"] = traffic
    count_library_errors(traffic)
    guard = sockets.SocketGuard(socketio.server, traffic)
    guard.install()
    app.extensions["reality.socket_guard"] = guard
    if app.config["BACKGROUND_TASKS"]:
        start_background_tasks(app)
    return app


def start_background_tasks(app: Flask) -> None:
    """Start the app's background work: the health probes, the live updates, the traffic summary.

    ``create_app`` does it unless ``BACKGROUND_TASKS`` is off; the show does it itself, once the
    votes table exists (it builds the app while PostgreSQL creates the table).
    """
    socketio.start_background_task(app.extensions["reality"].maintain)
    socketio.start_background_task(app.extensions["reality.broadcaster"].run)
    socketio.start_background_task(app.extensions["reality.traffic"].run, socketio.sleep)


def shutdown(app: Flask) -> None:
    """Stop the app's background work (probes, broadcasts, a running test process)."""
    app.extensions["reality.broadcaster"].stop()
    app.extensions["reality.traffic"].close()
    app.extensions["reality"].close()
