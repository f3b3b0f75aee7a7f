"""Webhook at scale (`make bench`, issue #21 item 3): two replicas behind one address, deliveries sent
open-loop at `RATE` per second for `SECONDS`, a tenth of them duplicates of an earlier delivery (a
GitHub redelivery: same body, same delivery id), as a Service would spread them.

"One address": both replicas listen on the same port with SO_REUSEPORT and the kernel spreads the
connections between them, as kube-proxy spreads a Service's. (The product does not set SO_REUSEPORT;
`reuseport_webhook` sets it for this benchmark only.) Measured: p50/p99 latency, the rate achieved,
errors (anything but 201 and 200, or no answer: must be 0), whether every key has exactly one
ReviewJob, each replica's share, and a closed-loop throughput through both replicas against the
raw create rate measured in the same run.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import aiohttp
from kubernetes import client

from review_operator.api.models import GROUP, PLURAL, VERSION
from review_operator.webhook.signature import sign
from tests.bench.procfs import cpu_seconds, status_kib
from tests.harness.controlplane import ControlPlane, free_port
from tests.integration.webhook_helpers import example

RATE = float(os.environ.get("BENCH_WEBHOOK_SCALE_RATE", "200"))
SECONDS = float(os.environ.get("BENCH_WEBHOOK_SCALE_S", "60"))
DUPLICATES = 0.10
NAMESPACE = "bench-scale"
REPLICAS = 2
CLOSED_LOOP = 800
CONCURRENCY = 16
Figure = tuple[str, float, str]


@dataclass(frozen=True)
class Delivery:
    delivery_id: str
    body: bytes
    key: str  # the ReviewJob it must end in (the head SHA: one PR, one repository)


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)


def _deliveries(n: int, prefix: int) -> list[Delivery]:
    """n deliveries, a tenth of them repeats of an earlier one (chosen with a fixed seed)."""
    rng = random.Random(prefix)
    out: list[Delivery] = []
    for i in range(n):
        if out and rng.random() < DUPLICATES:
            out.append(rng.choice(out))
            continue
        payload = example("pull_request", "synchronize")
        sha = f"{prefix:04x}{i:08x}".ljust(40, "0")
        payload["pull_request"]["head"]["sha"] = sha
        payload["pull_request"]["number"] = 7
        payload["pull_request"]["author_association"] = "OWNER"
        out.append(Delivery(str(uuid.uuid4()), json.dumps(payload).encode(), sha))
    return out


async def _send(session: aiohttp.ClientSession, url: str, secret: bytes, d: Delivery, tally: Tally) -> None:
    headers = {
        "X-GitHub-Event": "pull_request",
        "X-GitHub-Delivery": d.delivery_id,
        "X-Hub-Signature-256": sign(d.body, secret),
        "Content-Type": "application/json",
    }
    started = time.perf_counter()
    try:
        async with session.post(url, data=d.body, headers=headers) as response:
            await response.read()
            tally.statuses[response.status] += 1
            if response.status not in (200, 201):
                tally.failures[f"HTTP {response.status}"] += 1
    except (aiohttp.ClientError, TimeoutError) as exc:
        tally.failures[type(exc).__name__] += 1
        return
    tally.latencies.append(time.perf_counter() - started)


async def _open_loop(url: str, secret: bytes, deliveries: list[Delivery]) -> tuple[Tally, float]:
    tally = Tally()
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256), timeout=timeout) as session:
        tasks = []
        start = time.perf_counter()
        for i, d in enumerate(deliveries):
            delay = start + i / RATE - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.ensure_future(_send(session, url, secret, d, tally)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    return tally, elapsed


async def _closed_loop(url: str, secret: bytes, deliveries: list[Delivery]) -> float:
    tally = Tally()
    queue = list(reversed(deliveries))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY * 4)) as session:

        async def worker() -> None:
            while queue:
                await _send(session, url, secret, queue.pop(), tally)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - start
    if tally.failures:
        raise RuntimeError(f"closed loop failures: {dict(tally.failures)}")
    return len(deliveries) / elapsed


def _stored(api: client.ApiClient) -> Counter[str]:
    """How many ReviewJobs each head SHA has in the namespace."""
    crd = client.CustomObjectsApi(api)
    counts: Counter[str] = Counter()
    page = ""
    while True:
        listed = cast(
            dict[str, Any],
            crd.list_namespaced_custom_object(
                GROUP, VERSION, NAMESPACE, PLURAL, limit=500, _continue=page or None
            ),
        )
        for item in listed["items"]:
            counts[item["spec"]["pullRequest"]["headSha"]] += 1
        page = listed["metadata"].get("continue") or ""
        if not page:
            return counts


def _start(plane: ControlPlane, port: int, secret: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **plane.env(),
        "REVIEWOP_NAMESPACE": NAMESPACE,
        "REVIEWOP_WEBHOOK_SECRET": secret,
        "REVIEWOP_WEBHOOK_HOST": "127.0.0.1",
        "REVIEWOP_WEBHOOK_PORT": str(port),
        "REVIEWOP_WEBHOOK_RATE_PER_SECOND": "0",
        "REVIEWOP_WEBHOOK_API_WORKERS": "16",
        "REVIEWOP_LOG_LEVEL": "WARNING",
    }
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.bench.reuseport_webhook"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def run(
    plane: ControlPlane,
    api: client.ApiClient,
    workdir: Path,
    wait_ready: Callable[[str, subprocess.Popen[bytes], Path], None],
    raw_rate: Callable[[], float],
) -> list[Figure]:
    """The figures; `wait_ready` waits for a replica's readiness, `raw_rate` measures one round of
    raw creates (the baseline)."""
    plane.kubectl("create", "namespace", NAMESPACE)
    secret = "bench-" + uuid.uuid4().hex
    port = free_port()
    logs = [workdir / f"webhook-scale-{i}.log" for i in range(REPLICAS)]
    procs = [_start(plane, port, secret, log) for log in logs]
    url = f"http://127.0.0.1:{port}/webhook/github"
    try:
        for proc, log in zip(procs, logs, strict=True):
            wait_ready(f"http://127.0.0.1:{port}/readyz", proc, log)
        cpu0 = [cpu_seconds(p.pid) for p in procs]
        deliveries = _deliveries(int(RATE * SECONDS), 1)
        tally, elapsed = asyncio.run(_open_loop(url, secret.encode(), deliveries))
        cpu = [cpu_seconds(p.pid) - c for p, c in zip(procs, cpu0, strict=True)]
        rss = [status_kib(p.pid, "VmHWM") / 1024 for p in procs]
        stored = _stored(api)
        expected = {d.key for d in deliveries}
        closed = [_deliveries(CLOSED_LOOP, 100 + r) for r in range(2)]
        through, raw = [], []
        for batch in closed:  # alternating with the raw client, so both see the same machine
            raw.append(raw_rate())
            through.append(asyncio.run(_closed_loop(url, secret.encode(), batch)))
    finally:
        _stop(procs)
    keys_ok = set(stored) == expected and all(n == 1 for n in stored.values())
    quantiles = statistics.quantiles(tally.latencies, n=100) if len(tally.latencies) > 1 else [0.0] * 99
    errors = sum(tally.failures.values())
    if errors:
        print(f"  webhook at scale: failures {dict(tally.failures)}", flush=True)
    share = min(cpu) / max(sum(cpu), 1e-9)
    label = f"webhook ×{REPLICAS} at {RATE:g}/s for {SECONDS:g} s, {DUPLICATES:.0%} duplicates"
    return [
        (f"{label}: deliveries sent", float(len(deliveries)), "count"),
        (f"{label}: rate achieved", round(len(deliveries) / elapsed, 1), "1/s"),
        (f"{label}: p50 latency", round(quantiles[49] * 1000, 1), "ms"),
        (f"{label}: p99 latency", round(quantiles[98] * 1000, 1), "ms"),
        (f"{label}: errors (not 201/200, or no answer)", float(errors), "count"),
        (f"{label}: answered 201 (created)", float(tally.statuses[201]), "count"),
        (f"{label}: answered 200 (duplicate)", float(tally.statuses[200]), "count"),
        (f"{label}: keys with exactly one ReviewJob (1 = all {len(expected)})", float(keys_ok), "bool"),
        (f"{label}: smaller replica's share of webhook CPU", round(share, 2), "ratio"),
        (f"{label}: CPU per delivery, both replicas", round(sum(cpu) / len(deliveries) * 1000, 2), "ms"),
        (f"{label}: peak RSS, larger replica", round(max(rss), 1), "MB"),
        (
            f"webhook ×{REPLICAS}, closed loop (16 concurrent, median of 2) / raw create rate",
            round(statistics.median(through) / statistics.median(raw), 2),
            "ratio",
        ),
        (
            f"webhook ×{REPLICAS}, closed loop: deliveries/s (median of 2)",
            round(statistics.median(through), 1),
            "1/s",
        ),
    ]
