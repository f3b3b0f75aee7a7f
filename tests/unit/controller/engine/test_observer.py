"""A pass's LIST is parsed in slices: malformed ReviewJobs are skipped, and the loop keeps turning."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from review_operator.api.models import Phase, ReviewJob
from review_operator.controller.decide.parked import Parked
from review_operator.controller.engine.observer import (
    PARSE_SLICE,
    Active,
    Parsed,
    parse_reviewjobs,
    read_active_page,
)


def item(i: int) -> dict[str, Any]:
    return {
        "metadata": {"name": f"j{i:04d}", "namespace": "ns", "resourceVersion": str(i)},
        "spec": {
            "repository": {"owner": "o", "name": "r", "id": 1},
            "pullRequest": {
                "number": i + 1,
                "headSha": "a" * 40,
                "author": "d",
                "authorAssociation": "MEMBER",
            },
            "trigger": {"event": "pull_request", "action": "opened", "sender": "d"},
        },
    }


async def test_malformed_items_are_skipped_and_the_order_is_kept(caplog: pytest.LogCaptureFixture) -> None:
    items = [item(i) for i in range(5)]
    items[2]["spec"]["pullRequest"]["headSha"] = "not-a-sha; rm -rf /"
    jobs = await parse_reviewjobs(json.dumps({"items": items}).encode())
    assert [j.metadata.name for j in jobs] == ["j0000", "j0001", "j0003", "j0004"]
    assert "ignoring malformed ReviewJob j0002" in caplog.text
    assert "rm -rf" not in caplog.text  # field values are never quoted
    assert await parse_reviewjobs(b'{"items": null}') == []


async def read(listed: bytes, parsed: Parsed | None = None) -> Active:
    parsed = parsed or Parsed()
    active = Active()
    parsed.begin()
    await read_active_page(listed, active, parsed)
    await active.take_new()
    parsed.end()
    return active


async def test_other_work_runs_between_slices() -> None:
    turns = 0

    async def ticker() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    before = turns
    n = PARSE_SLICE * 3 + 1
    active = await read(json.dumps({"items": [item(i) for i in range(n)]}).encode())
    task.cancel()
    assert len(active.jobs) == n
    assert turns - before >= 3  # one turn of the loop per slice at least


def listing(items: list[dict[str, Any]], token: str = "") -> bytes:
    return json.dumps({"metadata": {"continue": token}, "items": items}).encode()


async def test_a_page_gives_the_next_pages_token_and_malformed_items_are_left_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    items = [item(i) for i in range(4)]
    items[1]["spec"]["pullRequest"]["headSha"] = "not-a-sha; rm -rf /"
    active, parsed = Active(), Parsed()
    parsed.begin()
    assert await read_active_page(listing(items[:2], "next-page"), active, parsed) == "next-page"
    assert await read_active_page(listing(items[2:]), active, parsed) == ""
    await active.take_new()  # new ones (these have no status) are validated after the last page
    parsed.end()
    assert [j.metadata.name for j in active.jobs] == ["j0000", "j0002", "j0003"]
    assert "ignoring malformed ReviewJob j0001" in caplog.text and "rm -rf" not in caplog.text


def with_uids(n: int, phase: str = "Running") -> list[dict[str, Any]]:
    return [
        {**item(i), "metadata": {**item(i)["metadata"], "uid": f"u{i}"}, "status": {"phase": phase}}
        for i in range(n)
    ]


async def test_a_new_reviewjob_is_not_kept_as_our_first_write_changes_it() -> None:
    parsed = Parsed()
    items = with_uids(1, "Pending")
    one = (await read(listing(items), parsed)).jobs
    two = (await read(listing(items), parsed)).jobs
    assert one[0] == two[0] and one[0] is not two[0]


async def test_an_unchanged_reviewjob_is_not_validated_again_and_a_changed_one_is() -> None:
    parsed = Parsed()
    items = with_uids(3)
    first = (await read(listing(items), parsed)).jobs
    items[1]["metadata"]["resourceVersion"] = "99"
    items[1]["spec"]["pullRequest"]["number"] = 42
    second = (await read(listing(items), parsed)).jobs
    assert second[0] is first[0] and second[2] is first[2]  # the same objects: not validated again
    assert second[1] is not first[1] and second[1].spec.pull_request.number == 42
    # Only the last read's are kept: one that left it is validated again when it comes back.
    await read(listing(items[:1]), parsed)
    third = (await read(listing(items), parsed)).jobs
    assert third[0] is first[0] and third[2] is not first[2]


async def test_a_reviewjob_without_uid_or_version_is_always_validated() -> None:
    parsed = Parsed()
    bare = item(1)
    bare["metadata"]["resourceVersion"] = ""
    one = (await read(listing([bare]), parsed)).jobs
    two = (await read(listing([bare]), parsed)).jobs
    assert one[0] == two[0] and one[0] is not two[0]


def queued(i: int, **status: Any) -> dict[str, Any]:
    raw = with_uids(i + 1)[i]
    raw["metadata"]["managedFields"] = [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}]
    raw["metadata"]["creationTimestamp"] = "2026-12-03T10:00:00Z"
    raw["status"] = {"phase": "Queued", "reason": "Queued", **status}
    return raw


async def test_quiet_queued_reviews_are_parked_small_and_give_back_the_same_model() -> None:
    spent = {"attempts": [{"attempt": 1, "at": "2026-12-03T09:00:00Z", "costUsd": 0.5}]}
    items = [
        queued(0),
        queued(1, nextAttemptAt="2026-12-03T11:00:00Z", startTime="2026-12-03T09:00:00Z", spend=spent),
        {
            **queued(2),
            "spec": {
                **queued(2)["spec"],
                "cancel": {"reason": "PullRequestClosed", "requestedAt": "2026-12-03T10:00:00Z"},
            },
        },
        {**item(3), "status": {"phase": "Running"}},
        item(4),  # Pending
    ]
    parsed = Parsed()
    active = await read(listing(items), parsed)
    assert [p.name for p in active.parked] == ["j0000", "j0001"]
    assert [j.metadata.name for j in active.jobs] == ["j0002", "j0003", "j0004"]  # a cancel mark stays whole
    for raw, p in zip(items, active.parked, strict=False):
        assert p.model() == ReviewJob.model_validate(raw)  # whole again, as validated from the read
        assert b"managedFields" not in p.raw
        assert p.phase is Phase.QUEUED and p.uid == raw["metadata"]["uid"]
    first, retry = active.parked
    assert first.spend is None and first.next_attempt_at is None and first.pr == (1, 1)
    assert retry.spend is not None and retry.spend.attempts[0].cost_usd == 0.5
    assert retry.next_attempt_at is not None and retry.start_time is not None
    assert retry.slot(retry.created or retry.start_time).not_before == retry.next_attempt_at
    again = await read(listing(items), parsed)  # unchanged: the same parked objects
    assert all(a is b for a, b in zip(again.parked, active.parked, strict=True))
    assert all(isinstance(p, Parked) for p in again.parked)


async def test_a_read_takes_the_oldest_new_reviewjobs_within_its_room_and_defers_the_rest() -> None:
    new = with_uids(6, "Pending")[1:]  # j0001 … j0005
    for raw, minute in zip(new, [4, 1, 5, 2, 3], strict=True):
        raw["metadata"]["creationTimestamp"] = f"2026-12-03T10:0{minute}:00Z"
    active, parsed = Active(room=3), Parsed()
    parsed.begin()
    await read_active_page(listing([new[0], new[1], queued(0)], "more"), active, parsed)
    await read_active_page(listing(new[2:]), active, parsed)
    await active.take_new()
    parsed.end()
    assert [p.name for p in active.parked] == ["j0000"]  # queued ones are always read
    # The three oldest, oldest first (created at minutes 1, 2, 3); two are left for the next read.
    assert [j.metadata.name for j in active.jobs] == ["j0002", "j0004", "j0005"] and active.deferred == 2
