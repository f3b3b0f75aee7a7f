"""Scale curve: what the controller costs as the stored ReviewJobs grow (`make bench`, issue #21 item 2).

For each N in `BENCH_SCALE_N` (default 1000, 5000, 20000), two namespaces of stored work (both, or
those named in `BENCH_SCALE_KINDS`: finished, queued):
- *mostly finished*, as in a busy week under the 7-day TTL: 95 % Succeeded, spread over the last
  seven days (labelled finished and with their day, as the controller labels them, with a result
  and a spend record of realistic size), 5 % new; 20 of the new run (reviews that last an hour),
  the rest wait `Queued`;
- *all queued*: N new ReviewJobs, 20 of which run.
A fresh controller is started on each; measured: catch-up (until every new ReviewJob is queued or
started), its RSS, the mean LIST + parse time of a reconcile pass (its own histogram), the CPU it
and the API server use in a window when nothing happens, and, after a SIGTERM restart, the time until
its first reconcile pass has finished. The API server's own consistency checks of its ReviewJob
cache (a full read from etcd every 5 to 7.5 minutes) are counted in the idle window: one that falls
in it dominates the API server's CPU there. Growth per 1000 stored is the slope between the smallest and
the largest N. Each namespace is deleted before the next, so the API server holds one at a time.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

from kubernetes import client

from review_operator.api.models import (
    GROUP,
    PLURAL,
    VERSION,
    AttemptSpend,
    Phase,
    ResultSummary,
    ReviewJobStatus,
    Spend,
    Tokens,
)
from review_operator.builders.names import LABEL_FINISHED, LABEL_FINISHED_DAY
from review_operator.controller.decide.retention import day_label
from tests.bench.controller_bench import Tally, _body, _env, _past_pending, with_crd
from tests.bench.procfs import cpu_seconds, status_kib
from tests.harness.controlplane import ControlPlane, FakeNode
from tests.harness.stack import ControllerProcess

Figure = tuple[str, float, str]
LIMIT = 20
SETTLE_S = float(os.environ.get("BENCH_SCALE_SETTLE_S", "30"))
IDLE_S = float(os.environ.get("BENCH_SCALE_IDLE_S", "60"))


def _finished_status(done: datetime) -> dict[str, Any]:
    """A Succeeded review's status as the controller writes it, finished at `done`."""
    tokens = Tokens(input=48_000, output=3_200, cache_read=120_000, cache_creation=9_000)
    status = ReviewJobStatus(
        phase=Phase.SUCCEEDED,
        reason="Succeeded",
        message="The review was posted.",
        attempts=1,
        pod_name="review-pod-placeholder-1",
        head_sha="f" * 40,
        queued_at=done - timedelta(minutes=5),
        start_time=done - timedelta(minutes=4),
        completion_time=done,
        result=ResultSummary(
            outcome="Succeeded",
            cost_usd=0.42,
            turns=12,
            duration_ms=180_000,
            tokens=tokens,
            findings=4,
            tools_used={"Read": 9, "Grep": 5, "Glob": 2},
        ),
        spend=Spend(
            total_cost_usd=0.42,
            total_tokens=tokens,
            attempts=[
                AttemptSpend(attempt=1, at=done, outcome="Succeeded", cost_usd=0.42, turns=12, tokens=tokens)
            ],
        ),
    )
    return {"status": status.model_dump(mode="json", by_alias=True, exclude_none=True)}


def _store(api: client.ApiClient, ns: str, n: int, finished: int) -> float:
    """Creates n ReviewJobs, the first `finished` of them Succeeded; the seconds it took."""
    crd = client.CustomObjectsApi(api)
    # Spread over the week the TTL keeps, each labelled with its day as the controller labels it.
    ended = [datetime.now(UTC) - timedelta(days=d, hours=12) for d in range(7)]
    statuses = [(day_label(done), _finished_status(done)) for done in ended]
    begin = time.monotonic()

    def work(indices: range) -> None:
        for i in indices:
            body = _body(i, "3600s")
            day, status = statuses[i % len(statuses)]
            if i < finished:
                body["metadata"]["labels"] = {LABEL_FINISHED: "true", LABEL_FINISHED_DAY: day}
            crd.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, body)
            if i < finished:
                name = body["metadata"]["name"]
                crd.patch_namespaced_custom_object_status(GROUP, VERSION, ns, PLURAL, name, status)

    threads = [threading.Thread(target=work, args=(range(k, n, 8),)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.monotonic() - begin


def _metric(port: int, name: str) -> float | None:
    """One sample of the controller's metrics (None while it does not serve them yet)."""
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.split()[-1])
    return None


def _wait_first_pass(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        passes = _metric(port, 'reviewop_reconcile_seconds_count{stage="pass"}')
        if passes is not None and passes >= 1:
            return
        time.sleep(0.05)
    raise TimeoutError("the controller finished no reconcile pass")


def _observe_mean_ms(port: int) -> float:
    total = _metric(port, 'reviewop_reconcile_seconds_sum{stage="observe"}') or 0.0
    count = _metric(port, 'reviewop_reconcile_seconds_count{stage="observe"}') or 0.0
    return 1000 * total / max(1.0, count)


def _consistency_checks(plane: ControlPlane) -> int:
    """How many times the API server has checked its watch cache of ReviewJobs against etcd (feature
    DetectCacheInconsistency, on by default since Kubernetes 1.34: every 5 to 7.5 minutes it reads
    every ReviewJob from etcd and decodes it, whatever the controller does)."""
    text = plane.kubectl("get", "--raw", "/metrics").stdout
    return sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in text.splitlines()
        if line.startswith("apiserver_storage_consistency_checks_total{") and 'resource="reviewjobs"' in line
    )


def _delete_namespace(api: client.ApiClient, ns: str) -> None:
    core = client.CoreV1Api(api)
    # Without a grace period (kwok's pods would wait it out) and in one request each.
    core.delete_collection_namespaced_pod(ns, grace_period_seconds=0)
    client.CustomObjectsApi(api).delete_collection_namespaced_custom_object(GROUP, VERSION, ns, PLURAL)
    core.delete_namespace(ns)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            core.read_namespace(ns)
        except client.ApiException as exc:
            if exc.status == 404:
                return
            raise
        time.sleep(1)
    raise TimeoutError(f"namespace {ns} was not deleted")


def _new(obj: dict[str, Any]) -> bool:
    return LABEL_FINISHED not in (obj["metadata"].get("labels") or {})


def measure(plane: ControlPlane, api: client.ApiClient, n: int, finished: int) -> dict[str, float]:
    kind = "finished" if finished else "queued"
    ns = f"bench-scale-{kind}-{n}"
    client.CoreV1Api(api).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
    active = n - finished
    store_s = _store(api, ns, n, finished)
    # The observer watches only the new ones: its watch of 20000 stored (19000 finished) never
    # counted them (the bench's own client, not the controller: all were past Pending).
    past_pending = Tally(api, ns, lambda o: _new(o) and _past_pending(o), selector=f"!{LABEL_FINISHED}")
    env = _env(LIMIT, 2)
    port = int(env["REVIEWOP_METRICS_PORT"])
    proc = ControllerProcess(plane, ns, plane.workdir / f"bench-scale-{kind}-{n}.log", env)
    begin = time.monotonic()
    proc.start()
    try:
        past_pending.wait_for(active, timeout=1800)
        catch_up = time.monotonic() - begin
        time.sleep(SETTLE_S)  # the last status writes land, a GC pass (every 60 s) is in the window
        assert proc.popen is not None
        pids = (proc.popen.pid, next(p.popen.pid for p in plane.procs if p.name == "kube-apiserver"))
        checks = _consistency_checks(plane)
        before = [cpu_seconds(pid) for pid in pids]
        time.sleep(IDLE_S)
        controller_cpu, apiserver_cpu = (
            100 * (cpu_seconds(pid) - b) / IDLE_S for pid, b in zip(pids, before, strict=True)
        )
        checks = _consistency_checks(plane) - checks
        rss = status_kib(proc.popen.pid) / 1024
        observe_ms = _observe_mean_ms(port)
        proc.stop()  # SIGTERM: the Lease is released
        begin = time.monotonic()
        proc.start()
        _wait_first_pass(port, timeout=600)
        restart = time.monotonic() - begin
    finally:
        proc.stop()
        past_pending.stop()
    began = time.monotonic()
    _delete_namespace(api, ns)
    print(f"  {ns}: stored in {store_s:.0f} s, deleted in {time.monotonic() - began:.0f} s", flush=True)
    return {
        "store": store_s,
        "catch_up": catch_up,
        "rss": rss,
        "observe_ms": observe_ms,
        "controller_cpu": controller_cpu,
        "apiserver_cpu": apiserver_cpu,
        "checks": checks,
        "restart": restart,
    }


def _figures(kind: str, results: dict[int, dict[str, float]]) -> list[Figure]:
    figures: list[Figure] = []
    for n, r in results.items():
        figures += [
            (f"{kind}, N={n}: catch-up after start (every new one queued or started)", r["catch_up"], "s"),
            (f"{kind}, N={n}: controller RSS", r["rss"], "MiB"),
            (f"{kind}, N={n}: mean LIST + parse per reconcile pass", r["observe_ms"], "ms"),
            (f"{kind}, N={n}: controller CPU while idle", r["controller_cpu"], "% of a core"),
            (f"{kind}, N={n}: API server CPU while idle", r["apiserver_cpu"], "% of a core"),
            (
                f"{kind}, N={n}: API server's watch-cache consistency checks of ReviewJobs in that window",
                r["checks"],
                "count",
            ),
            (f"{kind}, N={n}: restart (SIGTERM) → first reconcile pass done", r["restart"], "s"),
        ]
    small, large = min(results), max(results)
    if large > small:
        per_k = 1000 / (large - small)
        figures += [
            (
                f"{kind}: RSS growth per 1000 stored",
                (results[large]["rss"] - results[small]["rss"]) * per_k,
                "MiB",
            ),
            (
                f"{kind}: idle controller CPU growth per 1000 stored",
                (results[large]["controller_cpu"] - results[small]["controller_cpu"]) * per_k,
                "% of a core",
            ),
            (
                f"{kind}: LIST + parse growth per 1000 stored",
                (results[large]["observe_ms"] - results[small]["observe_ms"]) * per_k,
                "ms",
            ),
        ]
    return figures


def run() -> list[Figure]:
    scales = [int(v) for v in os.environ.get("BENCH_SCALE_N", "1000,5000,20000").split(",")]
    nodes = tuple(FakeNode(f"scale-{i}", cpu="64", memory="256Gi", pods="500") for i in range(2))
    with ControlPlane(nodes=nodes) as plane:
        api = with_crd(plane)
        kinds = os.environ.get("BENCH_SCALE_KINDS", "finished,queued").split(",")
        finished = {n: measure(plane, api, n, n - n // 20) for n in scales} if "finished" in kinds else {}
        queued = {n: measure(plane, api, n, 0) for n in scales} if "queued" in kinds else {}
    return (_figures("mostly finished (95 %)", finished) if finished else []) + (
        _figures("all queued", queued) if queued else []
    )


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        for label, value, unit in run():
            print(f"{label}: {value:.2f} {unit}")
