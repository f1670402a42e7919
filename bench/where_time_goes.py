"""Where the server's CPU goes: a summary of py-spy's collapsed stacks (``bench/crowd.py --profile``).

    python3 bench/where_time_goes.py bench/results/profile.txt [--phones 4000] [--cpu-ms 1.4]

Prints the share of samples (a frame counts in its callers too: "inclusive") for the parts of a
phone's three requests named below, and the functions that hold the most samples themselves.
With ``--cpu-ms`` (the bench's server CPU per phone) each share is also given in milliseconds per
phone, so the README can say where each 0.1 ms goes.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

#: (label, pattern matched against one frame "function (file:line)"). Inclusive: the first frame of a
#: stack that matches counts the whole sample once.
PARTS = [
    ("gevent's server: reading and parsing requests", r"(read_request|read_requestline|get_environ) \(.*pywsgi"),
    ("gevent's server: sending answers", r"(_sendall|_write_with_headers|finalize_headers) "),
    ("gevent hub (waiting, scheduling)", r"^Hub\.run "),
    ("requests answered directly (reality/web/direct.py)", r"DirectPhoneRequests\.(_vote|_phone_page) "),
    ("  the phone page, direct", r"DirectPhoneRequests\._phone_page "),
    ("    new identity, cookie signing", r"DirectPhoneRequests\._cookie |IdentityBudget\.take "),
    ("  the votes, direct", r"DirectPhoneRequests\._vote "),
    ("    session cookie (remembered after the first vote)", r"DirectPhoneRequests\._voter "),
    ("requests through Flask (anything else)", r"Flask\.wsgi_app \("),
    ("  Jinja rendering", r"render_template \("),
    ("ShowState.vote (either way)", r"ShowState\.vote "),
    ("  PostgreSQL INSERT (psycopg2 + wait callback)", r"VoteStore\.cast "),
    ("  rate limit (one Redis call)", r"VoterRateLimiter\.hit "),
    ("  event bus publish", r"EventBus\.publish "),
    ("Socket.IO broadcasts (the tally to dashboards)", r"Broadcaster\.(run|tick) "),
]


def load(path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        head, _, count = line.rpartition(" ")
        if head and count.isdigit():
            stacks.append((head.split(";"), int(count)))
    return stacks


def summarize(stacks: list[tuple[list[str], int]], cpu_ms: float | None) -> str:
    total = sum(count for _, count in stacks) or 1
    lines = [f"{total} samples (GIL held)"]
    for label, pattern in PARTS:
        rx = re.compile(pattern)
        hits = sum(count for frames, count in stacks if any(rx.search(frame) for frame in frames))
        # (An anchored pattern is matched against a stack's root frame only.)
        share = hits / total
        ms = f"  {share * cpu_ms:5.2f} ms/phone" if cpu_ms else ""
        lines.append(f"{share:6.1%}{ms}  {label}")
    own: Counter[str] = Counter()
    for frames, count in stacks:
        leaf = re.sub(r":\d+\)$", ")", frames[-1])  # one line per function, not per line
        own[leaf] += count
    lines.append("\nfunctions holding the most samples themselves:")
    for frame, count in own.most_common(25):
        lines.append(f"{count / total:6.1%}  {frame}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description="Summarize py-spy's collapsed stacks of the show's server.")
    parser.add_argument("profile", type=Path)
    parser.add_argument("--cpu-ms", type=float, help="server CPU per phone from the same run (ms)")
    args = parser.parse_args()
    if not args.profile.is_file():
        print(f"No profile at {args.profile}: run bench/crowd.py --profile first.", file=sys.stderr)
        return 1
    print(summarize(load(args.profile), args.cpu_ms))
    return 0


if __name__ == "__main__":
    sys.exit(main())
