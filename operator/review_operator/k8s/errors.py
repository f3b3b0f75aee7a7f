"""Typed Kubernetes API errors: translated once here, so callers never inspect HTTP statuses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import urllib3.exceptions
from kubernetes.client.exceptions import ApiException


class KubeError(Exception):
    """A Kubernetes API call failed; `status` is the HTTP status (0 when there was no answer)."""

    def __init__(self, message: str, status: int = 0, detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        # The API server's own explanation of a refusal (a Status `message`: quota, PodSecurity, an
        # admission webhook's denial). Kept apart from str(): shown only where a caller chooses to.
        self.detail = detail


class AlreadyExists(KubeError):
    """The object already exists (create of a name that is taken)."""


class NotFound(KubeError):
    """The object (or its namespace or kind) does not exist."""


class Conflict(KubeError):
    """The object changed since it was read (resourceVersion precondition failed)."""


class Invalid(KubeError):
    """The API server rejected the object (schema validation, 422)."""


class ApiUnavailable(KubeError):
    """No usable answer: connection refused, timeout, 429 or 5xx. Worth retrying later."""


class ConfigError(KubeError):
    """No usable cluster configuration (neither in-cluster nor a kubeconfig)."""


DETAIL_LIMIT = 1000


def _status_field(body: str | bytes | None, key: str) -> str:
    try:
        decoded = json.loads(body or "{}")
    except (TypeError, ValueError):
        return ""
    return str(decoded.get(key, "")) if isinstance(decoded, dict) else ""


def _reason(body: str | bytes | None) -> str:
    """The `reason` of a Kubernetes Status body ("AlreadyExists", "Conflict", …), or ""."""
    return _status_field(body, "reason")


def error_for_status(status: int, phrase: str, body: str | bytes | None) -> KubeError:
    """The typed error for an HTTP answer of the API server (the body is read, never quoted)."""
    message = f"Kubernetes API: HTTP {status} {phrase}".strip()
    if status == 409:
        cls: type[KubeError] = AlreadyExists if _reason(body) == "AlreadyExists" else Conflict
        return cls(message, status)
    if status == 404:
        return NotFound(message, status)
    if status == 422:
        return Invalid(message, status, _status_field(body, "message")[:DETAIL_LIMIT])
    if status in (0, 429) or status >= 500:
        return ApiUnavailable(message, status)
    detail = _status_field(body, "message")[:DETAIL_LIMIT] if 400 <= status < 500 else ""
    return KubeError(message, status, detail)


def translate(exc: ApiException) -> KubeError:
    """The typed error for an ApiException."""
    return error_for_status(int(exc.status or 0), exc.reason or "", exc.body)


# Transport failures below the client: refused, reset, TLS, timeouts (urllib3 wraps most of them).
_TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (urllib3.exceptions.HTTPError, OSError)


@contextmanager
def translated() -> Iterator[None]:
    """Raises typed errors for everything the client can raise about the API server."""
    try:
        yield
    except ApiException as exc:
        raise translate(exc) from exc
    except _TRANSPORT_ERRORS as exc:
        raise ApiUnavailable(f"Kubernetes API unreachable: {type(exc).__name__}") from exc
