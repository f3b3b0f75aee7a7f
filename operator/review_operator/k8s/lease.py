"""Leader election with a coordination.k8s.io Lease, so two controller replicas never both act.

Optimistic concurrency does the locking: a takeover or renewal is a replace carrying the Lease's
resourceVersion, so of two contenders exactly one succeeds.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kubernetes import client
from kubernetes.client.exceptions import ApiException


def _now() -> datetime:
    return datetime.now(UTC)


def try_acquire(api: client.ApiClient, namespace: str, name: str, identity: str, duration_s: int) -> bool:
    """Takes or renews the Lease; True when this identity holds it afterwards."""
    coord = client.CoordinationV1Api(api)
    now = _now()
    try:
        lease = coord.read_namespaced_lease(name, namespace)
    except ApiException as exc:
        if exc.status != 404:
            raise
        body = client.V1Lease(
            metadata=client.V1ObjectMeta(name=name, namespace=namespace),
            spec=client.V1LeaseSpec(
                holder_identity=identity,
                lease_duration_seconds=duration_s,
                acquire_time=now,
                renew_time=now,
                lease_transitions=0,
            ),
        )
        try:
            coord.create_namespaced_lease(namespace, body)
        except ApiException as create_exc:
            if create_exc.status == 409:
                return False
            raise
        return True
    spec = lease.spec = lease.spec or client.V1LeaseSpec()
    holder = spec.holder_identity or ""
    renewed = spec.renew_time or spec.acquire_time
    expired = renewed is None or renewed + timedelta(seconds=spec.lease_duration_seconds or duration_s) < now
    if holder and holder != identity and not expired:
        return False
    if holder != identity:
        spec.acquire_time = now
        spec.lease_transitions = (spec.lease_transitions or 0) + 1
    spec.holder_identity = identity
    spec.lease_duration_seconds = duration_s
    spec.renew_time = now
    try:
        coord.replace_namespaced_lease(name, namespace, lease)
    except ApiException as exc:
        if exc.status == 409:
            return False
        raise
    return True


def release(api: client.ApiClient, namespace: str, name: str, identity: str) -> None:
    """Gives the Lease up on a clean shutdown so the next replica need not wait for it to expire."""
    coord = client.CoordinationV1Api(api)
    try:
        lease = coord.read_namespaced_lease(name, namespace)
        if lease.spec is None or lease.spec.holder_identity != identity:
            return
        lease.spec.holder_identity = ""
        lease.spec.renew_time = None
        coord.replace_namespaced_lease(name, namespace, lease)
    except ApiException:
        return
