"""A 5,000-file pull request: caps hold, lockfiles and friends are skipped, the result still fits."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from review_operator.api.result import MAX_MESSAGE_BYTES, ResultOutcome
from tests.fakes.anthropic_api import FakeAnthropicAPI, text, tool
from tests.fakes.runner_harness import make_checkout, review_json, run_runner

pytestmark = pytest.mark.integration


async def test_five_thousand_file_pr_skips_lockfiles_and_reports_what_was_not_reviewed(
    tmp_path: Path,
) -> None:
    head: dict[str, str | bytes | None] = {f"src/mod{i:04d}.py": f"VALUE_{i} = {i}\n" for i in range(4990)}
    head.update(
        {
            "package-lock.json": '{"lockfileVersion": 3}\n' * 50,
            "yarn.lock": "left-pad@1.0.0:\n  version 1.0.0\n",
            "poetry.lock": "[[package]]\nname = 'x'\n",
            "go.sum": "example.com/x v1.0.0 h1:abc=\n",
            "vendor/lib/x.go": "package x\n",
            "web/app.min.js": "var a=1;\n",
            "api/service_pb2.py": "# generated\n",
            "logo.png": bytes(range(256)) * 4,
            "node_modules/left-pad/index.js": "module.exports = 1\n",
            "Cargo.lock": "# lock\n",
        }
    )
    checkout = make_checkout(tmp_path / "src", {"README.md": "# big\n"}, head)
    findings = [
        {
            "path": f"src/mod{i:04d}.py",
            "line": 1,
            "severity": "medium",
            "confidence": 0.9,
            "title": f"t{i}",
            "body": hashlib.sha256(str(i).encode()).hexdigest() * 4,
        }
        for i in range(60)
    ]
    work = tmp_path / "w"
    api = FakeAnthropicAPI(
        [
            tool("Read", file_path=str(work / "run" / "context" / "pr.diff")),
            text(review_json("big", findings)),
        ]
    )
    env = {"REVIEWOP_RUNNER_MAX_FILES": "100", "REVIEWOP_RUNNER_MAX_FINDINGS": "60"}
    async with api:
        run = await run_runner(api, checkout, work, env=env)

    result = run.result
    assert result.outcome is ResultOutcome.SUCCESS
    assert len(run.message.encode()) <= MAX_MESSAGE_BYTES
    assert result.skipped == 5000 - 100
    diff = (work / "run" / "context" / "pr.diff").read_text()
    assert diff.count("diff --git ") == 100
    for name in (
        "package-lock.json",
        "yarn.lock",
        "poetry.lock",
        "go.sum",
        "Cargo.lock",
        "vendor/lib/x.go",
        "logo.png",
    ):
        assert f"b/{name}" not in diff
    assert (
        "lockfile: 5" in result.summary and "binary: 1" in result.summary and "vendored: 2" in result.summary
    )
    assert "file cap: 4890" in result.summary
    # Findings on files that were not in the reviewed diff are not inline; the rest are capped to fit.
    assert all(f.path < "src/mod0100.py" for f in result.findings)
    assert result.dropped > 0
    assert len(result.findings) + result.dropped <= 60
