"""Boot, run and stop the show.

Boot: pre-flight checks (Docker reachable, images present, port free) that each fail with one
actionable line; PostgreSQL and Redis started in parallel while the web stack is imported; the votes
table created while the app and the web server are built (``reality.boot``); then the dashboard,
phone and presenter URLs. Ctrl+C or SIGTERM at any point — during boot too — stops the
server and removes every container this run started.
"""

from __future__ import annotations

import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from . import config, docker_engine
from .boot import (exit_now_if_a_start_lingers, import_web_stack, in_background, leave_out_asyncio_clients,
                   off_the_hub, start_in_background)
from .concurrency import quick_handoffs
from .errors import RealityError
from .events import Event, EventBus
from .listener import bind
from .pidfile import PidFile
from .poll import Poll
from .public_url import PublicAddress, phone_url
from .vocabulary import Kind, RateLimitAction, TestAction

Print = Callable[[str], None]

#: Events worth a line in the presenter's terminal (votes would scroll everything else away).
TERMINAL_KINDS = {Kind.CONTAINER, Kind.CHAOS, Kind.SERVICE, Kind.MODE, Kind.SYSTEM}
TERMINAL_ACTIONS = {(Kind.RATELIMIT, RateLimitAction.DEGRADED), (Kind.RATELIMIT, RateLimitAction.RESTORED),
                    (Kind.TEST, TestAction.FINISHED), (Kind.TEST, TestAction.STARTED)}


@dataclass(frozen=True)
class ShowOptions:
    """What ``reality_engine.py`` was asked for."""

    host: str
    port: int
    poll: Poll
    public_url: str | None = None
    theme: str = "dark"
    async_mode: str = config.DEFAULT_ASYNC_MODE  # REALITY_ASYNC_MODE, read by the entry script (config.async_mode)
    behind_proxy: bool = False  # --behind-proxy (REALITY_BEHIND_PROXY and Codespaces are read by config.behind_proxy)
    #: The web app's settings as the entry script read and checked them (config.web_settings); None: read them here.
    web_settings: Mapping[str, Any] | None = None


class TerminalLog:
    """Prints the lifecycle events (not the votes) to the presenter's terminal."""

    def __init__(self, out: Print) -> None:
        self.out = out

    def __call__(self, event: Event) -> None:
        if event.kind in TERMINAL_KINDS or (event.kind, event.action) in TERMINAL_ACTIONS:
            self.out(f"  {time.strftime('%H:%M:%S', time.localtime(event.ts))}  {event.message}")


#: Set by a stopping signal during the boot. Its KeyboardInterrupt, raised wherever the main flow is, can
#: be swallowed on the way (about one boot in 300 stopped with SIGTERM went live and stayed up): the
#: boot looks at this before it serves.
STOP_ASKED = threading.Event()


def _raise_interrupt(signum: int, frame: object) -> None:
    STOP_ASKED.set()
    raise KeyboardInterrupt(f"signal {signum}")


def install_signal_handlers(mode: str) -> None:
    """SIGINT and SIGTERM both unwind the main flow like Ctrl+C, so its ``finally`` cleans up."""
    STOP_ASKED.clear()
    if mode == "gevent":
        import gevent
        import greenlet

        main = greenlet.getcurrent()

        def interrupt_main() -> None:
            STOP_ASKED.set()
            gevent.kill(main, KeyboardInterrupt)

        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            gevent.signal_handler(signum, interrupt_main)
    else:
        signal.signal(signal.SIGINT, _raise_interrupt)
        signal.signal(signal.SIGTERM, _raise_interrupt)
        signal.signal(signal.SIGHUP, _raise_interrupt)  # the terminal window closed


def stop_if_asked_during_boot() -> None:
    """Raise the KeyboardInterrupt of a stopping signal that came during the boot, once more."""
    if STOP_ASKED.is_set():
        raise KeyboardInterrupt("a signal during the boot")


def stop_serving_on_signals(server: Any) -> None:
    """Threading mode, once serving: a signal asks Werkzeug's server to stop between two requests.

    Raised as a KeyboardInterrupt, it could land in socketserver's dispatch after a request's thread
    had started and before the dispatch returned: the dispatch then closes that request's socket under
    the thread, which prints a traceback ("Bad file descriptor"; 6 stops in 25 while phones voted).
    Asked, the server ends its loop at its next poll and the main flow's ``finally`` cleans up as before.
    """
    def request_stop(signum: int, frame: object) -> None:
        # shutdown() waits for the loop this very thread runs: it is called from another one.
        try:
            threading.Thread(target=server.shutdown, name="stop-serving", daemon=True).start()
        except RuntimeError:  # no thread to be had (a flood of request threads): stop the old way
            raise KeyboardInterrupt(f"signal {signum}") from None

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, request_stop)


def ignore_signals() -> None:
    """During cleanup a second Ctrl+C must not leave containers behind half-way."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        try:
            signal.signal(signum, signal.SIG_IGN)
        except (ValueError, OSError):
            pass


def urls(options: ShowOptions, public: PublicAddress, token: str) -> dict[str, str]:
    """The three addresses the presenter needs."""
    local_host = "127.0.0.1" if options.host in ("0.0.0.0", "", "::") else options.host
    local = f"http://{local_host}:{options.port}"
    dashboard = public.base if public.source == "codespaces" else local
    return {
        "dashboard": f"{dashboard}/",
        "phone": public.url,
        "presenter": f"{dashboard}/presenter?token={token}",
    }


def make_server(mode: str, listener: socket.socket, app: Any) -> Any:
    """A WSGI server on the already-bound ``listener`` for the chosen async mode.

    (Body limits, request timeouts and quiet handling of broken requests: ``reality.web.server``.)
    """
    from .web.server import make_server as guarded_server

    return guarded_server(mode, listener, app)


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run(options: ShowOptions, out: Print = print, err: Print = _stderr,
        ready: Callable[[dict[str, str]], None] | None = None) -> int:
    """Run the show until Ctrl+C or SIGTERM; returns the process exit code."""
    began = time.perf_counter()
    leave_out_asyncio_clients()
    mode = options.async_mode
    install_signal_handlers(mode)
    bus = EventBus()
    bus.subscribe(TerminalLog(out))
    pid = PidFile(options.port)
    infra = None
    app = None
    server = None
    listener: socket.socket | None = None
    code = 0
    try:
        public = phone_url(options.port, options.public_url, listen=options.host)
        client = docker_engine.connect()
        from .provision import require_images

        images = require_images(client)
        listener = bind(options.host, options.port)
        pid.write()

        from .orchestration import Infrastructure

        out("Starting PostgreSQL and Redis…")
        # Durable storage: the test-suite shortcuts (synchronous_commit=off) lose the last acknowledged
        # votes when PostgreSQL is killed, and "data kept" after chaos must be true. Measured here:
        # 0.9 ms per commit instead of 0.3 ms.
        # direct: bridge addresses where they answer (the show follows Docker's events: infra.watch()).
        infra = Infrastructure(bus, role="show", client=client, fast_storage=False, direct=True,
                               resolved=images)
        # The thread starting a container gets the GIL back at once at each step, instead of after 5 ms,
        # while imports run beside it.
        with quick_handoffs():
            # PostgreSQL first, the longer start: Docker starts it while redis-py, which Redis's start
            # needs, is imported (70 ms). Made before a start begins, no import of a start waits on the
            # web stack's import lock, below.
            postgres_started = start_in_background(infra, "postgres")
            off_the_hub(mode, lambda: infra.prepare("redis"))
            redis_started = start_in_background(infra, "redis")
            # The web stack (about 0.3 s of imports) loads while the databases boot.
            off_the_hub(mode, lambda: import_web_stack(mode))
        from .votes import VoteStore
        from .web import create_app, start_background_tasks

        postgres_started()
        # Functions, not URLs: read again at each new connection, since a recovered container can
        # come back at another bridge address (see Infrastructure.address).
        store = VoteStore(lambda: infra.postgres_url)
        # A new database's first CREATE TABLE takes PostgreSQL 50-180 ms (its caches are cold): the
        # app and the server are built meanwhile (threading; with gevent, the table's greenlet goes
        # on while this one waits for Redis), and their background work waits for the table.
        schema_created = in_background(store.init_schema, "schema")
        redis_started()
        infra.watch()
        app = create_app({"REDIS_URL": lambda: infra.redis_url, "QUESTION": options.poll.question,
                          "OPTIONS": list(options.poll.options), "ASYNC_MODE": mode, "PORT": options.port,
                          "THEME": options.theme, "BACKGROUND_TASKS": False,
                          "BEHIND_PROXY": options.behind_proxy or config.behind_proxy()},
                         bus=bus, store=store, infra=infra, public=public, settings=options.web_settings)
        server = make_server(mode, listener, app)
        schema_created()
        start_background_tasks(app)
        addresses = urls(options, public, app.config["PRESENTER_TOKEN"])
        out("")
        out(f"Reality Engine is live ({time.perf_counter() - began:.2f} s, {mode}). "
            "Ctrl+C stops it and removes the containers.")
        out(f"  Audience    {addresses['dashboard']}   (the projector)")
        out(f"  Phones      {addresses['phone']}   (QR code on the audience screen)")
        out(f"  Presenter   {addresses['presenter']}")
        if public.warning:
            out(f"  Note: {public.warning}")
        if public.source == "codespaces":
            out(f"  Phones need the port public: "
                f"gh codespace ports visibility {options.port}:public -c $CODESPACE_NAME")
        out("")
        if ready is not None:
            ready(addresses)
        threading.Thread(target=_sweep_leftovers, args=(client, out), daemon=True).start()
        if mode == "gevent":
            stop_if_asked_during_boot()
            server.serve_forever()
        else:
            stop_serving_on_signals(server)  # from here a signal stops the loop below, even before it runs
            stop_if_asked_during_boot()
            server.serve_forever(poll_interval=0.05)  # how soon a stop that was asked for is seen
    except KeyboardInterrupt:
        pass
    except RealityError as exc:
        err(f"✗ {exc}")
        code = 1
    finally:
        ignore_signals()
        stopping = time.perf_counter()
        if app is not None:
            from .web import shutdown

            shutdown(app)
        if server is not None:
            _close_server(server)
        if listener is not None:
            listener.close()
        if infra is not None:
            out("Stopping: removing the containers…")
            infra.stop_all()
            out(f"Stopped. Containers removed in {time.perf_counter() - stopping:.1f} s.")
        pid.remove()
    return code


def _sweep_leftovers(client: Any, out: Print) -> None:
    """Remove this checkout's containers of earlier runs whose process is gone (a run killed with -9)."""
    from .orchestration import sweep_orphans

    for line in sweep_orphans(client).lines():
        out(f"  {line}")


def _close_server(server: Any) -> None:
    try:
        if hasattr(server, "server_close"):
            server.server_close()
        else:
            server.stop(timeout=1)
    except Exception:
        pass


def main(options: ShowOptions) -> int:
    """Entry point for ``reality_engine.py``."""
    try:
        code = run(options, out=lambda line: print(line, flush=True))
    except ValueError as exc:  # a malformed setting
        print(f"✗ {exc}", file=sys.stderr)
        return 2
    exit_now_if_a_start_lingers(code)
    return code
