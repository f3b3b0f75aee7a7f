"""Error translation and the retry policy: what may be repeated, and what never."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from githubkit import GitHub
from githubkit.exception import RequestError, RequestFailed, SecondaryRateLimitExceeded
from githubkit.response import Response

from review_operator.config import GitHubSettings
from review_operator.github.auth import SafeRetry, backoff_delay
from review_operator.github.checkout import git_url_for
from review_operator.github.errors import (
    CheckoutError,
    GitHubNotFound,
    RateLimited,
    Rejected,
    Transient,
    Unauthorized,
    translate,
)

SETTINGS = GitHubSettings(token="ghp_" + "x" * 36, max_attempts=4, max_retry_after_seconds=10)


def _failed(method: str, status: int) -> RequestFailed:
    request = httpx.Request(method, "https://api.github.com/repos/o/r/pulls/1/reviews")
    raw = httpx.Response(status, request=request, json={"message": "x"})
    return RequestFailed(Response(raw, dict))


def _dropped(method: str) -> RequestError[httpx.HTTPError]:
    request = httpx.Request(method, "https://api.github.com/repos/o/r/pulls/1/reviews")
    return RequestError(httpx.RemoteProtocolError("Server disconnected", request=request))


@pytest.mark.parametrize(
    ("status", "kind"),
    [(401, Unauthorized), (403, Unauthorized), (404, GitHubNotFound), (422, Rejected), (502, Transient)],
)
def test_http_failures_translate_to_typed_errors(status: int, kind: type[Exception]) -> None:
    error = translate(_failed("POST", status), "create review")
    assert isinstance(error, kind)
    assert str(error).startswith("create review:") and str(status) in str(error)


def test_rate_limits_carry_retry_after() -> None:
    exc = SecondaryRateLimitExceeded(_failed("POST", 403).response, timedelta(seconds=7))
    error = translate(exc, "create review")
    assert isinstance(error, RateLimited) and error.retry_after == 7


def test_post_is_never_repeated_on_5xx_or_drop_but_get_is() -> None:
    retry = SafeRetry(SETTINGS)
    assert not retry(_failed("POST", 502), 0).do_retry
    assert not retry(_dropped("POST"), 0).do_retry
    assert retry(_failed("GET", 502), 0).do_retry
    assert retry(_dropped("GET"), 0).do_retry
    assert retry(_failed("PATCH", 503), 0).do_retry


def test_unauthorized_is_never_retried_and_attempts_are_bounded() -> None:
    retry = SafeRetry(SETTINGS)
    assert not retry(_failed("GET", 401), 0).do_retry
    assert not retry(_failed("GET", 502), 3).do_retry


def test_rate_limit_is_retried_after_the_announced_delay_unless_too_long() -> None:
    retry = SafeRetry(SETTINGS)
    response = _failed("POST", 403).response
    short = retry(SecondaryRateLimitExceeded(response, timedelta(seconds=2)), 0)
    assert short.do_retry and short.retry_after == timedelta(seconds=2)
    assert not retry(SecondaryRateLimitExceeded(response, timedelta(seconds=600)), 0).do_retry


def test_backoff_is_capped() -> None:
    assert all(0 <= backoff_delay(1.0, n, cap=30) <= 30 for n in range(20))


def test_git_url_follows_the_api_url() -> None:
    assert git_url_for("https://api.github.com", "o", "r") == "https://github.com/o/r.git"
    assert git_url_for("https://ghe.example.com/api/v3/", "o", "r") == "https://ghe.example.com/o/r.git"
    assert git_url_for("http://127.0.0.1:8080", "o", "r") == "http://127.0.0.1:8080/o/r.git"


def test_checkout_errors_map_to_distinct_exit_codes() -> None:
    codes = {
        CheckoutError("x", r).exit_code for r in ("GitFailed", "Unauthorized", "CommitNotFound", "TooLarge")
    }
    assert len(codes) == 4 and CheckoutError("x", "bogus").reason == "GitFailed"


def test_settings_repr_hides_the_token() -> None:
    assert "x" * 36 not in repr(SETTINGS) and "x" * 36 not in str(SETTINGS.model_dump())


def test_github_client_is_constructible_with_the_token() -> None:
    assert isinstance(GitHub(SETTINGS.token.get_secret_value() if SETTINGS.token else ""), GitHub)


@pytest.mark.parametrize(("status", "kind"), [(401, Unauthorized), (422, Rejected), (502, Transient)])
def test_a_refused_token_mint_wrapped_by_githubkit_is_what_github_answered(
    status: int, kind: type[Exception]
) -> None:
    # githubkit's App auth raises the mint's failure inside a RequestError: a revoked installation
    # (401) must fail closed as Unauthorized, not be retried as a dropped connection.
    error = translate(RequestError(_failed("POST", status)), "create review")
    assert isinstance(error, kind) and str(status) in str(error)
    assert isinstance(translate(_dropped("POST"), "create review"), Transient)
