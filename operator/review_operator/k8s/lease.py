"""Leader election with a coordination.k8s.io Lease, so two controller replicas never both act.

Optimistic concurrency does the locking: a takeover or renewal is a replace (PUT) carrying the
Lease's resourceVersion, so of two contenders exactly one succeeds and the other gets a 409. The
calls go over `AsyncKube`, on the event loop; errors are the typed ones of `review_operator.k8s.errors`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from review_operator.k8s.aio import AsyncKube
from review_operator.k8s.errors import AlreadyExists, Conflict, KubeError, NotFound

Manifest = dict[str, Any]


def _now() -> datetime:
    return datetime.now(UTC)


def lease_path(namespace: str, name: str = "") -> str:
    return f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases" + (f"/{name}" if name else "")


def micro_time(moment: datetime) -> str:
    """A Lease's MicroTime: RFC 3339 in UTC with exactly six fractional digits, as the API expects."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_time(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


async def try_acquire(kube: AsyncKube, namespace: str, name: str, identity: str, duration_s: int) -> bool:
    """Takes or renews the Lease; True when this identity holds it afterwards."""
    now = _now()
    try:
        lease = await kube.json("GET", lease_path(namespace, name))
    except NotFound:
        body: Manifest = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "holderIdentity": identity,
                "leaseDurationSeconds": duration_s,
                "acquireTime": micro_time(now),
                "renewTime": micro_time(now),
                "leaseTransitions": 0,
            },
        }
        try:
            await kube.request("POST", lease_path(namespace), body)
        except (AlreadyExists, Conflict):  # another replica created it first
            return False
        return True
    spec: Manifest = lease.get("spec") or {}
    lease["spec"] = spec
    holder = spec.get("holderIdentity") or ""
    renewed = _parse_time(spec.get("renewTime")) or _parse_time(spec.get("acquireTime"))
    duration = timedelta(seconds=spec.get("leaseDurationSeconds") or duration_s)
    expired = renewed is None or renewed + duration < now
    if holder and holder != identity and not expired:
        return False
    if holder != identity:
        spec["acquireTime"] = micro_time(now)
        spec["leaseTransitions"] = (spec.get("leaseTransitions") or 0) + 1
    spec["holderIdentity"] = identity
    spec["leaseDurationSeconds"] = duration_s
    spec["renewTime"] = micro_time(now)
    try:
        # The body still carries the resourceVersion read above: the replace is conditional on it.
        await kube.request("PUT", lease_path(namespace, name), lease)
    except (AlreadyExists, Conflict):  # another replica wrote it since we read it: lost the race
        return False
    return True


async def release(kube: AsyncKube, namespace: str, name: str, identity: str) -> None:
    """Gives the Lease up on a clean shutdown so the next replica need not wait for it to expire.

    Best effort: any API error leaves the Lease to expire on its own.
    """
    try:
        lease = await kube.json("GET", lease_path(namespace, name))
        spec = lease.get("spec")
        if not spec or spec.get("holderIdentity") != identity:
            return
        spec["holderIdentity"] = ""
        spec["renewTime"] = None
        await kube.request("PUT", lease_path(namespace, name), lease)
    except KubeError:
        return
