"""Dispatch latency of a drain, from the times a pod watch saw each pod created and succeed.

With a limit of L running, the i-th pod to finish frees the slot that the (L+i)-th pod to be created
fills: its dispatch latency is the time between the two. Shared by review-operator's drain and its
peers (the Job controller, Kueue), so every row of the comparison is measured the same way.
"""

from __future__ import annotations

import math


def dispatch_latencies(created: list[float], finished: list[float], limit: int) -> list[float]:
    """Seconds from the i-th pod finished to the (limit+i)-th pod created, sorted; both lists in
    the order the watch saw them. A pair whose pod was created before the slot was freed (a
    controller that let more than `limit` run, or watch events seen out of order) is left out."""
    pairs = range(min(len(finished), len(created) - limit))
    return sorted(created[limit + i] - finished[i] for i in pairs if created[limit + i] >= finished[i])


def percentile_ms(latencies: list[float], p: float) -> float:
    """The p-quantile (0 ≤ p ≤ 1, nearest rank below) of sorted latencies in seconds, in ms; NaN
    when there are none."""
    if not latencies:
        return math.nan
    return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000
