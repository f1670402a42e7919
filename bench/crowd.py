"""Benchmark: a conference room of phones against a real reality_engine.py.

Starts the show itself (real PostgreSQL and Redis containers), then behaves like phones: each
simulated phone has its own cookie jar and its own loopback source address (127.x.y.z, so that a
per-address budget on /qr sees a room of phones, not one attacker), opens /qr, votes once, tries
again (must be refused with 409), and optionally keeps a Socket.IO connection for live results, next
to one dashboard client. The rate limit stays ON, as the show runs by default (``--no-rate-limit``
switches it off).

    python3 bench/crowd.py                           # closed loop: bursts of 500 phones, 50 at a time
    python3 bench/crowd.py --modes gevent --phones 1000 --concurrency 100 --scenarios sockets
    python3 bench/crowd.py --modes gevent --open-loop  # phones arrive at a fixed rate, stepped up
    python3 bench/crowd.py --modes gevent --scenarios http --phones 4000 --boots 1 --profile
                                                     # where the server's time goes (py-spy; see bench/where_time_goes.py)

Closed loop prints phones/s, first-vote latency p50/p99/max, status counts, the dashboard's tally lag
after the last vote of a burst, boot time, and the server's CPU: cores, and milliseconds of CPU
(user + system) per phone. Open loop (``--open-loop``): phones arrive at a fixed rate for
``--duration`` seconds, the rate steps up through ``--rates`` until the first-vote p99 goes over
``--p99-target``; it prints the highest rate that stayed under. Writes the figures to
bench/results/crowd.json and a latency plot to bench/results/crowd.png. Only loopback is used, and
every run is bounded (a request gives up after ``REQUEST_TIMEOUT``). The load generator runs on the
same machine and takes its share of the same cores (its CPU per phone is printed too).

Over 300 lines: one script a presenter can run on its own (the crowd of phones, its HTTP client, the
open and closed loops, the figures and the plot), with nothing to install beyond the kit.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
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
#: Every request of a phone gives up after this long: a saturated run still ends.
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=20)
SCENARIOS = {"http": False, "sockets": True}
SCENARIO_NAMES = {"http": "http", "sockets": "with sockets + dashboard"}

#: One loopback address per simulated phone, never reused within a run of the bench.
_addresses = itertools.count()


def phone_address() -> str:
    """A fresh 127.x.y.z source address (all of 127.0.0.0/8 is this machine on Linux)."""
    n = next(_addresses)
    return f"127.{10 + (n >> 16) % 240}.{(n >> 8) & 255}.{n & 255}"


@dataclass
class Burst:
    """Figures from one burst of phones (closed loop) or one rate step (open loop)."""

    mode: str
    scenario: str
    phones: int
    concurrency: int  # closed loop: phones at a time; open loop: 0
    rate_limit: bool = True
    offered_per_s: float | None = None  # open loop: the arrival rate asked for
    wall_s: float = 0.0
    phones_per_s: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)
    errors: int = 0
    duplicates_refused: int = 0
    accepted: int = 0
    db_total: int = 0
    dashboard_total: int = 0
    tally_lag_ms: float | None = None
    tally_messages: int = 0
    disconnects: int = 0
    server_cpu_cores: float = 0.0
    server_cpu_ms_per_phone: float = 0.0
    server_system_share: float = 0.0  # of that CPU, the part spent in the kernel (socket calls)
    bench_cpu_ms_per_phone: float = 0.0
    phone_sockets: int = 0  # sockets scenario: phone sockets connected when broadcasts were measured
    phone_tally_messages: int = 0  # tally messages those sockets received while measuring
    idle_cpu_cores: float = 0.0  # the server's CPU with every socket connected and nobody voting
    broadcast_us_per_socket: float | None = None  # server CPU per tally message to a phone socket
    arrival_late_ms: float = 0.0  # open loop: how far behind schedule the generator started a phone
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
    """The server's CPU time (user + system) and peak RSS over a burst, and the bench's own CPU."""

    def __init__(self, process: psutil.Process) -> None:
        self.process = process
        self.me = psutil.Process()
        self.peak_rss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _cpu(process: psutil.Process) -> float:
        times = process.cpu_times()
        return times.user + times.system

    def __enter__(self) -> "Sampler":
        self._cpu0, self._me0, self._t0 = self._cpu(self.process), self._cpu(self.me), time.perf_counter()
        self._system0 = self.process.cpu_times().system
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_rss = max(self.peak_rss, self.process.memory_info().rss)
            self._stop.wait(0.1)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.wall = time.perf_counter() - self._t0
        self.cpu_s = self._cpu(self.process) - self._cpu0
        self.system_s = self.process.cpu_times().system - self._system0  # the kernel's part: sockets
        self.bench_cpu_s = self._cpu(self.me) - self._me0
        self.cpu_cores = self.cpu_s / self.wall


def jar() -> aiohttp.CookieJar:
    # unsafe=True: aiohttp refuses cookies from bare IP addresses such as 127.0.0.1 otherwise.
    return aiohttp.CookieJar(unsafe=True)


def phone_session() -> aiohttp.ClientSession:
    """A phone: its own cookie jar and its own loopback source address."""
    connector = aiohttp.TCPConnector(local_addr=(phone_address(), 0), limit=4)
    return aiohttp.ClientSession(cookie_jar=jar(), connector=connector, timeout=REQUEST_TIMEOUT)


async def wait_until_voting(server: Server, timeout: float = 60.0) -> None:
    """Return once a fresh phone's first vote is accepted (the show's boot, as a phone sees it)."""
    url = server.url
    began = time.perf_counter()
    while time.perf_counter() - began < timeout:
        if server.process.poll() is not None:
            raise RuntimeError(f"the show exited with {server.process.returncode}: see {server.log.name}")
        try:
            async with phone_session() as phone:
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
    async with aiohttp.ClientSession(timeout=REQUEST_TIMEOUT) as client:
        async with client.post(f"{url}{path}", json=body or {}, headers={"Authorization": f"Bearer {TOKEN}"}) as r:
            return await r.json()


async def results(url: str) -> dict:
    async with aiohttp.ClientSession(timeout=REQUEST_TIMEOUT) as client:
        async with client.get(f"{url}/api/results") as r:
            return await r.json()


class Crowd:
    """One burst's phones, dashboard and bookkeeping."""

    def __init__(self, server: Server, burst: Burst, options: list[str], sockets: bool) -> None:
        self.url = server.url
        self.burst = burst
        self.options = options
        self.sockets = sockets
        self.statuses: Counter[str] = Counter()
        self.accepted_at: list[float] = []
        self.tallies: list[tuple[float, int]] = []
        self.clients: list[socketio.AsyncClient] = []
        self.sessions: list[aiohttp.ClientSession] = []
        self.closing = False
        self.phone_tallies = 0  # tally messages the phones' sockets received

    def on_phone_tally(self, *_: object) -> None:
        self.phone_tallies += 1

    def on_disconnect(self, *_: object) -> None:
        if not self.closing:  # only disconnects the server caused, not ours at the end
            self.burst.disconnects += 1

    async def connect_dashboard(self) -> None:
        self.dashboard = socketio.AsyncClient(reconnection=False)
        self.dashboard.on("tally", lambda doc: self.tallies.append((time.perf_counter(), doc.get("total", 0))))
        await self.dashboard.connect(self.url, auth={"role": "dashboard"})

    async def phone(self, socket: bool | None = None) -> None:
        url, burst = self.url, self.burst
        session = phone_session()
        socket = self.sockets if socket is None else socket
        try:
            async with session.get(f"{url}/qr") as page:
                await page.read()
            if socket:
                # The phone's own session: its cookie and its source address reach the socket too.
                client = socketio.AsyncClient(reconnection=False, http_session=session)
                client.on("disconnect", self.on_disconnect)
                client.on("tally", self.on_phone_tally)
                await client.connect(url, auth={"role": "phone"}, transports=["websocket"])
                self.clients.append(client)
            choice = random.choice(self.options)
            began = time.perf_counter()
            async with session.post(f"{url}/api/vote", json={"choice": choice}) as answer:
                await answer.read()
                ended = time.perf_counter()
                self.statuses[str(answer.status)] += 1
                if answer.status == 201:
                    burst.latencies_ms.append((ended - began) * 1000)
                    self.accepted_at.append(ended)
            async with session.post(f"{url}/api/vote", json={"choice": choice}) as again:
                await again.read()
                self.statuses[f"{again.status} (again)"] += 1
                burst.duplicates_refused += again.status == 409
        except (aiohttp.ClientError, asyncio.TimeoutError, socketio.exceptions.ConnectionError) as exc:
            burst.errors += 1
            self.statuses[type(exc).__name__] += 1
        finally:
            if socket:
                self.sessions.append(session)  # closed after its socket, at the end of the burst
            else:
                await session.close()

    async def wait_for_tally(self) -> None:
        """Until the dashboard shows every accepted vote (at most 5 s)."""
        accepted = len(self.accepted_at)
        deadline = time.perf_counter() + 5
        while time.perf_counter() < deadline and not any(total >= accepted for _, total in self.tallies):
            await asyncio.sleep(0.01)

    async def measure_broadcasts(self, server: psutil.Process, cpu_per_phone_s: float, seconds: float = 4.0,
                                 per_s: float = 4.0) -> None:
        """Server CPU per tally message to a phone socket, with every phone's socket still connected.

        Two seconds idle give the baseline (pings, health probes); then a few phones without sockets
        vote ``per_s`` times a second, so the tally changes and is pushed to every phone socket (at
        most every 0.5 s). What the server spent beyond the baseline and those phones' own requests
        (``cpu_per_phone_s`` each, from the burst), divided by the tally messages the phones received.
        """
        cpu = Sampler._cpu
        await asyncio.sleep(1.0)  # the burst's last broadcasts
        idle0, t0 = cpu(server), time.perf_counter()
        await asyncio.sleep(2.0)
        idle_rate = (cpu(server) - idle0) / (time.perf_counter() - t0)
        received0, cpu0, t1 = self.phone_tallies, cpu(server), time.perf_counter()
        voters = []
        for _ in range(round(seconds * per_s)):
            voters.append(asyncio.create_task(self.phone(socket=False)))
            await asyncio.sleep(1 / per_s)
        await asyncio.gather(*voters)
        await asyncio.sleep(0.8)  # the last change reaches the phones (their interval is 0.5 s)
        spent = cpu(server) - cpu0 - idle_rate * (time.perf_counter() - t1) - len(voters) * cpu_per_phone_s
        messages = self.phone_tallies - received0
        self.burst.phone_sockets = len(self.clients)
        self.burst.phone_tally_messages = messages
        self.burst.idle_cpu_cores = round(idle_rate, 3)
        self.burst.broadcast_us_per_socket = round(spent * 1e6 / messages, 1) if messages else None

    async def finish(self, sampler: Sampler, began: float) -> None:
        """Fill in the burst's figures and close every client."""
        burst = self.burst
        # The dashboard's view: first tally after the last accepted vote that counts every vote.
        accepted = len(self.accepted_at)
        last_vote = max(self.accepted_at, default=began)
        matching = [t for t, total in self.tallies if total >= accepted]
        burst.tally_lag_ms = round((matching[0] - last_vote) * 1000, 1) if matching else None
        burst.tally_messages = sum(1 for t, _ in self.tallies if began <= t)
        burst.dashboard_total = self.tallies[-1][1] if self.tallies else 0
        burst.db_total = (await results(self.url))["total"]
        burst.accepted = accepted
        burst.statuses = dict(sorted(self.statuses.items()))
        burst.server_cpu_cores = round(sampler.cpu_cores, 2)
        burst.server_cpu_ms_per_phone = round(sampler.cpu_s * 1000 / burst.phones, 2)
        burst.server_system_share = round(sampler.system_s / sampler.cpu_s, 2) if sampler.cpu_s else 0.0
        burst.bench_cpu_ms_per_phone = round(sampler.bench_cpu_s * 1000 / burst.phones, 2)
        burst.server_rss_mb = round(sampler.peak_rss / 1e6, 1)
        latencies = sorted(burst.latencies_ms) or [0.0]
        burst.p50_ms = round(statistics.median(latencies), 1)
        burst.p99_ms = round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 1)
        burst.max_ms = round(latencies[-1], 1)
        if self.clients:  # after the burst's figures: the phones voting here are not part of them
            refused = burst.duplicates_refused
            await self.measure_broadcasts(sampler.process, sampler.cpu_s / burst.phones)
            burst.duplicates_refused = refused
        self.closing = True
        await asyncio.gather(*(client.disconnect() for client in self.clients), return_exceptions=True)
        await asyncio.gather(*(session.close() for session in self.sessions), return_exceptions=True)
        await self.dashboard.disconnect()


async def prepare_burst(server: Server, rate_limit: bool) -> list[str]:
    """A clean show (no votes, no counts) with the rate limit as asked; returns the options."""
    await presenter(server.url, "/api/presenter/reset")  # resets the rate limit to the show's default too
    await presenter(server.url, "/api/presenter/rate-limit", {"enabled": rate_limit})
    return (await results(server.url))["options"]


async def run_burst(server: Server, scenario: str, phones: int, concurrency: int, rate_limit: bool) -> Burst:
    """Closed loop: ``phones`` phones, ``concurrency`` at a time, as fast as the server answers."""
    options = await prepare_burst(server, rate_limit)
    burst = Burst(server.mode, SCENARIO_NAMES[scenario], phones, concurrency, rate_limit)
    crowd = Crowd(server, burst, options, SCENARIOS[scenario])
    await crowd.connect_dashboard()
    gate = asyncio.Semaphore(concurrency)

    async def phone() -> None:
        async with gate:
            await crowd.phone()

    with Sampler(server.ps) as sampler:
        began = time.perf_counter()
        await asyncio.gather(*(phone() for _ in range(phones)))
        burst.wall_s = time.perf_counter() - began
        await crowd.wait_for_tally()
    await crowd.finish(sampler, began)
    burst.phones_per_s = round(phones / burst.wall_s, 1)
    return burst


async def run_open_loop(server: Server, scenario: str, rate: float, duration: float, rate_limit: bool) -> Burst:
    """Open loop: a new phone every 1/``rate`` s for ``duration`` s, however slowly the server answers."""
    options = await prepare_burst(server, rate_limit)
    phones = max(1, round(rate * duration))
    burst = Burst(server.mode, f"open loop {rate:g}/s", phones, 0, rate_limit, offered_per_s=rate)
    crowd = Crowd(server, burst, options, SCENARIOS[scenario])
    await crowd.connect_dashboard()
    loop = asyncio.get_running_loop()
    tasks = []
    late = 0.0
    with Sampler(server.ps) as sampler:
        began = time.perf_counter()
        start = loop.time()
        for index in range(phones):
            due = start + index / rate
            if due > loop.time():
                await asyncio.sleep(due - loop.time())
            late = max(late, loop.time() - due)
            tasks.append(asyncio.create_task(crowd.phone()))
        await asyncio.gather(*tasks)
        burst.wall_s = time.perf_counter() - began
        await crowd.wait_for_tally()
    await crowd.finish(sampler, began)
    burst.arrival_late_ms = round(late * 1000, 1)
    # Phones served per second of arrivals: below the offered rate once the server falls behind.
    burst.phones_per_s = round(phones / burst.wall_s, 1)
    return burst


def describe(burst: Burst) -> str:
    lag = f"{burst.tally_lag_ms:.0f} ms" if burst.tally_lag_ms is not None else "never"
    late = f"  arrivals late by up to {burst.arrival_late_ms:.0f} ms" if burst.offered_per_s else ""
    if burst.broadcast_us_per_socket is not None:
        late += (f"  tally broadcast: {burst.broadcast_us_per_socket:.0f} us of server CPU per phone socket "
                 f"({burst.phone_tally_messages} messages to {burst.phone_sockets} sockets; idle with them "
                 f"connected: {burst.idle_cpu_cores:.3f} cores)")
    limit = "" if burst.rate_limit else "  (rate limit OFF)"
    return (f"{burst.mode:9s} {burst.scenario:26s} {burst.phones_per_s:6.0f} phones/s  first vote p50 {burst.p50_ms:5.1f} "
            f"p99 {burst.p99_ms:6.1f} max {burst.max_ms:6.1f} ms  server CPU {burst.server_cpu_ms_per_phone:.2f} ms/phone "
            f"({burst.server_cpu_cores:.2f} cores, {burst.server_system_share:.0%} kernel, bench {burst.bench_cpu_ms_per_phone:.2f} ms/phone)  "
            f"accepted {burst.accepted} db {burst.db_total} dashboard {burst.dashboard_total} "
            f"(lag {lag}, {burst.tally_messages} tally msgs)  refused again {burst.duplicates_refused}  "
            f"errors {burst.errors}  disconnects {burst.disconnects}  {burst.server_rss_mb:.0f} MB  "
            f"{burst.statuses}{late}{limit}")


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
    axis.set_xscale("log")
    axis.set_xlabel("first-vote latency (ms, log scale)")
    axis.set_ylabel("phones answered (%)")
    axis.set_title(f"Reality Engine under a crowd ({os.cpu_count()} cores, load generator on the same machine)")
    axis.grid(alpha=0.3)
    axis.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


async def bench_mode(mode: str, args: argparse.Namespace) -> tuple[list[Burst], list[float], float | None]:
    bursts, boots, capacity = [], [], None
    rate_limit = not args.no_rate_limit
    for attempt in range(args.boots):
        server = Server(mode)
        try:
            await wait_until_voting(server)
            boots.append(time.perf_counter() - server.started)  # from spawning the process
            if attempt < args.boots - 1:
                continue
            spy = start_profile(server, args.profile) if args.profile else None
            for _ in range(args.repeat):
                if args.open_loop:
                    capacity = None
                    for rate in args.rates:
                        burst = await run_open_loop(server, args.scenarios[0], rate, args.duration, rate_limit)
                        bursts.append(burst)
                        print(describe(burst), flush=True)
                        if burst.p99_ms > args.p99_target or burst.errors:
                            break
                        capacity = rate
                    print(f"{mode:9s} open loop: highest arrival rate with first-vote p99 <= {args.p99_target:g} ms: "
                          + (f"{capacity:g} phones/s" if capacity else "none of the rates tried"), flush=True)
                    continue
                for scenario in args.scenarios:
                    bursts.append(await run_burst(server, scenario, args.phones, args.concurrency, rate_limit))
                    print(describe(bursts[-1]), flush=True)
            if spy is not None:
                stop_profile(spy, args.profile)
        finally:
            stopped = server.stop()
            print(f"{mode:9s} stop (SIGINT to process gone): {stopped:.2f} s", flush=True)
    return bursts, boots, capacity


def start_profile(server: Server, out: Path) -> subprocess.Popen:
    """py-spy sampling the server (GIL holders only: its CPU, not its waits) while the bursts run."""
    spy = subprocess.Popen(["py-spy", "record", "--gil", "--format", "raw", "--rate", "250", "--nonblocking",
                            "--output", str(out), "--pid", str(server.process.pid)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # py-spy attaches
    return spy


def stop_profile(spy: subprocess.Popen, out: Path) -> None:
    spy.send_signal(signal.SIGINT)  # py-spy writes its file on Ctrl+C
    try:
        spy.wait(timeout=30)
    except subprocess.TimeoutExpired:
        spy.kill()
        spy.wait()
    print(f"profile (collapsed stacks): {out}; summary: python3 bench/where_time_goes.py {out}", flush=True)


def _list(kind):
    return lambda text: [kind(part.strip()) for part in text.split(",") if part.strip()]


def main() -> int:
    parser = argparse.ArgumentParser(description="Phones against a real reality_engine.py.")
    parser.add_argument("--modes", default="gevent,threading", help="async modes to compare (comma-separated)")
    parser.add_argument("--phones", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--scenarios", type=_list(str), default=["http", "sockets"],
                        help="http (phones only), sockets (each phone holds a Socket.IO connection); comma-separated")
    parser.add_argument("--boots", type=int, default=3, help="boots to time per mode (the last one takes the load)")
    parser.add_argument("--repeat", type=int, default=1, help="run the bursts (or the open-loop steps) this many times")
    parser.add_argument("--no-rate-limit", action="store_true",
                        help="switch the per-phone rate limit off for the bursts (the show runs with it on)")
    parser.add_argument("--open-loop", action="store_true",
                        help="phones arrive at fixed rates (--rates) instead of --concurrency at a time")
    parser.add_argument("--rates", type=_list(float), default=[100, 150, 200, 250, 300, 350, 400, 450, 500],
                        help="open loop: arrival rates to step through, phones/s (stops at the first over the target)")
    parser.add_argument("--duration", type=float, default=8.0, help="open loop: seconds of arrivals per rate (6-10)")
    parser.add_argument("--p99-target", type=float, default=50.0, help="open loop: first-vote p99 to stay under, ms")
    parser.add_argument("--profile", type=Path, nargs="?", const=RESULTS / "profile.txt", default=None,
                        help="record the server with py-spy during the bursts (collapsed stacks; default "
                             "bench/results/profile.txt)")
    args = parser.parse_args()
    unknown = [s for s in args.scenarios if s not in SCENARIOS]
    if unknown or not args.scenarios:
        parser.error(f"--scenarios: use {' or '.join(SCENARIOS)}")
    if not 1 <= args.duration <= 30:
        parser.error("--duration: 1 to 30 seconds (the issue's method uses 6-10)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    shape = (f"open loop, {args.duration:g} s per rate" if args.open_loop
             else f"{args.phones} phones, {args.concurrency} at a time")
    print(f"{shape}, rate limit {'off' if args.no_rate_limit else 'on'}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}, {time.strftime('%Y-%m-%d %H:%M')}")
    everything: dict[str, object] = {"date": time.strftime("%Y-%m-%d %H:%M"), "cores": os.cpu_count(),
                                     "load_average": os.getloadavg()[0], "modes": {}}
    all_bursts = []
    for mode in args.modes.split(","):
        bursts, boots, capacity = asyncio.run(bench_mode(mode.strip(), args))
        print(f"{mode:9s} boot (start to first accepted vote): median {statistics.median(boots):.2f} s "
              f"over {len(boots)} boots: {', '.join(f'{b:.2f}' for b in boots)}", flush=True)
        everything["modes"][mode] = {"boots_s": boots, "open_loop_capacity": capacity,
                                     "bursts": [asdict(b) for b in bursts]}
        all_bursts += bursts
    (RESULTS / "crowd.json").write_text(json.dumps(everything, indent=1))
    plot(all_bursts, RESULTS / "crowd.png")
    print(f"figures: {RESULTS / 'crowd.json'}   plot: {RESULTS / 'crowd.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
