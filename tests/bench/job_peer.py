"""The Kubernetes Job controller as a peer of the review drain (issue 21 item 1).

One Indexed Job with `parallelism: L` and `completions: N` runs the same N review pods (the pod the
controller would create, simulated by kwok for T) in the same control plane: kube-controller-manager's
Job controller keeps L pods running and creates the next when one succeeds. Its dispatch latency is
measured as the drain's is (the i-th pod that finished paired with the (L+i)-th pod created). The Job
can express one global limit only: no per-repository limit, no retry by failure class, nothing posted.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from typing import Any

from kubernetes import client, watch
from urllib3.exceptions import ProtocolError

from tests.bench.procfs import cpu_seconds, machine_load, machine_ticks, status_kib
from tests.harness.controlplane import ControlPlane

Figure = tuple[str, float, str]


def job_manifest(name: str, pod: dict[str, Any], n: int, limit: int) -> dict[str, Any]:
    """An Indexed Job whose pod template is `pod` (its name and owner left out)."""
    meta = {k: v for k, v in pod["metadata"].items() if k in ("labels", "annotations")}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "completionMode": "Indexed",
            "completions": n,
            "parallelism": limit,
            "backoffLimit": 0,
            "template": {"metadata": meta, "spec": {**pod["spec"], "restartPolicy": "Never"}},
        },
    }


def _controller_manager(plane: ControlPlane) -> int:
    return next(p.popen.pid for p in plane.procs if p.name == "kube-controller-manager")


def job_drain(
    plane: ControlPlane, api: client.ApiClient, pod: dict[str, Any], n: int, limit: int, review_s: float
) -> list[Figure]:
    ns = f"bench-job-{int(review_s * 1000)}ms"
    core = client.CoreV1Api(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
    created: list[float] = []
    finished: list[float] = []
    done = threading.Event()
    w = watch.Watch()

    def record_pods() -> None:
        seen_done: set[str] = set()
        with contextlib.suppress(ProtocolError):  # the stream is cut when the benchmark stops it
            for event in w.stream(core.list_namespaced_pod, ns, timeout_seconds=3600, deserialize=False):
                obj, now = event["object"], time.monotonic()
                name, phase = obj["metadata"]["name"], (obj.get("status") or {}).get("phase")
                if event["type"] == "ADDED":
                    created.append(now)
                elif phase == "Succeeded" and name not in seen_done:
                    seen_done.add(name)
                    finished.append(now)
                    if len(seen_done) >= n:
                        done.set()

    threading.Thread(target=record_pods, daemon=True).start()
    kcm = _controller_manager(plane)
    cpu_before, ticks = cpu_seconds(kcm), machine_ticks()
    begin = time.monotonic()
    client.BatchV1Api(api).create_namespaced_job(ns, job_manifest("drain", pod, n, limit))
    if not done.wait(3600):
        raise TimeoutError(f"the Job finished {len(finished)} of {n} pods")
    elapsed = time.monotonic() - begin
    busy, _ = machine_load(ticks, machine_ticks())
    cpu_s = cpu_seconds(kcm) - cpu_before
    rss_mib = status_kib(kcm) / 1024
    w.stop()
    ideal = math.ceil(n / limit) * review_s
    latencies = sorted(
        created[limit + i] - finished[i]
        for i in range(min(len(finished), len(created) - limit))
        if created[limit + i] >= finished[i]
    )

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else math.nan

    client.BatchV1Api(api).delete_namespaced_job("drain", ns, propagation_policy="Background")
    return [
        ("peer Job (parallelism L, Indexed): drain", elapsed, "s"),
        ("peer Job: drain / ideal", elapsed / ideal, "ratio"),
        ("peer Job: dispatch latency p50", pct(0.50), "ms"),
        ("peer Job: dispatch latency p99", pct(0.99), "ms"),
        ("peer Job: kube-controller-manager CPU per review (all its controllers)", cpu_s / n * 1000, "ms"),
        ("peer Job: kube-controller-manager RSS after the drain (all its controllers)", rss_mib, "MiB"),
        ("machine CPU busy during the Job drain", busy, "%"),
    ]
