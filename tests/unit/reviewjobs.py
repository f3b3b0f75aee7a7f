"""One ReviewJob builder for the controller's unit tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from review_operator.api.models import Phase, ReviewJob

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def reviewjob(
    name: str, phase: Phase | None = None, repo: int = 1, created: int = 0, rv: int = 1, **status: Any
) -> ReviewJob:
    """A ReviewJob created `created` seconds after T0, in `phase` (Pending: no status) with `status`."""
    return ReviewJob.model_validate(
        {
            "metadata": {
                "name": name,
                "namespace": "ns",
                "uid": f"uid-{name}",
                "resourceVersion": str(rv),
                "creationTimestamp": (T0 + timedelta(seconds=created)).isoformat(),
            },
            "spec": {
                "repository": {"owner": "o", "name": f"r{repo}", "id": repo},
                "pullRequest": {
                    "number": 1,
                    "headSha": "a" * 40,
                    "author": "dev",
                    "authorAssociation": "MEMBER",
                },
                "trigger": {"event": "pull_request", "action": "opened", "sender": "dev"},
            },
            "status": {"phase": phase.value, **status} if phase else {},
        }
    )
