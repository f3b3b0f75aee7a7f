"""Optional check run per ReviewJob (queued → in progress → completed), found by its `external_id`.

Enabled by `REVIEWOP_GITHUB_CHECK_RUNS`; the posting token then carries `checks: write`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from review_operator.api.models import ReviewJob
from review_operator.api.result import ReviewResult, Severity
from review_operator.github.auth import RepoClient
from review_operator.github.calls import call, create_once, job_key
from review_operator.github.format import safe

CHECK_NAME = "review-operator"
MAX_ANNOTATIONS = 50  # GitHub's limit per request
_LEVEL = {
    Severity.CRITICAL: "failure",
    Severity.HIGH: "failure",
    Severity.MEDIUM: "warning",
    Severity.LOW: "notice",
    Severity.NIT: "notice",
}


async def find(gh: RepoClient, job: ReviewJob, head_sha: str) -> int | None:
    owner, repo = job.spec.repository.owner, job.spec.repository.name
    resp = await call(
        "list check runs",
        lambda: gh.github.rest.checks.async_list_for_ref(owner, repo, head_sha, check_name=CHECK_NAME),
    )
    key = job_key(job)
    for run in resp.parsed_data.check_runs:
        # In App mode only our App's runs count: another App could create one with our name and id.
        ours = not gh.app_mode or (run.app is not None and run.app.id == gh.settings.app_id)
        if run.external_id == key and ours:
            return run.id
    return None


async def _upsert(gh: RepoClient, job: ReviewJob, head_sha: str, fields: dict[str, Any]) -> int:
    owner, repo = job.spec.repository.owner, job.spec.repository.name
    existing = await find(gh, job, head_sha)
    if existing is not None:
        await gh.before_write()
        await call(
            "update check run",
            lambda: gh.github.rest.checks.async_update(owner, repo, existing, data=fields),  # type: ignore[call-overload]
        )
        return existing
    body = {"name": CHECK_NAME, "head_sha": head_sha, "external_id": job_key(job), **fields}

    async def create() -> int:
        resp = await call(
            "create check run",
            lambda: gh.github.rest.checks.async_create(owner, repo, data=body),  # type: ignore[call-overload]
        )
        return int(resp.parsed_data.id)

    run_id, _ = await create_once(gh, "check run", lambda: find(gh, job, head_sha), create)
    return run_id


async def start(gh: RepoClient, job: ReviewJob, head_sha: str, *, queued: bool = False) -> int:
    """Shows the review as queued or in progress (creating the check run once, then updating it)."""
    return await _upsert(gh, job, head_sha, {"status": "queued" if queued else "in_progress"})


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def complete(gh: RepoClient, job: ReviewJob, head_sha: str, result: ReviewResult) -> int:
    annotations = [
        {
            "path": f.path,
            "start_line": f.line,
            "end_line": f.line,
            "annotation_level": _LEVEL[f.severity],
            "title": safe(f.title)[:255] or f.severity.value,
            "message": safe(f.body)[:4000] or safe(f.title) or f.severity.value,
        }
        for f in result.findings[:MAX_ANNOTATIONS]
    ]
    output = {
        "title": f"{len(result.findings)} findings",
        "summary": safe(result.summary)[:60_000] or "Review completed.",
        "annotations": annotations,
    }
    fields = {"status": "completed", "conclusion": "neutral", "completed_at": _now(), "output": output}
    return await _upsert(gh, job, head_sha, fields)


async def fail(gh: RepoClient, job: ReviewJob, head_sha: str, text: str) -> int:
    output = {"title": "Review failed", "summary": safe(text)[:60_000]}
    fields = {"status": "completed", "conclusion": "neutral", "completed_at": _now(), "output": output}
    return await _upsert(gh, job, head_sha, fields)
