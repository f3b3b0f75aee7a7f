"""Which finished ReviewJobs a pass must read: the label selectors of garbage collection and of the
daily budget. Pure.

A finished ReviewJob carries the UTC day it finished as a label. Garbage collection then reads only
the ReviewJobs of days wholly past the TTL (`finished-day notin (every later day)`) and of the one day
the TTL's boundary falls in (those are filtered by `completionTime`); the daily budget reads only
today's. So an idle controller's reads grow with what expires and what finished today, not with the
week of finished reviews kept under the TTL. A ReviewJob labelled before the day label existed has
none: `notin` selects it too (so it still expires), and the budget reads those separately.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from review_operator.builders.names import LABEL_FINISHED, LABEL_FINISHED_DAY

FINISHED_SELECTOR = f"{LABEL_FINISHED}=true"
# A TTL spanning more days than this is read whole: a selector naming hundreds of days is no cheaper.
MAX_DAYS_IN_SELECTOR = 62


def day_label(at: datetime) -> str:
    """The finished-day label of a ReviewJob that finished at `at` (UTC)."""
    return at.strftime("%Y-%m-%d")


def expiry_selectors(now: datetime, ttl: timedelta) -> list[str]:
    """Selectors that together list every finished ReviewJob that may be past `ttl` (each one still
    compared with its `completionTime`), and few that are not."""
    boundary = (now - ttl).date()
    days = [boundary + timedelta(days=i) for i in range((now.date() - boundary).days + 1)]
    if len(days) > MAX_DAYS_IN_SELECTOR:
        return [FINISHED_SELECTOR]
    later = ",".join(d.isoformat() for d in days)
    return [
        f"{FINISHED_SELECTOR},{LABEL_FINISHED_DAY} notin ({later})",
        f"{FINISHED_SELECTOR},{LABEL_FINISHED_DAY}={boundary.isoformat()}",
    ]


def spend_selectors(now: datetime) -> list[str]:
    """Selectors of the finished ReviewJobs whose spend may count today: today's, and those without
    a day label (finished before it existed)."""
    return [
        f"{FINISHED_SELECTOR},{LABEL_FINISHED_DAY}={day_label(now)}",
        f"{FINISHED_SELECTOR},!{LABEL_FINISHED_DAY}",
    ]
