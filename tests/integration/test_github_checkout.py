"""`review-operator checkout` (the init container) over git smart HTTP with the scoped token."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from review_operator.github import make_github
from tests.github_double import fixtures
from tests.github_double.fixtures import World, make_job, settings_for
from tests.github_double.git import build_repo, commit_on

pytestmark = pytest.mark.integration
openapi, app_key, world = fixtures.openapi, fixtures.app_key, fixtures.world


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str


async def run_checkout(
    world: World, token_file: Path, workspace: Path, *extra: str, head: str | None = None
) -> Run:
    env = {
        "PATH": os.environ["PATH"],
        # This checkout's code, also when the virtualenv was installed from another one.
        "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "operator"),
        "HOME": str(workspace.parent),
        "REVIEWOP_GITHUB_API_URL": world.double.url,
        "REVIEWOP_CHECKOUT_REPOSITORY": "octo-org/hello-world",
        "REVIEWOP_CHECKOUT_HEAD_SHA": head or world.built.head_sha,
        "REVIEWOP_CHECKOUT_BASE_SHA": world.built.base_sha,
        "REVIEWOP_CHECKOUT_TOKEN_FILE": str(token_file),
        "REVIEWOP_CHECKOUT_WORKSPACE": str(workspace),
        "REVIEWOP_CHECKOUT_TERMINATION_MESSAGE_PATH": str(workspace.parent / "termination-log"),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "review_operator.cli",
        "checkout",
        *extra,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode is not None
    return Run(proc.returncode, out.decode(), err.decode())


async def mint_to_file(world: World, tmp_path: Path, repo_name: str = "hello-world") -> tuple[str, Path]:
    target = world.repo if repo_name == "hello-world" else world.other
    token = await make_github(settings_for(world)).mint_checkout_token(make_job(world, repo=target))
    secret_dir = tmp_path / "secret"
    secret_dir.mkdir()
    token_file = secret_dir / "token"
    token_file.write_text(token.token.get_secret_value())
    return token.token.get_secret_value(), token_file


def git(workspace: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=workspace, check=True, capture_output=True, text=True
    ).stdout.strip()


def assert_token_nowhere(token: str, root: Path) -> None:
    spellings = [token.encode(), base64.b64encode(f"x-access-token:{token}".encode())]
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(s in data for s in spellings), f"token found in {path}"


async def test_checkout_fetches_head_and_base_with_the_scoped_token_and_leaves_no_token(
    world: World, tmp_path: Path
) -> None:
    token, token_file = await mint_to_file(world, tmp_path)
    workspace = tmp_path / "workspace" / "repo"
    result = await run_checkout(world, token_file, workspace)

    assert result.code == 0, result.stderr
    assert git(workspace, "rev-parse", "HEAD") == world.built.head_sha
    git(workspace, "cat-file", "-e", f"{world.built.base_sha}^{{commit}}")  # base present for the diff
    # the shallow fetch was deepened until base and head meet, so the runner's `base...head` diff works
    assert "+changed 10" in git(workspace, "diff", f"{world.built.base_sha}...{world.built.head_sha}")
    assert "changed 10" in (workspace / "app.py").read_text()
    config = (workspace / ".git" / "config").read_text()
    assert "extraheader" not in config.lower() and token not in config and "[remote" not in config
    assert_token_nowhere(token, workspace)
    assert token not in result.stdout + result.stderr
    fetches = world.double.calls("POST", r"/octo-org/hello-world\.git/git-upload-pack$")
    assert fetches and all(r.status == 200 for r in fetches)


async def test_checkout_with_a_revoked_token_fails_clearly(world: World, tmp_path: Path) -> None:
    token, token_file = await mint_to_file(world, tmp_path)
    world.double.revoke_all()
    workspace = tmp_path / "workspace" / "repo"
    result = await run_checkout(world, token_file, workspace)

    assert result.code == 3
    assert "token was rejected" in result.stderr
    assert token not in result.stderr
    assert list(workspace.iterdir()) == []
    assert (tmp_path / "workspace" / "termination-log").read_text().startswith("Unauthorized:")


async def test_checkout_token_for_another_repository_is_refused(world: World, tmp_path: Path) -> None:
    _, token_file = await mint_to_file(world, tmp_path, repo_name="other")
    result = await run_checkout(world, token_file, tmp_path / "workspace" / "repo")
    assert result.code == 3


async def test_checkout_of_a_missing_commit_fails_clearly(world: World, tmp_path: Path) -> None:
    _, token_file = await mint_to_file(world, tmp_path)
    result = await run_checkout(world, token_file, tmp_path / "workspace" / "repo", head="0" * 40)
    assert result.code == 4, result.stderr
    assert "was not found" in result.stderr


async def test_checkout_over_the_size_limit_fails_and_leaves_nothing(world: World, tmp_path: Path) -> None:
    _, token_file = await mint_to_file(world, tmp_path)
    workspace = tmp_path / "workspace" / "repo"
    result = await run_checkout(world, token_file, workspace, "--max-bytes", "600")
    assert result.code == 5
    assert "size limit" in result.stderr
    assert list(workspace.iterdir()) == []


def git_shim(tmp_path: Path) -> tuple[Path, Path]:
    """A `git` first on PATH that records each invocation's arguments, then runs the real git."""
    real = subprocess.run(["which", "git"], capture_output=True, text=True, check=True).stdout.strip()
    shim_dir, calls = tmp_path / "shim", tmp_path / "git-calls"
    shim_dir.mkdir()
    (shim_dir / "git").write_text(f'#!/bin/sh\necho "$*" >> {calls}\nexec {real} "$@"\n')
    (shim_dir / "git").chmod(0o755)
    return shim_dir, calls


async def test_a_small_pack_that_expands_past_the_limit_is_refused_before_anything_is_written(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """48 MiB of one repeated byte packs into a few KiB: the fetch stays far below an 8 MiB limit, and
    the checkout must refuse from the tree's blob sizes without running `git checkout` at all."""
    big = "0" * (48 * 1024**2)
    built = build_repo(world.double.git_root, "octo-org", "bomb", {"README": "hi\n"}, {"big.txt": big})
    bomb = world.double.add_repo("octo-org", "bomb", 4242, built.bare, fixtures.INSTALLATION_ID)
    world.double.add_pull(bomb, 1, built.head_sha, built.base_sha)
    token = await make_github(settings_for(world)).mint_checkout_token(make_job(world, repo=bomb))
    token_file = tmp_path / "token"
    token_file.write_text(token.token.get_secret_value())
    shim_dir, calls = git_shim(tmp_path)
    monkeypatch.setenv("PATH", f"{shim_dir}:{os.environ['PATH']}")
    workspace = tmp_path / "workspace" / "repo"
    limit = 8 * 1024**2
    result = await run_checkout(
        world, token_file, workspace, "--repository", "octo-org/bomb", "--head-sha", built.head_sha,
        "--base-sha", built.base_sha, "--max-bytes", str(limit),
    )  # fmt: skip

    assert result.code == 5, result.stderr
    assert "size limit" in result.stderr
    invoked = calls.read_text().splitlines()
    assert any(" fetch " in f" {line} " for line in invoked), invoked
    assert not [line for line in invoked if " checkout " in f" {line} "], (
        "git checkout ran: files were written"
    )
    assert list(workspace.iterdir()) == []
    assert (tmp_path / "workspace" / "termination-log").read_text().startswith("TooLarge:")


async def test_checkout_in_process_leaves_the_environment_untouched(world: World, tmp_path: Path) -> None:
    from review_operator.github import CheckoutRequest, checkout, git_url_for

    token, token_file = await mint_to_file(world, tmp_path)
    before = dict(os.environ)
    request = CheckoutRequest(
        git_url=git_url_for(world.double.url + "/api/v3", "octo-org", "hello-world"),
        head_sha=world.built.head_sha,
        base_sha=world.built.base_sha,
        workspace=tmp_path / "ws",
        token_file=token_file,
    )
    await asyncio.to_thread(checkout, request)
    assert dict(os.environ) == before
    assert not any(token in v for v in os.environ.values())
    assert git(tmp_path / "ws", "rev-parse", "HEAD") == world.built.head_sha


async def test_checkout_also_fetches_the_last_reviewed_head_and_goes_on_without_it_when_gone(
    world: World, tmp_path: Path
) -> None:
    # Issue 20 item 2: an incremental review diffs since..head, so the earlier head must be there.
    built = world.built
    head = await asyncio.to_thread(
        commit_on, built.bare, built.head_sha, {"app.py": "print('pushed')\n"}, "second push", "feature"
    )
    _, token_file = await mint_to_file(world, tmp_path)
    workspace = tmp_path / "workspace" / "repo"
    # No base (a command's without GitHub's answer): no deepening fetches the earlier head by chance.
    no_base = ("--base-sha", "")
    result = await run_checkout(
        world, token_file, workspace, *no_base, "--since-sha", built.head_sha, head=head
    )
    assert result.code == 0, result.stderr
    git(workspace, "cat-file", "-e", f"{built.head_sha}^{{commit}}")
    assert "+print('pushed')" in git(workspace, "diff", built.head_sha, head)

    gone = tmp_path / "gone" / "repo"
    result = await run_checkout(world, token_file, gone, "--since-sha", "0123456789" * 4, head=head)
    assert result.code == 0, result.stderr  # best effort: the runner then reviews the whole PR
    assert git(gone, "rev-parse", "HEAD") == head
