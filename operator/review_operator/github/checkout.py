"""The review pod's `checkout` init container: fetch exactly the head and base commits, shallow.

Size is bounded at every step: the fetch is watched while the pack streams in, and the head tree's
size on disk is computed from the fetched objects (`git ls-tree -l`) before `git checkout` writes a
single file, so a small pack of repetitive content cannot fill the pod's disk.

The token is read from a file (a mounted per-review Secret) and handed to git only through the
environment of the git child processes (`GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_0`/`GIT_CONFIG_VALUE_0` =
`http.extraHeader`), so it is never written to `.git/config`, to the remote URL, or to any file, and
never set in this process's own environment. No remote is configured: the URL is passed per fetch.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from review_operator.api.scrub import scrub_token_shapes
from review_operator.github.errors import CheckoutError

log = logging.getLogger(__name__)

SHA = re.compile(r"^[0-9a-f]{40}$")
DEFAULT_MAX_BYTES = 2 * 1024**3
DEFAULT_TIMEOUT_SECONDS = 600.0
# Everything git would otherwise pick up from the host or the repository and that could run code or
# leak the header: hooks, credential helpers, system and global config, prompts.
_BASE_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_ASKPASS": "true",
    "SSH_ASKPASS": "true",
    "LC_ALL": "C",
}


@dataclass(frozen=True)
class CheckoutRequest:
    git_url: str  # https://github.com/OWNER/REPO.git (no credentials in it)
    head_sha: str
    base_sha: str | None
    workspace: Path
    token_file: Path | None
    max_bytes: int = DEFAULT_MAX_BYTES
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    # 1 in review pods. None fetches the full history of both commits, so `git diff base...head`
    # finds their merge base (the local one-shot review uses it).
    depth: int | None = 1
    # Incremental review: the head of the last review, fetched too (depth 1: the runner diffs the two
    # trees; GitHub's compare already said it is an ancestor). Best effort: a commit that cannot be had
    # any more leaves the runner to review the whole PR, and say so.
    since_sha: str | None = None


def git_url_for(api_url: str, owner: str, name: str) -> str:
    """The smart-HTTP URL of a repository, derived from the REST API URL (github.com, GHES, tests)."""
    parts = urlsplit(api_url)
    host, path = parts.netloc, parts.path.rstrip("/")
    if host == "api.github.com":
        host = "github.com"
    path = path.removesuffix("/api/v3")
    return urlunsplit((parts.scheme, host, f"{path}/{owner}/{name}.git", "", ""))


def _auth_env(token: str | None) -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.devnull, **_BASE_ENV}
    if token:
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        env |= {
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "http.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
        }
    return env


def _classify(stderr: str, head_sha: str) -> tuple[str, str]:
    text = stderr.lower()
    # Commit checks first: a SHA in the message may contain "401" or "404".
    if any(s in text for s in ("not our ref", "couldn't find remote ref", "no such remote ref")):
        return (
            "CommitNotFound",
            f"commit {head_sha[:12]} (or the base commit) was not found in the repository",
        )
    auth_signs = ("authentication failed", "returned error: 401", "returned error: 403", "terminal prompts")
    if any(s in text for s in (*auth_signs, "could not read username")):
        return (
            "Unauthorized",
            "the repository token was rejected (revoked, expired, or not for this repository)",
        )
    if "repository not found" in text or "returned error: 404" in text:
        return "CommitNotFound", "the repository was not found (or the token cannot see it)"
    last = scrub_token_shapes(stderr.strip().splitlines()[-1]) if stderr.strip() else "no output"
    return "GitFailed", f"git failed: {last[:300]}"


@dataclass(frozen=True)
class _Git:
    """Runs git in the workspace with a deadline and, for fetches, a size watchdog."""

    cwd: Path
    timeout: float
    head_sha: str
    max_bytes: int

    def run(self, args: list[str], *, env: dict[str, str], what: str, watch: Path | None = None) -> bytes:
        """Runs git; returns its stdout. With `watch`, that directory's size is polled while git runs
        (the pack streaming in, the files being written), so a huge repository is cut off early."""
        deadline = time.monotonic() + self.timeout
        with tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as out:
            proc = subprocess.Popen(
                ["git", *args],
                cwd=self.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            )
            try:
                while proc.poll() is None:
                    if time.monotonic() > deadline:
                        raise CheckoutError(f"{what} timed out after {self.timeout:.0f}s", "Timeout")
                    if watch is not None and _size(watch) > self.max_bytes:
                        raise CheckoutError(
                            f"{what}: the size limit of {self.max_bytes} bytes was exceeded", "TooLarge"
                        )
                    time.sleep(0.05 if watch is None else 0.2)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            err.seek(0)
            stderr = err.read().decode(errors="replace")
            out.seek(0)
            stdout = out.read()
        if proc.returncode != 0:
            reason, message = _classify(stderr, self.head_sha)
            raise CheckoutError(f"{what}: {message}", reason)
        return stdout


def _size(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size  # noqa: PTH118 - hot loop
            except FileNotFoundError:  # git renames temporary packs while we look
                continue
    return total


def _check_size(path: Path, limit: int, what: str) -> None:
    if _size(path) > limit:
        raise CheckoutError(f"{what} exceed the size limit of {limit} bytes", "TooLarge")


BLOCK = 4096
# What one index entry costs besides its blocks (the index records path, stat data and object id).
INDEX_ENTRY_BYTES = 128


def tree_disk_bytes(ls_tree: bytes) -> tuple[int, int]:
    """(estimated bytes on disk, files) of checking out a tree, from `git ls-tree -r -l -z` output.

    Each blob is rounded up to whole blocks, at least one, because a filesystem (and the kubelet's
    ephemeral-storage accounting) charges blocks: a million empty files are not free. Submodules
    (`commit` entries) are not checked out and cost nothing.
    """
    total = files = 0
    for entry in ls_tree.split(b"\0"):
        meta, _, _path = entry.partition(b"\t")
        fields = meta.split()
        if len(fields) != 4 or fields[1] != b"blob":
            continue
        size = int(fields[3])
        total += max(1, -(-size // BLOCK)) * BLOCK + INDEX_ENTRY_BYTES
        files += 1
    return total, files


def _check_tree_size(git: _Git, req: CheckoutRequest, env: dict[str, str]) -> None:
    """Refuses before `git checkout` writes anything: a tiny pack of repetitive blobs can expand a
    thousandfold, so the fetched size says nothing about what the checkout would write."""
    listing = git.run(["ls-tree", "-r", "-l", "-z", "--full-tree", req.head_sha], env=env, what="git ls-tree")
    tree, files = tree_disk_bytes(listing)
    fetched = _size(req.workspace / ".git")
    if fetched + tree > req.max_bytes:
        raise CheckoutError(
            f"the head commit's {files} files (about {tree} bytes on disk) and the fetched objects "
            f"({fetched} bytes) would exceed the size limit of {req.max_bytes} bytes",
            "TooLarge",
        )


def _fetch_and_checkout(req: CheckoutRequest, token: str | None) -> None:
    plain, authed = _auth_env(None), _auth_env(token)
    git = _Git(req.workspace, req.timeout_seconds, req.head_sha, req.max_bytes)
    git.run(["init", "-q", "--template=", "."], env=plain, what="git init")
    wants = [req.head_sha] + ([req.base_sha] if req.base_sha and req.base_sha != req.head_sha else [])
    base_fetch = ["-c", "protocol.version=2", "fetch", "-q", "--no-tags", "--no-write-fetch-head"]
    fetch = base_fetch + ([f"--depth={req.depth}"] if req.depth else [])
    objects = req.workspace / ".git"
    git.run([*fetch, req.git_url, *wants], env=authed, what="git fetch", watch=objects)
    if req.depth and len(wants) == 2:
        _deepen_to_merge_base(git, req, base_fetch, wants, plain, authed)
    if req.since_sha and req.since_sha not in wants:
        _fetch_since(git, req, fetch, authed, objects)
    _check_size(objects, req.max_bytes, "the fetched commits")
    _check_tree_size(git, req, plain)
    # Still watched: .gitattributes filters (eol, working-tree-encoding) may write more than the blobs.
    git.run(["checkout", "-q", "--detach", req.head_sha], env=plain, what="git checkout", watch=req.workspace)
    _check_size(req.workspace, req.max_bytes, "the checkout and its objects")


def _fetch_since(
    git: _Git, req: CheckoutRequest, fetch: list[str], env: dict[str, str], objects: Path
) -> None:
    assert req.since_sha is not None
    try:
        git.run([*fetch, req.git_url, req.since_sha], env=env, what="git fetch (since)", watch=objects)
    except CheckoutError as exc:
        if exc.reason != "CommitNotFound":
            raise
        log.warning("the last reviewed commit %s is gone: the runner reviews in full", req.since_sha[:12])


DEEPEN_STEPS = (50, 500, 5000)


def _has_merge_base(git: _Git, req: CheckoutRequest, env: dict[str, str]) -> bool:
    assert req.base_sha is not None
    try:
        git.run(["merge-base", req.base_sha, req.head_sha], env=env, what="git merge-base")
    except CheckoutError:
        return False
    return True


def _deepen_to_merge_base(
    git: _Git,
    req: CheckoutRequest,
    fetch: list[str],
    wants: list[str],
    plain: dict[str, str],
    authed: dict[str, str],
) -> None:
    """A shallow fetch has no common ancestor, and the runner diffs `base...head` (what GitHub shows):
    deepen both histories until they meet, then fetch the rest as a last resort."""
    for step in DEEPEN_STEPS:
        if _has_merge_base(git, req, plain):
            return
        git.run(
            [*fetch, f"--deepen={step}", req.git_url, *wants],
            env=authed,
            what="git fetch --deepen",
            watch=git.cwd / ".git",
        )
    if not _has_merge_base(git, req, plain):
        git.run(
            [*fetch, "--unshallow", req.git_url, *wants],
            env=authed,
            what="git fetch --unshallow",
            watch=git.cwd / ".git",
        )


def checkout(req: CheckoutRequest) -> None:
    """Fetches head (and base) with depth 1 into `req.workspace` and checks out head, detached.

    On failure the workspace is emptied, so a half-fetched tree never reaches the review container.
    """
    for sha in (req.head_sha, req.base_sha, req.since_sha):
        if sha is not None and not SHA.match(sha):
            raise CheckoutError("commit ids must be 40 lowercase hex characters")
    token = req.token_file.read_text().strip() if req.token_file else None
    if req.token_file and not token:
        raise CheckoutError("the token file is empty")
    req.workspace.mkdir(parents=True, exist_ok=True)
    if any(req.workspace.iterdir()):
        raise CheckoutError(f"workspace {req.workspace} is not empty")
    try:
        _fetch_and_checkout(req, token)
    except CheckoutError:
        _empty(req.workspace)
        raise
    log.info("checked out", extra={"head_sha": req.head_sha, "base_sha": req.base_sha})


def _empty(path: Path) -> None:
    for child in path.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
