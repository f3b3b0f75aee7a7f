"""From the CLI's final result to the ReviewResult: classification, parsing, summary, scrubbing."""

from __future__ import annotations

import json
from pathlib import Path

from review_operator.api.result import Finding, ResultOutcome, ReviewResult, Severity
from review_operator.api.scrub import Scrubber
from review_operator.config import RunnerSettings
from review_operator.runner.assemble import Limits, RunFacts, assemble, scrub_result
from review_operator.runner.diff import FileDiff, Selection
from review_operator.runner.main import build_scrubber
from review_operator.runner.outcome import Classified

SELECTION = Selection(
    reviewed=[FileDiff(path="a.py", old_path="a.py", patch="", right=frozenset({1, 2}))],
    skipped=[("yarn.lock", "lockfile"), ("b.py", "file cap"), ("c.lock", "lockfile")],
)
LIMITS = Limits(Severity.LOW, 0.5, 10)


def _assemble(
    facts: RunFacts, stopped: Classified | None = None, scrubber: Scrubber | None = None
) -> ReviewResult:
    return assemble(
        facts,
        stopped=stopped,
        selection=SELECTION,
        limits=LIMITS,
        tools={"Read": 2},
        denied=1,
        duration_ms=5,
        retry_after_s=3.0,
        scrubber=scrubber or Scrubber(),
    )


def _answer(*findings: dict[str, object]) -> str:
    return json.dumps({"summary": "Looks fine.", "findings": list(findings)})


def test_successful_run_keeps_commentable_findings_and_reports_skips_and_tools() -> None:
    result = _assemble(
        RunFacts(
            subtype="success",
            text=_answer({"path": "a.py", "line": 2, "severity": "high", "confidence": 0.8}),
        )
    )
    assert result.outcome is ResultOutcome.SUCCESS
    assert [(f.path, f.line) for f in result.findings] == [("a.py", 2)]
    assert result.skipped == 3 and result.skipped_files == ["yarn.lock", "b.py", "c.lock"]
    assert "Not reviewed: 3 file(s) (file cap: 1, lockfile: 2)." in result.summary
    assert "denied 1 call" in result.summary
    assert result.retry_after_s is None  # only meaningful for rate limits


def test_error_result_with_success_subtype_is_classified_by_status() -> None:
    result = _assemble(
        RunFacts(subtype="success", is_error=True, api_error_status=429, text="API Error: 429")
    )
    assert result.outcome is ResultOutcome.RATE_LIMITED and result.retry_after_s == 3.0
    assert result.findings == []


def test_garbled_answer_becomes_agent_error() -> None:
    result = _assemble(RunFacts(subtype="success", text="I could not decide."))
    assert result.outcome is ResultOutcome.AGENT_ERROR and "unusable final answer" in result.error


def test_stop_reason_wins_and_a_missing_result_is_an_agent_error() -> None:
    assert _assemble(RunFacts(), Classified(ResultOutcome.TIMEOUT, "t")).outcome is ResultOutcome.TIMEOUT
    assert _assemble(RunFacts()).outcome is ResultOutcome.AGENT_ERROR


def test_scrub_result_redacts_every_text_and_keeps_field_limits() -> None:
    secret = "sekrit-value-123456"
    result = ReviewResult(
        outcome=ResultOutcome.SUCCESS,
        summary=secret * 400,
        error=f"x {secret}",
        findings=[Finding(path="a.py", line=1, title=f"t {secret}", body=secret, suggestion=secret)],
        skipped_files=[f"{secret}.txt"],
    )
    clean = scrub_result(result, Scrubber([secret]))
    dumped = clean.model_dump_json()
    assert secret not in dumped
    assert len(clean.summary) <= 8000
    ReviewResult.model_validate(json.loads(dumped))


def test_scrubber_knows_env_credentials_and_mounted_secret_files(tmp_path: Path) -> None:
    mounted = tmp_path / "key"
    mounted.write_text("line-one-secret-aaaa\nline-two-secret-bbbb\n")
    scrubber = build_scrubber(
        RunnerSettings(secret_files=[mounted]), {"SOME_API_TOKEN": "env-secret-cccc", "HOME": "/root/home"}
    )
    out = scrubber.scrub("line-one-secret-aaaa line-two-secret-bbbb env-secret-cccc /root/home")
    assert out == "[REDACTED] [REDACTED] [REDACTED] /root/home"


PLANTED = "planted-credential-0123456789abcdefghij"  # 40 characters, like the reproduction


def _straddling(limit: int, cut_inside: int = 39) -> str:
    """Text whose `limit`-th character falls inside PLANTED, `cut_inside` characters of it fitting."""
    return "x" * (limit - cut_inside) + PLANTED + " more"


def _leaks(text: str) -> bool:
    """Whether any 8-character piece of PLANTED, in any case, is in `text` (8: MIN_SECRET_LENGTH)."""
    low = text.lower()
    return any(PLANTED[i : i + 8] in low for i in range(len(PLANTED) - 7))


def test_a_secret_cut_by_any_field_limit_is_scrubbed_before_the_cut() -> None:
    scrubber = Scrubber([PLANTED])
    for cut_inside in (1, 8, 20, 39):
        finding = {
            "path": "a.py",
            "line": 1,
            "severity": "high",
            "confidence": 0.9,
            "title": _straddling(200, cut_inside),
            "body": _straddling(4000, cut_inside),
            "suggestion": _straddling(4000, cut_inside),
        }
        text = json.dumps({"summary": _straddling(8000, cut_inside), "findings": [finding]})
        result = scrub_result(_assemble(RunFacts(subtype="success", text=text), scrubber=scrubber), scrubber)
        dumped = result.model_dump_json()
        assert not _leaks(dumped), f"{cut_inside} characters of a cut secret survived"
        assert [f.line for f in result.findings] == [1]


def test_an_error_cut_at_its_limit_is_scrubbed_before_the_cut() -> None:
    scrubber = Scrubber([PLANTED])
    stopped = Classified(ResultOutcome.AGENT_ERROR, _straddling(1000 - len("The agent failed. ")))
    result = scrub_result(_assemble(RunFacts(), stopped, scrubber=scrubber), scrubber)
    assert not _leaks(result.model_dump_json())
    assert len(result.error) <= 1000


def test_case_and_spacing_variants_in_the_answer_are_scrubbed() -> None:
    scrubber = Scrubber([PLANTED])
    variants = f"{PLANTED.upper()} {' '.join(PLANTED)} {PLANTED[:20]}\n{PLANTED[20:]}"
    finding = {"path": "a.py", "line": 1, "severity": "high", "confidence": 0.9, "body": variants}
    text = json.dumps({"summary": variants, "findings": [finding]})
    result = scrub_result(_assemble(RunFacts(subtype="success", text=text), scrubber=scrubber), scrubber)
    dumped = result.model_dump_json()
    assert not _leaks(dumped.replace(" ", "").replace("\\n", ""))
    assert result.summary.count("[REDACTED]") == 3
