"""The only place that talks to GitHub: App auth, per-review scoped tokens, checkout, posting.

Public API (all async calls are safe to repeat; errors are the typed ones in `errors`):

    factory = make_github(settings: GitHubSettings) -> GitHubClientFactory
    await mint_checkout_token(factory, job: ReviewJob) -> ScopedToken
        # token: SecretStr, expires_at, repository_id,
        # permissions == {"contents": "read"} plus GitHub's implicit {"metadata": "read"}, nothing else
    gh = factory.for_job(job) -> RepoClient
        # installation token limited to job's repository id, {"pull_requests": "write", "contents": "read"}
        # (+ {"checks": "write"} when check runs are on); PAT client in the fallback
    await get_pull_refs(gh, job) -> PullRefs   # the PR's head and base commits now (one GET)
    await get_pull_head(gh, job) -> str
    gh = factory.for_token() -> RepoClient                      # PAT mode, no ReviewJob needed
    await fetch_pull(gh, owner, name, number) -> PullInfo        # title, body, SHAs, author, repo id
    await post_review(gh, job, result: ReviewResult, *, head_sha: str, check_run_id=None) -> PostOutcome
        # PostOutcome.status: posted | already_posted | superseded; review_id, review_url,
        # summary_comment_id, inline_comments, body_findings, check_run_id, current_head_sha
    await post_failure_note(gh, job, phase, reason, message) -> PostOutcome
    await show_check_run(gh, job, head_sha, status=, title=, summary=, conclusion=, run_id=,
                         only_existing=) -> int | None          # when settings.check_runs
    await react(gh, job, comment_id, "eyes" | "rocket" | "confused") -> None   # idempotent
    await react_to_review_comment(gh, job, comment_id, content) -> None   # the same, on a review comment
    await fetch_thread(gh, job) -> Thread | None     # a Reply's review thread: ours?, its comments
    await post_answer(gh, job, result) -> Answer     # a question's answer, once (hidden marker)
    await last_reviewed_head(gh, job) -> str | None   # commit of our newest review on the PR
    await compare_status(gh, job, base, head) -> str | None   # ahead|behind|diverged|identical; None: 404
    await load_repo_config(gh, owner, name, base_sha) -> (RepoConfig, problems)
        # `.github/review-operator.yaml` at the BASE; missing → defaults; unusable → defaults + problems
    await fetch_repo_config(gh, owner, name, base_sha) -> str | None   # raw text; RepoConfigUnreadable
    checkout(CheckoutRequest(...)) -> None                       # the `checkout` init container

Errors: Unauthorized (401/403: fail closed, never retried), RateLimited(retry_after),
GitHubNotFound, Transient (5xx, timeouts, drops once retries are exhausted), Rejected (422),
CheckoutError. Messages never contain a token, a JWT or the private key.
"""

from review_operator.github.answers import Answer, fetch_thread, post_answer, react_to_review_comment
from review_operator.github.auth import (
    GitHubClientFactory,
    RepoClient,
    ScopedToken,
    make_github,
    mint_checkout_token,
)
from review_operator.github.checkout import CheckoutRequest, checkout, git_url_for
from review_operator.github.checks import show as show_check_run
from review_operator.github.errors import (
    CheckoutError,
    GitHubError,
    GitHubNotFound,
    RateLimited,
    Rejected,
    Transient,
    Unauthorized,
)
from review_operator.github.history import compare_status, last_reviewed_head
from review_operator.github.posting import (
    PostOutcome,
    PostStatus,
    post_failure_note,
    post_review,
)
from review_operator.github.pulls import PullInfo, PullRefs, fetch_pull, get_pull_head, get_pull_refs
from review_operator.github.reactions import react
from review_operator.github.repo_config import RepoConfigUnreadable, fetch_repo_config, load_repo_config

__all__ = [
    "Answer",
    "CheckoutError",
    "CheckoutRequest",
    "GitHubClientFactory",
    "GitHubError",
    "GitHubNotFound",
    "PostOutcome",
    "PostStatus",
    "PullInfo",
    "PullRefs",
    "RateLimited",
    "Rejected",
    "RepoClient",
    "RepoConfigUnreadable",
    "ScopedToken",
    "Transient",
    "Unauthorized",
    "checkout",
    "compare_status",
    "fetch_pull",
    "fetch_repo_config",
    "fetch_thread",
    "get_pull_head",
    "get_pull_refs",
    "git_url_for",
    "last_reviewed_head",
    "load_repo_config",
    "make_github",
    "mint_checkout_token",
    "post_answer",
    "post_failure_note",
    "post_review",
    "react",
    "react_to_review_comment",
    "show_check_run",
]
