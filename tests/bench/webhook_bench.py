"""Webhook benchmark for `make bench`: signed deliveries/s, latency at 50/s, raw create rate, RSS.

Starts its own control plane and the real `review-operator webhook` process on loopback, then:
1. the raw rate at which the API server accepts ReviewJob creates from a plain client (16 threads);
2. the webhook's throughput with the same concurrency (distinct signed deliveries, one create each);
   1 and 2 alternate for `ROUNDS` rounds and the medians are compared (single rounds of about a
   second each swing by ±15 % on a shared two-core machine);
3. p50/p99 latency of deliveries sent open-loop at 50 per second;
4. the webhook process's RSS (current and peak) after the load;
5. two replicas behind one address at 200 deliveries/s for 60 s with 10 % duplicates (`webhook_scale`).
Everything it starts is stopped; loops are bounded.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from kubernetes import client, config

from review_operator.k8s import reviewjobs
from review_operator.webhook.events import Create, Policy, decide
from review_operator.webhook.signature import sign
from tests.bench import webhook_scale
from tests.bench.procfs import cpu_seconds, status_kib
from tests.harness.controlplane import REPO_ROOT, ControlPlane, free_port
from tests.integration.webhook_helpers import example

CRD_FILE = REPO_ROOT / "crds" / "reviewjobs.review-operator.dev.yaml"
SECRET = "bench-" + uuid.uuid4().hex
NAMESPACE = "bench"
CONCURRENCY = 16
THROUGHPUT_DELIVERIES = 400
RAW_CREATES = 400
PACED_RATE = 50.0
PACED_DELIVERIES = 250
ROUNDS = 3
_CPU: dict[str, list[float]] = {}


def _payload(index: int, pr_number: int) -> bytes:
    payload = example("pull_request", "opened")
    payload["pull_request"]["head"]["sha"] = f"{index:012x}".ljust(40, "0")  # names use 12 chars
    payload["pull_request"]["number"] = pr_number
    return json.dumps(payload).encode()


def _raw_manifest(index: int) -> dict[str, Any]:
    body = json.loads(_payload(index, 1))
    decision = decide(
        "pull_request", f"raw-{index}", body, Policy(frozenset({"OWNER"}), frozenset()), datetime.now(UTC)
    )
    assert isinstance(decision, Create)
    manifest = decision.job.to_manifest()
    manifest["metadata"]["name"] = f"raw-{index}"
    return manifest


def _raw_create_rate(api: client.ApiClient, round_: int = 0) -> float:
    offset = round_ * 10_000
    manifests = [_raw_manifest(offset + i) for i in range(RAW_CREATES + 10)]
    for manifest in manifests[RAW_CREATES:]:  # warm-up, as for the webhook
        reviewjobs.create(api, NAMESPACE, manifest, timeout=10)
    manifests = manifests[:RAW_CREATES]
    started, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(lambda m: reviewjobs.create(api, NAMESPACE, m, timeout=10), manifests))
    _CPU.setdefault("raw client ms/create", []).append((time.process_time() - cpu) / RAW_CREATES * 1000)
    return RAW_CREATES / (time.perf_counter() - started)


async def _deliver(session: aiohttp.ClientSession, url: str, body: bytes) -> tuple[int, float]:
    headers = {
        "X-GitHub-Event": "pull_request",
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(body, SECRET.encode()),
        "Content-Type": "application/json",
    }
    started = time.perf_counter()
    async with session.post(url, data=body, headers=headers) as response:
        await response.read()
        return response.status, time.perf_counter() - started


async def _throughput(session: aiohttp.ClientSession, url: str, pid: int, round_: int) -> float:
    bodies = [_payload(round_ * 10_000 + i, 2) for i in range(THROUGHPUT_DELIVERIES)]
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    statuses: list[int] = []

    async def worker() -> None:
        while not queue.empty():
            status, _ = await _deliver(session, url, queue.get_nowait())
            statuses.append(status)

    started, cpu, own = time.perf_counter(), cpu_seconds(pid), time.process_time()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    elapsed = time.perf_counter() - started
    _CPU.setdefault("webhook ms/delivery", []).append((cpu_seconds(pid) - cpu) / THROUGHPUT_DELIVERIES * 1000)
    _CPU.setdefault("load generator ms/delivery", []).append(
        (time.process_time() - own) / THROUGHPUT_DELIVERIES * 1000
    )
    assert statuses.count(201) == THROUGHPUT_DELIVERIES, f"unexpected answers: {set(statuses)}"
    return THROUGHPUT_DELIVERIES / elapsed


async def _load(url: str, pid: int, api: client.ApiClient) -> dict[str, float]:
    connector = aiohttp.TCPConnector(limit=CONCURRENCY * 4)
    async with aiohttp.ClientSession(connector=connector) as session:
        # Warm-up: connections, discovery, first TLS handshakes.
        for i in range(10):
            await _deliver(session, url, _payload(10_000_000 + i, 3))

        raw: list[float] = []
        hook: list[float] = []
        for round_ in range(ROUNDS):  # alternating, so both see the same machine
            raw.append(await asyncio.to_thread(_raw_create_rate, api, round_))
            hook.append(await _throughput(session, url, pid, round_))

        latencies: list[float] = []
        paced_statuses: list[int] = []

        async def one(body: bytes) -> None:
            status, seconds = await _deliver(session, url, body)
            paced_statuses.append(status)
            latencies.append(seconds)

        tasks = []
        start = time.perf_counter()
        for i in range(PACED_DELIVERIES):
            delay = start + i / PACED_RATE - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.ensure_future(one(_payload(1_000_000 + i, 4))))
        await asyncio.gather(*tasks)
        assert paced_statuses.count(201) == PACED_DELIVERIES, f"unexpected answers: {set(paced_statuses)}"
    quantiles = statistics.quantiles(latencies, n=100)
    ratios = [h / r for h, r in zip(hook, raw, strict=True)]
    return {
        "throughput": statistics.median(hook),
        "raw": statistics.median(raw),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "p50": quantiles[49] * 1000,
        "p99": quantiles[98] * 1000,
    }


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"webhook exited with {proc.returncode}; see {log}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback)
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"webhook not ready in 30 s; see {log}")


def run() -> list[tuple[str, float, str]]:
    workdir = Path(tempfile.mkdtemp(prefix="reviewop-webhook-bench-"))
    with ControlPlane() as plane:
        plane.kubectl("apply", "-f", str(CRD_FILE))
        plane.kubectl(
            "wait", "--for=condition=Established", "--timeout=60s", "crd/reviewjobs.review-operator.dev"
        )
        plane.kubectl("create", "namespace", NAMESPACE)
        api = config.new_client_from_config(config_file=str(plane.kubeconfig))
        api.configuration.connection_pool_maxsize = CONCURRENCY

        port = free_port()
        log = workdir / "webhook.log"
        env = {
            **plane.env(),
            "REVIEWOP_NAMESPACE": NAMESPACE,
            "REVIEWOP_WEBHOOK_SECRET": SECRET,
            "REVIEWOP_WEBHOOK_HOST": "127.0.0.1",
            "REVIEWOP_WEBHOOK_PORT": str(port),
            "REVIEWOP_WEBHOOK_RATE_PER_SECOND": "0",
            "REVIEWOP_WEBHOOK_API_WORKERS": str(CONCURRENCY),
        }
        with log.open("wb") as log_file:
            proc = subprocess.Popen(
                [sys.executable, "-m", "review_operator.cli", "webhook"],
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                _wait_ready(f"http://127.0.0.1:{port}/readyz", proc, log)
                figures = asyncio.run(_load(f"http://127.0.0.1:{port}/webhook/github", proc.pid, api))
                rss = status_kib(proc.pid, "VmRSS") / 1024
                peak = status_kib(proc.pid, "VmHWM") / 1024
            finally:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=5)
        rounds = iter(range(10, 100))
        try:
            at_scale = webhook_scale.run(
                plane, api, workdir, _wait_ready, lambda: _raw_create_rate(api, next(rounds))
            )
        finally:
            api.close()
    subprocess.run(["rm", "-rf", str(workdir)], check=False)
    raw_rate = figures["raw"]
    return [
        (
            f"webhook: signed deliveries/s (16 concurrent, one create each; median of {ROUNDS})",
            round(figures["throughput"], 1),
            "1/s",
        ),
        (
            f"webhook: raw ReviewJob creates/s (plain client, 16 threads; median of {ROUNDS})",
            round(raw_rate, 1),
            "1/s",
        ),
        ("webhook: throughput / raw create rate", round(figures["throughput"] / raw_rate, 2), "ratio"),
        ("webhook: lowest single-round ratio", round(figures["ratio_min"], 2), "ratio"),
        ("webhook: highest single-round ratio", round(figures["ratio_max"], 2), "ratio"),
        ("webhook: p50 latency at 50 deliveries/s", round(figures["p50"], 1), "ms"),
        ("webhook: p99 latency at 50 deliveries/s", round(figures["p99"], 1), "ms"),
        ("webhook: RSS after load", round(rss, 1), "MB"),
        ("webhook: peak RSS", round(peak, 1), "MB"),
        *(
            (f"webhook: CPU {name} (median)", round(statistics.median(v), 2), "ms")
            for name, v in _CPU.items()
        ),
        *at_scale,
    ]


if __name__ == "__main__":
    for name, value, unit in run():
        print(f"{name}: {value} {unit}")
