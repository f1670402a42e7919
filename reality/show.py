"""Boot, run and stop the show.

Boot: pre-flight checks (Docker reachable, images present, port free) that each fail with one
actionable line; PostgreSQL and Redis started in parallel; the schema; then the web server, and the
dashboard, phone and presenter URLs. Ctrl+C or SIGTERM at any point — during boot too — stops the
server and removes every container this run started.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from . import docker_engine
from .concurrency import selected_mode
from .config import pid_file
from .errors import PortTaken, RealityError
from .events import Event, EventBus
from .poll import Poll
from .public_url import PublicAddress, phone_url

Print = Callable[[str], None]

#: Events worth a line in the presenter's terminal (votes would scroll everything else away).
TERMINAL_KINDS = {"container", "chaos", "service", "mode", "system"}
TERMINAL_ACTIONS = {("ratelimit", "degraded"), ("ratelimit", "restored"), ("test", "finished"), ("test", "started")}


@dataclass(frozen=True)
class ShowOptions:
    """What ``reality_engine.py`` was asked for."""

    host: str
    port: int
    poll: Poll
    public_url: str | None = None


class TerminalLog:
    """Prints the lifecycle events (not the votes) to the presenter's terminal."""

    def __init__(self, out: Print) -> None:
        self.out = out

    def __call__(self, event: Event) -> None:
        if event.kind in TERMINAL_KINDS or (event.kind, event.action) in TERMINAL_ACTIONS:
            self.out(f"  {time.strftime('%H:%M:%S', time.localtime(event.ts))}  {event.message}")


def _port_in_use(port: int) -> str:
    """What to do about a taken port: the advice depends on whether it is an earlier show."""
    from .cleanup import find_show_process  # only on this error path: it brings in rich and Docker

    running = find_show_process()
    if running is not None and running.kind == "process":
        return (f"Port {port} is already in use: {running.name} is still running. Stop it (Ctrl+C in its "
                f"terminal, or `python3 cleanup.py`), or pick another port with --port {port + 1}.")
    return f"Port {port} is already in use by another program: pick another one with --port {port + 1}."


def bind(host: str, port: int) -> socket.socket:
    """Listen on ``host:port`` now, so "port taken" is known before any container starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    # Reuse after a previous run's connections in TIME_WAIT, but never share a live listener.
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit TCP_NODELAY (on Linux). Without it a response written as headers
    # then body waits for the phone's delayed ACK: 40 ms on every request after a connection's first.
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        listener.bind((host, port))
        listener.listen(1024)
    except OSError as exc:
        listener.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortTaken(_port_in_use(port)) from exc
        if exc.errno == errno.EACCES:
            raise PortTaken(f"Port {port} needs privileges here: use --port 5001 or another port above 1024.") from exc
        raise PortTaken(f"Cannot listen on {host}:{port}: {exc.strerror}. Check --host and --port.") from exc
    return listener


class PidFile:
    """``reality.config.pid_file()`` holding this process's pid while the show runs (read by cleanup.py)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or pid_file()

    def write(self) -> None:
        self.path.write_text(f"{os.getpid()}\n")

    def remove(self) -> None:
        try:
            if self.path.read_text().strip() == str(os.getpid()):
                self.path.unlink()
        except OSError:
            pass


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def install_signal_handlers(mode: str) -> None:
    """SIGINT and SIGTERM both unwind the main flow like Ctrl+C, so its ``finally`` cleans up."""
    if mode == "gevent":
        import gevent
        import greenlet

        main = greenlet.getcurrent()
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            gevent.signal_handler(signum, gevent.kill, main, KeyboardInterrupt)
    else:
        signal.signal(signal.SIGINT, _raise_interrupt)
        signal.signal(signal.SIGTERM, _raise_interrupt)
        signal.signal(signal.SIGHUP, _raise_interrupt)  # the terminal window closed


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
        "presenter": f"{dashboard}/?token={token}",
    }


def make_server(mode: str, listener: socket.socket, app: Any) -> Any:
    """A WSGI server on the already-bound ``listener`` for the chosen async mode."""
    if mode == "gevent":
        from gevent.pywsgi import WSGIServer

        return WSGIServer(listener, app, log=None, handler_class=_show_handler())
    from werkzeug.serving import make_server as werkzeug_server

    host, port = listener.getsockname()[:2]
    return werkzeug_server(host, port, app, threaded=True, fd=listener.fileno())


def _show_handler() -> type:
    """gevent's request handler, sending a small response's headers and body in one ``send``.

    gevent's own sends the headers, then the body: two syscalls and two packets per answer (the
    listener sets TCP_NODELAY), and the phone wakes up twice. Bodies over 64 KiB keep its way. And
    with no request log (``log=None``) it still formats every request's log line, to throw it away.
    """
    from gevent.pywsgi import WSGIHandler

    class ShowHandler(WSGIHandler):
        def log_request(self) -> None:
            pass  # the show's server has no request log (see make_server)

        def _write_with_headers(self, data: bytes) -> None:
            self.headers_sent = True
            self.finalize_headers()  # decides on chunked encoding too
            towrite = bytearray(b"HTTP/1.1 ")
            towrite += self.status
            towrite += b"\r\n"
            for header, value in self.response_headers:
                towrite += header + b": " + value + b"\r\n"
            towrite += b"\r\n"
            if self.response_use_chunked or len(data) > 65536:
                self._sendall(towrite)
                self._write(data)
            else:
                towrite += data
                self._sendall(towrite)

    return ShowHandler


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run(options: ShowOptions, out: Print = print, err: Print = _stderr,
        ready: Callable[[dict[str, str]], None] | None = None) -> int:
    """Run the show until Ctrl+C or SIGTERM; returns the process exit code."""
    began = time.perf_counter()
    mode = selected_mode()
    install_signal_handlers(mode)
    bus = EventBus()
    bus.subscribe(TerminalLog(out))
    pid = PidFile()
    infra = None
    app = None
    server = None
    listener: socket.socket | None = None
    code = 0
    try:
        public = phone_url(options.port, options.public_url, listen=options.host)
        client = docker_engine.connect()
        from .provision import require_images

        require_images(client)
        listener = bind(options.host, options.port)
        pid.write()

        from .containers import Infrastructure

        out("Starting PostgreSQL and Redis…")
        # Durable storage: the test-suite shortcuts (synchronous_commit=off) lose the last acknowledged
        # votes when PostgreSQL is killed, and "data kept" after chaos must be true. Measured here:
        # 0.9 ms per commit instead of 0.3 ms.
        # direct: bridge addresses where they answer (the show follows Docker's events: infra.watch()).
        infra = Infrastructure(bus, role="show", client=client, fast_storage=False, direct=True)
        started = start_in_background(infra)
        if mode == "gevent":
            # An import on the hub's thread would stall every greenlet, readiness polls included:
            # load the web stack (about 0.3 s) on a native thread while the databases boot.
            import gevent

            gevent.get_hub().threadpool.apply(import_web_stack)
        from .votes import VoteStore
        from .web import create_app

        started()
        infra.watch()
        # Functions, not URLs: read again at each new connection, since a recovered container can
        # come back at another bridge address (see Infrastructure.address).
        store = VoteStore(lambda: infra.postgres_url)
        store.init_schema()
        app = create_app({"REDIS_URL": lambda: infra.redis_url, "QUESTION": options.poll.question,
                          "OPTIONS": list(options.poll.options), "ASYNC_MODE": mode},
                         bus=bus, store=store, infra=infra, public=public)
        server = make_server(mode, listener, app)
        addresses = urls(options, public, app.config["PRESENTER_TOKEN"])
        out("")
        out(f"Reality Engine is live ({time.perf_counter() - began:.2f} s, {mode}). "
            "Ctrl+C stops it and removes the containers.")
        out(f"  Dashboard   {addresses['dashboard']}")
        out(f"  Phones      {addresses['phone']}   (QR code on the dashboard)")
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
        server.serve_forever()
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


_START_THREADS: list[threading.Thread] = []


def start_in_background(infra: Any) -> Callable[[], None]:
    """Start the containers on another thread; the returned function waits and re-raises a failure."""
    failure: list[BaseException] = []

    def start() -> None:
        try:
            infra.start()
        except BaseException as exc:  # handed to the waiting caller, which decides
            failure.append(exc)

    thread = threading.Thread(target=start, name="start-containers", daemon=True)
    _START_THREADS.append(thread)
    thread.start()

    def wait() -> None:
        while thread.is_alive():
            thread.join(0.1)  # short joins keep Ctrl+C responsive
        if failure:
            raise failure[0]

    return wait


def import_web_stack() -> None:
    from . import votes, web  # noqa: F401


def _sweep_leftovers(client: Any, out: Print) -> None:
    """Remove containers of earlier runs whose process is gone (a run killed with -9)."""
    from .containers import sweep_orphans

    swept = sweep_orphans(client)
    if swept:
        out(f"  Removed {len(swept)} container(s) left by an earlier run that was killed.")


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
    except ValueError as exc:  # a bad REALITY_ASYNC_MODE and the like
        print(f"✗ {exc}", file=sys.stderr)
        return 2
    exit_now_if_a_start_lingers(code)
    return code


def exit_now_if_a_start_lingers(code: int) -> None:
    """End the process at once when a container start is still waiting on a container we removed.

    Stopped during boot, a start can go on polling for a readiness that will never come (its
    container is gone) for many seconds, and Python waits for every executor thread before it
    exits. Everything that matters — containers, pid file — is cleaned up by now.
    """
    if any(thread.is_alive() for thread in _START_THREADS):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
