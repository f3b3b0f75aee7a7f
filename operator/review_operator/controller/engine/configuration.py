"""The repository's own configuration (`.github/review-operator.yaml`), read for one review."""

from __future__ import annotations

from review_operator.api.models import ReviewJob
from review_operator.api.repo_config import REPO_CONFIG_PATH, RepoConfig, automatic_review_skip_reason
from review_operator.builders.repo_settings import RepoReviewSettings, effective_review_settings
from review_operator.config import ControllerSettings
from review_operator.github import GitHubClientFactory, GitHubError, Unauthorized, load_repo_config


async def repo_settings(
    github: GitHubClientFactory, settings: ControllerSettings, job: ReviewJob
) -> tuple[RepoReviewSettings, str | None]:
    """The repository's `.github/review-operator.yaml` at the PR's base (never its head) applied
    over the cluster's settings, and why it skips automatic reviews of this PR, if it does.
    A file GitHub cannot give now is the defaults plus a problem for the summary: a review is
    never blocked by it. Unauthorized propagates (the App lost access)."""
    pr, repo = job.spec.pull_request, job.spec.repository
    ref = pr.base_sha or pr.base_ref
    config, problems = RepoConfig(), list[str]()
    if ref:
        try:
            config, problems = await load_repo_config(github.for_job(job), repo.owner, repo.name, ref)
        except Unauthorized:
            raise
        except GitHubError as exc:
            problems = [f"`{REPO_CONFIG_PATH}` could not be read ({exc}); using the defaults"]
    chosen = effective_review_settings(config, settings, github.settings, overrides=job.spec.overrides)
    chosen.problems[:0] = problems
    return chosen, automatic_review_skip_reason(config, pr.author)
