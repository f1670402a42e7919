"""Benchmark: how close does a Testcontainers test session get to a raw container start?

Prints, from one run on one machine (images present):
  1. raw `docker run` of the PostgreSQL image to its first answered query (the floor);
  2. testcontainers' stock PostgresContainer.start() to first query;
  3. Reality Engine's Infrastructure.start("postgres") to first query;
  4. wall time of `python3 -m pytest tests/test_reality.py`;
each as a median over --runs runs and as a ratio to the floor.

    python3 bench/startup.py --runs 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import docker  # noqa: E402
import psycopg2  # noqa: E402
from testcontainers.community.postgres import PostgresContainer  # noqa: E402

from reality import docker_engine  # noqa: E402
from reality.config import LABEL_PROJECT, LABEL_ROLE, POSTGRES_DB, POSTGRES_PASSWORD, POSTGRES_USER, PROJECT  # noqa: E402
from reality.orchestration import Infrastructure, configure_reaper  # noqa: E402
from reality.provision import resolve_image  # noqa: E402


def first_query(url: str, deadline: float = 60.0) -> None:
    end = time.monotonic() + deadline
    while True:
        try:
            with psycopg2.connect(url, connect_timeout=1) as conn, conn.cursor() as cursor:
                cursor.execute("SELECT 1")
            conn.close()
            return
        except psycopg2.OperationalError:
            if time.monotonic() > end:
                raise
            time.sleep(0.01)


def raw_docker_run(client: docker.DockerClient, image: str) -> float:
    began = time.perf_counter()
    container = client.containers.run(
        image, detach=True, ports={"5432/tcp": None},
        environment={"POSTGRES_USER": POSTGRES_USER, "POSTGRES_PASSWORD": POSTGRES_PASSWORD, "POSTGRES_DB": POSTGRES_DB},
        labels={LABEL_PROJECT: PROJECT, LABEL_ROLE: "bench"},
    )
    try:
        container.reload()
        port = container.ports["5432/tcp"][0]["HostPort"]
        first_query(f"postgresql://{POSTGRES_USER}:{POSTGRES_PASSWORD}@127.0.0.1:{port}/{POSTGRES_DB}")
        return time.perf_counter() - began
    finally:
        container.remove(force=True)


def stock_testcontainers(image: str) -> float:
    began = time.perf_counter()
    with PostgresContainer(image, username=POSTGRES_USER, password=POSTGRES_PASSWORD, dbname=POSTGRES_DB,
                           driver=None) as postgres:
        first_query(postgres.get_connection_url())
        return time.perf_counter() - began


def reality_infrastructure() -> float:
    began = time.perf_counter()
    with Infrastructure(role="bench") as infra:
        infra.start("postgres")
        first_query(infra.postgres_url)
        return time.perf_counter() - began


def pytest_wall() -> float:
    began = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pytest", "-q", "tests/test_reality.py"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    client = docker_engine.connect()
    configure_reaper(client)
    image = resolve_image(client, "postgres").image
    print(f"PostgreSQL image: {image}   runs: {args.runs}   cores: {os.cpu_count()}")
    rows = [
        ("raw docker run -> first query", lambda: raw_docker_run(client, image)),
        ("stock PostgresContainer -> first query", lambda: stock_testcontainers(image)),
        ("Infrastructure.start -> first query", reality_infrastructure),
        ("pytest tests/test_reality.py (wall)", pytest_wall),
    ]
    floor = None
    for label, measure in rows:
        samples = [measure() for _ in range(args.runs)]
        median = statistics.median(samples)
        floor = floor or median
        print(f"{label:42s} median {median:6.2f} s   min {min(samples):5.2f}   max {max(samples):5.2f}"
              f"   x{median / floor:4.1f} of raw")
    return 0


if __name__ == "__main__":
    sys.exit(main())
