"""Realistic reviews (`make bench`, issue #21 item 4): a drain where review durations are long-tailed
and hot repositories compete, with the per-repository limit on.

N reviews (1000, `BENCH_MIX_N`) with durations drawn from a lognormal of median T (2 s,
`BENCH_MIX_T`) and p99 10·T (σ = ln 10 / z₀.₉₉), seeded so every run and every peer drains the same
mix; 30 % of them belong to five hot repositories, the rest spread over 95 others. Limits: 20 at
once, 2 per repository. All are stored before the controller starts.

The ideal is the makespan's lower bound for that mix: the total work over 20 slots, each hot
repository's work over its 2, or the longest review, whichever is largest. Fairness: per repository,
the longest a review waited from the start to its pod's creation; the report gives the worst
repository, the worst cold one and the worst hot one (a starved repository would show as a wait far
above its work's share). Posting is off (no GitHub): this measures admission.

Peer (`BENCH_PEERS`, default `Kueue`; empty: none): the same mix through Kueue configured as closely
as it can be to these limits: a Cohort holding the 20 pods, and per repository a ClusterQueue
without quota of its own that borrows at most 2 from it, fed by the repository's LocalQueue; the
Jobs (the same review pods) are stored suspended before Kueue starts, as the ReviewJobs are before
the controller starts.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import statistics
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubernetes import client, watch
from urllib3.exceptions import ProtocolError

from review_operator.api.models import GROUP, PLURAL, VERSION, ReviewJob
from review_operator.builders.names import LABEL_REPOSITORY_ID
from review_operator.builders.pod import build_review_pod
from review_operator.config import ControllerSettings
from tests.bench.controller_bench import SIM, Tally, _env, _finished, with_crd
from tests.bench.podwatch import PodTimes, wait_no_pods, wait_no_workloads
from tests.factories import reviewjob_body
from tests.harness import kueue
from tests.harness.controlplane import ControlPlane, FakeNode
from tests.harness.stack import ControllerProcess

Figure = tuple[str, float, str]
LIMIT = 20
PER_REPO = 2
HOT_REPOS = 5
HOT_SHARE = 0.30
COLD_REPOS = 95
REPO_ID_BASE = 1000
Z99 = 2.3263478740408408  # the standard normal's 99th percentile


@dataclass(frozen=True)
class Review:
    index: int
    repo: int  # 0 .. HOT_REPOS-1 are hot
    seconds: float


def plan_mix(n: int, median_s: float, seed: int = 21) -> list[Review]:
    """The mix: lognormal durations (median `median_s`, p99 ten times it), 30 % in the hot repositories."""
    rng = random.Random(seed)
    sigma = math.log(10) / Z99
    reviews = []
    for i in range(n):
        hot = rng.random() < HOT_SHARE
        repo = rng.randrange(HOT_REPOS) if hot else HOT_REPOS + rng.randrange(COLD_REPOS)
        seconds = median_s * math.exp(rng.gauss(0.0, sigma))
        reviews.append(Review(i, repo, round(seconds, 3)))
    return reviews


def ideal_makespan(reviews: list[Review], limit: int, per_repo: int) -> float:
    """A lower bound of any schedule's drain: all the work over the slots, each repository's work
    over its own slots, the longest review."""
    by_repo: dict[int, float] = defaultdict(float)
    for r in reviews:
        by_repo[r.repo] += r.seconds
    return max(
        sum(r.seconds for r in reviews) / limit,
        max(work / per_repo for work in by_repo.values()),
        max(r.seconds for r in reviews),
    )


def waits_by_repo(started: dict[int, list[float]]) -> dict[int, float]:
    """The longest wait (seconds from the start to a pod's creation) of each repository."""
    return {repo: max(times) for repo, times in started.items() if times}


def _review_body(r: Review) -> dict[str, Any]:
    return reviewjob_body(
        f"mix-{r.index:05d}",
        namespace=None,
        uid="",
        created=None,
        rv=None,
        annotations={f"{SIM}duration": f"{int(r.seconds * 1000)}ms"},
        repo_name=f"mix{r.repo}",
        repo_id=REPO_ID_BASE + r.repo,
        pr=r.index + 1,
        sha=f"{r.index:040x}",
        typed=True,
    )


def _create(api: client.ApiClient, ns: str, reviews: list[Review]) -> None:
    crd = client.CustomObjectsApi(api)

    def work(part: list[Review]) -> None:
        for r in part:
            crd.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, _review_body(r))

    threads = [threading.Thread(target=work, args=(reviews[k::8],)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


class Starts:
    """When each repository's review pods were created, in seconds after `begin` (a pod watch)."""

    def __init__(self) -> None:
        self.begin = time.monotonic()
        self.by_repo: dict[int, list[float]] = defaultdict(list)


def _watch_starts(api: client.ApiClient, ns: str) -> tuple[Starts, Callable[[], None]]:
    starts = Starts()
    w = watch.Watch()

    def run() -> None:
        with contextlib.suppress(ProtocolError):  # the stream is cut when the benchmark stops it
            pods = client.CoreV1Api(api).list_namespaced_pod
            for event in w.stream(pods, ns, timeout_seconds=3600, deserialize=False):
                if event["type"] == "ADDED":
                    labels = event["object"]["metadata"].get("labels") or {}
                    repo = int(labels.get(LABEL_REPOSITORY_ID, "0")) - REPO_ID_BASE
                    starts.by_repo[repo].append(time.monotonic() - starts.begin)

    threading.Thread(target=run, daemon=True).start()
    return starts, w.stop


def _figures(who: str, reviews: list[Review], elapsed: float, starts: Starts) -> list[Figure]:
    ideal = ideal_makespan(reviews, LIMIT, PER_REPO)
    waits = waits_by_repo(starts.by_repo)
    hot = [waits[r] for r in range(HOT_REPOS) if r in waits]
    cold = [w for r, w in waits.items() if r >= HOT_REPOS]
    return [
        (f"{who}: drain", elapsed, "s"),
        (f"{who}: drain / ideal for the mix", elapsed / ideal, "ratio"),
        (f"{who}: longest wait of any repository", max(waits.values()), "s"),
        (f"{who}: longest wait of a hot repository", max(hot), "s"),
        (f"{who}: longest wait of a cold repository", max(cold), "s"),
        (f"{who}: median over cold repositories of their longest wait", statistics.median(cold), "s"),
    ]


def mix_drain(plane: ControlPlane, api: client.ApiClient, reviews: list[Review]) -> list[Figure]:
    ns = "bench-mix"
    client.CoreV1Api(api).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
    starts, stop_watch = _watch_starts(api, ns)
    done = Tally(api, ns, _finished)
    _create(api, ns, reviews)
    proc = ControllerProcess(plane, ns, plane.workdir / "bench-mix.log", _env(LIMIT, PER_REPO))
    starts.begin = time.monotonic()
    proc.start()
    try:
        done.wait_for(len(reviews), timeout=3600)
        elapsed = time.monotonic() - starts.begin
    finally:
        proc.stop()
        stop_watch()
        done.stop()
    return _figures("review-operator", reviews, elapsed, starts)


def _mix_pod(r: Review, ns: str) -> dict[str, Any]:
    """The review pod the controller would make for this review, without its owner."""
    body = _review_body(r)
    body["metadata"] |= {
        "namespace": ns,
        "uid": f"mix-{r.index}",
        "creationTimestamp": "2026-01-01T00:00:00Z",
    }
    job = ReviewJob.model_validate(body)
    settings = ControllerSettings(pod_annotation_passthrough=[SIM])
    pod = build_review_pod(job, 1, job.spec.pull_request.head_sha or "", settings, "", False)
    del pod["metadata"]["ownerReferences"]
    return pod


def kueue_mix_drain(plane: ControlPlane, api: client.ApiClient, reviews: list[Review]) -> list[Figure]:
    """The same mix through Kueue configured as closely as it can be (`kueue.repository_queues`):
    one Cohort of 20 pods, one ClusterQueue per repository borrowing at most 2, the Jobs stored
    suspended in their repository's LocalQueue before Kueue starts."""
    ns = "bench-mix-kueue"
    client.CoreV1Api(api).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
    kueue.install_crds(plane)
    pods = [_mix_pod(r, ns) for r in reviews]
    repos = sorted({f"mix-r{r.repo}" for r in reviews})
    plane.apply(kueue.repository_queues("mix", ns, repos, LIMIT, PER_REPO, kueue.pod_requests(pods[0])))
    starts, stop_watch = _watch_starts(api, ns)
    done = PodTimes(api, ns, len(reviews))
    batch = client.BatchV1Api(api)

    def work(part: list[tuple[Review, dict[str, Any]]]) -> None:
        for r, pod in part:
            batch.create_namespaced_job(ns, kueue.suspended_job(f"mix-{r.index:05d}", pod, f"mix-r{r.repo}"))

    pairs = list(zip(reviews, pods, strict=True))
    threads = [threading.Thread(target=work, args=(pairs[k::8],)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    manager = kueue.Kueue(plane, plane.workdir / ns)
    starts.begin = time.monotonic()
    try:
        manager.start()
        done.wait_all_succeeded(3600)
        elapsed = time.monotonic() - starts.begin
        done.stop()
        stop_watch()
        batch.delete_collection_namespaced_job(ns, propagation_policy="Background")
        wait_no_pods(api, ns)
        wait_no_workloads(api, ns)
    finally:
        manager.stop()
        done.stop()
        stop_watch()
    who = "peer Kueue (a Cohort of 20, a ClusterQueue per repository borrowing 2)"
    return _figures(who, reviews, elapsed, starts)


def run() -> list[Figure]:
    n = int(os.environ.get("BENCH_MIX_N", "1000"))
    median_s = float(os.environ.get("BENCH_MIX_T", "2"))
    peers = os.environ.get("BENCH_PEERS", "Kueue").split(",")  # as the controller benchmark spells them
    reviews = plan_mix(n, median_s)
    nodes = tuple(FakeNode(f"bench-{i}", cpu="64", memory="256Gi", pods="500") for i in range(2))
    label = f"mix of {n} (median {median_s:g} s, p99 10×), limit {LIMIT}, {PER_REPO} per repository"
    # The Job controller runs for the Kueue peer (Kueue unsuspends Jobs; the Job controller makes pods).
    with ControlPlane(nodes=nodes, controllers=("job-controller",)) as plane:
        api = with_crd(plane)
        try:
            figures = [
                ("ideal for the mix (makespan lower bound)", ideal_makespan(reviews, LIMIT, PER_REPO), "s")
            ]
            figures += mix_drain(plane, api, reviews)
            if "Kueue" in peers:
                figures += kueue_mix_drain(plane, api, reviews)
        finally:
            api.close()
    return [(f"{label}: {name}", value, unit) for name, value, unit in figures]


if __name__ == "__main__":
    for name, value, unit in run():
        print(f"{name}: {value:.2f} {unit}")
