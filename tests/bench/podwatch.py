"""When a watch saw each pod of a namespace created and succeed (the clock of the drain peers), and
when it saw each of Kueue's Workloads admitted and finished (Kueue's own share of a dispatch)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

from kubernetes import client, watch
from urllib3.exceptions import ProtocolError


class PodTimes:
    """Watches the pods of `ns` (plain JSON, no models) from construction until `stop()`: the
    monotonic time of each creation and of each first `Succeeded`, in the order seen."""

    def __init__(self, api: client.ApiClient, ns: str, expected: int) -> None:
        self.created: list[float] = []
        self.finished: list[float] = []
        self.expected = expected
        self._done = threading.Event()
        self._watch = watch.Watch()
        core = client.CoreV1Api(api)
        threading.Thread(target=self._run, args=(core, ns), daemon=True).start()

    def _run(self, core: client.CoreV1Api, ns: str) -> None:
        seen_done: set[str] = set()
        with contextlib.suppress(ProtocolError):  # the stream is cut when the benchmark stops it
            for event in self._watch.stream(
                core.list_namespaced_pod, ns, timeout_seconds=3600, deserialize=False
            ):
                obj, now = event["object"], time.monotonic()
                name, phase = obj["metadata"]["name"], (obj.get("status") or {}).get("phase")
                if event["type"] == "ADDED":
                    self.created.append(now)
                elif phase == "Succeeded" and name not in seen_done:
                    seen_done.add(name)
                    self.finished.append(now)
                    if len(seen_done) >= self.expected:
                        self._done.set()

    def wait_all_succeeded(self, timeout: float) -> None:
        if not self._done.wait(timeout):
            raise TimeoutError(f"{len(self.finished)} of {self.expected} pods succeeded")

    def stop(self) -> None:
        self._watch.stop()


def condition_true(obj: dict[str, Any], kind: str) -> bool:
    """Whether an object's status has a condition of type `kind` with status "True"."""
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c.get("type") == kind and c.get("status") == "True" for c in conditions)


def wait_no_pods(api: client.ApiClient, ns: str, timeout: float = 600) -> None:
    """Waits until the garbage collector has deleted a peer's pods, so that its deletes (up to 1000,
    at kube-controller-manager's default 20 requests/s) are not part of the next drain."""
    core = client.CoreV1Api(api)
    _wait_empty(lambda: core.list_namespaced_pod(ns, limit=1).items, f"the pods of {ns}", timeout)


def wait_no_workloads(api: client.ApiClient, ns: str, timeout: float = 600) -> None:
    """Waits until the garbage collector has deleted Kueue's Workloads of `ns` (their Jobs deleted)."""
    crd = client.CustomObjectsApi(api)
    _wait_empty(
        lambda: crd.list_namespaced_custom_object("kueue.x-k8s.io", "v1beta2", ns, "workloads", limit=1)[
            "items"
        ],
        f"the Workloads of {ns}",
        timeout,
    )


def _wait_empty(first: Callable[[], list[Any]], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while first():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} were not deleted within {timeout:.0f} s")
        time.sleep(1)


class WorkloadTimes:
    """Watches Kueue's Workloads of `ns` until `stop()`: the monotonic time each was first seen with
    its quota reserved (admitted: Kueue then unsuspends its Job) and first seen finished (its Job
    complete: the quota is free again), in the order seen."""

    def __init__(self, api: client.ApiClient, ns: str) -> None:
        self.admitted: list[float] = []
        self.finished: list[float] = []
        self._watch = watch.Watch()
        crd = client.CustomObjectsApi(api)
        threading.Thread(target=self._run, args=(crd, ns), daemon=True).start()

    def _run(self, crd: client.CustomObjectsApi, ns: str) -> None:
        admitted: set[str] = set()
        finished: set[str] = set()
        with contextlib.suppress(ProtocolError):  # the stream is cut when the benchmark stops it
            for event in self._watch.stream(
                crd.list_namespaced_custom_object,
                "kueue.x-k8s.io",
                "v1beta2",
                ns,
                "workloads",
                timeout_seconds=3600,
                deserialize=False,
            ):
                obj, now = event["object"], time.monotonic()
                name = obj["metadata"]["name"]
                if name not in admitted and condition_true(obj, "QuotaReserved"):
                    admitted.add(name)
                    self.admitted.append(now)
                if name not in finished and condition_true(obj, "Finished"):
                    finished.add(name)
                    self.finished.append(now)

    def stop(self) -> None:
        self._watch.stop()
