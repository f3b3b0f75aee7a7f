"""What the API models make of the API server's answers."""

from __future__ import annotations

import json

from review_operator.api.models import Phase, after_status_write
from tests.factories import T0
from tests.factories import reviewjob as job


def test_a_conditional_status_write_keeps_the_spec_it_was_decided_on() -> None:
    before = job("j")
    stored = before.model_dump(mode="json", by_alias=True, exclude_none=True)
    stored["metadata"]["resourceVersion"] = "2"
    stored["status"] = {"phase": "Queued", "queuedAt": T0.isoformat()}
    after = after_status_write(before, json.dumps(stored).encode())
    assert after.spec is before.spec  # one copy, not two
    assert (after.metadata.resource_version, after.status.phase, after.status.queued_at) == (
        "2",
        Phase.QUEUED,
        T0,
    )
    assert before.status.phase is Phase.PENDING  # the version it came from is left as it was
    unconditional = before.model_copy(
        update={"metadata": before.metadata.model_copy(update={"resource_version": ""})}
    )
    full = after_status_write(unconditional, json.dumps(stored).encode())
    assert full.spec is not before.spec
    assert full.spec == before.spec
