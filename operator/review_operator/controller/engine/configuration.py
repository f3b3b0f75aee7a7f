"""The repository's own configuration (`.github/review-operator.yaml`), read for one review.

A file read at a commit SHA never changes, so what was read is kept (the last `KEPT` repository and
commit pairs): a review reads its file before its pod and again when it posts, and every push to
the PR has the same base. A branch name (a command's ReviewJob records only `baseRef`) is read
every time; a read that failed is never kept.
"""

from __future__ import annotations

import re
from collections import OrderedDict

from review_operator.api.models import ReviewJob
from review_operator.api.repo_config import REPO_CONFIG_PATH, RepoConfig, automatic_review_skip_reason
from review_operator.builders.repo_settings import RepoReviewSettings, effective_review_settings
from review_operator.config import ControllerSettings
from review_operator.github import GitHubClientFactory, GitHubError, Unauthorized, load_repo_config

KEPT = 512
_SHA = re.compile(r"[0-9a-f]{40}")


class ReadConfigs:
    """Configurations read at a commit SHA, by repository id and SHA; the least recently used go."""

    def __init__(self, size: int = KEPT) -> None:
        self.size = size
        self._kept: OrderedDict[tuple[int, str], tuple[RepoConfig, list[str]]] = OrderedDict()

    async def load(
        self, github: GitHubClientFactory, job: ReviewJob, ref: str
    ) -> tuple[RepoConfig, list[str]]:
        repo = job.spec.repository
        key = (repo.id, ref)
        if (kept := self._kept.get(key)) is not None:
            self._kept.move_to_end(key)
            return kept[0], list(kept[1])
        config, problems = await load_repo_config(github.for_job(job), repo.owner, repo.name, ref)
        if _SHA.fullmatch(ref):
            self._kept[key] = (config, list(problems))
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)
        return config, problems


async def repo_settings(
    github: GitHubClientFactory, settings: ControllerSettings, job: ReviewJob, read: ReadConfigs | None = None
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
            if read is None:
                config, problems = await load_repo_config(github.for_job(job), repo.owner, repo.name, ref)
            else:
                config, problems = await read.load(github, job, ref)
        except Unauthorized:
            raise
        except GitHubError as exc:
            problems = [f"`{REPO_CONFIG_PATH}` could not be read ({exc}); using the defaults"]
    chosen = effective_review_settings(config, settings, github.settings, overrides=job.spec.overrides)
    chosen.problems[:0] = problems
    return chosen, automatic_review_skip_reason(config, pr.author)
