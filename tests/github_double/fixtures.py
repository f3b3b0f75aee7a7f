"""pytest fixtures around the GitHub double; test modules import the ones they use."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from review_operator.api.models import ReviewJob
from review_operator.config import GitHubSettings
from tests.factories import reviewjob
from tests.github_double.git import BuiltRepo, build_repo
from tests.github_double.openapi import OpenAPI
from tests.github_double.server import GitHubDouble, Pull, Repo

APP_ID = 4242
INSTALLATION_ID = 42
REPO_ID = 1296269
OTHER_REPO_ID = 7777

BASE_FILES = {
    "app.py": "".join(f"line {i}\n" for i in range(1, 41)),
    "docs/guide.md": "# Guide\n\nold text\n",
    "untouched.py": "print('same')\n",
}
HEAD_FILES = {
    "app.py": "".join(
        ("changed 10\n" if i == 10 else f"line {i}\n") + ("added after 30\n" if i == 30 else "")
        for i in range(1, 41)
    ),
    "docs/guide.md": "# Guide\n\nnew text\n",
    "untouched.py": "print('same')\n",
}


@dataclass
class AppKey:
    private_pem: str
    public_pem: str
    path: Path


@dataclass
class World:
    """A double with one App installation, two repositories and PR #1 in the first."""

    double: GitHubDouble
    repo: Repo
    other: Repo
    pull: Pull
    built: BuiltRepo
    key: AppKey


@pytest.fixture(scope="session")
def openapi() -> OpenAPI:
    return OpenAPI()


@pytest.fixture(scope="session")
def app_key(tmp_path_factory: pytest.TempPathFactory) -> AppKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    path = tmp_path_factory.mktemp("app") / "private-key.pem"
    path.write_text(private)
    path.chmod(0o600)
    return AppKey(private, public, path)


def assert_no_secrets(text: str, double: GitHubDouble, key: AppKey) -> None:
    """No token the double ever issued, no private key material and no JWT appears in `text`."""
    for token in double.grants:
        assert token not in text, "an access token leaked"
    for line in key.private_pem.splitlines()[1:-1]:
        assert line not in text, "private key material leaked"
    assert "PRIVATE KEY" not in text
    assert "eyJ" not in text, "something JWT-shaped leaked"


@pytest.fixture
async def world(
    openapi: OpenAPI, app_key: AppKey, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> AsyncIterator[World]:
    """The double, set up; afterwards asserts no OpenAPI violation and no secret in any log record."""
    caplog.set_level(logging.DEBUG)
    root = tmp_path / "git"
    built = build_repo(root, "octo-org", "hello-world", BASE_FILES, HEAD_FILES)
    other_built = build_repo(root, "octo-org", "other", {"a.txt": "a\n"}, {"a.txt": "b\n"})
    double = await GitHubDouble(openapi, root, APP_ID, app_key.public_pem).start()
    repo = double.add_repo("octo-org", "hello-world", REPO_ID, built.bare, INSTALLATION_ID)
    other = double.add_repo("octo-org", "other", OTHER_REPO_ID, other_built.bare, INSTALLATION_ID)
    double.add_pull(other, 1, other_built.head_sha, other_built.base_sha)
    pull = double.add_pull(repo, 1, built.head_sha, built.base_sha)
    try:
        yield World(double, repo, other, pull, built, app_key)
    finally:
        await double.stop()
    assert double.violations == [], f"requests violated GitHub's OpenAPI description: {double.violations}"
    # caplog.records holds only the current phase (teardown); the test ran in "setup" and "call".
    records = [*caplog.get_records("setup"), *caplog.get_records("call"), *caplog.records]
    assert records, "log capture saw nothing: the secret check would be vacuous"
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''} {r.__dict__}" for r in records)
    assert_no_secrets(logged, double, app_key)


def settings_for(world: World, **overrides: object) -> GitHubSettings:
    values: dict[str, object] = {
        "api_url": world.double.url,
        "app_id": APP_ID,
        "private_key_file": str(world.key.path),
        "retry_backoff_seconds": 0.05,
        "max_attempts": 5,
        "max_retry_after_seconds": 5,
        "request_timeout_seconds": 10,
    }
    values.update(overrides)
    return GitHubSettings(**values)  # type: ignore[arg-type]


def make_job(world: World, *, name: str = "rj-hello-world-1-abc", repo: Repo | None = None) -> ReviewJob:
    target = repo or world.repo
    pull = world.double.pulls[(target.id, 1)]
    return reviewjob(
        name,
        namespace="review-operator",
        uid="",
        created=None,
        rv=None,
        owner=target.owner,
        repo_name=target.name,
        repo_id=target.id,
        sha=pull.head_sha,
        base_sha=pull.base_sha,
        title="Change things",
        author="contributor",
        association="CONTRIBUTOR",
        installation_id=INSTALLATION_ID,
    )
