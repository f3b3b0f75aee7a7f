"""Arguments of `review-operator review` (kept apart so `--help` loads neither the SDK nor githubkit)."""

from __future__ import annotations

import argparse
import re

REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$")


def repository(value: str) -> str:
    if not REPO.match(value):
        raise argparse.ArgumentTypeError(f"expected owner/name, got {value!r}")
    return value


def positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be a positive pull request number")
    return number


def add_review_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repo", required=True, type=repository, help="repository, owner/name")
    parser.add_argument("--pr", required=True, type=positive, help="pull request number")
    parser.add_argument(
        "--post", action="store_true", help="post the review on the pull request (default: only print it)"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON instead of text")
    parser.add_argument("--model", default=None, help="Claude model id (default: REVIEWOP_RUNNER_MODEL)")
    parser.add_argument("--max-turns", type=int, default=None, help="agent turn limit")
    parser.add_argument("--max-budget-usd", type=float, default=None, help="spend limit in USD")
    parser.add_argument("--timeout", type=float, default=None, help="wall-clock limit of the agent, seconds")
    parser.add_argument("--verbose", action="store_true", help="also show the Claude Code CLI's stderr")
