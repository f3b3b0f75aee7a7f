"""Which event a posted review carries: COMMENT or REQUEST_CHANGES, chosen from its findings. Pure.

The bot never approves. Its reviewer is a model reading untrusted code and untrusted PR text, so an
approval could be talked into existence by the PR itself; at most it blocks (REQUEST_CHANGES), and only
when the operator asked for that and a finding reaches the configured severity.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from review_operator.api.result import Finding, Severity
from review_operator.config import GitHubSettings

ReviewEvent = Literal["COMMENT", "REQUEST_CHANGES"]


def request_changes_threshold(settings: GitHubSettings) -> Severity | None:
    """The cluster's bar for REQUEST_CHANGES; None when every review is a comment."""
    if settings.review_event != "REQUEST_CHANGES":
        return None
    return Severity(settings.request_changes_severity)


def event_for(threshold: Severity | None, findings: Iterable[Finding]) -> ReviewEvent:
    """REQUEST_CHANGES when a finding reaches `threshold` (None: never), else COMMENT."""
    if threshold is None:
        return "COMMENT"
    return "REQUEST_CHANGES" if any(f.severity.rank >= threshold.rank for f in findings) else "COMMENT"


def review_event(settings: GitHubSettings, findings: Iterable[Finding]) -> ReviewEvent:
    """REQUEST_CHANGES when configured and a finding reaches the threshold, else COMMENT."""
    return event_for(request_changes_threshold(settings), findings)
