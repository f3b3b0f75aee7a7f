"""The contents API of the GitHub double: files and directories read from the served bare repository."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from tests.github_double.openapi import Operation
    from tests.github_double.server import GitHubDouble, Grant

from tests.github_double import server as s
from tests.github_double.git import TreeEntry, blob, resolve_commit, tree_entries

_CONTENTS_DOCS = "https://docs.github.com/rest/repos/contents#get-repository-content"


def _contents_404(message: str) -> web.Response:
    # What GitHub answers for a missing path ("Not Found") or ref ("No commit found for the ref X").
    return web.json_response(
        {"message": message, "documentation_url": _CONTENTS_DOCS, "status": "404"}, status=404
    )


def _encode64(raw: bytes) -> str:
    """GitHub's `content`: base64 with a line break after every 60 characters and at the end (Ruby's
    Base64.encode64, visible in the OpenAPI example for this endpoint)."""
    text = base64.b64encode(raw).decode()
    return "".join(text[i : i + 60] + "\n" for i in range(0, len(text), 60))


def _content_item(
    d: GitHubDouble, template: dict[str, Any], repo: s.Repo, ref: str, entry: TreeEntry
) -> dict[str, Any]:
    kind = {"tree": "dir", "commit": "submodule"}.get(entry.kind, "file")
    if entry.mode == "120000":
        kind = "symlink"
    api = f"{d.url}/repos/{repo.owner}/{repo.name}"
    web_url = f"https://github.com/{repo.owner}/{repo.name}/blob/{ref}/{entry.path}"
    git_url = f"{api}/git/{'trees' if kind == 'dir' else 'blobs'}/{entry.sha}"
    item = {
        **template,
        "type": kind,
        "name": entry.path.rsplit("/", 1)[-1],
        "path": entry.path,
        "sha": entry.sha,
        "size": len(blob(repo.bare, entry.sha)) if entry.kind == "blob" else 0,
        "url": f"{api}/contents/{entry.path}?ref={ref}",
        "git_url": git_url,
        "html_url": web_url,
        "download_url": None if kind in ("dir", "submodule") else f"{d.url}/raw/{entry.path}",
        "_links": {"self": f"{api}/contents/{entry.path}?ref={ref}", "git": git_url, "html": web_url},
    }
    for key in ("encoding", "content", "target", "submodule_git_url"):
        item.pop(key, None)
    return item


async def get_content(
    d: GitHubDouble, request: web.Request, op: Operation, params: dict[str, str], body: Any, grant: Grant
) -> web.Response:
    """GET /repos/{owner}/{repo}/contents/{path}?ref=: read from the bare repository at `ref`."""
    repo = d.repo_for(params["owner"], params["repo"])
    if repo is None:
        return _contents_404("Not Found")
    if not d.allowed(grant, repo, "contents", "read"):
        in_scope = grant.repository_ids is None or repo.id in grant.repository_ids
        return s._error(403 if in_scope else 404, "Resource not accessible by integration")
    ref = request.query.get("ref") or "HEAD"  # no ref: the default branch
    commit = resolve_commit(repo.bare, ref)
    if commit is None:
        return _contents_404(f"No commit found for the ref {ref}")
    path = params["path"].strip("/")
    entries = tree_entries(repo.bare, commit, path)
    if not entries:
        return _contents_404("Not Found")
    if len(entries) > 1 or entries[0].path != path:
        template = d.openapi.example("GET", op.template, "200")  # the file example, reshaped per item
        return web.json_response([_content_item(d, template, repo, ref, e) for e in entries])
    entry = entries[0]
    data = _content_item(d, d.openapi.example("GET", op.template, "200"), repo, ref, entry)
    if data["type"] == "symlink":
        # (Real GitHub answers a symlink to a file inside the repository with that file; not needed.)
        data["target"] = blob(repo.bare, entry.sha).decode()
    elif data["type"] == "submodule":
        data["submodule_git_url"] = "https://github.com/octo-org/submodule.git"
    else:
        raw = blob(repo.bare, entry.sha)
        if len(raw) <= 1024**2:
            data.update(encoding="base64", content=_encode64(raw))
        else:  # over 1 MB GitHub sends no content in the JSON form
            data.update(encoding="none", content="")
    return web.json_response(data)
