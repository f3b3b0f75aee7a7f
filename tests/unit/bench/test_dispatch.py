"""Dispatch latency pairing shared by the drain and its peers (tests/bench/dispatch.py)."""

from __future__ import annotations

import math

from tests.bench.dispatch import dispatch_latencies, percentile_ms
from tests.bench.podwatch import condition_true


def test_each_freed_slot_is_paired_with_the_pod_created_after_the_first_limit() -> None:
    # Limit 2: pods 0 and 1 start at once; the 1st pod to finish frees the slot of the 3rd created.
    created = [0.0, 0.0, 2.3, 2.9, 4.4]
    finished = [2.0, 2.5, 4.0, 4.6, 6.0]
    assert dispatch_latencies(created, finished, 2) == sorted([2.3 - 2.0, 2.9 - 2.5, 4.4 - 4.0])


def test_a_pod_created_before_its_slot_was_freed_is_left_out() -> None:
    # A third pod created while two still run: more than the limit, not a dispatch.
    assert dispatch_latencies([0.0, 0.0, 1.0], [2.0, 2.1, 3.0], 2) == []


def test_no_pairs_until_more_than_limit_pods_were_created() -> None:
    assert dispatch_latencies([0.0, 0.1], [1.0, 1.1], 2) == []


def test_percentile_picks_the_nearest_rank_below_in_milliseconds() -> None:
    latencies = [i / 1000 for i in range(1, 101)]  # 1 ms … 100 ms
    assert percentile_ms(latencies, 0.50) == 51.0
    assert percentile_ms(latencies, 0.99) == 100.0
    assert percentile_ms([0.25], 0.99) == 250.0
    assert math.isnan(percentile_ms([], 0.5))


def test_a_condition_counts_only_when_its_status_is_true() -> None:
    workload = {
        "status": {
            "conditions": [
                {"type": "QuotaReserved", "status": "True"},
                {"type": "Finished", "status": "False"},
            ]
        }
    }
    assert condition_true(workload, "QuotaReserved")
    assert not condition_true(workload, "Finished")
    assert not condition_true(workload, "Admitted")
    assert not condition_true({"metadata": {}}, "Finished")
