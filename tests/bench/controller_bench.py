"""Controller benchmark: drain time against the ideal, dispatch latency, RSS, catch-up after restart.

N ReviewJobs (default 1000, `BENCH_CONTROLLER_N`) with a global limit L (20) and a simulated review
time T (kwok; 2 s and 10 s by default, `BENCH_CONTROLLER_T`): the ideal drain time is ceil(N/L)·T.
Dispatch latency pairs the i-th pod that finished with the (L+i)-th pod created (the slot it freed).
The baseline, measured in the same run after each drain: the floor of this control plane, the same
N review pods (the controller's own manifests) created directly by L threads, each creating the next
as soon as its pod has succeeded: no controller, no ReviewJobs, only the API server, the scheduler
and kwok. The drain is also given against it, and as the cost per cycle above it.
Then 5000 ReviewJobs are stored (all Pending) and a fresh controller is started: catch-up is the
time until the 20 slots are held, and until every one has been queued or started (5000 status
writes); the RSS is read while it holds them.
Then a restart: the controller is stopped (SIGTERM), the pods of its 20 running reviews are deleted (a node
lost while it was down), and a new one is started: restart catch-up is the time until 20 other
reviews hold the slots, after reading all 5000; a minute later, the CPU the controller and the
API server use in a minute when nothing happens. Posting is off (no GitHub): this measures the
controller.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import threading
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from kubernetes import client, config, watch
from urllib3.exceptions import ProtocolError

from review_operator.api.models import FINAL_PHASES, GROUP, PLURAL, VERSION, ReviewJob
from review_operator.builders.pod import build_review_pod
from review_operator.config import ControllerSettings
from tests.bench.dispatch import dispatch_latencies, percentile_ms
from tests.bench.job_peer import job_drain
from tests.bench.kueue_peer import kueue_drain
from tests.bench.procfs import cpu_seconds, machine_load, machine_ticks, status_kib
from tests.factories import reviewjob_body
from tests.harness.controlplane import ControlPlane, FakeNode, free_port
from tests.harness.stack import ControllerProcess

Figure = tuple[str, float, str]
SIM = "sim.review-operator.dev/"  # kwok's stages read these annotations; the controller passes them on
IDLE_SETTLE_S = 60.0
IDLE_WINDOW_S = 60.0
# The same-run peers of the drain, each given the review pod and N, L, T: tests/bench/job_peer.py and
# tests/bench/kueue_peer.py. Each returns a "peer NAME (how): drain" and a "peer NAME: dispatch latency
# p99" figure, which the drain compares with its own and with the floor.
Peer = Callable[[ControlPlane, client.ApiClient, dict[str, Any], int, int, float], list[Figure]]
PEERS: dict[str, Peer] = {
    "Job": job_drain,
    "Kueue": kueue_drain,
}


def _body(i: int, duration: str) -> dict[str, Any]:
    return reviewjob_body(
        f"bench-{i:05d}",
        namespace=None,
        uid="",
        created=None,
        rv=None,
        annotations={f"{SIM}duration": duration},
        repo_name=f"r{i % 50}",
        repo_id=100 + i % 50,
        pr=i + 1,
        sha=f"{i:040x}",
        typed=True,
    )


def _create_many(api: client.ApiClient, ns: str, n: int, duration: str) -> None:
    crd = client.CustomObjectsApi(api)
    chunks = [range(k, n, 8) for k in range(8)]

    def work(indices: range) -> None:
        for i in indices:
            crd.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, _body(i, duration))

    threads = [threading.Thread(target=work, args=(c,)) for c in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


class Tally:
    """Counts the ReviewJobs of a namespace that reached a state, from a watch (no deserialising into
    models): the benchmark's observer must not load the API server it measures, and polling LISTs
    of thousands of ReviewJobs did (they cost more API-server CPU than the controller's own passes)."""

    def __init__(
        self, api: client.ApiClient, ns: str, reached: Callable[[dict[str, Any]], bool], selector: str = ""
    ) -> None:
        self.reached, self.names = reached, set[str]()
        self._changed = threading.Condition()
        self._watch = watch.Watch()
        self._thread = threading.Thread(target=self._run, args=(api, ns, selector), daemon=True)
        self._thread.start()

    def _run(self, api: client.ApiClient, ns: str, selector: str) -> None:
        crd = client.CustomObjectsApi(api)
        with contextlib.suppress(ProtocolError):  # the stream is cut when the benchmark stops it
            for event in self._watch.stream(
                crd.list_namespaced_custom_object,
                GROUP,
                VERSION,
                ns,
                PLURAL,
                label_selector=selector,
                timeout_seconds=3600,
                deserialize=False,
            ):
                obj = event["object"]
                if event["type"] != "DELETED" and self.reached(obj):
                    with self._changed:
                        self.names.add(obj["metadata"]["name"])
                        self._changed.notify_all()

    def wait_for(self, count: int, timeout: float) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.names) >= count, timeout):
                raise TimeoutError(f"{len(self.names)} of {count} ReviewJobs reached the state")

    def stop(self) -> None:
        self._watch.stop()


def _finished(obj: dict[str, Any]) -> bool:
    return (obj.get("status") or {}).get("phase") in FINAL_PHASES


def _past_pending(obj: dict[str, Any]) -> bool:
    return (obj.get("status") or {}).get("phase") not in (None, "Pending")


def _env(limit: int, per_repo: int) -> dict[str, str]:
    return {
        "REVIEWOP_MAX_CONCURRENT": str(limit),
        "REVIEWOP_MAX_CONCURRENT_PER_REPO": str(per_repo),
        "REVIEWOP_POST_REVIEWS": "false",
        "REVIEWOP_METRICS_PORT": str(free_port()),
        "REVIEWOP_HEALTH_PORT": str(free_port()),
        "REVIEWOP_POD_ANNOTATION_PASSTHROUGH": json.dumps([SIM]),
        "REVIEWOP_LOG_LEVEL": "WARNING",
    }


def _pass_means(port: int) -> dict[str, float]:
    """Mean reconcile stage times from the controller's own histogram."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    sums: dict[str, float] = {}
    for line in text.splitlines():
        for part in ("sum", "count"):
            for stage in ("observe", "pass"):
                if line.startswith(f'reviewop_reconcile_seconds_{part}{{stage="{stage}"}}'):
                    sums[f"{stage}_{part}"] = float(line.split()[-1])
    means = {s: sums[f"{s}_sum"] / max(1.0, sums[f"{s}_count"]) for s in ("observe", "pass")}
    return {**means, "pass_count": sums["pass_count"]}


def _floor_pod(ns: str, i: int, duration: str, settings: ControllerSettings) -> dict[str, Any]:
    """The pod the controller would make for the i-th ReviewJob, without its owner (which does
    not exist here: the garbage collector would delete the pod)."""
    body = _body(i, duration)
    body["metadata"] |= {"namespace": ns, "uid": f"floor-{i}", "creationTimestamp": "2026-01-01T00:00:00Z"}
    job = ReviewJob.model_validate(body)
    pod = build_review_pod(job, 1, job.spec.pull_request.head_sha or "", settings, "", False)
    del pod["metadata"]["ownerReferences"]
    return pod


def floor(api: client.ApiClient, n: int, limit: int, review_s: float) -> float:
    """Seconds for L threads to run N review pods directly, each thread creating its next pod as
    soon as its last one succeeded (and deleting that one beside it): the control plane's floor."""
    ns = f"bench-floor-{int(review_s * 1000)}ms"
    core = client.CoreV1Api(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
    settings = ControllerSettings(pod_annotation_passthrough=[SIM])  # as the drain's controller (_env)
    pods = [_floor_pod(ns, i, f"{int(review_s * 1000)}ms", settings) for i in range(n)]
    succeeded = {pod["metadata"]["name"]: threading.Event() for pod in pods}
    w = watch.Watch()

    def watch_pods() -> None:
        with contextlib.suppress(ProtocolError):  # the stream is cut when the benchmark stops it
            for event in w.stream(core.list_namespaced_pod, ns, timeout_seconds=3600, deserialize=False):
                pod = event["object"]
                if (pod.get("status") or {}).get("phase") == "Succeeded":
                    succeeded[pod["metadata"]["name"]].set()

    threading.Thread(target=watch_pods, daemon=True).start()
    queue = iter(pods)
    take = threading.Lock()
    deletes: list[threading.Thread] = []

    def chain() -> None:
        while True:
            with take:
                pod = next(queue, None)
            if pod is None:
                return
            name = pod["metadata"]["name"]
            core.create_namespaced_pod(ns, pod)
            if not succeeded[name].wait(600):
                raise TimeoutError(f"floor pod {name} did not succeed")
            delete = threading.Thread(target=core.delete_namespaced_pod, args=(name, ns), daemon=True)
            delete.start()
            deletes.append(delete)

    # A pod that succeeds before the watch is open still reaches it: a watch starts with a LIST.
    begin = time.monotonic()
    with ThreadPoolExecutor(limit) as pool:
        for chained in [pool.submit(chain) for _ in range(limit)]:
            chained.result()  # a chain's error (a pod that never succeeded) ends the benchmark
    elapsed = time.monotonic() - begin
    w.stop()
    for t in deletes:
        t.join()
    return elapsed


def drain(
    plane: ControlPlane,
    api: client.ApiClient,
    n: int,
    limit: int,
    review_s: float,
    peers: tuple[str, ...] = tuple(PEERS),
) -> list[Figure]:
    ns = f"bench-drain-{int(review_s * 1000)}ms"
    client.CoreV1Api(api).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
    created: list[float] = []
    finished: list[float] = []
    w = watch.Watch()

    born: dict[str, float] = {}
    started: list[float] = []  # created → Running: the scheduler's and kwok's share, not the controller's

    def watch_pods() -> None:
        with contextlib.suppress(ProtocolError):  # the stream is cut when the benchmark stops it
            record_pods()

    def record_pods() -> None:
        seen_done: set[str] = set()
        pods = client.CoreV1Api(api).list_namespaced_pod
        for event in w.stream(pods, ns, timeout_seconds=3600, deserialize=False):
            pod, now = event["object"], time.monotonic()
            name, phase = pod["metadata"]["name"], (pod.get("status") or {}).get("phase")
            if event["type"] == "ADDED":
                created.append(now)
                born[name] = now
            elif phase == "Running" and name in born:
                started.append(now - born.pop(name))
            elif phase == "Succeeded" and name not in seen_done:
                seen_done.add(name)
                finished.append(now)

    watcher = threading.Thread(target=watch_pods, daemon=True)
    watcher.start()
    done = Tally(api, ns, _finished)
    _create_many(api, ns, n, f"{int(review_s * 1000)}ms")
    env = _env(limit, limit)
    proc = ControllerProcess(plane, ns, plane.workdir / "bench-controller.log", env)
    begin, ticks = time.monotonic(), machine_ticks()
    proc.start()
    try:
        done.wait_for(n, timeout=3600)
        elapsed = time.monotonic() - begin
        busy, stolen = machine_load(ticks, machine_ticks())
        passes = _pass_means(int(env["REVIEWOP_METRICS_PORT"]))
        assert proc.popen is not None
        cpu_s = cpu_seconds(proc.popen.pid)
        rss_mib = status_kib(proc.popen.pid) / 1024
    finally:
        proc.stop()
        w.stop()
        done.stop()
    cycles = math.ceil(n / limit)
    ideal = cycles * review_s
    latencies = dispatch_latencies(created, finished, limit)

    def pct(p: float) -> float:
        return percentile_ms(latencies, p)

    started.sort()
    pod_start = started[len(started) // 2] if started else float("nan")
    figures: list[Figure] = [
        (f"drain {n} reviews, limit {limit}", elapsed, "s"),
        ("ideal drain ceil(N/L)·T", ideal, "s"),
        ("drain / ideal", elapsed / ideal, "ratio"),
        ("controller start → first review pod created", created[0] - begin if created else float("nan"), "s"),
        ("dispatch latency p50 (slot freed → next pod created)", pct(0.50), "ms"),
        ("dispatch latency p99", pct(0.99), "ms"),
        ("controller CPU per review (whole drain, start-up included)", cpu_s / n * 1000, "ms"),
        ("controller RSS at the end of the drain", rss_mib, "MiB"),
        ("reconcile passes", passes["pass_count"], "count"),
        ("mean reconcile pass", passes["pass"] * 1000, "ms"),
        ("mean observe (LIST + parse) per pass", passes["observe"] * 1000, "ms"),
        ("pod start p50 (created → Running: scheduler and kwok, not the controller)", pod_start * 1000, "ms"),
        ("machine CPU busy during the drain (all processes)", busy, "%"),
        ("machine CPU stolen by the hypervisor during the drain", stolen, "%"),
    ]
    ticks = machine_ticks()
    floor_s = floor(api, n, limit, review_s)
    floor_busy, floor_stolen = machine_load(ticks, machine_ticks())
    figures += [
        ("baseline: the same pods without the controller (floor), drain", floor_s, "s"),
        ("floor / ideal (the control plane's share: API server, scheduler, kwok)", floor_s / ideal, "ratio"),
        ("drain / floor", elapsed / floor_s, "ratio"),
        (
            "controller's cost per cycle above the floor (start-up included)",
            (elapsed - floor_s) / cycles * 1000,
            "ms",
        ),
        ("machine CPU busy during the floor", floor_busy, "%"),
        ("machine CPU stolen during the floor", floor_stolen, "%"),
    ]
    settings = ControllerSettings(pod_annotation_passthrough=[SIM])
    template = _floor_pod("peer", 0, f"{int(review_s * 1000)}ms", settings)
    for peer, run_peer in PEERS.items():
        if peer not in peers:
            continue
        peer_figures = run_peer(plane, api, template, n, limit, review_s)
        by_name = {name: value for name, value, _ in peer_figures}
        peer_s = next(v for k, v in by_name.items() if k.startswith(f"peer {peer} (") and k.endswith("drain"))
        peer_p99 = by_name[f"peer {peer}: dispatch latency p99"]
        figures += [
            *peer_figures,
            (f"peer {peer}: drain / floor", peer_s / floor_s, "ratio"),
            (f"review-operator drain / {peer} drain", elapsed / peer_s, "ratio"),
            (f"review-operator dispatch p99 / {peer} dispatch p99", pct(0.99) / peer_p99, "ratio"),
        ]
    return [(f"T={review_s:g}s: {name}", value, unit) for name, value, unit in figures]


def catch_up(plane: ControlPlane, api: client.ApiClient, n: int) -> list[Figure]:
    ns = "bench-catchup"
    limit = 20
    client.CoreV1Api(api).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
    past_pending = Tally(api, ns, _past_pending)
    running = Tally(api, ns, lambda o: (o.get("status") or {}).get("phase") == "Running")
    _create_many(api, ns, n, "3600s")
    proc = ControllerProcess(plane, ns, plane.workdir / "bench-catchup.log", _env(limit, 2))
    begin = time.monotonic()
    proc.start()
    try:
        running.wait_for(limit, timeout=3600)
        slots_held = time.monotonic() - begin
        past_pending.wait_for(n, timeout=3600)
        elapsed = time.monotonic() - begin
        assert proc.popen is not None
        rss = status_kib(proc.popen.pid) / 1024
        proc.stop()  # SIGTERM, as in a rolling update: the Lease is released, not waited out
        restart = _restart(api, ns, proc, limit)
        time.sleep(IDLE_SETTLE_S)  # the lost reviews' retry backoffs (30 s) end, the Events are written
        idle = _idle_cpu(plane, proc, IDLE_WINDOW_S)
    finally:
        proc.stop()
        past_pending.stop()
        running.stop()
    return [
        (
            f"catch-up after start with {n} stored, all Pending (until {limit} slots are held)",
            slots_held,
            "s",
        ),
        (f"catch-up after start with {n} stored, all Pending (until all queued or started)", elapsed, "s"),
        (f"controller RSS with {n} ReviewJobs stored", rss, "MiB"),
        (
            f"catch-up after a restart with {n} stored, queued before (until {limit} slots are held again)",
            restart,
            "s",
        ),
        (
            f"controller CPU while idle with {n} stored ({limit} running, the rest queued)",
            idle[0],
            "% of a core",
        ),
        ("API server CPU meanwhile", idle[1], "% of a core"),
    ]


def _idle_cpu(plane: ControlPlane, proc: ControllerProcess, seconds: float) -> tuple[float, float]:
    """CPU used by the controller and the API server over `seconds` when nothing happens: what a
    large backlog costs while it waits (every reconcile pass is a LIST of all of it)."""
    assert proc.popen is not None
    pids = (proc.popen.pid, next(p.popen.pid for p in plane.procs if p.name == "kube-apiserver"))
    before = [cpu_seconds(pid) for pid in pids]
    time.sleep(seconds)
    controller, apiserver = (
        100 * (cpu_seconds(pid) - b) / seconds for pid, b in zip(pids, before, strict=True)
    )
    return controller, apiserver


def _restart(api: client.ApiClient, ns: str, proc: ControllerProcess, limit: int) -> float:
    """The controller is down and its running reviews' pods are gone: time from its start until
    `limit` other reviews hold the slots (it reads all, retries the lost ones, claims the next)."""
    crd, core = client.CustomObjectsApi(api), client.CoreV1Api(api)
    items = crd.list_namespaced_custom_object(GROUP, VERSION, ns, PLURAL)["items"]
    running = {i["metadata"]["name"] for i in items if (i.get("status") or {}).get("phase") == "Running"}
    assert len(running) == limit, f"{len(running)} running before the restart"
    for pod in core.list_namespaced_pod(ns).items:
        core.delete_namespaced_pod(pod.metadata.name, ns, grace_period_seconds=0)
    others = Tally(
        api,
        ns,
        lambda o: (o.get("status") or {}).get("phase") == "Running" and o["metadata"]["name"] not in running,
    )
    begin = time.monotonic()
    proc.start()
    try:
        others.wait_for(limit, timeout=600)
        return time.monotonic() - begin
    finally:
        others.stop()


def with_crd(plane: ControlPlane) -> client.ApiClient:
    """Installs the ReviewJob CRD on a started control plane; a client for it."""
    plane.kubectl(
        "apply",
        "-f",
        str(Path(__file__).resolve().parents[2] / "crds" / "reviewjobs.review-operator.dev.yaml"),
    )
    plane.kubectl("wait", "--for=condition=Established", "crd/reviewjobs.review-operator.dev")
    return config.new_client_from_config(config_file=str(plane.kubeconfig))


def run() -> list[Figure]:
    n = int(os.environ.get("BENCH_CONTROLLER_N", "1000"))
    stored = int(os.environ.get("BENCH_CONTROLLER_STORED", "5000"))
    # T = 2 s is far harsher than any real review (minutes): the fixed cost of each slot's turnover
    # (the pod's end reaching the controller, two status writes, a pod create, the scheduler and
    # the node starting it) weighs five times more against it than against T = 10 s.
    review_seconds = [float(t) for t in os.environ.get("BENCH_CONTROLLER_T", "2,10").split(",")]
    # A subset of the peers, e.g. BENCH_PEERS=Kueue; BENCH_CONTROLLER_STORED=0 leaves out the catch-up.
    peers = tuple(p for p in os.environ.get("BENCH_PEERS", ",".join(PEERS)).split(",") if p)
    if unknown := set(peers) - set(PEERS):
        raise ValueError(f"unknown BENCH_PEERS {sorted(unknown)}: the peers are {list(PEERS)}")
    nodes = tuple(FakeNode(f"bench-{i}", cpu="64", memory="256Gi", pods="500") for i in range(2))
    # The Job controller runs only here: the same-run peers of the drain (tests/bench/job_peer.py, and
    # tests/bench/kueue_peer.py, whose Jobs it runs once Kueue has admitted them).
    with ControlPlane(nodes=nodes, controllers=("job-controller",)) as plane:
        api = with_crd(plane)
        drains = [drain(plane, api, n, 20, t, peers) for t in review_seconds]
        catch = catch_up(plane, api, stored) if stored else []
        return [figure for figures in drains for figure in figures] + catch


if __name__ == "__main__":
    for name, value, unit in run():
        print(f"{name}: {value:.2f} {unit}")
