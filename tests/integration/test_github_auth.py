"""GitHub App auth against the double: JWT, per-review token scopes, caching, PAT fallback."""

from __future__ import annotations

import pytest

from review_operator.api.models import ReviewJob
from review_operator.github import (
    GitHubClientFactory,
    GitHubNotFound,
    Unauthorized,
    get_pull_head,
    make_github,
)
from review_operator.github.auth import CHECKOUT_PERMISSIONS
from tests.github_double import fixtures
from tests.github_double.fixtures import REPO_ID, World, make_job, settings_for

pytestmark = pytest.mark.integration
# Fixtures shared by the GitHub tests (a conftest here is not ours to own).
openapi, app_key, world = fixtures.openapi, fixtures.app_key, fixtures.world


async def test_app_jwt_is_accepted_and_checkout_token_has_exactly_one_repo_and_contents_read(
    world: World,
) -> None:
    factory = make_github(settings_for(world))
    token = await factory.mint_checkout_token(make_job(world))

    assert world.double.jwt_accepted == 1
    assert world.double.mints == [
        {"installation_id": 42, "repository_ids": [REPO_ID], "permissions": {"contents": "read"}}
    ]
    assert token.repository_id == REPO_ID
    # Exactly what was asked for plus GitHub's implicit `metadata: read`, nothing else.
    assert dict(token.permissions) == {**CHECKOUT_PERMISSIONS, "metadata": "read"}
    assert token.scoped
    grant = world.double.grants[token.token.get_secret_value()]
    assert grant.repository_ids == [REPO_ID]
    assert grant.permissions == {"contents": "read", "metadata": "read"}


def mismatched_job(world: World) -> ReviewJob:
    """A ReviewJob naming hello-world but carrying the id of another repository of the installation."""
    body = make_job(world).model_dump(mode="json", by_alias=True)
    body["spec"]["repository"]["id"] = world.other.id
    return ReviewJob.model_validate(body)


async def test_checkout_token_is_refused_unless_it_covers_exactly_the_recorded_repository(
    world: World,
) -> None:
    factory = make_github(settings_for(world))
    with pytest.raises(Unauthorized, match="not octo-org/hello-world"):
        await factory.mint_checkout_token(mismatched_job(world))
    # Nor does a token cached for the real `other` repository reach a job that names hello-world.
    await factory.mint_checkout_token(make_job(world, repo=world.other))
    with pytest.raises(Unauthorized):
        await factory.mint_checkout_token(mismatched_job(world))
    # GitHub's answer lists the repository; a correct job still gets its token.
    assert (await factory.mint_checkout_token(make_job(world))).repository_id == REPO_ID


async def test_checkout_token_is_cached_until_shortly_before_expiry(world: World) -> None:
    factory = make_github(settings_for(world))
    first = await factory.mint_checkout_token(make_job(world))
    second = await factory.mint_checkout_token(make_job(world, name="rj-other"))
    assert first.token.get_secret_value() == second.token.get_secret_value()
    assert len(world.double.mints) == 1


async def test_posting_token_is_scoped_to_the_repository_with_pull_requests_write(world: World) -> None:
    factory = make_github(settings_for(world))
    gh = factory.for_job(make_job(world))
    assert await get_pull_head(gh, make_job(world)) == world.pull.head_sha
    # contents: read lets the controller read `.github/review-operator.yaml` at the base.
    assert world.double.mints == [
        {
            "installation_id": 42,
            "repository_ids": [REPO_ID],
            "permissions": {"pull_requests": "write", "contents": "read"},
        }
    ]
    # A second call reuses githubkit's cached installation token.
    await get_pull_head(gh, make_job(world))
    assert len(world.double.mints) == 1


async def test_posting_token_adds_checks_write_only_when_check_runs_are_on(world: World) -> None:
    factory = make_github(settings_for(world, check_runs=True))
    await get_pull_head(factory.for_job(make_job(world)), make_job(world))
    assert world.double.mints[0]["permissions"] == {
        "pull_requests": "write",
        "contents": "read",
        "checks": "write",
    }


async def test_token_for_one_repository_cannot_touch_another(world: World) -> None:
    factory = make_github(settings_for(world))
    gh = factory.for_job(make_job(world))  # token scoped to hello-world
    with pytest.raises(GitHubNotFound):
        await get_pull_head(gh, make_job(world, repo=world.other))
    assert world.double.calls("GET", "/octo-org/other/pulls/1$")[0].status == 404


async def test_checkout_token_cannot_post_a_review(world: World) -> None:
    factory = make_github(settings_for(world))
    token = await factory.mint_checkout_token(make_job(world))
    pat_like = make_github(settings_for(world, app_id=None, token=token.token.get_secret_value()))
    gh = pat_like.for_job(make_job(world))
    with pytest.raises(Unauthorized):
        await _create(gh)
    assert world.double.count("POST", "/reviews$") == 1
    assert world.pull.reviews == []


async def _create(gh: object) -> None:
    from review_operator.github.calls import call

    client = gh.github  # type: ignore[attr-defined]
    await call(
        "create review",
        lambda: client.rest.pulls.async_create_review(
            "octo-org", "hello-world", 1, body="x", event="COMMENT"
        ),
    )


async def test_pat_fallback_works_without_an_app(world: World) -> None:
    pat = world.double.add_pat()
    factory = make_github(settings_for(world, app_id=None, private_key_file=None, token=pat))
    token = await factory.mint_checkout_token(make_job(world))
    assert not token.scoped
    assert await get_pull_head(factory.for_job(make_job(world)), make_job(world)) == world.pull.head_sha
    assert world.double.mints == []


def test_factory_refuses_to_start_without_credentials() -> None:
    from review_operator.config import GitHubSettings
    from review_operator.github.errors import GitHubError

    with pytest.raises(GitHubError):
        GitHubClientFactory(GitHubSettings(api_url="http://127.0.0.1:1"))


async def test_checkout_token_close_to_expiry_is_replaced(world: World) -> None:
    from datetime import timedelta

    world.double.token_lifetime = timedelta(minutes=10)  # shorter than the minimum a pod needs
    factory = make_github(settings_for(world))
    first = await factory.mint_checkout_token(make_job(world))
    second = await factory.mint_checkout_token(make_job(world))
    assert first.token.get_secret_value() != second.token.get_secret_value()
    assert len(world.double.mints) == 2


async def test_jwt_signed_with_another_key_is_refused(world: World, tmp_path: object) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    factory = make_github(settings_for(world), private_key=other.decode())
    with pytest.raises(Unauthorized):
        await factory.mint_checkout_token(make_job(world))
    assert world.double.jwt_accepted == 0 and world.double.mints == []


async def test_github_enterprise_style_api_url_works(world: World) -> None:
    factory = make_github(settings_for(world, api_url=world.double.url + "/api/v3"))
    token = await factory.mint_checkout_token(make_job(world))
    assert token.repository_id == REPO_ID
    assert await get_pull_head(factory.for_job(make_job(world)), make_job(world)) == world.pull.head_sha
    assert world.double.calls("GET", "^/api/v3/repos/octo-org/hello-world/pulls/1$")


async def test_checkout_token_with_githubs_implicit_metadata_read_is_accepted(world: World) -> None:
    """GitHub adds `metadata: read` to every repository-scoped installation token; that must not fail."""
    factory = make_github(settings_for(world))
    token = await factory.mint_checkout_token(make_job(world))

    assert dict(token.permissions) == {"contents": "read", "metadata": "read"}
    grant = world.double.grants[token.token.get_secret_value()]
    assert grant.permissions == {"contents": "read", "metadata": "read"}


@pytest.mark.parametrize(
    "granted",
    [
        {"contents": "write", "metadata": "read"},
        {"contents": "read", "metadata": "write"},
        {"contents": "read", "metadata": "read", "pull_requests": "read"},
        {"contents": "read", "metadata": "read", "workflows": "write"},
        {"metadata": "read"},
        {},
    ],
)
async def test_checkout_token_with_any_other_permission_set_is_refused(
    world: World, granted: dict[str, str]
) -> None:
    world.double.grant_override = granted  # a token GitHub should never hand out for our request
    factory = make_github(settings_for(world))
    with pytest.raises(Unauthorized, match="unexpected permissions"):
        await factory.mint_checkout_token(make_job(world))
