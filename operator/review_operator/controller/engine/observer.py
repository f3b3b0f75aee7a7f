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


async def parse_reviewjobs(listed: bytes) -> list[ReviewJob]:
    """The ReviewJobs of a LIST body; malformed ones are logged and left out, never fatal.

    Validated `PARSE_SLICE` at a time with a yield to the event loop between slices: a LIST of
    thousands of ReviewJobs would otherwise hold the loop for a tenth of a second or more, and every
    pod ending that arrives meanwhile (a slot to refill) would wait for it. Each item's decoded
    JSON is dropped as soon as its model exists, so the two are never all held at once.
    """
    items: list[dict[str, Any]] = json.loads(listed).get("items") or []
    items.reverse()  # popped from the end, so the LIST's order is kept
    jobs: list[ReviewJob] = []
    while items:
        for raw in [items.pop() for _ in range(min(PARSE_SLICE, len(items)))]:
            try:
                jobs.append(ReviewJob.model_validate(raw))
            except ValidationError as exc:
                log.error(  # noqa: TRY400 - a traceback would quote untrusted field values
                    "ignoring malformed ReviewJob %s: %d validation errors",
                    (raw.get("metadata") or {}).get("name"),
                    exc.error_count(),
                )
        await asyncio.sleep(0)
    return jobs


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
