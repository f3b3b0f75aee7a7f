"""The one ReviewJob factory of the test suite: every test that needs a ReviewJob (or its body, to
create through the API server) builds it here and overrides only what it is about.

`reviewjob_body()` is the wire form (camelCase, as the webhook or kubectl creates it);
`reviewjob()` is that body parsed into the model, as the controller sees it.
"""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta
from typing import Any

from review_operator.api.models import API_VERSION, KIND, Phase, ReviewJob

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
SHA_A = "a" * 40


def reviewjob_body(
    name: str = "rj",
    *,
    namespace: str | None = "ns",
    uid: str | None = None,
    created: float | None = 0,
    rv: int | None = 1,
    annotations: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    owner: str = "o",
    repo_name: str | None = None,
    repo_id: int = 1,
    pr: int = 1,
    sha: str = SHA_A,
    base_sha: str | None = None,
    title: str | None = None,
    author: str = "dev",
    association: str = "MEMBER",
    installation_id: int | None = None,
    phase: Phase | str | None = None,
    status: dict[str, Any] | None = None,
    typed: bool = False,
) -> dict[str, Any]:
    """A ReviewJob body: PR #`pr` of `owner`/`repo_name` (default `r<repo_id>`) at `sha`, opened by
    `author` (a member). Metadata: namespace `ns`, uid `uid-<name>` ("" for none), resourceVersion
    `rv`, created at T0 + `created` seconds; None leaves any of them out. `phase` None gives a new
    ReviewJob (no status); `status` adds status fields; `typed` adds apiVersion and kind."""
    metadata: dict[str, Any] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    if uid != "":
        metadata["uid"] = uid or f"uid-{name}"
    if rv is not None:
        metadata["resourceVersion"] = str(rv)
    if created is not None:
        metadata["creationTimestamp"] = (T0 + timedelta(seconds=created)).isoformat()
    if annotations is not None:
        metadata["annotations"] = annotations
    if labels is not None:
        metadata["labels"] = labels
    pull_request: dict[str, Any] = {"number": pr, "headSha": sha}
    if base_sha is not None:
        pull_request["baseSha"] = base_sha
    if title is not None:
        pull_request["title"] = title
    pull_request |= {"author": author, "authorAssociation": association}
    spec: dict[str, Any] = {
        "repository": {"owner": owner, "name": repo_name or f"r{repo_id}", "id": repo_id},
        "pullRequest": pull_request,
    }
    if installation_id is not None:
        spec["installationId"] = installation_id
    spec["trigger"] = {"event": "pull_request", "action": "opened", "sender": author}
    body: dict[str, Any] = {"apiVersion": API_VERSION, "kind": KIND} if typed else {}
    body |= {"metadata": metadata, "spec": spec}
    phase_value = phase.value if isinstance(phase, Phase) else phase
    if phase_value:
        body["status"] = {"phase": phase_value, **(status or {})}
    return body


_BODY_PARAMETERS = frozenset(inspect.signature(reviewjob_body).parameters)


def reviewjob(name: str = "rj", phase: Phase | str | None = None, **fields: Any) -> ReviewJob:
    """The ReviewJob of `reviewjob_body(name, phase=phase, ...)`. Keywords that are not parameters
    of `reviewjob_body` are status fields in their wire names (`attempts=2`, `podName="rj-a1"`)."""
    status = {k: v for k, v in fields.items() if k not in _BODY_PARAMETERS}
    params = {k: v for k, v in fields.items() if k in _BODY_PARAMETERS}
    params["status"] = {**(params.get("status") or {}), **status}
    return ReviewJob.model_validate(reviewjob_body(name, phase=phase, **params))
