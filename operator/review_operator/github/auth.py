"""GitHub credentials: App JWT, per-review installation tokens, the PAT fallback, and client construction.

Every per-review token is restricted to ONE repository id and the minimal permissions for its use
(`CHECKOUT_PERMISSIONS` for the review pod, `posting_permissions()` for the controller); a minted
checkout token must come back scoped to exactly the repository (id and name) the ReviewJob recorded.
githubkit mints and caches the posting tokens (until a minute before expiry) in a cache owned by the
factory, so tokens never cross factories (or API URLs). Token values live in `SecretStr` and are never logged.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from githubkit import AppAuthStrategy, AppInstallationAuthStrategy, GitHub, TokenAuthStrategy
from githubkit.cache import MemCacheStrategy
from githubkit.exception import GitHubException, RateLimitExceeded, RequestError, RequestFailed
from githubkit.retry import RetryOption
from githubkit.utils import Unset
from githubkit_schemas.latest.types import AppPermissionsType
from pydantic import SecretStr

from review_operator.api.models import ReviewJob
from review_operator.config import GitHubSettings
from review_operator.fence import Fence
from review_operator.github.errors import GitHubError, Unauthorized, translate

log = logging.getLogger(__name__)

CHECKOUT_PERMISSIONS: Mapping[str, str] = {"contents": "read"}
# GitHub adds `metadata: read` to every installation token that carries a repository permission,
# whether asked for or not; it exposes only what any reader of the repository sees (names, topics).
IMPLICIT_PERMISSIONS: Mapping[str, str] = {"metadata": "read"}
# A checkout token minted less than this before its expiry is replaced: the pod may queue a while.
CHECKOUT_TOKEN_MIN_VALIDITY = timedelta(minutes=15)
# Methods whose repetition cannot create a second object; others are retried by the poster after a look-up.
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})


def unexpected_permissions(requested: Mapping[str, str], granted: Mapping[str, str]) -> list[str]:
    """What `granted` holds beyond the `requested` read-only set and GitHub's implicit ones (empty: fine).

    A missing requested permission counts too: a token that cannot do its job is not the one we asked for.
    """
    allowed = {**IMPLICIT_PERMISSIONS, **requested}
    extra = [f"{name}:{level}" for name, level in sorted(granted.items()) if allowed.get(name) != level]
    missing = [
        f"{name}:{level} missing" for name, level in sorted(requested.items()) if granted.get(name) != level
    ]
    return extra + missing


def posting_permissions(settings: GitHubSettings) -> AppPermissionsType:
    """Permissions of the controller's per-review token: write reviews/comments, read the repository's
    `.github/review-operator.yaml` at the base (`contents: read`), and checks if enabled. The token
    stays in the controller: the review pod never sees it."""
    if settings.check_runs:
        return AppPermissionsType(pull_requests="write", contents="read", checks="write")
    return AppPermissionsType(pull_requests="write", contents="read")


def resolving_permissions() -> AppPermissionsType:
    """Permissions of the token that resolves our review threads, and nothing else. GitHub gates the
    GraphQL `resolveReviewThread` mutation for App installation tokens on `contents: write` (with
    `pull_requests: write` alone it answers FORBIDDEN: measured and reported in github/gh-aw#35726 and
    community discussion 44650; GitHub's docs list no GraphQL permissions). So the posting token keeps
    `contents: read`, and only this short-lived token, used for that mutation alone and never leaving
    the controller, carries `contents: write`."""
    return AppPermissionsType(pull_requests="write", contents="write")


@dataclass(frozen=True)
class ScopedToken:
    """An installation token limited to one repository; `token` is secret, the rest is safe to log."""

    token: SecretStr
    expires_at: datetime
    repository_id: int
    permissions: Mapping[str, str]
    scoped: bool = True  # False for the PAT fallback: not limited to the repository or the permissions


class SafeRetry:
    """githubkit retry decision: never repeats a request that may have created something.

    Rate-limited requests were not processed, so any method is retried after retry-after (if short
    enough). 5xx, timeouts and dropped connections are retried only for idempotent methods; a POST that
    fails that way is handed back to the poster, which looks for its marker before trying again.
    """

    def __init__(self, settings: GitHubSettings) -> None:
        self.max_attempts = settings.max_attempts
        self.max_retry_after = settings.max_retry_after_seconds
        self.backoff = settings.retry_backoff_seconds

    def __call__(self, exc: GitHubException, retry_count: int) -> RetryOption:
        if retry_count + 1 >= self.max_attempts:
            return RetryOption(False)
        if isinstance(exc, RateLimitExceeded):
            wait = exc.retry_after.total_seconds()
            return RetryOption(wait <= self.max_retry_after, timedelta(seconds=wait))
        if isinstance(exc, RequestFailed):
            if exc.response.status_code < 500 or exc.request.method not in _IDEMPOTENT:
                return RetryOption(False)
        elif isinstance(exc, RequestError):
            try:
                method = exc.exc.request.method
            except RuntimeError:  # httpx raises when the error has no request attached
                return RetryOption(False)
            if method not in _IDEMPOTENT:
                return RetryOption(False)
        else:
            return RetryOption(False)
        return RetryOption(True, timedelta(seconds=backoff_delay(self.backoff, retry_count)))


def backoff_delay(base: float, attempt: int, cap: float = 30.0) -> float:
    """Capped exponential backoff with full jitter (pure apart from the random draw)."""
    return random.uniform(0, min(cap, base * (2**attempt)))  # noqa: S311 - jitter, not crypto


@dataclass
class RepoClient:
    """A GitHub client for one ReviewJob's repository plus what posting needs around it."""

    github: GitHub[Any]
    settings: GitHubSettings
    limiter: ContentLimiter
    app_mode: bool
    # App mode: the login our App writes as (`<slug>[bot]`); markers count only on its objects.
    bot_login: Callable[[], Awaitable[str]] | None = None
    fence: Fence | None = None  # the controller's leadership: checked before every write
    # App mode: a client for the one write that needs more than the posting token (`resolving_permissions`).
    resolver: Callable[[], RepoClient] | None = None

    async def before_write(self) -> None:
        """Waits for room under the content limits, then checks leadership (raises `NotLeading`):
        the last thing before a write is sent, as the wait can be long."""
        await self.limiter.acquire()
        if self.fence is not None:
            self.fence.check()


@dataclass
class ContentLimiter:
    """Keeps content-creating requests under GitHub's limits (about 80 a minute, 500 an hour)."""

    per_minute: int = 80
    per_hour: int = 500
    minute: float = 60.0  # window lengths, shortened in tests
    hour: float = 3600.0
    _stamps: list[float] = field(default_factory=list)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def acquire(self) -> None:
        loop = asyncio.get_running_loop()
        async with self._lock:
            while True:
                now = loop.time()
                self._stamps = [t for t in self._stamps if now - t < self.hour]
                last_minute = [t for t in self._stamps if now - t < self.minute]
                if len(last_minute) < self.per_minute and len(self._stamps) < self.per_hour:
                    self._stamps.append(now)
                    return
                if len(last_minute) >= self.per_minute:
                    free_at = last_minute[0] + self.minute
                else:
                    free_at = self._stamps[0] + self.hour
                await asyncio.sleep(max(free_at - now, 0.01))


class GitHubClientFactory:
    """Builds GitHub clients from settings; one per process, passed to whoever talks to GitHub."""

    def __init__(
        self, settings: GitHubSettings, *, private_key: str | None = None, fence: Fence | None = None
    ) -> None:
        self.settings = settings
        self.fence = fence
        self._private_key = private_key
        self._cache = MemCacheStrategy()
        self._limiter = ContentLimiter(
            per_minute=settings.content_per_minute, per_hour=settings.content_per_hour
        )
        self._checkout_tokens: dict[tuple[int, int, str], ScopedToken] = {}
        self._app: GitHub[Any] | None = None
        self._bot_login: str | None = None
        self._bot_lock = asyncio.Lock()
        if settings.app_id is None and settings.token is None:
            raise GitHubError("configure a GitHub App (app id + private key file) or a token")

    @property
    def app_mode(self) -> bool:
        return self.settings.app_id is not None

    def _key(self) -> str:
        if self._private_key is None:
            if not self.settings.private_key_file:
                raise GitHubError("REVIEWOP_GITHUB_PRIVATE_KEY_FILE is required with an App id")
            self._private_key = Path(self.settings.private_key_file).read_text()
        return self._private_key

    def _client(self, auth: Any) -> GitHub[Any]:
        return GitHub(
            auth,
            base_url=self.settings.api_url,
            user_agent="review-operator",
            timeout=self.settings.request_timeout_seconds,
            cache_strategy=self._cache,
            http_cache=False,
            auto_retry=SafeRetry(self.settings),
        )

    def app_client(self) -> GitHub[Any]:
        """Authenticated as the App itself (JWT): only for /app endpoints."""
        if self.settings.app_id is None:
            raise GitHubError("no GitHub App configured")
        if self._app is None:
            self._app = self._client(AppAuthStrategy(self.settings.app_id, self._key()))
        return self._app

    def for_job(self, job: ReviewJob) -> RepoClient:
        """A client whose installation token covers only the job's repository, for posting."""
        if self.settings.app_id is None:
            return self.for_token()
        return self._installation_client(job, posting_permissions(self.settings), with_resolver=True)

    def _installation_client(
        self, job: ReviewJob, permissions: AppPermissionsType, *, with_resolver: bool
    ) -> RepoClient:
        if self.settings.app_id is None:
            raise GitHubError("no GitHub App configured")
        if job.spec.installation_id is None:
            raise GitHubError(f"ReviewJob {job.metadata.name} has no installationId")
        strategy = AppInstallationAuthStrategy(
            self.settings.app_id,
            self._key(),
            job.spec.installation_id,
            repository_ids=[job.spec.repository.id],
            permissions=permissions,
        )

        def resolver() -> RepoClient:
            return self._installation_client(job, resolving_permissions(), with_resolver=False)

        return RepoClient(
            self._client(strategy),
            self.settings,
            self._limiter,
            app_mode=True,
            bot_login=self.bot_login,
            fence=self.fence,
            resolver=resolver if with_resolver else None,
        )

    async def bot_login(self) -> str:
        """The login our App's objects carry (`<slug>[bot]`), from `GET /app`; asked once per factory."""
        async with self._bot_lock:
            if self._bot_login is None:
                try:
                    resp = await self.app_client().rest.apps.async_get_authenticated()
                except GitHubException as exc:
                    raise translate(exc, "get the authenticated app") from None
                app = resp.parsed_data
                if app is None or not app.slug or isinstance(app.slug, Unset):
                    raise GitHubError("GET /app returned no slug: cannot tell our own comments apart")
                self._bot_login = f"{app.slug}[bot]"
            return self._bot_login

    def for_token(self) -> RepoClient:
        """A client authenticated with the configured token (PAT mode, e.g. a local one-shot review)."""
        if self.settings.token is None:
            raise GitHubError("no GitHub token configured (REVIEWOP_GITHUB_TOKEN)")
        gh = self._client(TokenAuthStrategy(self.settings.token.get_secret_value()))
        return RepoClient(gh, self.settings, self._limiter, app_mode=False, fence=self.fence)

    async def mint_checkout_token(self, job: ReviewJob) -> ScopedToken:
        """A `contents: read` token for the job's repository only, cached until shortly before expiry."""
        repo_id = job.spec.repository.id
        if self.settings.app_id is None:
            assert self.settings.token is not None
            log.warning("using the personal access token for checkout: it is not scoped to one repository")
            return ScopedToken(
                self.settings.token, datetime.now(UTC) + timedelta(hours=1), repo_id, {}, scoped=False
            )
        installation = job.spec.installation_id
        if installation is None:
            raise GitHubError(f"ReviewJob {job.metadata.name} has no installationId")
        # Keyed by the name too: a job naming another repository than its id must not get a cached token.
        key = (installation, repo_id, job.spec.repository.full_name.lower())
        cached = self._checkout_tokens.get(key)
        if cached is not None and cached.expires_at - datetime.now(UTC) > CHECKOUT_TOKEN_MIN_VALIDITY:
            return cached
        try:
            app = self.app_client()
            resp = await app.rest.apps.async_create_installation_access_token(
                installation,
                repository_ids=[repo_id],
                permissions=AppPermissionsType(contents="read"),
            )
        except GitHubException as exc:
            raise translate(exc, "mint checkout token") from None
        data = resp.parsed_data
        _check_repository(data.repositories, job)
        raw_perms = data.permissions
        perms: dict[str, Any] = {}
        if raw_perms is not None and not isinstance(raw_perms, Unset):
            perms = raw_perms.model_dump(exclude_unset=True)
        granted = {str(k): str(v) for k, v in perms.items() if v}
        unexpected = unexpected_permissions(CHECKOUT_PERMISSIONS, granted)
        if unexpected:
            # GitHub never widens a request beyond the implicit `metadata: read`, but a token we did not
            # ask for must not reach a pod. Names and levels only: safe to log.
            raise Unauthorized(f"checkout token came back with unexpected permissions {unexpected}")
        token = ScopedToken(
            SecretStr(data.token),
            datetime.fromisoformat(data.expires_at.replace("Z", "+00:00")),
            repo_id,
            granted,
        )
        self._checkout_tokens[key] = token
        log.info("minted checkout token", extra={"repository_id": repo_id, "expires_at": data.expires_at})
        return token


def _check_repository(repositories: Any, job: ReviewJob) -> None:
    """The token must cover exactly the repository recorded in the ReviewJob (id and name together):
    a spec naming one repository by id and another by name gets no token for either."""
    listed = [] if repositories is None or isinstance(repositories, Unset) else list(repositories)
    recorded = job.spec.repository
    scoped = [(r.id, r.full_name.lower()) for r in listed]
    if scoped != [(recorded.id, recorded.full_name.lower())]:
        names = sorted(name for _, name in scoped)
        raise Unauthorized(
            f"checkout token covers {names or 'no listed repository'}, not {recorded.full_name}"
        )


def make_github(
    settings: GitHubSettings, *, private_key: str | None = None, fence: Fence | None = None
) -> GitHubClientFactory:
    return GitHubClientFactory(settings, private_key=private_key, fence=fence)


async def mint_checkout_token(factory: GitHubClientFactory, job: ReviewJob) -> ScopedToken:
    return await factory.mint_checkout_token(job)
