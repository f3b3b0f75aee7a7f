"""Typed GitHub errors: every githubkit/httpx failure is translated here, once.

Messages name the operation and the HTTP status only; they never carry a response body, a header or a
URL with credentials, so they are safe to log, to put on a ReviewJob and to show on a pull request.
"""

from __future__ import annotations

from typing import ClassVar

from githubkit.exception import (
    GitHubException,
    RateLimitExceeded,
    RequestError,
    RequestFailed,
    RequestTimeout,
)


class GitHubError(Exception):
    """Base class of every error this package raises."""


class Unauthorized(GitHubError):
    """401 (or 403 without rate limiting): the credential is revoked, expired or lacks permission.

    Fail closed: retrying cannot help and a retry storm gets an App flagged.
    """


class GitHubNotFound(GitHubError):
    """404: the repository, pull request or commit does not exist (or the token cannot see it)."""


class RateLimited(GitHubError):
    """Primary or secondary rate limit; retry no sooner than `retry_after` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Transient(GitHubError):
    """5xx, timeout or dropped connection: the outcome of a write is unknown, look before retrying."""


class Rejected(GitHubError):
    """422 or another 4xx: GitHub refused the request as invalid; retrying the same request won't help."""


class CheckoutError(GitHubError):
    """The checkout failed; `reason` is machine-readable (the init container's exit code maps to it)."""

    EXIT_CODES: ClassVar[dict[str, int]] = {
        "GitFailed": 2,
        "Unauthorized": 3,
        "CommitNotFound": 4,
        "TooLarge": 5,
        "Timeout": 6,
    }

    def __init__(self, message: str, reason: str = "GitFailed") -> None:
        super().__init__(message)
        self.reason = reason if reason in self.EXIT_CODES else "GitFailed"

    @property
    def exit_code(self) -> int:
        return self.EXIT_CODES[self.reason]


# GitHub sometimes answers a secondary rate limit with 403/429 and neither retry-after nor
# x-ratelimit-remaining; its docs then say to wait at least a minute.
DEFAULT_RATE_LIMIT_WAIT = 60.0


def _mentions_rate_limit(exc: RequestFailed) -> bool:
    try:
        return "rate limit" in exc.response.raw_response.text.lower()
    except (UnicodeDecodeError, RuntimeError):
        return False


def translate(exc: GitHubException, operation: str) -> GitHubError:
    """Maps a githubkit exception to a typed error whose message is safe to show."""
    if isinstance(exc, RateLimitExceeded):
        seconds = max(exc.retry_after.total_seconds(), 0.0)
        return RateLimited(f"{operation}: rate limited, retry after {seconds:.0f}s", seconds)
    if isinstance(exc, RequestFailed):
        status = exc.response.status_code
        if status == 401:
            return Unauthorized(f"{operation}: GitHub answered 401 (credential revoked or expired)")
        if status == 429 or (status == 403 and _mentions_rate_limit(exc)):
            wait = DEFAULT_RATE_LIMIT_WAIT
            return RateLimited(f"{operation}: rate limited ({status}), retry after {wait:.0f}s", wait)
        if status == 403:
            return Unauthorized(f"{operation}: GitHub answered 403 (credential lacks permission)")
        if status == 404:
            return GitHubNotFound(f"{operation}: GitHub answered 404")
        if status >= 500:
            return Transient(f"{operation}: GitHub answered {status}")
        return Rejected(f"{operation}: GitHub answered {status}")
    if isinstance(exc, RequestTimeout):
        return Transient(f"{operation}: request timed out")
    if isinstance(exc, RequestError):
        if isinstance(exc.exc, GitHubException):
            # githubkit wraps a refused token mint (401: the installation or key revoked; 422: a
            # permission the App lacks) in a RequestError: what GitHub answered is the inner failure.
            return translate(exc.exc, operation)
        return Transient(f"{operation}: connection failed ({type(exc.exc).__name__})")
    return Transient(f"{operation}: {type(exc).__name__}")


__all__ = [
    "CheckoutError",
    "GitHubError",
    "GitHubNotFound",
    "RateLimited",
    "Rejected",
    "Transient",
    "Unauthorized",
    "translate",
]
