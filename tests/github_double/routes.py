"""Endpoint handlers of the GitHub double: state changes and responses built from GitHub's examples."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from tests.github_double.openapi import Operation
    from tests.github_double.server import GitHubDouble, Grant, Pull

from tests.github_double import server as s
from tests.github_double.contents import get_content
from tests.github_double.git import compare, diff_lines, pull_files

Handler = Any


def _page(request: web.Request, items: list[Any]) -> list[Any]:
    page = int(request.query.get("page", "1"))
    per_page = int(request.query.get("per_page", "30"))
    return items[(page - 1) * per_page : page * per_page]


def _paged(request: web.Request, items: list[Any]) -> web.Response:
    """A list response with GitHub's `Link: <…>; rel="next"` header when more pages exist."""
    page = int(request.query.get("page", "1"))
    per_page = int(request.query.get("per_page", "30"))
    headers = {}
    if page * per_page < len(items):
        nxt = request.url.update_query(page=str(page + 1), per_page=str(per_page))
        headers["Link"] = f'<{nxt}>; rel="next"'
    return web.json_response(_page(request, items), headers=headers)


def _pull(
    d: GitHubDouble, params: dict[str, str], grant: Grant, perm: str, level: str, number_key: str
) -> Pull | web.Response:
    repo = d.repo_for(params["owner"], params["repo"])
    if repo is None:
        return s._error(404, "Not Found")
    if not d.allowed(grant, repo, perm, level):
        # GitHub answers 403 "Resource not accessible by integration" (404 for other repos).
        in_scope = grant.repository_ids is None or repo.id in grant.repository_ids
        return s._error(403 if in_scope else 404, "Resource not accessible by integration")
    pull = d.pulls.get((repo.id, int(params[number_key])))
    return s._error(404, "Not Found") if pull is None else pull


async def mint_token(
    d: GitHubDouble,
    request: web.Request,
    op: Operation,
    params: dict[str, str],
    body: Any,
    grant: Grant | None,
) -> web.Response:
    installation = int(params["installation_id"])
    body = body or {}
    repos = [r for r in d.repos.values() if r.installation_id == installation]
    if not repos:
        return s._error(404, "Not Found")
    repo_ids = body.get("repository_ids")
    if repo_ids is not None and not set(repo_ids) <= {r.id for r in repos}:
        return s._error(422, "There is at least one repository that does not exist or is not accessible")
    perms = body.get("permissions") or dict(d.app_permissions)
    for name, level in perms.items():
        if s._LEVELS[level] > s._LEVELS.get(d.app_permissions.get(name, ""), 0):
            return s._error(422, f"The permissions requested are not granted to this installation ({name})")
    token = "ghs_" + s._random(36)
    d.mints.append({"installation_id": installation, "repository_ids": repo_ids, "permissions": perms})
    # GitHub grants `metadata: read` with any repository permission, asked for or not. Source: GitHub's
    # docs, "Permissions required for GitHub Apps", section "Metadata": with a permission that requires
    # repository access "GitHub will override your selection and set the metadata permission back to
    # Read-only" (docs.github.com/rest/overview/permissions-required-for-github-apps); real token
    # responses list it. NOT the OpenAPI description: its example for this endpoint
    # (components/examples/installation-token in @octokit/openapi 23.0.2) shows only
    # {"issues": "write", "contents": "read"}. Answering without it hid a defect (issue 17, item 2).
    granted = {**perms, "metadata": "read"} if d.grant_override is None else dict(d.grant_override)
    d.grants[token] = s.Grant(
        token, repo_ids if repo_ids is not None else [r.id for r in repos], granted, s.BOT
    )
    data = d.openapi.example("POST", op.template, "201")
    data.update(
        token=token,
        expires_at=s.now_iso(d.token_lifetime),
        permissions=granted,
        repository_selection="selected",
    )
    # GitHub lists the repositories a token was scoped to (when asked for some), as full objects.
    template = (data.pop("repositories", None) or [{}])[0]
    if repo_ids is not None:
        data["repositories"] = [_repository(template, d.repos[i]) for i in repo_ids]
    return web.json_response(data, status=201)


async def get_app(
    d: GitHubDouble,
    request: web.Request,
    op: Operation,
    params: dict[str, str],
    body: Any,
    grant: Grant | None,
) -> web.Response:
    """GET /app (JWT): GitHub's example (components/examples/integration), with our App's id and slug."""
    data = d.openapi.example("GET", op.template, "200")
    data.update(id=d.app_id, slug=s.APP_SLUG, name="review-operator")
    return web.json_response(data)


def _repository(template: dict[str, Any], repo: s.Repo) -> dict[str, Any]:
    owner = {**template.get("owner", {}), "login": repo.owner}
    return {
        **template,
        "id": repo.id,
        "name": repo.name,
        "full_name": f"{repo.owner}/{repo.name}",
        "owner": owner,
    }


async def get_pull(
    d: GitHubDouble, request: web.Request, op: Operation, params: dict[str, str], body: Any, grant: Grant
) -> web.Response:
    pull = _pull(d, params, grant, "pull_requests", "read", "pull_number")
    if isinstance(pull, web.Response):
        return pull
    data = d.openapi.example("GET", op.template, "200")
    data["number"] = pull.number
    data["state"] = "open"
    # GitHub's own example predates fields its schema now requires; the double answers schema-valid.
    data["labels"] = []
    data["requested_teams"] = []
    data["head"]["sha"] = pull.head_sha
    data["base"]["sha"] = pull.base_sha
    return web.json_response(data)


async def list_files(
    d: GitHubDouble, request: web.Request, op: Operation, params: dict[str, str], body: Any, grant: Grant
) -> web.Response:
    pull = _pull(d, params, grant, "pull_requests", "read", "pull_number")
    if isinstance(pull, web.Response):
        return pull
    template = d.openapi.example("GET", op.template, "200")[0]
    out = []
    for f in pull.files:
        item = dict(template, **f)
        if f["patch"] is None:
            item.pop("patch")
        out.append(item)
    return _paged(request, out)


async def list_reviews(
    d: GitHubDouble, request: web.Request, op: Operation, params: dict[str, str], body: Any, grant: Grant
) -> web.Response:
    pull = _pull(d, params, grant, "pull_requests", "read", "pull_number")
    if isinstance(pull, web.Response):
        return pull
    return _paged(request, pull.reviews)


# The state GitHub gives a review created with each `event` (no event: a pending review).
_REVIEW_STATES = {
    "COMMENT": "COMMENTED",
    "REQUEST_CHANGES": "CHANGES_REQUESTED",
    "APPROVE": "APPROVED",
    "PENDING": "PENDING",
}


async def create_review(
    d: GitHubDouble, request: web.Request, op: Operation, params: dict[str, str], body: Any, grant: Grant
) -> web.Response:
    pull = _pull(d, params, grant, "pull_requests", "write", "pull_number")
    if isinstance(pull, web.Response):
        return pull
    files = {f["filename"]: diff_lines(f["patch"]) for f in pull.files}
    for c in body.get("comments", []):
        right, left = files.get(c["path"], (set(), set()))
        lines = left if c.get("side") == "LEFT" else right
        if "line" not in c or c["line"] not in lines:
            # Real GitHub fails the whole review when one comment is outside the diff.
            return web.json_response(
                {
                    "message": "Unprocessable Entity",
                    "errors": ["Line could not be resolved"],
                    "status": "422",
                },
                status=422,
            )
    review_id = d.next_id()
    data = d.openapi.example("POST", op.template, "200")
    data.update(
        id=review_id,
        body=body.get("body", ""),
        commit_id=body.get("commit_id", pull.head_sha),
        state=_REVIEW_STATES[body.get("event", "PENDING")],
        user=dict(data["user"], **grant.user),
        html_url=f"https://github.com/{pull.repo.owner}/{pull.repo.name}/pull/{pull.number}#pullrequestreview-{review_id}",
    )
    pull.reviews.append(data)
    for c in body.get("comments", []):
        comment_id = d.next_id()
        pull.review_comments.append(
            {
                **c,
                "id": comment_id,
                "review_id": review_id,
                "commit_id": data["commit_id"],
                "user": dict(data["user"]),
                "created_at": s.now_iso(),
                "html_url": f"https://github.com/{pull.repo.owner}/{pull.repo.name}/pull/{pull.number}#discussion_r{comment_id}",
            }
        )
    return web.json_response(data)


async def list_comments(
    d: GitHubDouble, request: web.Request, op: Operation, params: dict[str, str], body: Any, grant: Grant
) -> web.Response:
    pull = _pull(d, params, grant, "pull_requests", "read", "issue_number")
    if isinstance(pull, web.Response):
        return pull
    return _paged(request, pull.comments)


async def create_comment(
    d: GitHubDouble, request: web.Request, op: Operation, params: dict[str, str], body: Any, grant: Grant
) -> web.Response:
    pull = _pull(d, params, grant, "pull_requests", "write", "issue_number")
    if isinstance(pull, web.Response):
        return pull
    data = d.openapi.example("POST", op.template, "201")
    data.update(id=d.next_id(), body=body["body"], user=dict(data["user"], **grant.user))
    pull.comments.append(data)
    return web.json_response(data, status=201)


async def update_comment(
    d: GitHubDouble, request: web.Request, op: Operation, params: dict[str, str], body: Any, grant: Grant
) -> web.Response:
    for pull in d.pulls.values():
        for c in pull.comments:
            if c["id"] == int(params["comment_id"]) and pull.repo.owner == params["owner"]:
                if not d.allowed(grant, pull.repo, "pull_requests", "write"):
                    return s._error(403, "Resource not accessible by integration")
                c["body"] = body["body"]
                return web.json_response(c)
    return s._error(404, "Not Found")


async def create_reaction(
    d: GitHubDouble, request: web.Request, op: Operation, params: dict[str, str], body: Any, grant: Grant
) -> web.Response:
    """GitHub answers 200 with the existing reaction when this user already left the same one.
    Source: the OpenAPI description's "Create reaction for an issue comment" (200 "Reaction exists",
    201 "Reaction created"); `pull_requests: write` or `issues: write` per GitHub's permission docs."""
    comment_id = int(params["comment_id"])
    for pull in d.pulls.values():
        same_repo = (pull.repo.owner, pull.repo.name) == (params["owner"], params["repo"])
        if not same_repo or all(c["id"] != comment_id for c in pull.comments):
            continue
        if not (
            d.allowed(grant, pull.repo, "pull_requests", "write")
            or d.allowed(grant, pull.repo, "issues", "write")
        ):
            return s._error(403, "Resource not accessible by integration")
        login = grant.user["login"]
        for reaction in pull.reactions:
            if (reaction["comment_id"], reaction["content"], reaction["user"]["login"]) == (
                comment_id,
                body["content"],
                login,
            ):
                return web.json_response({k: v for k, v in reaction.items() if k != "comment_id"})
        data = d.openapi.example("POST", op.template, "201")
        data.update(id=d.next_id(), content=body["content"], user=dict(data["user"], **grant.user))
        pull.reactions.append({**data, "comment_id": comment_id})
        return web.json_response(data, status=201)
    return s._error(404, "Not Found")


def _check_repo(d: GitHubDouble, params: dict[str, str], grant: Grant, level: str) -> Any:
    repo = d.repo_for(params["owner"], params["repo"])
    if repo is None:
        return s._error(404, "Not Found")
    if not d.allowed(grant, repo, "checks", level):
        return s._error(403, "Resource not accessible by integration")
    return repo


_RUN_FIELDS = (
    "name",
    "head_sha",
    "external_id",
    "status",
    "conclusion",
    "details_url",
    "started_at",
    "completed_at",
)


def _run_state(run: dict[str, Any], body: dict[str, Any]) -> web.Response | None:
    """What GitHub does with a create or update body: a conclusion completes the run (`status`
    becomes `completed`), `completed` needs a conclusion, an App cannot set `stale` (422 each), and
    GitHub stamps `started_at` / `completed_at` when the client leaves them out."""
    if body.get("conclusion") == "stale":
        return s._error(422, "Invalid request. Only GitHub can set the conclusion to stale.")
    if body.get("status") == "completed" and not body.get("conclusion") and not run.get("conclusion"):
        return s._error(422, "Invalid request. conclusion is required when status is completed.")
    if body.get("completed_at") and not body.get("conclusion") and not run.get("conclusion"):
        return s._error(422, "Invalid request. conclusion is required when completed_at is given.")
    run.update({k: v for k, v in body.items() if k in _RUN_FIELDS})
    if body.get("conclusion"):
        run["status"] = "completed"
    run["started_at"] = run.get("started_at") or s.now_iso()
    if run["status"] == "completed":
        run["completed_at"] = run.get("completed_at") or s.now_iso()
    else:
        run["conclusion"], run["completed_at"] = None, None
    output = body.get("output") or {}
    run["output"] = dict(run["output"], **{k: v for k, v in output.items() if k != "annotations"})
    run["annotations"] = run.get("annotations", []) + output.get("annotations", [])
    run["output"]["annotations_count"] = len(run["annotations"])
    return None


async def create_check_run(
    d: GitHubDouble, request: web.Request, op: Operation, params: dict[str, str], body: Any, grant: Grant
) -> web.Response:
    repo = _check_repo(d, params, grant, "write")
    if isinstance(repo, web.Response):
        return repo
    data = d.openapi.example("POST", op.template, "201")
    data.update(
        id=d.next_id(),
        repo_id=repo.id,
        app=dict(data["app"], id=d.app_id, slug=s.APP_SLUG),  # the App whose token created the run
        status="queued",  # GitHub's default when the body names none
        conclusion=None,
        started_at=None,
        completed_at=None,
        details_url=None,  # the App's page is shown then
        annotations=[],
    )
    data["output"] = {
        "title": None,
        "summary": None,
        "text": None,
        "annotations_count": 0,
        "annotations_url": data["output"]["annotations_url"],
    }
    refused = _run_state(data, body)
    if refused is not None:
        return refused
    d.check_runs.append(data)
    d.check_run_history.setdefault(data["id"], []).append((data["status"], data["conclusion"]))
    return web.json_response(data, status=201)


async def update_check_run(
    d: GitHubDouble, request: web.Request, op: Operation, params: dict[str, str], body: Any, grant: Grant
) -> web.Response:
    repo = _check_repo(d, params, grant, "write")
    if isinstance(repo, web.Response):
        return repo
    for run in d.check_runs:
        if run["id"] == int(params["check_run_id"]) and run["repo_id"] == repo.id:
            if run["app"]["id"] != d.app_id:
                return s._error(
                    403, f"Invalid app_id `{d.app_id}` - check run can only be modified by its creator."
                )
            refused = _run_state(run, body)
            if refused is not None:
                return refused
            d.check_run_history.setdefault(run["id"], []).append((run["status"], run["conclusion"]))
            return web.json_response(run)
    return s._error(404, "Not Found")


async def list_check_runs(
    d: GitHubDouble, request: web.Request, op: Operation, params: dict[str, str], body: Any, grant: Grant
) -> web.Response:
    repo = _check_repo(d, params, grant, "read")
    if isinstance(repo, web.Response):
        return repo
    name = request.query.get("check_name")
    runs = [
        r
        for r in d.check_runs
        if r["repo_id"] == repo.id and r["head_sha"] == params["ref"] and name in (None, r["name"])
    ]
    return web.json_response({"total_count": len(runs), "check_runs": _page(request, runs)})


def _compare_status(ahead: int, behind: int) -> str:
    if ahead and behind:
        return "diverged"
    if ahead:
        return "ahead"
    return "behind" if behind else "identical"


async def compare_commits(
    d: GitHubDouble, request: web.Request, op: Operation, params: dict[str, str], body: Any, grant: Grant
) -> web.Response:
    """GET /repos/{owner}/{repo}/compare/{base}...{head}: GitHub's example with this repository's answer.
    `status` is how head relates to base (ahead: base is an ancestor of head; behind; diverged;
    identical); 404 when a commit does not exist (GitHub also keeps force-pushed-away commits for a
    while, and compares them: `diverged` or `behind`). Commits are paged (`per_page`), and the files
    (of merge base...head) come on the first page only, as GitHub documents for this endpoint."""
    repo = d.repo_for(params["owner"], params["repo"])
    if repo is None:
        return s._error(404, "Not Found")
    if not d.allowed(grant, repo, "contents", "read"):
        in_scope = grant.repository_ids is None or repo.id in grant.repository_ids
        return s._error(403 if in_scope else 404, "Resource not accessible by integration")
    base, _, head = request.path.rsplit("/", 1)[-1].partition("...")
    answer = compare(repo.bare, base, head)
    if answer is None:
        return s._error(404, "Not Found")
    merge_base, commits, behind = answer
    ahead = len(commits)
    data = d.openapi.example("GET", op.template, "200")
    commit = data["commits"][0]
    page = int(request.query.get("page", "1"))
    per_page = int(request.query.get("per_page", "250"))
    paged = commits[(page - 1) * per_page : page * per_page]
    data.update(
        status=_compare_status(ahead, behind),
        ahead_by=ahead,
        behind_by=behind,
        total_commits=ahead,
        base_commit=dict(data["base_commit"], sha=base),
        merge_base_commit=dict(data["merge_base_commit"], sha=merge_base),
        commits=[dict(commit, sha=sha) for sha in paged],
        files=[dict(data["files"][0], **f) for f in pull_files(repo.bare, merge_base, head)]
        if page == 1
        else [],
    )
    for f in data["files"]:
        if f["patch"] is None:
            f.pop("patch")
    return web.json_response(data)


ROUTES: dict[tuple[str, str], Handler] = {
    ("GET", "/app"): get_app,
    ("POST", "/app/installations/{installation_id}/access_tokens"): mint_token,
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}"): get_pull,
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/files"): list_files,
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews"): list_reviews,
    ("POST", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews"): create_review,
    ("GET", "/repos/{owner}/{repo}/issues/{issue_number}/comments"): list_comments,
    ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments"): create_comment,
    ("PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id}"): update_comment,
    ("POST", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions"): create_reaction,
    ("POST", "/repos/{owner}/{repo}/check-runs"): create_check_run,
    ("PATCH", "/repos/{owner}/{repo}/check-runs/{check_run_id}"): update_check_run,
    ("GET", "/repos/{owner}/{repo}/commits/{ref}/check-runs"): list_check_runs,
    ("GET", "/repos/{owner}/{repo}/contents/{path}"): get_content,
    ("GET", "/repos/{owner}/{repo}/compare/{base}...{head}"): compare_commits,
}
