#!/usr/bin/env python3
"""The show: live dashboard, phone voting and chaos, on real PostgreSQL and Redis.

    python3 reality_engine.py [--host 0.0.0.0] [--port 5001] [--public-url URL] [--behind-proxy]
                              [--question TEXT] [--options "Python,JavaScript,Go,Rust,Java"] [--theme dark|light]

REALITY_PRESENTER_TOKEN sets the presenter token, 16 characters or more (else a random one is printed);
REALITY_SECRET_KEY the cookie key (else random per run); REALITY_ASYNC_MODE gevent (default) or threading;
REALITY_IDENTITIES_BURST / REALITY_IDENTITIES_PER_MINUTE the new voter identities per client address.
"""

import sys

from reality.project_venv import ensure_requirements

ensure_requirements()  # installed in .venv (PEP 668)? Run there. Installed nowhere? One line says what to do.

from reality.concurrency import prepare  # noqa: E402
from reality.config import async_mode  # noqa: E402

try:
    ASYNC_MODE = prepare(async_mode())  # gevent, when chosen, must patch the standard library before anything else loads
except ValueError as problem:  # an unknown REALITY_ASYNC_MODE
    sys.exit(f"✗ {problem}")

import argparse  # noqa: E402

from reality.config import presenter_token_problem, request_timeout, web_settings  # noqa: E402
from reality.poll import DEFAULT_OPTIONS, DEFAULT_QUESTION, InvalidPoll, Poll  # noqa: E402
from reality.public_url import InvalidPublicUrl, normalise_public_url  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description="Reality Engine: the live show.")
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on (default: all, so phones reach it)")
    parser.add_argument("--port", type=int, default=5001, help="port to listen on (default: 5001)")
    parser.add_argument("--public-url", help="address phones use, e.g. https://my-tunnel.example (default: "
                                             "the Codespaces URL, else this machine's LAN address)")
    parser.add_argument("--question", default=DEFAULT_QUESTION, help="the question on the dashboard")
    parser.add_argument("--options", default=",".join(DEFAULT_OPTIONS), help="comma-separated options (2 to 8)")
    parser.add_argument("--behind-proxy", action="store_true",
                        help="a reverse proxy or tunnel forwards the phones: take their address from X-Forwarded-For "
                             "(automatic in Codespaces; never believed otherwise)")
    parser.add_argument("--theme", default="dark",
                        help="the audience screen's colours: dark (default) for a dark room, light for a bright "
                             "one (the presenter console can switch it live)")
    args = parser.parse_args()
    if not 1 <= args.port <= 65535:
        print(f"✗ --port {args.port} is not a port: use 1 to 65535 (default 5001).", file=sys.stderr)
        return 2
    if args.theme not in ("dark", "light"):
        print(f"✗ --theme {args.theme} is not a theme: use dark (a dark room, the default) or light (a bright one).",
              file=sys.stderr)
        return 2
    weak_token = presenter_token_problem()
    if weak_token:  # before anything starts: a guessable token would hand the show to the room
        print(f"✗ {weak_token}", file=sys.stderr)
        return 2
    try:
        poll = Poll.parse(args.question, args.options)
        if args.public_url:
            normalise_public_url(args.public_url)
        settings = web_settings()  # every malformed number the web app reads fails now, before any container starts
        request_timeout()  # and a malformed REALITY_REQUEST_TIMEOUT
    except (InvalidPoll, InvalidPublicUrl, ValueError) as exc:
        print(f"✗ {exc}", file=sys.stderr)
        return 2

    from reality.show import ShowOptions, main as run_show

    return run_show(ShowOptions(host=args.host, port=args.port, poll=poll, public_url=args.public_url,
                                   theme=args.theme, async_mode=ASYNC_MODE, behind_proxy=args.behind_proxy,
                                   web_settings=settings))


if __name__ == "__main__":
    sys.exit(main())
