"""The aiohttp create path authenticates as the official client would and types its errors alike."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from kubernetes import client

from review_operator.k8s import aio
from review_operator.k8s.aio import AsyncKube, AsyncReviewJobs, auth_headers, ssl_context
from review_operator.k8s.errors import (
    AlreadyExists,
    ApiUnavailable,
    Conflict,
    Invalid,
    KubeError,
    error_for_status,
)


def test_bearer_token_comes_from_the_clients_configuration_and_its_refresh_hook() -> None:
    configuration = client.Configuration()
    assert auth_headers(configuration) == {}
    tokens = iter(["first", "second"])

    def refresh(conf: client.Configuration) -> None:
        conf.api_key["authorization"] = next(tokens)

    configuration.api_key_prefix["authorization"] = "Bearer"
    configuration.refresh_api_key_hook = refresh
    configuration.api_key["authorization"] = "stale"
    assert auth_headers(configuration) == {"authorization": "Bearer first"}
    assert auth_headers(configuration) == {"authorization": "Bearer second"}  # read per request


def test_tls_verification_follows_the_configuration() -> None:
    configuration = client.Configuration()
    configuration.verify_ssl = False
    assert ssl_context(configuration) is False
    configuration.verify_ssl = True
    assert ssl_context(configuration) is not False


def test_the_url_names_the_namespace_and_the_custom_resource() -> None:
    configuration = client.Configuration()
    configuration.host = "https://10.0.0.1:443/"
    creates = AsyncReviewJobs(configuration, "reviews", 4)
    assert (
        creates.url == "https://10.0.0.1:443/apis/review-operator.dev/v1alpha1/namespaces/reviews/reviewjobs"
    )


def test_statuses_map_to_the_same_typed_errors_as_the_official_client() -> None:
    assert isinstance(error_for_status(409, "Conflict", b'{"reason": "AlreadyExists"}'), AlreadyExists)
    assert isinstance(error_for_status(409, "Conflict", b'{"reason": "Conflict"}'), Conflict)
    assert isinstance(error_for_status(409, "Conflict", b"garbage"), Conflict)
    assert isinstance(error_for_status(422, "Unprocessable Entity", b"{}"), Invalid)
    assert isinstance(error_for_status(429, "Too Many Requests", b""), ApiUnavailable)
    assert isinstance(error_for_status(503, "Service Unavailable", None), ApiUnavailable)
    forbidden = error_for_status(403, "Forbidden", b'{"message": "secret-looking text"}')
    assert type(forbidden) is KubeError
    assert forbidden.status == 403
    assert "secret-looking" not in str(forbidden)  # bodies are read, never quoted


class Sent:
    """What `AsyncKube` hands aiohttp for each request (no request leaves the process)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.requests: list[dict[str, Any]] = []
        sent = self

        class Answer:
            status, reason = 200, "OK"

            async def __aenter__(self) -> Answer:
                return self

            async def __aexit__(self, *_: object) -> None:
                return None

            async def read(self) -> bytes:
                return b"{}"

        def request(session: aiohttp.ClientSession, method: str, url: str, **options: Any) -> Answer:
            sent.requests.append(options)
            return Answer()

        monkeypatch.setattr(aiohttp.ClientSession, "request", request)


async def test_auth_headers_are_reused_briefly_then_read_again(monkeypatch: pytest.MonkeyPatch) -> None:
    sent = Sent(monkeypatch)
    configuration = client.Configuration()
    configuration.api_key["authorization"] = "one"
    kube = AsyncKube(configuration, 4)
    clock = [1000.0]
    monkeypatch.setattr(aio, "time", SimpleNamespace(monotonic=lambda: clock[0]))  # aio's clock only
    try:
        await kube.request("GET", "/api")
        configuration.api_key["authorization"] = "two"
        clock[0] += aio.AUTH_REUSE_SECONDS / 2
        await kube.request("GET", "/api")
        clock[0] += aio.AUTH_REUSE_SECONDS
        await kube.request("GET", "/api")
    finally:
        await kube.close()
    assert [r["headers"].get("authorization") for r in sent.requests] == ["one", "one", "two"]


async def test_proxy_and_tls_server_name_are_taken_from_the_configuration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent = Sent(monkeypatch)
    configuration = client.Configuration()
    plain = AsyncKube(configuration, 4)
    configuration.proxy = "http://proxy.internal:3128"
    configuration.tls_server_name = "kubernetes.default.svc"
    routed = AsyncKube(configuration, 4)
    try:
        await plain.request("GET", "/api")
        await routed.request("GET", "/api")
    finally:
        await plain.close()
        await routed.close()
    route = [{k: r[k] for k in ("proxy", "server_hostname") if k in r} for r in sent.requests]
    assert route[0] == {}
    assert route[1] == {"proxy": "http://proxy.internal:3128", "server_hostname": "kubernetes.default.svc"}
