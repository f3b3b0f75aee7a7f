"""How a run ended: classification of the CLI's results and errors, and the runner's exit codes.

Runner exit codes (one per outcome class, so `kubectl describe pod` tells the story even when the
termination message is lost):

| exit | outcome           | meaning                                                        |
|------|-------------------|----------------------------------------------------------------|
| 0    | success           | review produced (it may have no findings)                      |
| 1    | agent_error       | unexpected runner failure (a bug); the result says agent_error |
| 10   | agent_error       | the agent failed: garbled output, or the CLI crashed           |
| 11   | max_turns         | the agent hit the turn limit                                   |
| 12   | budget_exceeded   | the agent hit the USD budget                                   |
| 13   | cli_missing       | no Claude Code CLI in the image (or at the configured path)    |
| 20   | rate_limited      | API 429/529/5xx after the CLI's retries; retryable             |
| 21   | unauthorized      | API 401/403: the model credential is wrong; never retried      |
| 30   | timeout           | wall-clock timeout or SIGTERM                                  |
| 40   | checkout_failed   | no usable checkout, or the diff could not be computed          |
"""

from __future__ import annotations

from dataclasses import dataclass

from review_operator.api.result import ResultOutcome

EXIT_CODES: dict[ResultOutcome, int] = {
    ResultOutcome.SUCCESS: 0,
    ResultOutcome.AGENT_ERROR: 10,
    ResultOutcome.MAX_TURNS: 11,
    ResultOutcome.BUDGET_EXCEEDED: 12,
    ResultOutcome.CLI_MISSING: 13,
    ResultOutcome.RATE_LIMITED: 20,
    ResultOutcome.UNAUTHORIZED: 21,
    ResultOutcome.TIMEOUT: 30,
    ResultOutcome.CHECKOUT_FAILED: 40,
}
EXIT_RUNNER_BUG = 1

UNAUTHORIZED_STATUSES = frozenset({401, 403})


@dataclass(frozen=True)
class Classified:
    outcome: ResultOutcome
    error: str = ""


def classify_api_status(status: int | None) -> ResultOutcome | None:
    """The class of an API error status, or None when the status says nothing."""
    if status is None:
        return None
    if status in UNAUTHORIZED_STATUSES:
        return ResultOutcome.UNAUTHORIZED
    if status in (408, 429, 529) or status >= 500:
        return ResultOutcome.RATE_LIMITED
    return ResultOutcome.AGENT_ERROR


def classify_result(
    *, subtype: str, is_error: bool, api_error_status: int | None, errors: list[str] | None, text: str | None
) -> Classified:
    """Classifies the CLI's final ResultMessage.

    `is_error` wins over `subtype`: the CLI reports an API failure on the last turn as subtype
    `success` with `is_error=True` and the HTTP status in `api_error_status`.
    """
    detail = "; ".join(errors or []) or (text or "")
    if subtype == "error_max_turns":
        return Classified(ResultOutcome.MAX_TURNS, detail)
    if subtype == "error_max_budget_usd":
        return Classified(ResultOutcome.BUDGET_EXCEEDED, detail)
    if not is_error and subtype == "success":
        return Classified(ResultOutcome.SUCCESS)
    by_status = classify_api_status(api_error_status)
    if by_status is not None:
        return Classified(by_status, f"API status {api_error_status}: {detail}")
    return Classified(ResultOutcome.AGENT_ERROR, f"{subtype}: {detail}")


def classify_assistant_error(error: str | None) -> ResultOutcome | None:
    """The CLI's synthetic assistant messages name the failure (`authentication_failed`, ...)."""
    return {
        "authentication_failed": ResultOutcome.UNAUTHORIZED,
        "billing_error": ResultOutcome.UNAUTHORIZED,
        "rate_limit": ResultOutcome.RATE_LIMITED,
        "server_error": ResultOutcome.RATE_LIMITED,
    }.get(error or "")


def exit_code(outcome: ResultOutcome) -> int:
    return EXIT_CODES[outcome]
