"""Marking a pull request's in-flight ReviewJobs to be cancelled (sync: runs in a worker thread).

Only non-final ReviewJobs are touched, and the patch carries the resourceVersion that was read, so
a ReviewJob that finished in between is left alone (Conflict → read again → re-check).
"""

from __future__ import annotations

from kubernetes import client

from review_operator.api.models import FINAL_PHASES, Cancel
from review_operator.builders.names import LABEL_PULL_REQUEST, LABEL_REPOSITORY_ID
from review_operator.k8s import reviewjobs
from review_operator.k8s.errors import Conflict, NotFound

ATTEMPTS = 3


def _needs_cancel(manifest: reviewjobs.Manifest) -> bool:
    phase = (manifest.get("status") or {}).get("phase")
    if phase is not None and phase in {p.value for p in FINAL_PHASES}:
        return False
    return not (manifest.get("spec") or {}).get("cancel")


def cancel_pull_request(
    api: client.ApiClient,
    namespace: str,
    repository_id: int,
    pr_number: int,
    cancel: Cancel,
    timeout: float | None = None,
) -> list[str]:
    """Sets `spec.cancel` on every non-final ReviewJob of the PR; returns the names it marked."""
    labels = {LABEL_REPOSITORY_ID: str(repository_id), LABEL_PULL_REQUEST: str(pr_number)}
    body = {"cancel": cancel.model_dump(mode="json", by_alias=True, exclude_none=True)}
    marked: list[str] = []
    for manifest in reviewjobs.list_by_labels(api, namespace, labels, timeout=timeout):
        current = manifest
        name = current["metadata"]["name"]
        for _ in range(ATTEMPTS):
            if not _needs_cancel(current):
                break
            try:
                reviewjobs.patch_spec(
                    api, namespace, name, body, current["metadata"]["resourceVersion"], timeout=timeout
                )
            except Conflict:
                try:
                    current = reviewjobs.get(api, namespace, name, timeout=timeout)
                except NotFound:
                    break
                continue
            except NotFound:
                break
            marked.append(name)
            break
    return marked
