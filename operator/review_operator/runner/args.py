"""The runner's command-line arguments; every one overrides a `REVIEWOP_RUNNER_*` variable.

Kept apart from the runner itself so `review-operator --help` does not load the agent SDK.
"""

from __future__ import annotations

import argparse
from typing import Any

# (flag, settings field, type, help)
_ARGS: tuple[tuple[str, str, type, str], ...] = (
    ("--repo", "repo", str, "repository, owner/name"),
    ("--pr", "pr_number", int, "pull request number"),
    ("--base", "base_sha", str, "base commit SHA"),
    ("--head", "head_sha", str, "head commit SHA"),
    ("--since", "since_sha", str, "incremental review: the head of the last review (diff since..head)"),
    ("--title", "pr_title", str, "PR title (untrusted data)"),
    ("--body", "pr_body", str, "PR body (untrusted data)"),
    ("--checkout", "checkout", str, "git checkout to review"),
    ("--work-dir", "work_dir", str, "scratch directory outside the checkout"),
    ("--model", "model", str, "Claude model id"),
    ("--max-turns", "max_turns", int, "agent turn limit"),
    ("--max-budget-usd", "max_budget_usd", float, "spend limit in USD"),
    ("--timeout", "timeout_seconds", float, "wall-clock limit in seconds"),
    ("--max-retries", "max_retries", int, "API retries of the CLI"),
    ("--cli-path", "cli_path", str, "Claude Code CLI to use instead of the bundled one"),
    ("--termination-message-path", "termination_message_path", str, "where the result is written"),
)


def add_runner_arguments(parser: argparse.ArgumentParser) -> None:
    for flag, dest, kind, help_text in _ARGS:
        parser.add_argument(flag, dest=f"runner_{dest}", type=kind, default=None, help=help_text)


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The settings given on the command line (unset flags leave the environment's value)."""
    values = {dest: getattr(args, f"runner_{dest}", None) for _, dest, _, _ in _ARGS}
    return {k: v for k, v in values.items() if v is not None}
