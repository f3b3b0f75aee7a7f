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
from dataclasses import dataclass

from kubernetes import client, watch
from urllib3.exceptions import ProtocolError

from review_operator.api.models import GROUP, PLURAL, VERSION
from review_operator.builders.names import LABEL_REPOSITORY_ID
from tests.bench.controller_bench import SIM, Tally, _env, _finished, with_crd
from tests.factories import reviewjob_body
from tests.harness.controlplane import ControlPlane, FakeNode
from tests.harness.stack import ControllerProcess

Figure = tuple[str, float, str]
LIMIT = 20
PER_REPO = 2
HOT_REPOS = 5
HOT_SHARE = 0.30
COLD_REPOS = 95
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


def _create(api: client.ApiClient, ns: str, reviews: list[Review]) -> None:
    crd = client.CustomObjectsApi(api)

    def work(part: list[Review]) -> None:
        for r in part:
            body = reviewjob_body(
                f"mix-{r.index:05d}",
                namespace=None,
                uid="",
                created=None,
                rv=None,
                annotations={f"{SIM}duration": f"{int(r.seconds * 1000)}ms"},
                repo_name=f"mix{r.repo}",
                repo_id=1000 + r.repo,
                pr=r.index + 1,
                sha=f"{r.index:040x}",
                typed=True,
            )
            crd.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, body)

    threads = [threading.Thread(target=work, args=(reviews[k::8],)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def mix_drain(
    plane: ControlPlane, api: client.ApiClient, reviews: list[Review], median_s: float
) -> list[Figure]:
    ns = "bench-mix"
    client.CoreV1Api(api).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
    started: dict[int, list[float]] = defaultdict(list)
    begin = [0.0]
    w = watch.Watch()

    def watch_pods() -> None:
        with contextlib.suppress(ProtocolError):
            pods = client.CoreV1Api(api).list_namespaced_pod
            for event in w.stream(pods, ns, timeout_seconds=3600, deserialize=False):
                if event["type"] == "ADDED":
                    labels = event["object"]["metadata"].get("labels") or {}
                    repo = int(labels.get(LABEL_REPOSITORY_ID, "0")) - 1000
                    started[repo].append(time.monotonic() - begin[0])

    threading.Thread(target=watch_pods, daemon=True).start()
    done = Tally(api, ns, _finished)
    _create(api, ns, reviews)
    proc = ControllerProcess(plane, ns, plane.workdir / "bench-mix.log", _env(LIMIT, PER_REPO))
    begin[0] = time.monotonic()
    proc.start()
    try:
        done.wait_for(len(reviews), timeout=3600)
        elapsed = time.monotonic() - begin[0]
    finally:
        proc.stop()
        w.stop()
        done.stop()
    ideal = ideal_makespan(reviews, LIMIT, PER_REPO)
    waits = waits_by_repo(started)
    hot = [waits[r] for r in range(HOT_REPOS) if r in waits]
    cold = [w for r, w in waits.items() if r >= HOT_REPOS]
    label = f"mix of {len(reviews)} (median {median_s:g} s, p99 10×), limit {LIMIT}, {PER_REPO} per repo"
    return [
        (f"{label}: drain", elapsed, "s"),
        (f"{label}: ideal for the mix (makespan lower bound)", ideal, "s"),
        (f"{label}: drain / ideal", elapsed / ideal, "ratio"),
        (f"{label}: longest wait of any repository", max(waits.values()), "s"),
        (f"{label}: longest wait of a hot repository", max(hot), "s"),
        (f"{label}: longest wait of a cold repository", max(cold), "s"),
        (f"{label}: median over cold repositories of their longest wait", statistics.median(cold), "s"),
    ]


def run() -> list[Figure]:
    n = int(os.environ.get("BENCH_MIX_N", "1000"))
    median_s = float(os.environ.get("BENCH_MIX_T", "2"))
    reviews = plan_mix(n, median_s)
    nodes = tuple(FakeNode(f"bench-{i}", cpu="64", memory="256Gi", pods="500") for i in range(2))
    with ControlPlane(nodes=nodes) as plane:
        api = with_crd(plane)
        try:
            return mix_drain(plane, api, reviews, median_s)
        finally:
            api.close()


if __name__ == "__main__":
    for name, value, unit in run():
        print(f"{name}: {value:.2f} {unit}")
