"""Incremental reviews in the runner (issue 20 item 2), with the real Claude Code CLI and the fake model:
the model is given only the changes since the last reviewed head (of the files the PR changes), and a
commit the checkout could not fetch means a full review that says why."""

from __future__ import annotations

from pathlib import Path

import pytest

from review_operator.api.result import ResultOutcome, Side
from tests.fakes.anthropic_api import FakeAnthropicAPI, text, tool
from tests.fakes.runner_harness import Checkout, git, make_checkout, review_json, run_runner, write_files

pytestmark = pytest.mark.integration

BASE = {
    "app/store.py": "def load(path):\n    return open(path).read()\n",
    "app/util.py": "def helper():\n    return 1\n",
}
FIRST = {"app/store.py": "import pickle\n\n\ndef load(path):\n    return pickle.load(open(path, 'rb'))\n"}
SECOND = {"app/util.py": "def helper():\n    return 2\n\n\ndef added_since():\n    return 3\n"}


def _commit(repo: Path, files: dict[str, str | bytes | None], message: str) -> str:
    write_files(repo, files)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def pr_with_a_reviewed_head_then_a_base_merge(root: Path) -> tuple[Checkout, str]:
    """base → first (the reviewed head) → merge of the base branch's new commit → second push."""
    first = make_checkout(root, BASE, FIRST)
    repo = first.path
    git(repo, "checkout", "-q", "-b", "trunk", first.base)
    news = _commit(repo, {"docs/news.md": "# News from the base branch\n"}, "base moves on")
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--no-edit", "trunk")
    head = _commit(repo, SECOND, "second push")
    return Checkout(repo, news, head), first.head


def _diff_the_model_read(api: FakeAnthropicAPI) -> str:
    return "\n".join(api.turns[-1].tool_results())


def _first_message(api: FakeAnthropicAPI) -> str:
    messages = (api.turns[0].body or {}).get("messages", [])
    content = messages[0]["content"]  # type: ignore[index]
    return content if isinstance(content, str) else "\n".join(b.get("text", "") for b in content)


async def test_the_model_sees_only_the_commits_since_the_last_reviewed_head(tmp_path: Path) -> None:
    checkout, reviewed = pr_with_a_reviewed_head_then_a_base_merge(tmp_path / "src")
    work = tmp_path / "work"
    left = {"path": "app/util.py", "line": 2, "side": "LEFT", "severity": "high", "confidence": 0.9,
            "title": "Old value", "body": "Was 1."}  # fmt: skip
    right = {
        "path": "app/util.py",
        "line": 5,
        "severity": "high",
        "confidence": 0.9,
        "title": "New",
        "body": "x",
    }
    api = FakeAnthropicAPI(
        [
            tool("Read", file_path=str(work / "run" / "context" / "pr.diff")),
            text(review_json("Delta.", [right, left])),
        ]
    )
    async with api:
        run = await run_runner(api, checkout, work, env={"REVIEWOP_RUNNER_SINCE_SHA": reviewed})

    assert run.code == 0 and run.result.outcome is ResultOutcome.SUCCESS, run.stdout
    diff = _diff_the_model_read(api)
    assert "+def added_since():" in diff  # the second push
    assert "import pickle" not in diff  # reviewed before: not in the delta
    assert "docs/news.md" not in diff  # merged from the base branch: not the PR's change
    assert f"incremental review of commits {reviewed[:12]}..{checkout.head[:12]}" in _first_message(api)
    assert run.result.since_sha == reviewed and run.result.full_reason == ""
    assert run.result.reviewed_files == 1
    # A deleted line of the delta is numbered as in the earlier commit: never posted inline.
    assert [(f.line, f.side) for f in run.result.findings] == [(5, Side.RIGHT)]
    assert "Old value" in run.result.summary


async def test_an_earlier_head_missing_from_the_checkout_means_a_full_review_that_says_so(
    tmp_path: Path,
) -> None:
    checkout, _ = pr_with_a_reviewed_head_then_a_base_merge(tmp_path / "src")
    work = tmp_path / "work"
    gone = "0123456789" * 4
    api = FakeAnthropicAPI(
        [tool("Read", file_path=str(work / "run" / "context" / "pr.diff")), text(review_json("All.", []))]
    )
    async with api:
        run = await run_runner(api, checkout, work, env={"REVIEWOP_RUNNER_SINCE_SHA": gone})

    assert run.result.outcome is ResultOutcome.SUCCESS, run.stdout
    diff = _diff_the_model_read(api)
    assert "import pickle" in diff and "+def added_since():" in diff  # the whole PR
    assert "incremental review" not in _first_message(api)
    assert run.result.since_sha == ""
    assert gone[:12] in run.result.full_reason and "could not be fetched" in run.result.full_reason
