"""Runs the real runner (and with it the real bundled Claude Code CLI) against the fake API.

The runner is started as its own process, exactly as in a review pod, so signals, exit codes,
the termination message and stdout are all observed from the outside.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from review_operator.api.result import MAX_MESSAGE_BYTES, ReviewResult, decode_result
from tests.fakes.anthropic_api import FakeAnthropicAPI

REPO_ROOT = Path(__file__).resolve().parents[2]
API_KEY = "sk-ant-api03-test-key-0123456789abcdefghijklmnop"


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    out = subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)
    return out.stdout.decode().strip()


def write_files(root: Path, files: Mapping[str, str | bytes | None]) -> None:
    for rel, content in files.items():
        path = root / rel
        if content is None:
            path.unlink(missing_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


@dataclass
class Checkout:
    path: Path
    base: str
    head: str


def make_checkout(
    root: Path,
    base_files: Mapping[str, str | bytes | None],
    head_files: Mapping[str, str | bytes | None],
    after_commit: Callable[[Path], None] | None = None,
) -> Checkout:
    """A real git repository with a base commit and a head commit on top of it."""
    repo = root / "repo"
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    write_files(repo, base_files)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    base = git(repo, "rev-parse", "HEAD")
    write_files(repo, head_files)
    if after_commit is not None:
        after_commit(repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "head")
    return Checkout(repo, base, git(repo, "rev-parse", "HEAD"))


@dataclass
class RunnerRun:
    code: int
    message: str
    result: ReviewResult
    stdout: str
    stderr: str
    elapsed_s: float
    events: list[dict[str, Any]] = field(default_factory=list)


def runner_env(api: FakeAnthropicAPI, work: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CLAUDE", "REVIEWOP_", "AWS_"))
    }
    env.update(
        {
            "ANTHROPIC_BASE_URL": api.base_url,
            "ANTHROPIC_API_KEY": API_KEY,
            "REVIEWOP_RUNNER_WORK_DIR": str(work / "run"),
            "REVIEWOP_RUNNER_TERMINATION_MESSAGE_PATH": str(work / "termination-log"),
            "REVIEWOP_RUNNER_MAX_RETRIES": "2",
            "REVIEWOP_RUNNER_TIMEOUT_SECONDS": "90",
            "REVIEWOP_RUNNER_REPO": "octo/widgets",
            "REVIEWOP_RUNNER_PR_NUMBER": "7",
            "PYTHONPATH": str(REPO_ROOT / "operator"),
        }
    )
    env.update(extra or {})
    return env


async def run_runner(
    api: FakeAnthropicAPI,
    checkout: Checkout,
    work: Path,
    *,
    env: Mapping[str, str] | None = None,
    while_running: Callable[[asyncio.subprocess.Process], Awaitable[None]] | None = None,
    timeout_s: float = 120,
) -> RunnerRun:
    """Starts `python -m review_operator.runner.main` and waits for it; checks the result's bounds."""
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "review_operator.runner.main",
        "--checkout",
        str(checkout.path),
        "--base",
        checkout.base,
        "--head",
        checkout.head,
        env=runner_env(api, work, env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    waiter = asyncio.ensure_future(proc.communicate())
    if while_running is not None:
        await while_running(proc)
    try:
        out, err = await asyncio.wait_for(waiter, timeout_s)
    except TimeoutError:
        proc.kill()
        raise
    message = (work / "termination-log").read_text()
    assert len(message.encode()) <= MAX_MESSAGE_BYTES
    result = decode_result(message)
    stdout = out.decode()
    events = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    return RunnerRun(
        code=proc.returncode if proc.returncode is not None else -1,
        message=message,
        result=result,
        stdout=stdout,
        stderr=err.decode(),
        elapsed_s=time.monotonic() - started,
        events=events,
    )


def review_json(summary: str, findings: list[dict[str, Any]]) -> str:
    return json.dumps({"summary": summary, "findings": findings})
