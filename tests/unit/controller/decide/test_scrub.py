"""The controller cuts messages to length only after redacting token shapes (it knows no secret values)."""

from __future__ import annotations

from typing import Any

import pytest

from review_operator.api.result import ResultOutcome, ReviewResult, encode_result
from review_operator.controller.decide import status
from review_operator.controller.decide.classify import classify_pod
from tests.factories import T0, reviewjob

TOKEN = "ghs_" + "Q7r8S9t0" * 5  # an installation token shape (ghs_ + 40)


def _straddling(limit: int, cut_inside: int) -> str:
    return "x" * (limit - cut_inside - 1) + " " + TOKEN + " tail"


def _leaks(text: str) -> bool:
    return TOKEN[4:12] in text


def _failed_checkout(message: str) -> dict[str, Any]:
    return {
        "metadata": {"name": "p"},
        "status": {
            "phase": "Failed",
            "initContainerStatuses": [
                {"name": "checkout", "state": {"terminated": {"exitCode": 4, "message": message}}}
            ],
        },
    }


@pytest.mark.parametrize("cut_inside", [12, 23, 30])
def test_a_token_cut_by_the_checkout_message_limit_is_redacted_first(cut_inside: int) -> None:
    prefix = "Checkout failed: "
    verdict = classify_pod(_failed_checkout(_straddling(300, cut_inside)))
    assert verdict.message.startswith(prefix)
    assert not _leaks(verdict.message)


@pytest.mark.parametrize("cut_inside", [12, 23, 30])
def test_a_token_cut_by_the_result_error_limit_is_redacted_first(cut_inside: int) -> None:
    # A result from an older runner that did not scrub: the controller still must not cut a token.
    error = _straddling(1000 - len("The agent failed. "), cut_inside)[:1000]
    message = encode_result(ReviewResult(outcome=ResultOutcome.AGENT_ERROR, error=error))
    the_pod = {
        "metadata": {"name": "p"},
        "status": {
            "phase": "Failed",
            "containerStatuses": [
                {"name": "review", "state": {"terminated": {"exitCode": 1, "message": message}}}
            ],
        },
    }
    assert not _leaks(classify_pod(the_pod).message)


@pytest.mark.parametrize("cut_inside", [12, 23, 30])
def test_status_messages_cut_at_their_limit_never_keep_part_of_a_token(cut_inside: int) -> None:
    retry = status.retrying(reviewjob("rj"), "Evicted", _straddling(1024, cut_inside), T0, T0)
    assert not _leaks(retry["message"])
    assert not any(_leaks(c["message"]) for c in retry["conditions"])
