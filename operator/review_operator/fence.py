"""The leadership fence: every write the controller sends checks, at the moment it is sent, that
this replica still leads.

A replica that lost its Lease (a partition, a long GC pause, a slow renewal) may still have work in
flight: a pass's steps, a review being posted. Checking leadership only when work starts leaves a
window in which two replicas write; the fence closes it at every Kubernetes write (`AsyncKube`) and
every GitHub write (`RepoClient.before_write`). A refused write raises `NotLeading`, which no
caller retries: the work is left for the replica that leads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

FOREVER = datetime.max.replace(tzinfo=UTC)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class NotLeading(Exception):
    """This replica does not hold the leader Lease (any more): the write was not sent."""

    def __init__(self) -> None:
        super().__init__("not the leading controller: write not sent")


@dataclass
class Fence:
    """Until when this replica may write; `FOREVER` without leader election, None while standing by."""

    until: datetime | None = FOREVER
    clock: Callable[[], datetime] = field(default=_utcnow)

    def holds(self) -> bool:
        return self.until is not None and self.clock() < self.until

    def check(self) -> None:
        if not self.holds():
            raise NotLeading

    def grant(self, until: datetime) -> None:
        self.until = until

    def revoke(self) -> None:
        self.until = None
