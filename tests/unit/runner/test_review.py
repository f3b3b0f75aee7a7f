"""Parsing, repairing and filtering the agent's final answer."""

from __future__ import annotations

import json

import pytest

from review_operator.api.result import Finding, Severity, Side
from review_operator.runner.review import (
    AgentOutputError,
    filter_findings,
    parse_agent_output,
    summary_with_outside,
)


def _f(**kw: object) -> dict[str, object]:
    base: dict[str, object] = {
        "path": "a.py",
        "line": 3,
        "severity": "high",
        "confidence": 0.9,
        "title": "t",
        "body": "b",
    }
    base.update(kw)
    return base


def test_plain_json_is_parsed() -> None:
    review = parse_agent_output(json.dumps({"summary": "s", "findings": [_f()]}))
    assert review.summary == "s" and review.findings[0].severity is Severity.HIGH


def test_prose_fences_trailing_commas_and_aliases_are_repaired() -> None:
    obj = (
        '{"summary": "s", "findings": [{"path": "a.py", "line": 3, "severity": "Major", "side": "left",},],}'
    )
    text = f"Sure!\n```json\n{obj}\n```"
    review = parse_agent_output(text)
    assert review.findings[0].severity is Severity.HIGH and review.findings[0].side is Side.LEFT


def test_json_followed_by_prose_is_found() -> None:
    review = parse_agent_output('{"summary": "s", "findings": []} and then {more prose}')
    assert review.summary == "s"


def test_invalid_findings_are_counted_not_fatal() -> None:
    review = parse_agent_output(
        json.dumps({"summary": "s", "findings": [_f(), _f(line=0), "junk", _f(title="x" * 500)]})
    )
    assert len(review.findings) == 2 and review.invalid == 2
    assert len(review.findings[1].title) == 200


@pytest.mark.parametrize("text", ["", "LGTM", "{not json", '["a list"]', '{"findings": "nope"}'])
def test_unrecoverable_answers_raise_agent_output_error(text: str) -> None:
    with pytest.raises(AgentOutputError):
        parse_agent_output(text)


def test_structured_output_wins_over_text() -> None:
    review = parse_agent_output("garbage", {"summary": "structured", "findings": []})
    assert review.summary == "structured"


def test_filters_threshold_cap_and_move_outside_lines() -> None:
    findings = [
        Finding(path="a.py", line=3, severity=Severity.LOW, confidence=0.9),
        Finding(path="a.py", line=4, severity=Severity.CRITICAL, confidence=0.95),
        Finding(path="a.py", line=5, severity=Severity.HIGH, confidence=0.2),
        Finding(path="a.py", line=99, severity=Severity.HIGH, confidence=0.9, title="far away"),
        Finding(path="b.py", line=1, side=Side.LEFT, severity=Severity.MEDIUM, confidence=0.9),
        Finding(path="a.py", line=3, severity=Severity.NIT, confidence=1.0),
    ]
    commentable = {"a.py": (frozenset({3, 4, 5}), frozenset()), "b.py": (frozenset(), frozenset({1}))}
    out = filter_findings(
        findings, commentable=commentable, min_severity=Severity.LOW, min_confidence=0.5, max_findings=3
    )
    assert [(f.path, f.line) for f in out.inline] == [("a.py", 4), ("b.py", 1)]
    assert [(f.path, f.line) for f in out.outside_diff] == [("a.py", 99)]
    assert out.dropped == 3  # low-confidence, nit, and the LOW one beyond the cap of three
    summary = summary_with_outside("Overall fine.", out.outside_diff)
    assert summary.startswith("Overall fine.") and "`a.py:99`" in summary and "far away" in summary
