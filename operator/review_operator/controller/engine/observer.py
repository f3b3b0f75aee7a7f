"""What the engine reads: ReviewJobs from the API server's answers (all of them, or only what garbage
collection needs of the finished ones), and a ReviewJob named as an Event's object."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from review_operator.api.models import API_VERSION, KIND, ReviewJob

log = logging.getLogger(__name__)
PARSE_SLICE = 100  # ReviewJobs validated between two yields to the event loop


class Parsed:
    """Parsed ReviewJobs kept from one LIST to the next, by uid: one whose `resourceVersion` has not
    changed is the same object again, not validated again (models are never changed in place). So
    a pass costs a JSON decode of every active ReviewJob, and a validation only of those that changed:
    thousands waiting in the queue cost little more than their bytes. Only the last LIST's are kept."""

    def __init__(self) -> None:
        self._known: dict[str, tuple[str, ReviewJob]] = {}

    def take(self, raw: dict[str, Any], seen: dict[str, tuple[str, ReviewJob]]) -> ReviewJob | None:
        """The kept model of `raw` if it is unchanged (and keeps it in `seen`), else None."""
        meta = raw.get("metadata") or {}
        uid, version = meta.get("uid"), meta.get("resourceVersion")
        if not isinstance(uid, str) or not isinstance(version, str) or not version:
            return None
        kept = self._known.get(uid)
        if kept is None or kept[0] != version:
            return None
        seen[uid] = kept
        return kept[1]

    def keep(self, job: ReviewJob, seen: dict[str, tuple[str, ReviewJob]]) -> None:
        if job.metadata.uid and job.metadata.resource_version:
            seen[job.metadata.uid] = (job.metadata.resource_version, job)

    def replace(self, seen: dict[str, tuple[str, ReviewJob]]) -> None:
        self._known = seen


async def parse_reviewjobs(listed: bytes, parsed: Parsed | None = None) -> list[ReviewJob]:
    """The ReviewJobs of a LIST body; malformed ones are logged and left out, never fatal. With
    `parsed`, unchanged ones are taken from the previous LIST's (see `Parsed`).

    Validated `PARSE_SLICE` at a time with a yield to the event loop between slices: a LIST of
    thousands of ReviewJobs would otherwise hold the loop for a tenth of a second or more, and every
    pod ending that arrives meanwhile (a slot to refill) would wait for it. Each item's decoded
    JSON is dropped as soon as its model exists, so the two are never all held at once.
    """
    items: list[dict[str, Any]] = json.loads(listed).get("items") or []
    items.reverse()  # popped from the end, so the LIST's order is kept
    jobs: list[ReviewJob] = []
    seen: dict[str, tuple[str, ReviewJob]] = {}
    validated = 0
    while items:
        raw = items.pop()
        job = None if parsed is None else parsed.take(raw, seen)
        if job is None:
            job = _validate(raw)
            validated += 1
            if job is not None and parsed is not None:
                parsed.keep(job, seen)
        if job is not None:
            jobs.append(job)
        if validated >= PARSE_SLICE:
            validated = 0
            await asyncio.sleep(0)
    if parsed is not None:
        parsed.replace(seen)
    return jobs


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
