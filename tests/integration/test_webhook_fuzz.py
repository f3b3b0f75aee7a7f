"""Property-based fuzz over headers and bodies: with the API server up, never a 5xx, never a crash."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings, target
from hypothesis import event as note
from hypothesis import strategies as st
from kubernetes import client

from review_operator.webhook.app import WEBHOOK_PATH
from review_operator.webhook.signature import sign
from tests.harness.controlplane import ControlPlane
from tests.integration.webhook_helpers import SECRET, example, review_comment, running_webhook

# Header values HTTP can carry: visible Latin-1 and spaces, no control characters.
header_text = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=80
)
json_leaf = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
json_values = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
REAL = [
    example("pull_request", "opened"),
    example("pull_request", "closed"),
    example("pull_request", "synchronize"),
    review_comment("/review"),
    example("ping"),
]


@st.composite
def mutated_payload(draw: st.DrawFn) -> Any:
    """A real payload with a few fields replaced by arbitrary JSON (at any depth)."""
    payload = json.loads(json.dumps(draw(st.sampled_from(REAL))))
    for _ in range(draw(st.integers(0, 3))):
        node = payload
        while isinstance(node, dict) and node and draw(st.booleans()):
            key = draw(st.sampled_from(sorted(node)))
            if not isinstance(node[key], dict):
                break
            node = node[key]
        if isinstance(node, dict) and node:
            node[draw(st.sampled_from(sorted(node)))] = draw(json_values)
    return payload


bodies = (
    mutated_payload().map(lambda p: json.dumps(p).encode())
    | json_values.map(lambda v: json.dumps(v).encode())
    | st.binary(max_size=300)
)
events = st.sampled_from(["pull_request", "issue_comment", "ping", "push", ""]) | header_text
signing = st.sampled_from(["valid", "valid", "valid", "none", "garbage"])


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    body=bodies,
    event=events,
    delivery=header_text,
    content_type=st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain"]),
    how=signing,
    garbage=header_text,
    method=st.sampled_from(["POST", "POST", "POST", "GET", "PUT", "DELETE"]),
)
async def test_fuzzed_deliveries_never_get_a_5xx(
    control_plane: ControlPlane,
    api_client: client.ApiClient,
    namespace: str,
    body: bytes,
    event: str,
    delivery: str,
    content_type: str,
    how: str,
    garbage: str,
    method: str,
) -> None:
    headers = {"Content-Type": content_type, "X-GitHub-Delivery": delivery}
    if event:
        headers["X-GitHub-Event"] = event
    if how == "valid":
        headers["X-Hub-Signature-256"] = sign(body, SECRET.encode())
    elif how == "garbage":
        headers["X-Hub-Signature-256"] = garbage
    async with running_webhook(namespace, control_plane.kubeconfig) as (hook, _):
        hook.sent_signatures.append(headers.get("X-Hub-Signature-256", ""))
        response = await hook.client.request(method, WEBHOOK_PATH, data=body, headers=headers)
        note(f"status {response.status}")  # --hypothesis-show-statistics shows what was reached
        target(float(response.status in (200, 201, 202)))
        assert response.status < 500, await response.text()
        assert (await hook.client.get("/healthz")).status == 200
