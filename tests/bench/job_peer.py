"""The Kubernetes Job controller as a peer of the review drain (issue 21 item 1).

One Indexed Job with `parallelism: L` and `completions: N` runs the same N review pods (the pod the
controller would create, simulated by kwok for T) in the same control plane: kube-controller-manager's
Job controller keeps L pods running and creates the next when one succeeds. Its dispatch latency is
measured as the drain's is (the i-th pod that finished paired with the (L+i)-th pod created). The Job
can express one global limit only: no per-repository limit, no retry by failure class, nothing posted.
"""

from __future__ import annotations

import math
import time
from typing import Any

from kubernetes import client

from tests.bench.dispatch import dispatch_latencies, percentile_ms
from tests.bench.podwatch import PodTimes, wait_no_pods
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
    pods = PodTimes(api, ns, n)
    kcm = _controller_manager(plane)
    cpu_before, ticks = cpu_seconds(kcm), machine_ticks()
    begin = time.monotonic()
    client.BatchV1Api(api).create_namespaced_job(ns, job_manifest("drain", pod, n, limit))
    pods.wait_all_succeeded(3600)
    elapsed = time.monotonic() - begin
    busy, _ = machine_load(ticks, machine_ticks())
    cpu_s = cpu_seconds(kcm) - cpu_before
    rss_mib = status_kib(kcm) / 1024
    pods.stop()
    ideal = math.ceil(n / limit) * review_s
    latencies = dispatch_latencies(pods.created, pods.finished, limit)

    def pct(p: float) -> float:
        return percentile_ms(latencies, p)

    client.BatchV1Api(api).delete_namespaced_job("drain", ns, propagation_policy="Background")
    wait_no_pods(api, ns)
    return [
        ("peer Job (parallelism L, Indexed): drain", elapsed, "s"),
        ("peer Job: drain / ideal", elapsed / ideal, "ratio"),
        ("peer Job: dispatch latency p50", pct(0.50), "ms"),
        ("peer Job: dispatch latency p99", pct(0.99), "ms"),
        ("peer Job: kube-controller-manager CPU per review (all its controllers)", cpu_s / n * 1000, "ms"),
        ("peer Job: kube-controller-manager RSS after the drain (all its controllers)", rss_mib, "MiB"),
        ("machine CPU busy during the Job drain", busy, "%"),
    ]
