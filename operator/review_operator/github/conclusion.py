"""How a finished review concludes its check run, and where the run links to. Pure.

A review with a finding at or above `REVIEWOP_GITHUB_CHECK_ACTION_REQUIRED_SEVERITY` concludes
`action_required`; other findings `neutral`; no findings `success`. A review that could not be
done (our failure: the model, a pod, posting) is `neutral` with the reason, never `failure`:
`failure` says the code failed the check, and a branch protection requiring the check would then
block a merge for an outage of ours. Superseded and cancelled reviews are `cancelled` or `skipped`
(`stale` is for GitHub alone to set).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from review_operator.api.result import Finding, Severity
from review_operator.config import GitHubSettings

Conclusion = Literal["action_required", "neutral", "success", "cancelled", "skipped"]


def action_required_threshold(settings: GitHubSettings) -> Severity | None:
    """The lowest severity that calls for action; None (`never`): no finding does."""
    value = settings.check_action_required_severity
    return None if value == "never" else Severity(value)


def conclusion_for(threshold: Severity | None, findings: Iterable[Finding]) -> Conclusion:
    """`action_required` when a finding reaches `threshold`, `neutral` for other findings, else `success`."""
    found = list(findings)
    if not found:
        return "success"
    if threshold is not None and any(f.severity.rank >= threshold.rank for f in found):
        return "action_required"
    return "neutral"


def details_url(settings: GitHubSettings, namespace: str, name: str) -> str | None:
    """The configured details link for one ReviewJob (None: GitHub shows the App's page)."""
    template = settings.check_details_url
    return None if template is None else template.format(namespace=namespace, name=name)
