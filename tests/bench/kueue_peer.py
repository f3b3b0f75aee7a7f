"""Kueue as a peer of the review drain (issue 21 item 1).

N single-pod Jobs, each running the same review pod (the pod the controller would create, simulated by
kwok for T), are stored suspended in a LocalQueue whose ClusterQueue has a quota of L pods; then
Kueue's controller manager (tests/harness/kueue.py, the version tools/kueue/go.mod pins) is started
and the clock starts with it, as it does for review-operator, whose ReviewJobs are stored before its
start too. Kueue makes a Workload for each Job, admits L of them and unsuspends their Jobs; the Job
controller (kube-controller-manager) creates each Job's pod, and marks the Job complete when kwok ends
the pod; Kueue then marks its Workload finished, which frees the quota for the next. The drain ends
when the N-th pod has succeeded, as the Job peer's does. Dispatch latency is measured as every peer's
is (tests/bench/dispatch.py): the i-th pod finished → the (L+i)-th pod created, so here it spans both
controllers; Kueue's own share (a Workload seen finished → the next seen admitted, paired the same way)
is given beside it. CPU and RSS are Kueue's own process (start-up included, as for review-operator), and
kube-controller-manager's CPU in the same span is given beside it.

Kueue expresses one limit here, the ClusterQueue's pod quota; a per-repository limit would need one
ClusterQueue (in a cohort) and one LocalQueue per repository, with each Job labelled with its
repository's queue.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

from kubernetes import client

from tests.bench.dispatch import dispatch_latencies, percentile_ms
from tests.bench.podwatch import PodTimes, WorkloadTimes, wait_no_pods, wait_no_workloads
from tests.bench.procfs import cpu_seconds, machine_load, machine_ticks, status_kib
from tests.harness.controlplane import ControlPlane
from tests.harness.kueue import Kueue, install_crds, pod_requests, queues, suspended_job

Figure = tuple[str, float, str]


def _create_jobs(api: client.ApiClient, ns: str, pod: dict[str, Any], n: int, queue: str) -> None:
    batch = client.BatchV1Api(api)

    def work(indices: range) -> None:
        for i in indices:
            batch.create_namespaced_job(ns, suspended_job(f"review-{i:05d}", pod, queue))

    threads = [threading.Thread(target=work, args=(range(k, n, 8),)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _controller_manager(plane: ControlPlane) -> int:
    return next(p.popen.pid for p in plane.procs if p.name == "kube-controller-manager")


def kueue_drain(
    plane: ControlPlane, api: client.ApiClient, pod: dict[str, Any], n: int, limit: int, review_s: float
) -> list[Figure]:
    ns = f"bench-kueue-{int(review_s * 1000)}ms"
    client.CoreV1Api(api).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
    install_crds(plane)
    plane.apply(queues(ns, ns, limit, pod_requests(pod)))
    pods = PodTimes(api, ns, n)
    workloads = WorkloadTimes(api, ns)
    _create_jobs(api, ns, pod, n, ns)
    kueue = Kueue(plane, plane.workdir / ns)
    kcm = _controller_manager(plane)
    kcm_before, ticks = cpu_seconds(kcm), machine_ticks()
    begin = time.monotonic()
    try:
        kueue.start()
        pods.wait_all_succeeded(3600)
        elapsed = time.monotonic() - begin
        busy, stolen = machine_load(ticks, machine_ticks())
        assert kueue.popen is not None
        cpu_s = cpu_seconds(kueue.popen.pid)
        rss_mib = status_kib(kueue.popen.pid) / 1024
        kcm_s = cpu_seconds(kcm) - kcm_before
        pods.stop()
        workloads.stop()
        # Cleaned up before the next drain, with Kueue still running (it removes its finalizers): the
        # garbage collector deletes the Jobs' pods and Workloads, which the Jobs own.
        client.BatchV1Api(api).delete_collection_namespaced_job(ns, propagation_policy="Background")
        wait_no_pods(api, ns)
        wait_no_workloads(api, ns)
    finally:
        kueue.stop()
        pods.stop()
        workloads.stop()
    ideal = math.ceil(n / limit) * review_s
    latencies = dispatch_latencies(pods.created, pods.finished, limit)
    # Kueue's own share: the i-th Workload finished (its Job complete) → the (L+i)-th admitted.
    admissions = dispatch_latencies(workloads.admitted, workloads.finished, limit)
    first = pods.created[0] - begin if pods.created else math.nan
    return [
        ("peer Kueue (ClusterQueue of L pods, N suspended Jobs): drain", elapsed, "s"),
        ("peer Kueue: drain / ideal", elapsed / ideal, "ratio"),
        ("peer Kueue: start → first pod created", first, "s"),
        ("peer Kueue: dispatch latency p50", percentile_ms(latencies, 0.50), "ms"),
        ("peer Kueue: dispatch latency p99", percentile_ms(latencies, 0.99), "ms"),
        (
            "peer Kueue: of which Kueue's own: Workload finished → next Workload admitted, p50",
            percentile_ms(admissions, 0.50),
            "ms",
        ),
        ("peer Kueue: Workload finished → next admitted, p99", percentile_ms(admissions, 0.99), "ms"),
        ("peer Kueue: Kueue CPU per review (whole drain, start-up included)", cpu_s / n * 1000, "ms"),
        ("peer Kueue: Kueue RSS at the end of the drain", rss_mib, "MiB"),
        (
            "peer Kueue: kube-controller-manager CPU per review meanwhile (the Job controller's pods)",
            kcm_s / n * 1000,
            "ms",
        ),
        ("machine CPU busy during the Kueue drain", busy, "%"),
        ("machine CPU stolen during the Kueue drain", stolen, "%"),
    ]
