"""Local git repositories for the double: building bare repos and serving them over smart HTTP."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

_GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "HOME": os.devnull,
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
}


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, env=_GIT_ENV, check=True, capture_output=True, text=True
    ).stdout.strip()


@dataclass(frozen=True)
class BuiltRepo:
    bare: Path
    base_sha: str
    head_sha: str


def build_repo(root: Path, owner: str, name: str, base: dict[str, str], head: dict[str, str]) -> BuiltRepo:
    """A bare repo `root/owner/name.git` with a base commit and a head commit (files by path)."""
    work = root / "work" / owner / name
    work.mkdir(parents=True)
    git("init", "-q", "-b", "main", ".", cwd=work)
    shas = []
    for files in (base, head):
        for existing in work.iterdir():
            if existing.name != ".git":
                subprocess.run(["rm", "-rf", str(existing)], check=True)
        for path, text in files.items():
            (work / path).parent.mkdir(parents=True, exist_ok=True)
            (work / path).write_text(text)
        git("add", "-A", cwd=work)
        git("commit", "-q", "--allow-empty", "-m", f"commit {len(shas)}", cwd=work)
        shas.append(git("rev-parse", "HEAD", cwd=work))
    bare = root / owner / f"{name}.git"
    bare.parent.mkdir(parents=True, exist_ok=True)
    git("clone", "-q", "--bare", str(work), str(bare), cwd=root)
    git("config", "uploadpack.allowAnySHA1InWant", "true", cwd=bare)
    git("update-ref", "refs/pull/1/head", shas[1], cwd=bare)
    return BuiltRepo(bare, shas[0], shas[1])


def pull_files(bare: Path, base: str, head: str) -> list[dict[str, object]]:
    """What GET /pulls/{n}/files reports: filename, status, counts and the per-file patch."""
    files: list[dict[str, object]] = []
    status_names = {"A": "added", "M": "modified", "D": "removed"}
    for line in git("diff", "--name-status", base, head, cwd=bare).splitlines():
        code, path = line.split("\t", 1)
        diff = git("diff", "--no-color", "-U3", base, head, "--", path, cwd=bare)
        patch = diff[diff.index("@@") :] if "@@" in diff else None
        added = sum(1 for x in (patch or "").splitlines() if x.startswith("+"))
        removed = sum(1 for x in (patch or "").splitlines() if x.startswith("-"))
        files.append(
            {
                "filename": path,
                "status": status_names.get(code[0], "modified"),
                "additions": added,
                "deletions": removed,
                "changes": added + removed,
                "patch": patch,
            }
        )
    return files


_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@", re.MULTILINE)


def diff_lines(patch: str | None) -> tuple[set[int], set[int]]:
    """(RIGHT, LEFT) lines GitHub accepts comments on: exactly the new and old ranges of the hunks.

    Deliberately a different method from the product's line-walking parser, so the two check each other.
    """
    right: set[int] = set()
    left: set[int] = set()
    for m in _HUNK.finditer(patch or ""):
        old, old_n = int(m.group(1)), int(m.group(2) or 1)
        new, new_n = int(m.group(3)), int(m.group(4) or 1)
        left.update(range(old, old + old_n))
        right.update(range(new, new + new_n))
    return right, left


async def http_backend(
    root: Path, path_info: str, method: str, query: str, headers: dict[str, str], body: bytes
) -> tuple[int, dict[str, str], bytes]:
    """Runs `git http-backend` as a CGI for one request."""
    env = {
        **_GIT_ENV,
        "GIT_PROJECT_ROOT": str(root),
        "GIT_HTTP_EXPORT_ALL": "1",
        "PATH_INFO": path_info,
        "REQUEST_METHOD": method,
        "QUERY_STRING": query,
        "CONTENT_TYPE": headers.get("Content-Type", ""),
        "CONTENT_LENGTH": str(len(body)),
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_USER": "x-access-token",
    }
    if "Git-Protocol" in headers:
        env["GIT_PROTOCOL"] = headers["Git-Protocol"]
    if "Content-Encoding" in headers:
        env["HTTP_CONTENT_ENCODING"] = headers["Content-Encoding"]
    proc = await asyncio.create_subprocess_exec(
        "git",
        "http-backend",
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate(body)
    sep = out.find(b"\r\n\r\n")
    head_end, body_start = (sep, sep + 4) if sep >= 0 else (out.find(b"\n\n"), out.find(b"\n\n") + 2)
    status = 200
    response_headers: dict[str, str] = {}
    for line in out[:head_end].decode("latin-1").splitlines():
        key, _, value = line.partition(":")
        if key.lower() == "status":
            status = int(value.strip().split()[0])
        elif key:
            response_headers[key.strip()] = value.strip()
    return status, response_headers, out[body_start:]


@dataclass(frozen=True)
class TreeEntry:
    """One path of a commit's tree, as `git ls-tree` reports it."""

    mode: str
    kind: str  # blob, tree or commit (a submodule)
    sha: str
    path: str


def resolve_commit(bare: Path, ref: str) -> str | None:
    """The commit `ref` (a SHA, branch or tag) names, or None."""
    proc = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"],
        cwd=bare,
        env=_GIT_ENV,
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout.strip() if proc.returncode == 0 else None


def tree_entries(bare: Path, commit: str, path: str) -> list[TreeEntry]:
    """The entry at `path` (a file) or the entries under it (a directory); empty when absent."""
    out = git("ls-tree", "-z", commit, "--", path, cwd=bare)
    entries = []
    for record in filter(None, out.split("\0")):
        meta, name = record.split("\t", 1)
        mode, kind, sha = meta.split()
        entries.append(TreeEntry(mode, kind, sha, name))
    if len(entries) == 1 and entries[0].kind == "tree" and entries[0].path == path:
        return tree_entries(bare, commit, path + "/")
    return entries


def blob(bare: Path, sha: str) -> bytes:
    return subprocess.run(
        ["git", "cat-file", "blob", sha], cwd=bare, env=_GIT_ENV, capture_output=True, check=True
    ).stdout


def commit_on(bare: Path, parent: str, files: dict[str, str | None], message: str, branch: str) -> str:
    """A new commit in the bare repo: `parent`'s tree with `files` written (None deletes one), on
    `branch` (moved there, forced: a push, or a force-push when `parent` is not the branch's tip)."""
    index = bare / f"index-{branch.replace('/', '-')}"
    env = {**_GIT_ENV, "GIT_INDEX_FILE": str(index)}

    def run(*args: str, stdin: str | None = None) -> str:
        return subprocess.run(
            ["git", *args], cwd=bare, env=env, input=stdin, check=True, capture_output=True, text=True
        ).stdout.strip()

    run("read-tree", parent)
    for path, text in files.items():
        if text is None:
            run("update-index", "--force-remove", "--", path)
            continue
        blob_sha = run("hash-object", "-w", "--stdin", stdin=text)
        run("update-index", "--add", "--cacheinfo", f"100644,{blob_sha},{path}")
    tree = run("write-tree")
    sha = run("commit-tree", tree, "-p", parent, "-m", message)
    run("update-ref", f"refs/heads/{branch}", sha)
    index.unlink(missing_ok=True)
    return sha


def compare(bare: Path, base: str, head: str) -> tuple[str, list[str], int] | None:
    """(merge base, the commits of base..head oldest first, behind_by) of `base...head` as GitHub's
    compare reports it; None when either commit is missing or they share no history."""
    if resolve_commit(bare, base) is None or resolve_commit(bare, head) is None:
        return None
    proc = subprocess.run(
        ["git", "merge-base", base, head], cwd=bare, env=_GIT_ENV, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        return None
    ahead = git("rev-list", "--reverse", f"{base}..{head}", cwd=bare).split()
    behind = int(git("rev-list", "--count", f"{head}..{base}", cwd=bare))
    return proc.stdout.strip(), ahead, behind
