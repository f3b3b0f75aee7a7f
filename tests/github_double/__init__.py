"""A local GitHub API double for tests (see `server.GitHubDouble`)."""

from tests.github_double.git import BuiltRepo, build_repo
from tests.github_double.openapi import OpenAPI
from tests.github_double.server import GitHubDouble

__all__ = ["BuiltRepo", "GitHubDouble", "OpenAPI", "build_repo"]
