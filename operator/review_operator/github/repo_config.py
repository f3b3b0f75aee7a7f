"""Reads a repository's `.github/review-operator.yaml` from GitHub, at the pull request's base.

Always at the base (pass the ReviewJob's `baseSha`, or the base branch when it has none), never the
head: a pull request must not change how it is reviewed. The controller reads it with its per-review
posting token (which carries `contents: read` for this); the review pod gets only the parsed values.
"""

from __future__ import annotations

import base64
import binascii

from githubkit_schemas.latest.models import ContentFile

from review_operator.api.repo_config import (
    MAX_CONFIG_BYTES,
    REPO_CONFIG_PATH,
    RepoConfig,
    parse_repo_config,
)
from review_operator.github.auth import RepoClient
from review_operator.github.calls import call
from review_operator.github.errors import GitHubError, GitHubNotFound


class RepoConfigUnreadable(GitHubError):
    """The path holds no usable file: a directory, a submodule, a symlink leaving the repository, a
    file over the size limit or one that is not UTF-8. The message is safe to show on the PR."""


async def fetch_repo_config(gh: RepoClient, owner: str, repo: str, base_ref_or_sha: str) -> str | None:
    """The file's text at `base_ref_or_sha`, or None when there is none (404: no such file or ref).

    Raises RepoConfigUnreadable for a path that holds no usable file, and the typed errors of
    `github.errors` otherwise (Unauthorized: fail closed; RateLimited and Transient: try again later).
    """
    if not base_ref_or_sha:
        # Without a ref GitHub reads the default branch, which may not be the pull request's base.
        raise ValueError("the base commit (or base branch) to read the configuration at is required")
    try:
        resp = await call(
            "read repository configuration",
            lambda: gh.github.rest.repos.async_get_content(
                owner, repo, REPO_CONFIG_PATH, ref=base_ref_or_sha
            ),
        )
    except GitHubNotFound:
        return None
    data = resp.parsed_data
    if not isinstance(data, ContentFile):
        kind = "a directory" if isinstance(data, list) else f"a {getattr(data, 'type', 'non-file')}"
        raise RepoConfigUnreadable(f"`{REPO_CONFIG_PATH}` is {kind}, not a file")
    if data.size > MAX_CONFIG_BYTES:
        raise RepoConfigUnreadable(
            f"`{REPO_CONFIG_PATH}`: {data.size} bytes, over the {MAX_CONFIG_BYTES // 1024} KiB limit"
        )
    if data.encoding != "base64":
        raise RepoConfigUnreadable(f"`{REPO_CONFIG_PATH}`: GitHub sent no content (encoding {data.encoding})")
    try:
        # GitHub wraps the base64 text every 60 characters; the line breaks are not part of it.
        raw = base64.b64decode("".join(data.content.split()), validate=True)
        return raw.decode("utf-8-sig")
    except (binascii.Error, ValueError):
        raise RepoConfigUnreadable(f"`{REPO_CONFIG_PATH}` is not UTF-8 text") from None


async def load_repo_config(
    gh: RepoClient, owner: str, repo: str, base_ref_or_sha: str
) -> tuple[RepoConfig, list[str]]:
    """The repository's configuration at its base and its problems: what a review runs with.

    No file: the defaults, no problems. An unusable or invalid file: defaults (for what is invalid)
    and problems for the summary. GitHub errors (Unauthorized, RateLimited, Transient) propagate."""
    try:
        text = await fetch_repo_config(gh, owner, repo, base_ref_or_sha)
    except RepoConfigUnreadable as exc:
        return RepoConfig(), [f"{exc}; using the defaults"]
    return parse_repo_config(text)


__all__ = ["RepoConfigUnreadable", "fetch_repo_config", "load_repo_config"]
