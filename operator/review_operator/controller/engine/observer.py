"""What the engine reads: ReviewJobs from the API server's answers (all of them, or only what garbage
collection needs of the finished ones), and a ReviewJob named as an Event's object."""

from __future__ import annotations

import asyncio
import heapq
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from review_operator.api.models import API_VERSION, KIND, Phase, ReviewJob
from review_operator.controller.decide.parked import Parked, park

log = logging.getLogger(__name__)
PARSE_SLICE = 100  # ReviewJobs validated between two yields to the event loop
# New (Pending) ReviewJobs a read takes whole; the rest wait for the next read. A cold start over a
# backlog of thousands would otherwise hold a 9 KiB model of each at once (and Python keeps a heap
# that has grown); queued, they are parked small, and the next read takes the next ones.
PENDING_PER_READ = 1000


class Parsed:
    """What the last read made of each active ReviewJob, by uid: one whose `resourceVersion` has not
    changed is the same object again, not validated again (models are never changed in place). So
    a pass costs a JSON decode of every active ReviewJob, and a validation only of those that
    changed. Only the last read's are kept: `begin` a read, `end` it when its last page is in."""

    def __init__(self) -> None:
        self._known: dict[str, tuple[str, ReviewJob | Parked]] = {}
        self._seen: dict[str, tuple[str, ReviewJob | Parked]] = {}

    def begin(self) -> None:
        self._seen = {}

    def take(self, raw: dict[str, Any]) -> ReviewJob | Parked | None:
        """What the last read made of `raw` if it is unchanged (and keeps it), else None."""
        key = _identity(raw)
        kept = None if key is None else self._known.get(key[0])
        if key is None or kept is None or kept[0] != key[1]:
            return None
        self._seen[key[0]] = kept
        return kept[1]

    def keep(self, raw: dict[str, Any], value: ReviewJob | Parked) -> None:
        key = _identity(raw)
        if key is not None:
            self._seen[key[0]] = (key[1], value)

    def end(self) -> None:
        self._known, self._seen = self._seen, {}


@dataclass
class Active:
    """The active ReviewJobs of one read: whole, or parked (quiet queued ones, see `Parked`)."""

    jobs: list[ReviewJob] = field(default_factory=list)
    parked: list[Parked] = field(default_factory=list)
    room: int = PENDING_PER_READ  # how many new ones this read takes whole
    deferred: int = 0  # new ones left for the next read (beyond `room`)
    # The oldest new ones seen so far, at most `room` (a heap: the newest of them on top).
    _new: list[tuple[float, int, dict[str, Any]]] = field(default_factory=list)
    _offered: int = 0

    def offer_new(self, raw: dict[str, Any]) -> None:
        """Keeps `raw` if it is among the `room` oldest new ones seen so far (by creation)."""
        created = _created_s(raw)
        self._offered += 1
        entry = (-created, self._offered, raw)
        if len(self._new) < self.room:
            heapq.heappush(self._new, entry)
        elif self._new and -self._new[0][0] > created:
            heapq.heapreplace(self._new, entry)
            self.deferred += 1
        else:
            self.deferred += 1

    async def take_new(self) -> None:
        """Validates the new ones kept, oldest first, once the read's last page is in."""
        kept = sorted(self._new, key=lambda e: (-e[0], e[1]))
        self._new = []
        for i, (_, _, raw) in enumerate(kept):
            job = _validate(raw)
            if job is not None:
                self.jobs.append(job)
            if i % PARSE_SLICE == PARSE_SLICE - 1:
                await asyncio.sleep(0)


async def read_active_page(listed: bytes, into: Active, parsed: Parsed) -> str:
    """Adds one LIST page of active ReviewJobs to `into`; the next page's `continue` token (empty:
    that was the last). Malformed ones are logged and left out, never fatal; unchanged ones are
    taken from the last read's (see `Parsed`). Validated `PARSE_SLICE` at a time with a yield to the
    event loop between slices (a pod ending that arrives meanwhile is a slot to refill)."""
    body = json.loads(listed)
    del listed
    items: list[dict[str, Any]] = body.get("items") or []
    token = str((body.get("metadata") or {}).get("continue") or "")
    items.reverse()  # popped from the end, so the LIST's order is kept
    validated = 0
    while items:
        raw = items.pop()
        value = parsed.take(raw)
        if value is None:
            if _is_new(raw):
                into.offer_new(raw)  # taken by `take_new` after the last page, oldest first
                continue
            job = _validate(raw)
            validated += 1
            if job is None:
                continue
            value = park(job, raw) or job
            parsed.keep(raw, value)
        if isinstance(value, Parked):
            into.parked.append(value)
        else:
            into.jobs.append(value)
        if validated >= PARSE_SLICE:
            validated = 0
            await asyncio.sleep(0)
    return token


async def parse_reviewjobs(listed: bytes) -> list[ReviewJob]:
    """The ReviewJobs of a LIST body, whole; malformed ones are logged and left out, never fatal."""
    items: list[dict[str, Any]] = json.loads(listed).get("items") or []
    jobs = [_validate(raw) for raw in items]
    return [job for job in jobs if job is not None]


def _identity(raw: dict[str, Any]) -> tuple[str, str] | None:
    """(uid, resourceVersion) of a ReviewJob as read; None without both."""
    meta = raw.get("metadata") or {}
    uid, version = meta.get("uid"), meta.get("resourceVersion")
    if isinstance(uid, str) and uid and isinstance(version, str) and version:
        return uid, version
    return None


def _created_s(raw: dict[str, Any]) -> float:
    stamp = (raw.get("metadata") or {}).get("creationTimestamp")
    try:
        return datetime.fromisoformat(str(stamp)).timestamp()
    except ValueError:
        return 0.0  # none (or unreadable): taken first


def _is_new(raw: dict[str, Any]) -> bool:
    status = raw.get("status")
    return not isinstance(status, dict) or status.get("phase") in (None, "", Phase.PENDING.value)


def _validate(raw: dict[str, Any]) -> ReviewJob | None:
    try:
        return ReviewJob.model_validate(raw)
    except ValidationError as exc:
        log.error(  # noqa: TRY400 - a traceback would quote untrusted field values
            "ignoring malformed ReviewJob %s: %d validation errors",
            (raw.get("metadata") or {}).get("name"),
            exc.error_count(),
        )
        return None


def involved(job: ReviewJob) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": job.metadata.name, "namespace": job.metadata.namespace, "uid": job.metadata.uid},
    }


class _Meta(BaseModel):
    name: str


class _AttemptCost(BaseModel):
    cost_usd: float = Field(default=0.0, alias="costUsd")
    at: datetime | None = None


class _Spend(BaseModel):
    attempts: list[_AttemptCost] = Field(default_factory=list)


class _Done(BaseModel):
    completion_time: datetime | None = Field(default=None, alias="completionTime")
    spend: _Spend = Field(default_factory=_Spend)


class _Finished(BaseModel):
    metadata: _Meta
    status: _Done = Field(default_factory=_Done)


class _ListMeta(BaseModel):
    continue_: str = Field(default="", alias="continue")


class _FinishedList(BaseModel):
    metadata: _ListMeta = Field(default_factory=_ListMeta)
    items: list[_Finished] = Field(default_factory=list)


@dataclass(frozen=True)
class FinishedPage:
    """What one page of finished ReviewJobs says (decoded once, only the fields GC and the budget use)."""

    spent: dict[str, float]  # each one's attempts' cost since the day began
    expired: list[str]  # names of those completed more than the TTL ago
    next: str  # the page after this one (the LIST's `metadata.continue`; empty: this was the last)


def read_finished_page(listed: bytes, now: datetime, since: datetime, ttl: timedelta) -> FinishedPage:
    """Today's spend of each finished ReviewJob of the page (the daily budget counts reviews that ended
    today too) and the names of those past the TTL."""
    page = _FinishedList.model_validate_json(listed)
    return FinishedPage(
        spent={
            item.metadata.name: sum(
                a.cost_usd for a in item.status.spend.attempts if a.at is not None and a.at >= since
            )
            for item in page.items
        },
        expired=[
            item.metadata.name
            for item in page.items
            if item.status.completion_time is not None and now - item.status.completion_time > ttl
        ],
        next=page.metadata.continue_,
    )
