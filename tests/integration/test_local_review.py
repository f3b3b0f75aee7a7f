"""`review-operator review` from a laptop: GitHub double (token mode), fake model, real Claude Code CLI."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.fakes.anthropic_api import FakeAnthropicAPI, text, tool
from tests.fakes.runner_harness import API_KEY, REPO_ROOT, review_json
from tests.github_double import fixtures
from tests.github_double.fixtures import World

log = logging.getLogger(__name__)
openapi, app_key, world = fixtures.openapi, fixtures.app_key, fixtures.world

FINDING = {
    "path": "app.py",
    "line": 10,
    "side": "RIGHT",
    "severity": "high",
    "confidence": 0.9,
    "title": "Line 10 changed without a test",
    "body": "The new value is never checked.",
}


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str


async def run_review(
    world: World,
    *args: str,
    token: str | None,
    api: FakeAnthropicAPI | None = None,
    tmpdir: Path | None = None,
) -> Run:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ANTHROPIC_", "CLAUDE", "REVIEWOP_", "AWS_", "GITHUB_", "GH_"))
    }
    env |= {
        "PYTHONPATH": str(REPO_ROOT / "operator"),
        "REVIEWOP_GITHUB_API_URL": world.double.url,
        "REVIEWOP_GITHUB_RETRY_BACKOFF_SECONDS": "0.05",
        "REVIEWOP_GITHUB_MAX_ATTEMPTS": "2",
        "REVIEWOP_RUNNER_MAX_RETRIES": "0",
        "REVIEWOP_RUNNER_TIMEOUT_SECONDS": "60",
        "ANTHROPIC_API_KEY": API_KEY,
        "ANTHROPIC_BASE_URL": api.base_url if api else "http://127.0.0.1:9",
    }
    if token is not None:
        env["REVIEWOP_GITHUB_TOKEN"] = token
    if tmpdir is not None:
        env["TMPDIR"] = str(tmpdir)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "review_operator.cli",
        "review",
        "--repo",
        "octo-org/hello-world",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 90)
    run = Run(proc.returncode if proc.returncode is not None else -1, out.decode(), err.decode())
    # Logged, so the `world` fixture's secret check also covers everything the command printed.
    log.info("review-operator review exited %s\nstdout:\n%s\nstderr:\n%s", run.code, run.stdout, run.stderr)
    for secret in [API_KEY, *world.double.grants]:
        assert secret not in run.stdout + run.stderr, "a credential was printed"
    return run


def scripted_api() -> FakeAnthropicAPI:
    return FakeAnthropicAPI(
        [tool("Read", file_path="app.py"), text(review_json("Changes line 10 of app.py.", [FINDING]))]
    )


def posted(world: World) -> int:
    return world.double.count("POST", "/reviews$") + world.double.count("POST", "/comments$")


async def test_prints_the_review_with_progress_and_posts_nothing(world: World, tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    async with scripted_api() as api:
        run = await run_review(world, "--pr", "1", token=world.double.add_pat(), api=api, tmpdir=scratch)

    assert run.code == 0, run.stdout + run.stderr
    assert "Changes line 10 of app.py." in run.stdout
    assert "[high] app.py:10 (RIGHT) Line 10 changed without a test" in run.stdout
    assert "The new value is never checked." in run.stdout
    for event in ("fetch_pull", "checkout", "agent_start", "tool tool=Read", "turn", "not_posted"):
        assert f"] {event}" in run.stderr, (event, run.stderr)
    assert "--post" in run.stderr
    assert posted(world) == 0
    assert world.pull.reviews == [] and world.pull.comments == []
    # The model saw the real checkout: the file's content came back from the Read tool.
    assert "changed 10" in api.all_text()
    # The checkout, the review files and the 0600 token file for git are all gone afterwards.
    assert list(scratch.glob("review-operator-*")) == []  # (the CLI leaves its own temp files)


async def test_post_publishes_exactly_one_review_on_the_head(world: World) -> None:
    async with scripted_api() as api:
        run = await run_review(world, "--pr", "1", "--post", token=world.double.add_pat(), api=api)

    assert run.code == 0, run.stderr
    assert world.double.count("POST", "/reviews$") == 1
    [review] = world.pull.reviews
    assert review["commit_id"] == world.pull.head_sha
    assert [(c["path"], c["line"]) for c in world.pull.review_comments] == [("app.py", 10)]
    assert "] posted" in run.stderr

    # Again for the same head: the earlier review is found by its marker, no second one is posted.
    async with scripted_api() as api:
        again = await run_review(world, "--pr", "1", "--post", token=world.double.add_pat(), api=api)
    assert again.code == 0, again.stderr
    assert "] already_posted" in again.stderr
    assert world.double.count("POST", "/reviews$") == 1


async def test_missing_token_is_a_clear_error(world: World) -> None:
    run = await run_review(world, "--pr", "1", token=None)
    assert run.code == 2
    assert "REVIEWOP_GITHUB_TOKEN" in run.stderr
    assert world.double.requests == []


async def test_rejected_token_is_a_clear_error(world: World) -> None:
    bad = "ghp_" + "x" * 36
    run = await run_review(world, "--pr", "1", token=bad)
    assert run.code == 3, run.stderr
    assert "GitHub rejected the token" in run.stderr
    assert bad not in run.stdout + run.stderr
    assert "Traceback" not in run.stderr


async def test_missing_pull_request_is_a_clear_error(world: World) -> None:
    run = await run_review(world, "--pr", "99", token=world.double.add_pat())
    assert run.code == 4, run.stderr
    assert "octo-org/hello-world#99 not found" in run.stderr
    assert "Traceback" not in run.stderr
    assert posted(world) == 0
