"""The review event: never APPROVE; REQUEST_CHANGES only when asked for and a finding reaches the bar."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from review_operator.api.result import Finding, Severity
from review_operator.config import GitHubSettings


def _finding(severity: Severity) -> Finding:
    return Finding(path="a.py", line=1, severity=severity, title="t")


def test_the_bot_can_never_be_configured_to_approve() -> None:
    with pytest.raises(ValidationError, match="review_event"):
        GitHubSettings(review_event="APPROVE")  # type: ignore[arg-type]


def test_the_bot_can_never_be_configured_to_approve_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REVIEWOP_GITHUB_REVIEW_EVENT", "APPROVE")
    with pytest.raises(ValidationError, match="review_event"):
        GitHubSettings()


@pytest.mark.parametrize(
    ("mode", "threshold", "severities", "event"),
    [
        ("COMMENT", "high", [Severity.CRITICAL], "COMMENT"),
        ("REQUEST_CHANGES", "high", [], "COMMENT"),
        ("REQUEST_CHANGES", "high", [Severity.MEDIUM, Severity.LOW], "COMMENT"),
        ("REQUEST_CHANGES", "high", [Severity.NIT, Severity.HIGH], "REQUEST_CHANGES"),
        ("REQUEST_CHANGES", "high", [Severity.CRITICAL], "REQUEST_CHANGES"),
        ("REQUEST_CHANGES", "critical", [Severity.HIGH], "COMMENT"),
        ("REQUEST_CHANGES", "nit", [Severity.NIT], "REQUEST_CHANGES"),
    ],
)
def test_event_is_chosen_from_the_findings(
    mode: str, threshold: str, severities: list[Severity], event: str
) -> None:
    from review_operator.github.event import review_event

    settings = GitHubSettings(review_event=mode, request_changes_severity=threshold)  # type: ignore[arg-type]
    assert review_event(settings, [_finding(s) for s in severities]) == event


def test_an_explicit_threshold_decides_and_none_means_never() -> None:
    from review_operator.github.event import event_for, request_changes_threshold

    assert event_for(None, [_finding(Severity.CRITICAL)]) == "COMMENT"
    assert event_for(Severity.LOW, [_finding(Severity.LOW)]) == "REQUEST_CHANGES"
    assert event_for(Severity.HIGH, [_finding(Severity.MEDIUM)]) == "COMMENT"
    assert request_changes_threshold(GitHubSettings()) is None
    on = GitHubSettings(review_event="REQUEST_CHANGES", request_changes_severity="medium")
    assert request_changes_threshold(on) is Severity.MEDIUM
