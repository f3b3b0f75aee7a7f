"""A local GitHub API double: OpenAPI-validated requests, App JWTs, scoped tokens, git, faults.

Every JSON request body is validated against GitHub's OpenAPI description; an invalid one gets 422
and is recorded in `violations` (the fixture fails the test). Tokens are enforced per repository and
permission on every call. Faults are queued with `fail_next`, `drop_after_next` and `rate_limit_next`.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import re
import secrets
import string
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from aiohttp import web

from tests.github_double.git import http_backend, pull_files
from tests.github_double.openapi import OpenAPI

# The App's slug; GitHub shows what an App writes as the bot account `<slug>[bot]`.
APP_SLUG = "review-operator"
BOT = {"login": f"{APP_SLUG}[bot]", "id": 9001, "type": "Bot"}
PAT_USER = {"login": "octocat", "id": 1, "type": "User"}
JSON_BODY = web.RequestKey("json_body", object)
_LEVELS = {"read": 1, "write": 2, "admin": 3}


@dataclass
class Grant:
    token: str
    repository_ids: list[int] | None  # None: every repository (PAT)
    permissions: dict[str, str]
    user: dict[str, Any]
    revoked: bool = False


@dataclass
class Repo:
    id: int
    owner: str
    name: str
    bare: Path
    installation_id: int


@dataclass
class Pull:
    repo: Repo
    number: int
    head_sha: str
    base_sha: str
    files: list[dict[str, Any]]
    reviews: list[dict[str, Any]] = field(default_factory=list)
    review_comments: list[dict[str, Any]] = field(default_factory=list)
    comments: list[dict[str, Any]] = field(default_factory=list)
    reactions: list[dict[str, Any]] = field(default_factory=list)  # on comments: comment_id, content, user


@dataclass
class Fault:
    kind: str  # "status" (before processing), "drop" (after processing), "rate_limit", "delay"
    method: str
    path_re: re.Pattern[str]
    remaining: int
    status: int = 502
    retry_after: int | None = 1
    seconds: float = 0.0  # "delay": how long the answer takes


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    status: int
    at: float
    body: Any = None


class GitHubDouble:
    def __init__(self, openapi: OpenAPI, git_root: Path, app_id: int, public_key: str) -> None:
        self.openapi = openapi
        self.git_root = git_root
        self.app_id = app_id
        self.public_key = public_key
        # Every App has `metadata: read` (GitHub makes it mandatory). `contents: write`: GitHub lets an
        # App resolve review threads only with it (tests/github_double/graphql.py).
        self.app_permissions = {
            "contents": "write",
            "metadata": "read",
            "pull_requests": "write",
            "checks": "write",
        }
        self.repos: dict[int, Repo] = {}
        self.pulls: dict[tuple[int, int], Pull] = {}
        self.grants: dict[str, Grant] = {}
        self.mints: list[dict[str, Any]] = []
        self.check_runs: list[dict[str, Any]] = []
        # Every (status, conclusion) each check run went through, by run id, in order.
        self.check_run_history: dict[int, list[tuple[str, str | None]]] = {}
        self.requests: list[Recorded] = []
        self.violations: list[str] = []
        self.faults: list[Fault] = []
        self.resolved_threads: list[str] = []  # node ids, in the order resolveReviewThread succeeded
        self.jwt_accepted = 0
        self.token_lifetime = timedelta(hours=1)
        # Permissions minted tokens carry instead of what GitHub would grant (tests of a misbehaving API).
        self.grant_override: dict[str, str] | None = None
        # Called with each processed request, e.g. to kill the client mid-way (a simulated crash).
        self.after_request: list[Callable[[Recorded], None]] = []
        self._ids = itertools.count(1000)
        self._runner: web.AppRunner | None = None
        self.url = ""

    # ---- lifecycle -------------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1") -> GitHubDouble:
        """Listens on `host` (loopback, or the real node's bridge address for pods to reach)."""
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024**2)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://{host}:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # ---- test set-up and inspection -------------------------------------------------------------
    def add_repo(self, owner: str, name: str, repo_id: int, bare: Path, installation_id: int = 42) -> Repo:
        repo = Repo(repo_id, owner, name, bare, installation_id)
        self.repos[repo_id] = repo
        return repo

    def add_pull(self, repo: Repo, number: int, head_sha: str, base_sha: str) -> Pull:
        pull = Pull(repo, number, head_sha, base_sha, pull_files(repo.bare, base_sha, head_sha))
        self.pulls[(repo.id, number)] = pull
        return pull

    def add_comment(self, pull: Pull, body: str, login: str = "octocat") -> int:
        """A comment a person wrote on the PR's conversation (e.g. a `/review` command); its id."""
        data = self.openapi.example("GET", "/repos/{owner}/{repo}/issues/comments/{comment_id}", "200")
        data.update(id=self.next_id(), body=body, user=dict(data["user"], login=login, type="User"))
        pull.comments.append(data)
        return int(data["id"])

    def add_pat(self) -> str:
        token = "ghp_" + _random(36)
        self.grants[token] = Grant(token, None, {k: "admin" for k in self.app_permissions}, PAT_USER)
        return token

    @staticmethod
    def bot_login() -> str:
        return str(BOT["login"])

    def revoke_all(self) -> None:
        for grant in self.grants.values():
            grant.revoked = True

    def fail_next(self, method: str, path: str, count: int = 1, status: int = 502) -> None:
        self.faults.append(Fault("status", method, re.compile(path), count, status=status))

    def delay_next(self, method: str, path: str, seconds: float, count: int = 1) -> None:
        """The next matching requests are answered (normally) only after `seconds`: a slow GitHub."""
        self.faults.append(Fault("delay", method, re.compile(path), count, seconds=seconds))

    def drop_after_next(self, method: str, path: str, count: int = 1) -> None:
        self.faults.append(Fault("drop", method, re.compile(path), count))

    def rate_limit_next(
        self, method: str, path: str, count: int = 1, retry_after: int | None = 1, status: int = 403
    ) -> None:
        """Secondary rate limit; `retry_after=None` sends no Retry-After header (GitHub does that too)."""
        self.faults.append(Fault("rate_limit", method, re.compile(path), count, status, retry_after))

    def count(self, method: str, path: str) -> int:
        return sum(1 for r in self.requests if r.method == method and re.search(path, r.path))

    def calls(self, method: str, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and re.search(path, r.path)]

    # ---- plumbing ---------------------------------------------------------------------------------
    def _take_fault(self, kind: str, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if (
                fault.kind == kind
                and fault.remaining > 0
                and fault.method == method
                and fault.path_re.search(path)
            ):
                fault.remaining -= 1
                return fault
        return None

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        method, path = request.method, request.path
        body: Any = None
        if request.can_read_body and not path.endswith((".git/git-upload-pack", ".git/git-receive-pack")):
            raw = await request.read()
            body = json.loads(raw) if raw else None
        if (slow := self._take_fault("delay", method, path)) is not None:
            await asyncio.sleep(slow.seconds)
        fault = self._take_fault("status", method, path)
        if fault is not None:
            response: web.StreamResponse = _error(fault.status, "Server Error (injected)")
        elif (fault := self._take_fault("rate_limit", method, path)) is not None:
            response = _error(
                fault.status, "You have exceeded a secondary rate limit. Please wait a few minutes."
            )
            if fault.retry_after is not None:
                response.headers["Retry-After"] = str(fault.retry_after)
        else:
            request[JSON_BODY] = body
            response = await handler(request)
        recorded = Recorded(method, path, response.status, time.monotonic(), body)
        self.requests.append(recorded)
        for hook in self.after_request:
            hook(recorded)
        if self._take_fault("drop", method, path) is not None and request.transport is not None:
            request.transport.abort()  # processed, but the client never sees the answer
        return response

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        if ".git/" in request.path:
            return await self._git(request)
        if request.method == "POST" and request.path in ("/graphql", "/api/graphql"):
            return await graphql.handle(self, request, request[JSON_BODY], self._grant(request))
        # GitHub Enterprise Server serves the same API under /api/v3.
        path = request.path.removeprefix("/api/v3")
        op = self.openapi.find(request.method, path)
        if op is None:
            return _error(404, "Not Found")
        body = request[JSON_BODY]
        errors = self.openapi.validate_body(op, body)
        if errors:
            self.violations.extend(f"{request.method} {op.template}: {e}" for e in errors)
            return _error(422, "Invalid request (OpenAPI): " + "; ".join(errors[:3]))
        params = _params(op.template, path)
        handler = _ROUTES.get((request.method, op.template))
        if handler is None:
            return _error(404, f"Not Found (double does not implement {op.template})")
        if op.template.startswith("/app"):
            denied = self._check_jwt(request)
            if denied is not None:
                return denied
            return await handler(self, request, op, params, body, None)
        grant = self._grant(request)
        if grant is None:
            return _error(401, "Bad credentials")
        return await handler(self, request, op, params, body, grant)

    def _check_jwt(self, request: web.Request) -> web.Response | None:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return _error(401, "A JSON web token could not be decoded")
        try:
            claims = jwt.decode(
                auth[7:], self.public_key, algorithms=["RS256"], options={"require": ["iat", "exp", "iss"]}
            )
        except jwt.PyJWTError:
            return _error(401, "A JSON web token could not be decoded")
        if str(claims["iss"]) != str(self.app_id) or claims["exp"] - claims["iat"] > 600:
            return _error(401, "'Issuer' claim ('iss') must be an Integer / expiration too far")
        self.jwt_accepted += 1
        return None

    def _grant(self, request: web.Request) -> Grant | None:
        auth = request.headers.get("Authorization", "")
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "basic":
            value = base64.b64decode(value).decode().partition(":")[2]
        elif scheme.lower() not in ("token", "bearer"):
            return None
        grant = self.grants.get(value)
        return None if grant is None or grant.revoked else grant

    def repo_for(self, owner: str, name: str) -> Repo | None:
        return next((r for r in self.repos.values() if r.owner == owner and r.name == name), None)

    @staticmethod
    def allowed(grant: Grant, repo: Repo, permission: str, level: str) -> bool:
        if grant.repository_ids is not None and repo.id not in grant.repository_ids:
            return False
        return _LEVELS.get(grant.permissions.get(permission, ""), 0) >= _LEVELS[level]

    def next_id(self) -> int:
        return next(self._ids)

    async def _git(self, request: web.Request) -> web.StreamResponse:
        m = re.match(r"^/([^/]+)/([^/]+)\.git(/.*)$", request.path)
        repo = self.repo_for(m.group(1), m.group(2)) if m else None
        if m is None or repo is None:
            return _error(404, "Repository not found")
        if m.group(3) == "/git-receive-pack" or request.query.get("service") == "git-receive-pack":
            return _error(403, "Write access to repository not granted.")
        grant = self._grant(request)
        if grant is None or not self.allowed(grant, repo, "contents", "read"):
            return web.Response(
                status=401, text="Authentication failed", headers={"WWW-Authenticate": 'Basic realm="GitHub"'}
            )
        status, headers, out = await http_backend(
            self.git_root,
            f"/{repo.owner}/{repo.name}.git{m.group(3)}",
            request.method,
            request.query_string,
            dict(request.headers),
            await request.read(),
        )
        return web.Response(status=status, body=out, headers=headers)


def _params(template: str, path: str) -> dict[str, str]:
    names = template.strip("/").split("/")
    values = path.strip("/").split("/")
    if names[-1] == "{path}":
        # The contents API's file path keeps its slashes (see OpenAPI.__init__).
        values = [*values[: len(names) - 1], "/".join(values[len(names) - 1 :])]
    return {n[1:-1]: v for n, v in zip(names, values, strict=True) if n.startswith("{")}


def _random(n: int) -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(n))


def _error(status: int, message: str) -> web.Response:
    return web.json_response(
        {"message": message, "documentation_url": "https://docs.github.com/rest"}, status=status
    )


def now_iso(delta: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) + delta).strftime("%Y-%m-%dT%H:%M:%SZ")


from tests.github_double import graphql  # noqa: E402  (it needs the classes above)
from tests.github_double.review_comments import ROUTES as _THREAD_ROUTES  # noqa: E402
from tests.github_double.routes import ROUTES as _ROUTES  # noqa: E402  (routes need the classes above)

_ROUTES = {**_ROUTES, **_THREAD_ROUTES}
