"""Optional check run per ReviewJob (queued → in progress → completed), found by its `external_id`
(the ReviewJob's name) among our App's runs named `review-operator`.

Enabled by `REVIEWOP_GITHUB_CHECK_RUNS`; the posting token then carries `checks: write`. The
controller decides when each status is shown (`controller/decide/checkrun.py`); a posted review
completes its run here, with the findings as annotations.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from review_operator.api.models import ReviewJob
from review_operator.api.result import ReviewResult, Severity
from review_operator.builders.names import CHECK_RUN_NAME
from review_operator.github.auth import RepoClient
from review_operator.github.calls import call, create_once, job_key
from review_operator.github.conclusion import (
    Conclusion,
    action_required_threshold,
    conclusion_for,
    details_url,
)
from review_operator.github.errors import GitHubNotFound
from review_operator.github.format import safe

CHECK_NAME = CHECK_RUN_NAME
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


async def _upsert(
    gh: RepoClient,
    job: ReviewJob,
    head_sha: str,
    fields: dict[str, Any],
    *,
    run_id: int | None = None,
    only_existing: bool = False,
) -> int | None:
    """Updates the run (`run_id` when known: one request; else found by its external id first) or
    creates it once with `fields`; with `only_existing`, a run that was never created stays so (None)."""
    owner, repo = job.spec.repository.owner, job.spec.repository.name
    url = details_url(gh.settings, job.metadata.namespace, job_key(job))
    if url is not None:
        fields = {**fields, "details_url": url}

    async def update(existing: int) -> None:
        await gh.before_write()
        await call(
            "update check run",
            lambda: gh.github.rest.checks.async_update(owner, repo, existing, data=fields),  # type: ignore[call-overload]
        )

    if run_id is not None:
        try:
            await update(run_id)
            return run_id
        except GitHubNotFound:
            pass  # the remembered run is gone (deleted with its commit): look it up as if unknown
    if only_existing:
        found = await find(gh, job, head_sha)
        if found is not None:
            await update(found)
        return found
    body = {"name": CHECK_NAME, "head_sha": head_sha, "external_id": job_key(job), **fields}

    async def create() -> int:
        resp = await call(
            "create check run",
            lambda: gh.github.rest.checks.async_create(owner, repo, data=body),  # type: ignore[call-overload]
        )
        return int(resp.parsed_data.id)

    # The look-up before the create (create_once) also finds a run to update: one GET, then one write.
    result, created = await create_once(gh, "check run", lambda: find(gh, job, head_sha), create)
    if not created:
        await update(result)
    return result


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _output(title: str, summary: str) -> dict[str, Any]:
    return {"title": safe(title)[:255] or CHECK_NAME, "summary": safe(summary)[:60_000] or title}


async def show(
    gh: RepoClient,
    job: ReviewJob,
    head_sha: str,
    *,
    status: Literal["queued", "in_progress", "completed"],
    title: str,
    summary: str,
    conclusion: Conclusion | None = None,
    run_id: int | None = None,
    only_existing: bool = False,
) -> int | None:
    """Shows the review as queued, in progress, or completed with `conclusion` (required then);
    returns the run's id (None: `only_existing` and there was none). One request when `run_id` is
    known, else a look-up first (never a second run: `create_once`)."""
    if (status == "completed") != (conclusion is not None):
        raise ValueError("a conclusion goes with status completed, and only with it")
    fields: dict[str, Any] = {"status": status, "output": _output(title, summary)}
    if conclusion is not None:
        fields |= {"conclusion": conclusion, "completed_at": _now()}
    return await _upsert(gh, job, head_sha, fields, run_id=run_id, only_existing=only_existing)


async def complete(
    gh: RepoClient, job: ReviewJob, head_sha: str, result: ReviewResult, run_id: int | None = None
) -> int:
    """Completes the run of a posted review, its findings as annotations; the conclusion from
    them and `REVIEWOP_GITHUB_CHECK_ACTION_REQUIRED_SEVERITY` (`conclusion.conclusion_for`)."""
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
    conclusion = conclusion_for(action_required_threshold(gh.settings), result.findings)
    output = {
        "title": f"{len(result.findings)} findings",
        "summary": safe(result.summary)[:60_000] or "Review completed.",
        "annotations": annotations,
    }
    fields = {"status": "completed", "conclusion": conclusion, "completed_at": _now(), "output": output}
    done = await _upsert(gh, job, head_sha, fields, run_id=run_id)
    assert done is not None
    return done
