"""A pass's LIST is parsed in slices: malformed ReviewJobs are skipped, and the loop keeps turning."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from review_operator.controller.engine.observer import PARSE_SLICE, Parsed, parse_reviewjobs


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
    jobs = await parse_reviewjobs(json.dumps({"items": [item(i) for i in range(n)]}).encode())
    task.cancel()
    assert len(jobs) == n
    assert turns - before >= 3  # one turn of the loop per slice at least


def listing(items: list[dict[str, Any]]) -> bytes:
    return json.dumps({"items": items}).encode()


async def test_an_unchanged_reviewjob_is_not_validated_again_and_a_changed_one_is() -> None:
    parsed = Parsed()
    items = [{**item(i), "metadata": {**item(i)["metadata"], "uid": f"u{i}"}} for i in range(3)]
    first = await parse_reviewjobs(listing(items), parsed)
    items[1]["metadata"]["resourceVersion"] = "99"
    items[1]["spec"]["pullRequest"]["number"] = 42
    second = await parse_reviewjobs(listing(items), parsed)
    assert second[0] is first[0] and second[2] is first[2]  # the same objects: not validated again
    assert second[1] is not first[1] and second[1].spec.pull_request.number == 42
    # Only the last LIST's are kept: one that left it is validated again when it comes back.
    await parse_reviewjobs(listing(items[:1]), parsed)
    third = await parse_reviewjobs(listing(items), parsed)
    assert third[0] is first[0] and third[2] is not first[2]


async def test_a_reviewjob_without_uid_or_version_is_always_validated() -> None:
    parsed = Parsed()
    bare = item(1)
    bare["metadata"]["resourceVersion"] = ""
    one = await parse_reviewjobs(listing([bare]), parsed)
    two = await parse_reviewjobs(listing([bare]), parsed)
    assert one[0] == two[0] and one[0] is not two[0]
