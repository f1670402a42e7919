"""Benchmark: a conference room of phones against a real reality_engine.py.

Starts the show itself (real PostgreSQL and Redis containers), then behaves like phones: each
simulated phone has its own cookie jar, opens /qr, votes once, tries again (must be refused with
409), and optionally keeps a Socket.IO connection for live results, next to one dashboard client.

    python3 bench/crowd.py                       # both async modes, every scenario
    python3 bench/crowd.py --modes gevent --phones 1000 --concurrency 100

Prints phones/s, first-vote latency p50/p99/max, status counts, the dashboard's tally lag after
the last vote of a burst, boot time, and the server's CPU and peak RSS. Writes the figures to
bench/results/crowd.json and a latency plot to bench/results/crowd.png. Only loopback is used.
The load generator runs on the same machine and takes its share of the same cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import aiohttp
import psutil
import socketio

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
TOKEN = "bench-presenter-token"


@dataclass
class Burst:
    """Figures from one burst of phones."""

    mode: str
    scenario: str
    phones: int
    concurrency: int
    wall_s: float = 0.0
    phones_per_s: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)
    duplicates_refused: int = 0
    accepted: int = 0
    db_total: int = 0
    dashboard_total: int = 0
    tally_lag_ms: float | None = None
    tally_messages: int = 0
    disconnects: int = 0
    server_cpu_cores: float = 0.0
    server_rss_mb: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)


class Server:
    """reality_engine.py in a subprocess, on a free loopback port."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(RESULTS / f"server-{mode}.log", "wb")
        # Every bench phone comes from 127.0.0.1, faster than a room ever arrives: the budget of new
        # identities per address (tests/test_identities.py measures it) would refuse most of them.
        env = {**os.environ, "REALITY_ASYNC_MODE": mode, "REALITY_PRESENTER_TOKEN": TOKEN, "PYTHONUNBUFFERED": "1",
               "REALITY_IDENTITIES_BURST": "1000000"}
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "reality_engine.py", "--host", "127.0.0.1", "--port", str(self.port),
             "--public-url", self.url],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.ps = psutil.Process(self.process.pid)

    def stop(self) -> float:
        """SIGINT, as the presenter's Ctrl+C; returns seconds until the process was gone."""
        began = time.perf_counter()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                print(f"{self.mode}: the server ignored SIGINT for 15 s and was killed", flush=True)
        self.log.close()
        return time.perf_counter() - began


class Sampler:
    """Samples the server's CPU time and RSS while a burst runs."""

    def __init__(self, process: psutil.Process) -> None:
        self.process = process
        self.peak_rss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "Sampler":
        times = self.process.cpu_times()
        self._cpu0, self._t0 = times.user + times.system, time.perf_counter()
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_rss = max(self.peak_rss, self.process.memory_info().rss)
            self._stop.wait(0.05)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        times = self.process.cpu_times()
        self.cpu_cores = (times.user + times.system - self._cpu0) / (time.perf_counter() - self._t0)


def jar() -> aiohttp.CookieJar:
    # unsafe=True: aiohttp refuses cookies from bare IP addresses such as 127.0.0.1 otherwise.
    return aiohttp.CookieJar(unsafe=True)


async def wait_until_voting(server: Server, timeout: float = 60.0) -> None:
    """Return once a fresh phone's first vote is accepted (the show's boot, as a phone sees it)."""
    url = server.url
    began = time.perf_counter()
    while time.perf_counter() - began < timeout:
        if server.process.poll() is not None:
            raise RuntimeError(f"the show exited with {server.process.returncode}: see {server.log.name}")
        try:
            async with aiohttp.ClientSession(cookie_jar=jar()) as phone:
                async with phone.get(f"{url}/qr") as page:
                    await page.read()
                async with phone.post(f"{url}/api/vote", json={"choice": "Python"}) as answer:
                    if answer.status == 201:
                        return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.01)
    raise TimeoutError("the show did not accept a vote in time; see bench/results/server-*.log")


async def presenter(url: str, path: str, body: dict | None = None) -> dict:
    async with aiohttp.ClientSession() as client:
        async with client.post(f"{url}{path}", json=body or {}, headers={"Authorization": f"Bearer {TOKEN}"}) as r:
            return await r.json()


async def results(url: str) -> dict:
    async with aiohttp.ClientSession() as client:
        async with client.get(f"{url}/api/results") as r:
            return await r.json()


async def run_burst(server: Server, scenario: str, phones: int, concurrency: int, sockets: bool) -> Burst:
    url = server.url
    await presenter(url, "/api/presenter/reset")
    options = (await results(url))["options"]
    burst = Burst(server.mode, scenario, phones, concurrency)
    statuses: Counter[str] = Counter()
    accepted_at: list[float] = []
    tallies: list[tuple[float, int]] = []
    clients: list[socketio.AsyncClient] = []

    dashboard = socketio.AsyncClient(reconnection=False)
    dashboard.on("tally", lambda doc: tallies.append((time.perf_counter(), doc.get("total", 0))))
    await dashboard.connect(url, auth={"role": "dashboard"})

    closing = False

    def on_disconnect(*_: object) -> None:
        if not closing:  # only disconnects the server caused, not ours at the end
            burst.disconnects += 1

    gate = asyncio.Semaphore(concurrency)

    async def phone(index: int) -> None:
        async with gate:
            async with aiohttp.ClientSession(cookie_jar=jar()) as session:
                async with session.get(f"{url}/qr") as page:
                    await page.read()
                if sockets:
                    cookie = "; ".join(f"{c.key}={c.value}" for c in session.cookie_jar)
                    client = socketio.AsyncClient(reconnection=False)
                    client.on("disconnect", on_disconnect)
                    await client.connect(url, headers={"Cookie": cookie}, auth={"role": "phone"})
                    clients.append(client)
                choice = random.choice(options)
                began = time.perf_counter()
                async with session.post(f"{url}/api/vote", json={"choice": choice}) as answer:
                    await answer.read()
                    ended = time.perf_counter()
                    statuses[str(answer.status)] += 1
                    if answer.status == 201:
                        burst.latencies_ms.append((ended - began) * 1000)
                        accepted_at.append(ended)
                async with session.post(f"{url}/api/vote", json={"choice": choice}) as again:
                    await again.read()
                    statuses[f"{again.status} (again)"] += 1
                    burst.duplicates_refused += again.status == 409

    with Sampler(server.ps) as sampler:
        began = time.perf_counter()
        await asyncio.gather(*(phone(i) for i in range(phones)))
        burst.wall_s = time.perf_counter() - began
        # The dashboard's view: first tally after the last accepted vote that counts every vote.
        accepted = len(accepted_at)
        deadline = time.perf_counter() + 5
        while time.perf_counter() < deadline and not any(total >= accepted for _, total in tallies):
            await asyncio.sleep(0.01)
    last_vote = max(accepted_at, default=began)
    matching = [t for t, total in tallies if total >= accepted]
    burst.tally_lag_ms = round((matching[0] - last_vote) * 1000, 1) if matching else None
    burst.tally_messages = sum(1 for t, _ in tallies if began <= t)
    burst.dashboard_total = tallies[-1][1] if tallies else 0
    burst.db_total = (await results(url))["total"]
    burst.accepted = accepted
    burst.statuses = dict(sorted(statuses.items()))
    burst.server_cpu_cores = round(sampler.cpu_cores, 2)
    burst.server_rss_mb = round(sampler.peak_rss / 1e6, 1)
    closing = True
    await asyncio.gather(*(client.disconnect() for client in clients))
    await dashboard.disconnect()
    latencies = sorted(burst.latencies_ms) or [0.0]
    burst.phones_per_s = round(phones / burst.wall_s, 1)
    burst.p50_ms = round(statistics.median(latencies), 1)
    burst.p99_ms = round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 1)
    burst.max_ms = round(latencies[-1], 1)
    return burst


def describe(burst: Burst) -> str:
    lag = f"{burst.tally_lag_ms:.0f} ms" if burst.tally_lag_ms is not None else "never"
    return (f"{burst.mode:9s} {burst.scenario:26s} {burst.phones_per_s:6.0f} phones/s  first vote p50 {burst.p50_ms:5.1f} "
            f"p99 {burst.p99_ms:6.1f} max {burst.max_ms:6.1f} ms  accepted {burst.accepted} db {burst.db_total} "
            f"dashboard {burst.dashboard_total} (lag {lag}, {burst.tally_messages} tally msgs)  "
            f"refused again {burst.duplicates_refused}  disconnects {burst.disconnects}  "
            f"server {burst.server_cpu_cores:.2f} cores {burst.server_rss_mb:.0f} MB  {burst.statuses}")


def plot(bursts: list[Burst], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(9, 5))
    for burst in bursts:
        latencies = sorted(burst.latencies_ms)
        if not latencies:
            continue
        share = [100 * (i + 1) / len(latencies) for i in range(len(latencies))]
        axis.plot(latencies, share, label=f"{burst.mode} · {burst.scenario} · {burst.phones_per_s:.0f} phones/s")
    axis.axvline(50, color="grey", linestyle="--", linewidth=1)
    axis.text(51, 5, "p99 target 50 ms", color="grey")
    axis.set_xlabel("first-vote latency (ms)")
    axis.set_ylabel("phones answered (%)")
    axis.set_title(f"Reality Engine under a crowd ({os.cpu_count()} cores, load generator on the same machine)")
    axis.grid(alpha=0.3)
    axis.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


async def bench_mode(mode: str, args: argparse.Namespace) -> tuple[list[Burst], list[float]]:
    bursts, boots = [], []
    for attempt in range(args.boots):
        server = Server(mode)
        try:
            await wait_until_voting(server)
            boots.append(time.perf_counter() - server.started)  # from spawning the process
            if attempt < args.boots - 1:
                continue
            await presenter(server.url, "/api/presenter/rate-limit", {"enabled": False})
            bursts.append(await run_burst(server, "http", args.phones, args.concurrency, sockets=False))
            print(describe(bursts[-1]), flush=True)
            bursts.append(await run_burst(server, "with sockets + dashboard", args.phones, args.concurrency, sockets=True))
            print(describe(bursts[-1]), flush=True)
        finally:
            stopped = server.stop()
            print(f"{mode:9s} stop (SIGINT to process gone): {stopped:.2f} s", flush=True)
    return bursts, boots


def main() -> int:
    parser = argparse.ArgumentParser(description="Phones against a real reality_engine.py.")
    parser.add_argument("--modes", default="gevent,threading", help="async modes to compare (comma-separated)")
    parser.add_argument("--phones", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--boots", type=int, default=3, help="boots to time per mode (the last one takes the load)")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    print(f"{args.phones} phones, {args.concurrency} at a time, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}")
    everything: dict[str, object] = {"date": time.strftime("%Y-%m-%d"), "cores": os.cpu_count(), "modes": {}}
    all_bursts = []
    for mode in args.modes.split(","):
        bursts, boots = asyncio.run(bench_mode(mode.strip(), args))
        print(f"{mode:9s} boot (start to first accepted vote): median {statistics.median(boots):.2f} s "
              f"over {len(boots)} boots: {', '.join(f'{b:.2f}' for b in boots)}", flush=True)
        everything["modes"][mode] = {"boots_s": boots, "bursts": [asdict(b) for b in bursts]}
        all_bursts += bursts
    (RESULTS / "crowd.json").write_text(json.dumps(everything, indent=1))
    plot(all_bursts, RESULTS / "crowd.png")
    print(f"figures: {RESULTS / 'crowd.json'}   plot: {RESULTS / 'crowd.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
