"""Pure formatting of posted text: markers, scrubbing, limits."""

from __future__ import annotations

from review_operator.api.result import Finding, ResultOutcome, ReviewResult, Severity, Side
from review_operator.github.format import (
    MAX_BODY_CHARS,
    SUMMARY_MARKER,
    Provenance,
    format_failure_summary,
    format_inline_comment,
    format_review_body,
    format_summary,
    has_review_marker,
    is_summary,
    review_marker,
    safe,
    summary_written_by,
)

SHA = "a" * 40
TOKEN = "ghs_" + "B" * 36
KEY_BLOCK = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----"


def _result(**kw: object) -> ReviewResult:
    return ReviewResult.model_validate({"outcome": ResultOutcome.SUCCESS, **kw})


def test_review_body_carries_the_job_marker_and_only_that_one() -> None:
    body = format_review_body("rj-1", _result(summary="fine"), SHA, [])
    assert has_review_marker(body, "rj-1")
    assert not has_review_marker(body, "rj-2")
    assert body.endswith(review_marker("rj-1"))


def test_untrusted_text_cannot_forge_markers() -> None:
    forged = review_marker("rj-victim")
    body = format_review_body(
        "rj-1", _result(summary=forged), SHA, [Finding(path="a", line=1, title=SUMMARY_MARKER)]
    )
    assert not has_review_marker(body, "rj-victim")
    assert SUMMARY_MARKER not in body.replace(review_marker("rj-1"), "")
    assert not is_summary(format_inline_comment(Finding(path="a", line=1, title=forged)))


def test_secrets_are_scrubbed_from_everything_posted() -> None:
    finding = Finding(path="a.py", line=1, title=TOKEN, body=KEY_BLOCK, suggestion=TOKEN)
    texts = [
        format_inline_comment(finding),
        format_review_body("rj", _result(summary=TOKEN, findings=[finding]), SHA, [finding]),
        format_summary(
            "rj",
            _result(summary=TOKEN, skipped_files=[TOKEN]),
            SHA,
            review_url=None,
            inline=0,
            outside_diff=0,
        ),
        format_failure_summary("rj", SHA, "Failed", "AgentError", f"boom {TOKEN} {KEY_BLOCK}"),
    ]
    for text in texts:
        assert TOKEN not in text and "PRIVATE KEY" not in text
        assert "[REDACTED]" in text


def test_suggestions_only_on_the_new_side() -> None:
    right = format_inline_comment(Finding(path="a", line=1, suggestion="x = 1"))
    left = format_inline_comment(Finding(path="a", line=1, side=Side.LEFT, suggestion="x = 1"))
    assert "```suggestion\nx = 1\n```" in right
    assert "suggestion" not in left


def test_summary_is_recognisable_and_names_its_writer() -> None:
    findings = [
        Finding(path="a", line=1, severity=Severity.HIGH),
        Finding(path="b", line=2, severity=Severity.NIT),
    ]
    text = format_summary(
        "rj-7",
        _result(findings=findings, cost_usd=0.5, dropped=2),
        SHA,
        review_url="https://x/r",
        inline=1,
        outside_diff=1,
    )
    assert is_summary(text) and summary_written_by(text, "rj-7") and not summary_written_by(text, "rj-8")
    assert "1 high, 1 nit" in text and "$0.5000" in text and "2 lower-severity" in text and SHA[:12] in text


def test_huge_texts_are_clipped_below_githubs_limit() -> None:
    big = [Finding(path="a", line=i, body="x" * 3999) for i in range(1, 40)]
    body = format_review_body("rj", _result(summary="s" * 7999, findings=big), SHA, big)
    assert len(body) <= MAX_BODY_CHARS
    assert has_review_marker(body, "rj")


def test_safe_leaves_ordinary_text_alone() -> None:
    assert safe("use `x <- y` and a < b") == "use `x <- y` and a < b"


def test_summary_says_which_commits_files_and_model_and_what_every_attempt_cost() -> None:
    # Issue 20 item 5: the reviewed range, the model, files reviewed vs skipped, cost of all attempts.
    files = {"reviewed_files": 5, "skipped": 2, "skipped_files": ["a.lock"]}
    result = _result(cost_usd=0.25, turns=7, model="claude-sonnet-4-5", **files)
    base = "b" * 40
    text = format_summary(
        "rj",
        result,
        SHA,
        review_url=None,
        inline=0,
        outside_diff=0,
        provenance=Provenance(base_sha=base, attempts=3, total_cost_usd=0.75),
    )
    assert f"Reviewed commits `{base[:12]}..{SHA[:12]}`" in text
    assert "- Cost: $0.7500 over 3 attempts · `claude-sonnet-4-5` · 7 turns" in text
    assert "- Files: 5 reviewed, 2 skipped: `a.lock`" in text
    alone = format_summary("rj", _result(cost_usd=0.25), SHA, review_url=None, inline=0, outside_diff=0)
    assert f"Reviewed commit `{SHA[:12]}`" in alone and "- Cost: $0.2500 · 0 turns" in alone
    assert "Files:" not in alone  # a result that says nothing about files claims nothing


def test_a_model_name_cannot_smuggle_a_token_into_the_summary() -> None:
    text = format_summary("rj", _result(model=TOKEN), SHA, review_url=None, inline=0, outside_diff=0)
    assert TOKEN not in text


def test_summary_names_an_incremental_range_or_why_the_review_was_full() -> None:
    # Issue 20 item 2: which commits were reviewed, and since which review.
    since, base = "5" * 40, "b" * 40
    delta = Provenance(base_sha=base, since_sha=since, full_because="ignored when incremental")
    text = format_summary("rj", _result(), SHA, review_url=None, inline=0, outside_diff=0, provenance=delta)
    assert (
        f"Reviewed commits `{since[:12]}..{SHA[:12]}` (incremental since the review of `{since[:12]}`)"
        in text
    )
    assert "full review" not in text and "ignored" not in text
    forced = Provenance(base_sha=base, full_because="The previously reviewed commit was force-pushed away.")
    text = format_summary("rj", _result(), SHA, review_url=None, inline=0, outside_diff=0, provenance=forced)
    assert (
        f"Reviewed commits `{base[:12]}..{SHA[:12]}` (full review: The previously reviewed commit was "
        "force-pushed away)"
    ) in text
