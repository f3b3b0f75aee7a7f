"""Marking a pull request's in-flight ReviewJobs to be cancelled.

Only non-final ReviewJobs are touched, and the patch carries the resourceVersion that was read, so
a ReviewJob that finished in between is left alone (Conflict → read again → re-check).
"""

from __future__ import annotations

from typing import Any

from review_operator.api.models import FINAL_PHASES, Cancel
from review_operator.builders.names import pull_request_selector
from review_operator.k8s.aio import AsyncReviewJobs
from review_operator.k8s.errors import Conflict, NotFound

ATTEMPTS = 3


def _needs_cancel(manifest: dict[str, Any]) -> bool:
    phase = (manifest.get("status") or {}).get("phase")
    if phase is not None and phase in {p.value for p in FINAL_PHASES}:
        return False
    return not (manifest.get("spec") or {}).get("cancel")


async def cancel_pull_request(
    jobs: AsyncReviewJobs, repository_id: int, pr_number: int, cancel: Cancel, timeout: float
) -> list[str]:
    """Sets `spec.cancel` on every non-final ReviewJob of the PR; returns the names it marked."""
    body = {"cancel": cancel.model_dump(mode="json", by_alias=True, exclude_none=True)}
    marked: list[str] = []
    for manifest in await jobs.list(pull_request_selector(repository_id, pr_number), timeout):
        current = manifest
        name = current["metadata"]["name"]
        for _ in range(ATTEMPTS):
            if not _needs_cancel(current):
                break
            try:
                await jobs.patch_spec(name, body, current["metadata"]["resourceVersion"], timeout)
            except Conflict:
                try:
                    current = await jobs.get(name, timeout)
                except NotFound:
                    break
                continue
            except NotFound:
                break
            marked.append(name)
            break
    return marked
