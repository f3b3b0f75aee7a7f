"""Classification of run endings and the documented exit codes."""

from __future__ import annotations

import pytest

import review_operator.runner.outcome as outcome_module
from review_operator.api.result import ResultOutcome
from review_operator.runner.outcome import EXIT_CODES, classify_assistant_error, classify_result
from tests.harness.controlplane import REPO_ROOT


def _c(subtype: str = "success", *, is_error: bool = False, status: int | None = None) -> ResultOutcome:
    return classify_result(
        subtype=subtype, is_error=is_error, api_error_status=status, errors=None, text="x"
    ).outcome


def test_is_error_wins_over_a_success_subtype() -> None:
    assert _c("success") is ResultOutcome.SUCCESS
    assert _c("success", is_error=True) is ResultOutcome.AGENT_ERROR
    assert _c("success", is_error=True, status=401) is ResultOutcome.UNAUTHORIZED
    assert _c("success", is_error=True, status=403) is ResultOutcome.UNAUTHORIZED
    assert _c("success", is_error=True, status=429) is ResultOutcome.RATE_LIMITED
    assert _c("success", is_error=True, status=529) is ResultOutcome.RATE_LIMITED
    assert _c("success", is_error=True, status=500) is ResultOutcome.RATE_LIMITED
    assert _c("success", is_error=True, status=400) is ResultOutcome.AGENT_ERROR


def test_limit_subtypes_map_to_their_classes() -> None:
    assert _c("error_max_turns", is_error=True) is ResultOutcome.MAX_TURNS
    assert _c("error_max_budget_usd", is_error=True) is ResultOutcome.BUDGET_EXCEEDED
    assert _c("error_during_execution", is_error=True) is ResultOutcome.AGENT_ERROR


def test_synthetic_assistant_errors_are_classified() -> None:
    assert classify_assistant_error("authentication_failed") is ResultOutcome.UNAUTHORIZED
    assert classify_assistant_error("rate_limit") is ResultOutcome.RATE_LIMITED
    assert classify_assistant_error(None) is None


def test_exit_codes_are_distinct_and_documented() -> None:
    codes = list(EXIT_CODES.values())
    assert set(EXIT_CODES) == set(ResultOutcome)
    assert EXIT_CODES[ResultOutcome.SUCCESS] == 0 and len(set(codes)) == len(codes)
    doc = outcome_module.__doc__ or ""
    readme = (REPO_ROOT / "README.md").read_text()
    for outcome, code in EXIT_CODES.items():
        assert f"| {code} " in doc and outcome.value in doc
        assert f"| {code} " in readme and outcome.value in readme, "README 'Runner exit codes' is stale"


@pytest.mark.parametrize("outcome", list(ResultOutcome))
def test_every_outcome_has_a_nonzero_code_except_success(outcome: ResultOutcome) -> None:
    assert (EXIT_CODES[outcome] == 0) == (outcome is ResultOutcome.SUCCESS)
