"""The agent's final answer: parsing, repair and the filters that decide what gets posted inline.

Pure functions. The model is asked for one JSON object `{"summary": str, "findings": [...]}`. Models
wrap it in prose or code fences, use other spellings for severities, or overrun field limits; those
are repaired here. Only when no object can be recovered at all is the run an agent error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from review_operator.api.result import Finding, Severity, Side
from review_operator.api.scrub import clip

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n(.*?)\n?```", re.DOTALL)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_SEVERITY_ALIASES = {
    "blocker": Severity.CRITICAL,
    "error": Severity.HIGH,
    "major": Severity.HIGH,
    "warning": Severity.MEDIUM,
    "minor": Severity.LOW,
    "info": Severity.NIT,
    "suggestion": Severity.NIT,
    "trivial": Severity.NIT,
}
_LIMITS = {"title": 200, "body": 4000, "suggestion": 4000, "path": 1024}

OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["summary", "findings"],
    "properties": {
        "summary": {"type": "string"},
        "findings": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["path", "line", "severity", "title", "body"],
                "properties": {
                    "path": {"type": "string"},
                    "line": {"type": "integer", "minimum": 1},
                    "side": {"enum": ["RIGHT", "LEFT"]},
                    "severity": {"enum": [s.value for s in Severity]},
                    "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                    "title": {"type": "string"},
                    "body": {"type": "string"},
                    "suggestion": {"type": "string"},
                },
            },
        },
    },
}


class AgentOutputError(ValueError):
    """The final answer holds no recoverable review object."""


class AgentReview(BaseModel):
    summary: str = ""
    findings: list[Finding] = []
    invalid: int = 0


def _candidates(text: str) -> list[str]:
    out = [text.strip()]
    out += [m.group(1) for m in _FENCE.finditer(text)]
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        out.append(text[start : end + 1])
    return out


def _load_object(text: str) -> dict[str, Any]:
    for candidate in _candidates(text):
        for variant in (candidate, _TRAILING_COMMA.sub(r"\1", candidate)):
            try:
                data = json.loads(variant)
            except ValueError:
                continue
            if isinstance(data, dict):
                return data
    # Last resort: the first decodable object anywhere in the text (prose after the JSON).
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text):
        try:
            data, _ = decoder.raw_decode(text, match.start())
        except ValueError:
            continue
        if isinstance(data, dict) and ("findings" in data or "summary" in data):
            return data
    raise AgentOutputError("final answer contains no JSON review object")


def _normalise_finding(raw: dict[str, Any], clean: Callable[[str], str]) -> dict[str, Any]:
    item = dict(raw)
    sev = str(item.get("severity", "medium")).strip().lower()
    item["severity"] = _SEVERITY_ALIASES.get(sev, sev)
    if isinstance(item.get("side"), str):
        item["side"] = item["side"].upper()
    if "file" in item and "path" not in item:
        item["path"] = item.pop("file")
    for key, limit in _LIMITS.items():
        value = item.get(key)
        if isinstance(value, str):
            # Scrubbed before it is cut: a limit through a secret would leave an unrecognisable prefix.
            item[key] = clip(clean(value), limit)
    return item


def _unchanged(text: str) -> str:
    return text


def parse_agent_output(
    text: str | None, structured: Any = None, *, clean: Callable[[str], str] = _unchanged
) -> AgentReview:
    """Recovers the review from the final answer; raises AgentOutputError when nothing is usable.

    `clean` (the runner's scrubber) is applied to every text field before any length limit cuts it.
    """
    data = structured if isinstance(structured, dict) else _load_object(text or "")
    raw_findings = data.get("findings", [])
    if not isinstance(raw_findings, list):
        raise AgentOutputError("`findings` is not a list")
    findings: list[Finding] = []
    invalid = 0
    for raw in raw_findings:
        try:
            item = _normalise_finding(raw, clean) if isinstance(raw, dict) else raw
            findings.append(Finding.model_validate(item))
        except ValidationError:
            invalid += 1
    summary = data.get("summary", "")
    return AgentReview(
        summary=clean(summary if isinstance(summary, str) else str(summary)),
        findings=findings,
        invalid=invalid,
    )


@dataclass(frozen=True)
class Filtered:
    inline: list[Finding]
    outside_diff: list[Finding] = field(default_factory=list)
    dropped: int = 0


def is_commentable(f: Finding, commentable: dict[str, tuple[frozenset[int], frozenset[int]]]) -> bool:
    right, left = commentable.get(f.path, (frozenset(), frozenset()))
    return f.line in (right if f.side is Side.RIGHT else left)


def filter_findings(
    findings: list[Finding],
    *,
    commentable: dict[str, tuple[frozenset[int], frozenset[int]]],
    min_severity: Severity,
    min_confidence: float,
    max_findings: int,
) -> Filtered:
    """Drops weak findings, keeps the strongest `max_findings`, and separates lines outside the diff."""
    strong = [f for f in findings if f.severity.rank >= min_severity.rank and f.confidence >= min_confidence]
    strong.sort(key=lambda f: (f.severity.rank, f.confidence), reverse=True)
    kept = strong[:max_findings]
    dropped = len(findings) - len(kept)
    inline = [f for f in kept if is_commentable(f, commentable)]
    outside = [f for f in kept if not is_commentable(f, commentable)]
    return Filtered(inline=inline, outside_diff=outside, dropped=dropped)


def summary_with_outside(summary: str, outside: list[Finding]) -> str:
    """Findings GitHub would reject inline become bullet points of the summary instead."""
    if not outside:
        return summary
    lines = [f"- **{f.severity.value}** `{f.path}:{f.line}`: {f.title or f.body[:120]}" for f in outside]
    return f"{summary.rstrip()}\n\nOutside the diff:\n" + "\n".join(lines)
