"""Forged, malformed and abusive requests: each gets its documented 4xx and creates nothing."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from review_operator.webhook.app import WEBHOOK_PATH
from review_operator.webhook.signature import sign
from tests.harness.controlplane import ControlPlane
from tests.integration.webhook_helpers import (
    OLD_SECRET,
    SECRET,
    MountedSecret,
    encode,
    example,
    reviewjobs,
    running_webhook,
    signed_headers,
)

BODY = encode(example("pull_request", "opened"))


def _headers(**changes: Any) -> dict[str, str]:
    headers = signed_headers(BODY, "pull_request")
    for key, value in changes.items():
        name = {"signature": "X-Hub-Signature-256", "event": "X-GitHub-Event", "ctype": "Content-Type"}[key]
        if value is None:
            headers.pop(name)
        else:
            headers[name] = value
    return headers


SIGNATURES = {
    "missing": None,
    "forged": sign(BODY, b"attacker-guess"),
    "truncated": sign(BODY, SECRET.encode())[:40],
    "empty": "",
    "legacy sha1 only": "sha1=" + hmac.new(SECRET.encode(), BODY, hashlib.sha1).hexdigest(),
    "other body": sign(b"{}", SECRET.encode()),
}


@pytest.mark.parametrize("case", sorted(SIGNATURES))
async def test_bad_signature_answers_401_without_a_hint(
    control_plane: ControlPlane, api_client: client.ApiClient, namespace: str, case: str
) -> None:
    async with running_webhook(namespace, control_plane.kubeconfig) as (hook, _):
        response = await hook.post(BODY, _headers(signature=SIGNATURES[case]))
        assert response.status == 401
        assert await response.json() == {"result": "unauthorized"}
    assert reviewjobs(api_client, namespace) == []


async def test_rotated_secrets_are_both_accepted_and_a_removed_one_is_refused(
    control_plane: ControlPlane, api_client: client.ApiClient, namespace: str
) -> None:
    both = f"{SECRET},{OLD_SECRET}"
    async with running_webhook(namespace, control_plane.kubeconfig, webhook_secret=both) as (hook, _):
        old = await hook.deliver("pull_request", example("pull_request", "opened"), secret=OLD_SECRET)
        new = await hook.deliver("ping", example("ping"), secret=SECRET)
        assert (old.status, new.status) == (201, 200)
    async with running_webhook(namespace, control_plane.kubeconfig) as (hook, _):
        refused = await hook.deliver("pull_request", example("pull_request", "reopened"), secret=OLD_SECRET)
        assert refused.status == 401
    assert len(reviewjobs(api_client, namespace)) == 1


async def test_rewriting_the_mounted_secret_file_rotates_the_secret_while_running(
    control_plane: ControlPlane, api_client: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    mount = MountedSecret(tmp_path)  # updated as the kubelet updates a Secret volume: `..data` swap
    mount.write(OLD_SECRET + "\n")
    settings = {"webhook_secret": None, "webhook_secret_file": mount.path}
    async with running_webhook(namespace, control_plane.kubeconfig, **settings) as (hook, _):
        assert (await hook.deliver("ping", example("ping"), secret=SECRET)).status == 401
        assert (await hook.deliver("ping", example("ping"), secret=OLD_SECRET)).status == 200
        mount.write(f"{SECRET},{OLD_SECRET}\n")  # step 1: add the new one
        assert (await hook.deliver("ping", example("ping"), secret=SECRET)).status == 200
        old = await hook.deliver("pull_request", example("pull_request", "opened"), secret=OLD_SECRET)
        assert old.status == 201
        mount.write(SECRET + "\n")  # step 3 (after GitHub was changed): drop the old one
        assert (await hook.deliver("ping", example("ping"), secret=OLD_SECRET)).status == 401
        assert (await hook.deliver("ping", example("ping"), secret=SECRET)).status == 200
        mount.path.resolve().write_text(OLD_SECRET)  # a file rewritten in place is read again too
        assert (await hook.deliver("ping", example("ping"), secret=OLD_SECRET)).status == 200
    assert len(reviewjobs(api_client, namespace)) == 1


async def test_oversized_body_answers_413(
    control_plane: ControlPlane, api_client: client.ApiClient, namespace: str
) -> None:
    big = encode({**example("pull_request", "opened"), "padding": "x" * 70_000})
    async with running_webhook(namespace, control_plane.kubeconfig, webhook_max_body_bytes=65_536) as (
        hook,
        _,
    ):
        response = await hook.post(big, signed_headers(big, "pull_request"))
        assert response.status == 413
        unsigned = await hook.post(big, {"X-GitHub-Event": "pull_request"})
        assert unsigned.status == 413
    assert reviewjobs(api_client, namespace) == []


@pytest.mark.parametrize(
    ("body", "changes", "status"),
    [
        (b"", {}, 400),  # empty body, correctly signed
        (b"not json {", {}, 400),
        (b"\xff\xfe\x00garbage", {}, 400),
        (b"[" * 100_000, {}, 400),  # nesting deeper than any parser allows
        (BODY, {"ctype": "application/x-www-form-urlencoded"}, 415),
        (BODY, {"ctype": None}, 415),
        (BODY, {"event": None}, 400),
    ],
    ids=["empty", "not-json", "binary", "deep-nesting", "form-encoded", "no-content-type", "no-event"],
)
async def test_malformed_signed_requests_answer_4xx_and_create_nothing(
    control_plane: ControlPlane,
    api_client: client.ApiClient,
    namespace: str,
    body: bytes,
    changes: dict[str, Any],
    status: int,
) -> None:
    headers = _headers(**changes)
    headers["X-Hub-Signature-256"] = sign(body, SECRET.encode())
    async with running_webhook(namespace, control_plane.kubeconfig) as (hook, _):
        response = await hook.post(body, headers)
        assert response.status == status, await response.text()
    assert reviewjobs(api_client, namespace) == []


async def test_wrong_method_answers_405(control_plane: ControlPlane, namespace: str) -> None:
    async with running_webhook(namespace, control_plane.kubeconfig) as (hook, _):
        assert (await hook.client.get(WEBHOOK_PATH)).status == 405
        assert (await hook.client.put(WEBHOOK_PATH, data=BODY)).status == 405


async def test_repository_over_its_rate_limit_answers_429(
    control_plane: ControlPlane, api_client: client.ApiClient, namespace: str
) -> None:
    settings = {"webhook_rate_burst": 2, "webhook_rate_per_second": 0.001}
    async with running_webhook(namespace, control_plane.kubeconfig, **settings) as (hook, _):
        statuses = [
            (await hook.deliver("pull_request", example("pull_request", action))).status
            for action in ("opened", "opened", "reopened")
        ]
        ping = await hook.deliver("ping", example("ping"))
    assert statuses == [201, 200, 429]
    assert ping.status == 200  # only deliveries that would touch the API are limited
    assert len(reviewjobs(api_client, namespace)) == 1
