"""Pure formatting of everything posted to GitHub: review body, inline comments, summary, failure notes.

Every text that reaches GitHub passes through `safe()`: token shapes are redacted (api.scrub) and HTML
comment openers in untrusted text are neutralised, so a finding can neither leak a credential nor forge
the hidden markers the poster relies on for exactly-once posting.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from review_operator.api.result import Finding, ReviewResult, Severity, Side
from review_operator.api.scrub import scrub_token_shapes

# GitHub's limit for a comment or review body is 65,536 characters; stay clear of it.
MAX_BODY_CHARS = 60_000
SUMMARY_MARKER = "<!-- review-operator:summary -->"
_KEY_SAFE = re.compile(r"[^a-z0-9.\-]")
_SEVERITY_ICON = {
    Severity.CRITICAL: "🔴",
    Severity.HIGH: "🟠",
    Severity.MEDIUM: "🟡",
    Severity.LOW: "🔵",
    Severity.NIT: "⚪",
}


def safe(text: str) -> str:
    """Untrusted or derived text made safe to post: no token shapes, no hidden markers."""
    return scrub_token_shapes(text).replace("<!--", "&lt;!--")


def _key(job_key: str) -> str:
    return _KEY_SAFE.sub("-", job_key.lower())


_REVIEW_MARKER_PREFIX = "<!-- review-operator:review job="


def review_marker(job_key: str) -> str:
    """Hidden marker on the review itself: lets a restarted poster find what it already posted."""
    return f"{_REVIEW_MARKER_PREFIX}{_key(job_key)} -->"


def has_any_review_marker(body: str | None) -> bool:
    """Whether a review carries the marker of some ReviewJob (a review this operator posted)."""
    return body is not None and _REVIEW_MARKER_PREFIX in body


def job_marker(job_key: str) -> str:
    """Hidden marker in the summary comment naming the ReviewJob that last wrote it."""
    return f"<!-- review-operator:job={_key(job_key)} -->"


def has_review_marker(body: str | None, job_key: str) -> bool:
    return body is not None and review_marker(job_key) in body


def is_summary(body: str | None) -> bool:
    return body is not None and body.startswith(SUMMARY_MARKER)


def summary_written_by(body: str | None, job_key: str) -> bool:
    return is_summary(body) and job_marker(job_key) in (body or "")


def _clip(text: str, limit: int = MAX_BODY_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 40] + "\n\n…(truncated)"


def _heading(finding: Finding) -> str:
    title = safe(finding.title.strip()) or "Finding"
    return f"{_SEVERITY_ICON[finding.severity]} **{finding.severity.value}**: {title}"


_FINDING_MARKER = re.compile(r"<!-- review-operator:finding fp=([0-9a-f]{16}) -->")
_HEADING = re.compile(r"^\S+ \*\*(critical|high|medium|low|nit)\*\*: (.*)$")


def finding_fingerprint(finding: Finding) -> str:
    """Stable identity of a finding across reviews: its file and its normalised title (the body when
    it has none). Not the line: a finding that moved with the code it is about is still the same one."""
    about = " ".join((finding.title or finding.body[:200]).lower().split())
    return hashlib.sha256(f"{finding.path}\n{about}".encode()).hexdigest()[:16]


def finding_marker(finding: Finding) -> str:
    """Hidden marker in an inline comment: lets a later review tell whether it reports the same finding."""
    return f"<!-- review-operator:finding fp={finding_fingerprint(finding)} -->"


def fingerprint_of(body: str | None) -> str | None:
    """The fingerprint an inline comment's marker carries (None: not one of our finding comments).
    `safe()` turns every `<!--` in untrusted text into `&lt;!--`, so only the poster can write one."""
    found = _FINDING_MARKER.search(body or "")
    return None if found is None else found.group(1)


def finding_heading(body: str | None) -> tuple[str, str] | None:
    """(severity, title) from an inline comment's first line, as `format_inline_comment` wrote it."""
    found = _HEADING.match((body or "").split("\n", 1)[0])
    return None if found is None else (found.group(1), found.group(2))


def format_inline_comment(finding: Finding) -> str:
    parts = [_heading(finding)]
    if finding.body.strip():
        parts.append(safe(finding.body.strip()))
    if finding.suggestion is not None and finding.side is Side.RIGHT:
        parts.append("```suggestion\n" + safe(finding.suggestion).rstrip("\n") + "\n```")
    return _clip("\n\n".join(parts), 20_000) + "\n\n" + finding_marker(finding)


def _outside_diff_section(findings: Sequence[Finding]) -> str:
    lines = ["### Findings outside the diff", ""]
    for f in findings:
        lines.append(f"- {_heading(f)} — `{safe(f.path)}` line {f.line}")
        if f.body.strip():
            lines.append("  " + safe(f.body.strip()).replace("\n", "\n  "))
    return "\n".join(lines)


def format_review_body(
    job_key: str, result: ReviewResult, head_sha: str, outside_diff: Sequence[Finding]
) -> str:
    """The review's top-level body: the model's summary, findings that could not go inline, the marker."""
    parts = [f"**review-operator** reviewed `{head_sha[:12]}`."]
    if result.summary.strip():
        parts.append(safe(result.summary.strip()))
    if not result.findings:
        parts.append("No findings.")
    if outside_diff:
        parts.append(_outside_diff_section(outside_diff))
    body = _clip("\n\n".join(parts), MAX_BODY_CHARS - 200)
    return body + "\n\n" + review_marker(job_key)


def _counts(findings: Sequence[Finding]) -> str:
    counts = Counter(f.severity for f in findings)
    shown = [f"{counts[s]} {s.value}" for s in Severity if counts[s]]
    return ", ".join(shown) if shown else "none"


@dataclass(frozen=True)
class Provenance:
    """What the summary says the review covered and cost, beyond the result itself."""

    base_sha: str | None = None  # the reviewed range starts here (None: unknown, the head alone)
    attempts: int = 1
    total_cost_usd: float | None = None  # every attempt's spend, this one's included (None: this one's)
    since_sha: str | None = None  # incremental: only `since..head` was reviewed
    full_because: str = ""  # a full review: why (the first review, a force-push, `/review full`, …)


def _range(base_sha: str | None, head_sha: str) -> str:
    if base_sha:
        return f"commits `{base_sha[:12]}..{head_sha[:12]}`"
    return f"commit `{head_sha[:12]}`"


def _scope(about: Provenance, head_sha: str) -> str:
    """Which commits the review covered: `since..head` of an incremental review, else the PR's range."""
    if about.since_sha:
        since = about.since_sha[:12]
        return f"commits `{since}..{head_sha[:12]}` (incremental since the review of `{since}`)"
    why = safe(about.full_because.strip().rstrip("."))
    return _range(about.base_sha, head_sha) + (f" (full review: {why})" if why else " (full review)")


def _cost(result: ReviewResult, provenance: Provenance) -> str:
    total = result.cost_usd if provenance.total_cost_usd is None else provenance.total_cost_usd
    if provenance.attempts > 1:
        return f"${total:.4f} over {provenance.attempts} attempts"
    return f"${total:.4f}"


def _files(result: ReviewResult) -> str | None:
    skipped_count = max(result.skipped, len(result.skipped_files))
    if not result.reviewed_files and not skipped_count:
        return None
    line = f"- Files: {result.reviewed_files} reviewed, {skipped_count} skipped"
    if result.skipped_files:
        line += ": " + ", ".join(f"`{safe(p)}`" for p in result.skipped_files[:20])
    return line


@dataclass(frozen=True)
class OpenThread:
    """An earlier finding's review thread that stays open (carried over into this review's summary)."""

    path: str
    line: int | None
    title: str
    severity: str = ""
    url: str = ""


@dataclass(frozen=True)
class EarlierFindings:
    """What happened to our earlier review threads: carried over, resolved, or not settled and why."""

    carried: Sequence[OpenThread] = field(default_factory=tuple)
    resolved: int = 0
    problem: str = ""  # why some could not be read or resolved (empty: none)


MAX_CARRIED_SHOWN = 50


def _earlier_section(earlier: EarlierFindings) -> list[str]:
    lines: list[str] = []
    if earlier.carried:
        lines += ["", f"### Earlier findings still open ({len(earlier.carried)})", ""]
        for t in earlier.carried[:MAX_CARRIED_SHOWN]:
            icons = {s.value: icon for s, icon in _SEVERITY_ICON.items()}
            head = f"{icons[t.severity]} **{t.severity}**: " if t.severity in icons else ""
            where = f"`{safe(t.path)}`" + (f" line {t.line}" if t.line else "")
            link = f" ([thread]({t.url}))" if t.url.startswith("https://") else ""
            lines.append(f"- {head}{safe(t.title) or 'Finding'} — {where}{link}")
        if len(earlier.carried) > MAX_CARRIED_SHOWN:
            lines.append(f"- …and {len(earlier.carried) - MAX_CARRIED_SHOWN} more")
    if earlier.resolved or earlier.problem:
        lines.append("")
    if earlier.resolved:
        lines.append(
            f"- Resolved {earlier.resolved} earlier review thread(s) whose findings are no longer reported"
        )
    if earlier.problem:
        lines.append(f"- Earlier review threads not settled: {safe(earlier.problem)}")
    return lines


def format_summary(
    job_key: str,
    result: ReviewResult,
    head_sha: str,
    *,
    review_url: str | None,
    inline: int,
    outside_diff: int,
    provenance: Provenance | None = None,
    earlier: EarlierFindings | None = None,
) -> str:
    """The per-PR summary comment (edited in place on later reviews): what was reviewed (the commit
    range, the files), what it found, and what it cost (model, turns, every attempt's spend)."""
    about = provenance or Provenance()
    lines = [
        SUMMARY_MARKER,
        "## review-operator",
        "",
        f"Reviewed {_scope(about, head_sha)}"
        + (f" — [see the review]({review_url})" if review_url else "")
        + ".",
        "",
        f"- Findings: {_counts(result.findings)} ({inline} inline, {outside_diff} in the review body)",
    ]
    model = f"`{safe(result.model)}` · " if result.model else ""
    lines.append(
        f"- Cost: {_cost(result, about)} · {model}{result.turns} turns · {result.duration_ms / 1000:.1f}s"
    )
    if result.dropped:
        lines.append(f"- {result.dropped} lower-severity findings were dropped to fit size limits")
    files = _files(result)
    if files:
        lines.append(files)
    if earlier is not None:
        lines += _earlier_section(earlier)
    lines += ["", job_marker(job_key)]
    return _clip("\n".join(lines))


def format_failure_summary(job_key: str, head_sha: str | None, phase: str, reason: str, message: str) -> str:
    """The summary comment when a review could not be produced: users never face silence."""
    commit = f" of commit `{head_sha[:12]}`" if head_sha else ""
    lines = [
        SUMMARY_MARKER,
        "## review-operator",
        "",
        f"The review{commit} did not complete: **{safe(phase)}** ({safe(reason)}).",
    ]
    if message.strip():
        lines += ["", "> " + safe(message.strip())[:1000].replace("\n", "\n> ")]
    lines += ["", job_marker(job_key)]
    return _clip("\n".join(lines))
