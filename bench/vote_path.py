"""Benchmark: the server CPU of one phone's three requests, through the show's own app, without a network.

    python3 bench/vote_path.py                  # 2,000 phones, 3 rounds, 20 at a time
    python3 bench/vote_path.py --phones 5000 --rounds 5

Boots real PostgreSQL and Redis (as the show does: durable storage, bridge addresses), builds the
show's app under gevent, and calls it as the WSGI server does, each phone from its own address:
``GET /qr`` (a new phone: page and cookie), ``POST /api/vote`` (201), ``POST /api/vote`` again (409,
PostgreSQL's UNIQUE constraint), rate limit on. Each request kind runs as its own phase, so the
process's CPU time (user + system) over a phase divided by the phones is that request's cost:
what the app costs per phone, without the load generator or the HTTP server in the same figure.
The machine's other work changes the wall time, much less the CPU time; still, compare A/B
runs from the same minutes. ``bench/crowd.py`` measures the whole show over real sockets.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from reality.green import use_gevent  # noqa: E402  (first: the standard library must be patched)

use_gevent()

import gevent.pool  # noqa: E402

from reality.orchestration import Infrastructure  # noqa: E402
from reality.events import EventBus  # noqa: E402
from reality.votes import VoteStore  # noqa: E402
from reality.web import create_app, shutdown  # noqa: E402

TOKEN = "bench-presenter-token"


def environ(method: str, path: str, address: str, cookie: str | None = None, body: bytes = b"") -> dict:
    """What gevent's server hands the app for one request (the fields the app reads)."""
    env = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "5001", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": address, "REMOTE_PORT": "40000",
        "HTTP_HOST": "127.0.0.1:5001", "HTTP_ACCEPT": "*/*", "HTTP_USER_AGENT": "bench/vote_path",
        "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0), "wsgi.multithread": False, "wsgi.multiprocess": False, "wsgi.run_once": False,
        "wsgi.input_terminated": True,
    }
    if cookie:
        env["HTTP_COOKIE"] = cookie
    if body:
        env["CONTENT_TYPE"] = "application/json"
        env["CONTENT_LENGTH"] = str(len(body))
    return env


def call(app, env: dict) -> tuple[int, dict[str, str], bytes]:
    answer: dict = {}

    def start_response(status, headers, exc_info=None):
        answer["status"], answer["headers"] = int(status.split()[0]), headers

    chunks = app(env, start_response)
    try:
        body = b"".join(chunks)
    finally:
        getattr(chunks, "close", lambda: None)()
    return answer["status"], dict(answer["headers"]), body


class Phone:
    def __init__(self, index: int) -> None:
        self.address = f"127.{10 + (index >> 16) % 240}.{(index >> 8) & 255}.{index & 255}"
        self.cookie: str | None = None

    def open_page(self, app) -> int:
        status, headers, _ = call(app, environ("GET", "/qr", self.address))
        self.cookie = headers.get("Set-Cookie", "").split(";", 1)[0] or None
        return status

    def vote(self, app, choice: str) -> int:
        body = json.dumps({"choice": choice}).encode()
        return call(app, environ("POST", "/api/vote", self.address, self.cookie, body))[0]


def phase(pool_size: int, phones: list[Phone], work) -> tuple[float, dict[int, int]]:
    """Run ``work(phone)`` for every phone, ``pool_size`` at a time; CPU ms per phone and the statuses."""
    statuses: dict[int, int] = {}
    pool = gevent.pool.Pool(pool_size)
    began = time.process_time()
    for status in pool.imap_unordered(work, phones):
        statuses[status] = statuses.get(status, 0) + 1
    return (time.process_time() - began) * 1000 / len(phones), statuses


def main() -> int:
    parser = argparse.ArgumentParser(description="Server CPU per phone through the show's app (no network).")
    parser.add_argument("--phones", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--cprofile", type=Path, help="profile the last round with cProfile into this file")
    args = parser.parse_args()
    infra = Infrastructure(EventBus(), role="bench", fast_storage=False, direct=True, disposable=True)
    app = None
    try:
        infra.start()
        store = VoteStore(lambda: infra.postgres_url)
        store.init_schema()
        app = create_app({"REDIS_URL": lambda: infra.redis_url, "ASYNC_MODE": "gevent", "PRESENTER_TOKEN": TOKEN},
                         bus=EventBus(), store=store)
        state = app.extensions["reality"]
        deadline = time.monotonic() + 30
        while not state.votes_stored() and time.monotonic() < deadline:
            gevent.sleep(0.05)  # the health probe's first round
        choice = state.poll.options[0]
        print(f"{args.phones} phones, {args.concurrency} at a time, rate limit on, {os.cpu_count()} cores, "
              f"load average {os.getloadavg()[0]:.1f}, {time.strftime('%Y-%m-%d %H:%M')}")
        rows = []
        for round_ in range(args.rounds + 1):
            state.reset()
            phones = [Phone(round_ * args.phones + i) for i in range(args.phones)]
            profiler = None
            if args.cprofile and round_ == args.rounds:
                import cProfile

                profiler = cProfile.Profile(time.process_time)  # CPU, not waits
                profiler.enable()
            page, page_statuses = phase(args.concurrency, phones, lambda p: p.open_page(app))
            first, first_statuses = phase(args.concurrency, phones, lambda p: p.vote(app, choice))
            again, again_statuses = phase(args.concurrency, phones, lambda p: p.vote(app, choice))
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(args.cprofile)
            expected = ({200: args.phones}, {201: args.phones}, {409: args.phones})
            if (page_statuses, first_statuses, again_statuses) != expected:
                print(f"unexpected answers: /qr {page_statuses}, vote {first_statuses}, again {again_statuses}")
                return 1
            if round_ == 0:
                continue  # warm-up: imports, first connections, caches
            rows.append((page, first, again))
            print(f"round {round_}: /qr {page:.3f}  vote {first:.3f}  vote again {again:.3f}  "
                  f"= {page + first + again:.3f} ms of CPU per phone  (load average {os.getloadavg()[0]:.1f})",
                  flush=True)
        medians = [statistics.median(column) for column in zip(*rows)]
        print(f"median: /qr {medians[0]:.3f}  vote {medians[1]:.3f}  vote again {medians[2]:.3f}  "
              f"= {sum(medians):.3f} ms per phone")
        return 0
    finally:
        if app is not None:
            shutdown(app)
        infra.stop_all()


if __name__ == "__main__":
    sys.exit(main())
