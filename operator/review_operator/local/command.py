"""`review-operator review`: one review of a real pull request from a laptop, no cluster.

The GitHub token comes from `REVIEWOP_GITHUB_TOKEN` (or `GITHUB_TOKEN`), the model credential as for
the runner (`ANTHROPIC_API_KEY`, or the CLI's provider switches); `REVIEWOP_RUNNER_*` variables still
apply. Steps: read the PR from GitHub, fetch its head and base commits into a temporary directory
(the review pod's own `checkout`), run the review pod's pipeline with progress on stderr, print the
review on stdout, and post it only with `--post`. Everything printed is scrubbed of credentials.

Exit codes: the runner's, per outcome (0 = review produced; see `runner.outcome`), and for this
command's own failures 2 configuration (no token), 3 GitHub rejected the token, 4 pull request not
found, 5 any other GitHub or git failure, 6 `--post` but the head moved (nothing posted).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from pydantic import SecretStr

from review_operator.api.models import ReviewJob
from review_operator.api.result import ResultOutcome, ReviewResult
from review_operator.api.scrub import Scrubber
from review_operator.builders.names import reviewjob_name
from review_operator.config import GitHubSettings, RunnerSettings
from review_operator.local.render import TerminalProgress, render_review
from review_operator.runner.assemble import scrub_result
from review_operator.runner.main import build_scrubber, review
from review_operator.runner.outcome import exit_code

if TYPE_CHECKING:
    from review_operator.github import PullInfo, RepoClient

EXIT_CONFIG = 2  # no token, bad arguments
EXIT_GITHUB_AUTH = 3  # GitHub rejected the token (401/403), for the API or for git
EXIT_NOT_FOUND = 4  # no such repository or pull request (or the token cannot see it)
EXIT_GITHUB = 5  # any other GitHub or git failure (rate limit, 5xx, network)
EXIT_NOT_POSTED = 6  # --post, but the PR's head moved during the review: nothing was posted

TOKEN_VARIABLES = ("REVIEWOP_GITHUB_TOKEN", "GITHUB_TOKEN")


class LocalError(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def github_settings(environ: Mapping[str, str]) -> GitHubSettings:
    """Token mode only: a laptop has no App installation to speak for."""
    token = next((environ[v].strip() for v in TOKEN_VARIABLES if environ.get(v, "").strip()), "")
    if not token:
        raise LocalError(
            "no GitHub token: set REVIEWOP_GITHUB_TOKEN (or GITHUB_TOKEN) to a token that can read "
            "the repository (and write pull requests for --post)",
            EXIT_CONFIG,
        )
    return GitHubSettings(app_id=None, private_key_file=None, token=SecretStr(token))


def runner_settings(args: argparse.Namespace, pull: PullInfo, root: Path) -> RunnerSettings:
    values: dict[str, Any] = {
        "repo": f"{pull.owner}/{pull.name}",
        "pr_number": pull.number,
        "base_sha": pull.base_sha,
        "head_sha": pull.head_sha,
        "pr_title": pull.title,
        "pr_body": pull.body,
        "checkout": root / "repo",
        "work_dir": root / "run",
        "termination_message_path": root / "result",
    }
    flags = {"model": "model", "max_turns": "max_turns", "max_budget_usd": "max_budget_usd"}
    values |= {field: getattr(args, flag) for flag, field in flags.items() if getattr(args, flag) is not None}
    if args.timeout is not None:
        values["timeout_seconds"] = args.timeout
    return RunnerSettings(**values)


def synthetic_job(pull: PullInfo) -> ReviewJob:
    """The ReviewJob the cluster would have recorded; its name makes a repeated --post idempotent."""
    return ReviewJob.model_validate(
        {
            "metadata": {"name": reviewjob_name(pull.repository_id, pull.number, pull.head_sha)},
            "spec": {
                "repository": {"owner": pull.owner, "name": pull.name, "id": pull.repository_id},
                "pullRequest": {
                    "number": pull.number,
                    "headSha": pull.head_sha,
                    "baseSha": pull.base_sha,
                    "baseRef": pull.base_ref[:255],
                    "title": pull.title[:1024],
                    "author": pull.author,
                    "authorAssociation": pull.author_association,
                    "draft": pull.draft,
                },
                "trigger": {"event": "manual", "action": "local", "sender": pull.author},
            },
        }
    )


async def _checkout(gh: RepoClient, pull: PullInfo, root: Path, progress: TerminalProgress) -> None:
    from review_operator.github import CheckoutRequest, checkout, git_url_for

    assert gh.settings.token is not None
    token_file = root / "token"
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(gh.settings.token.get_secret_value())
    url = git_url_for(gh.settings.api_url, pull.owner, pull.name)
    progress({"event": "checkout", "url": url, "head": pull.head_sha[:12], "base": pull.base_sha[:12]})
    try:
        # Full history: the diff is taken against the merge base, which depth 1 would cut off.
        request = CheckoutRequest(url, pull.head_sha, pull.base_sha, root / "repo", token_file, depth=None)
        await asyncio.to_thread(checkout, request)
    finally:
        token_file.unlink(missing_ok=True)


async def _post(gh: RepoClient, pull: PullInfo, result: ReviewResult, progress: TerminalProgress) -> int:
    from review_operator.github import PostStatus, post_review

    if result.outcome is not ResultOutcome.SUCCESS:
        progress({"event": "not_posted", "reason": f"the review ended as {result.outcome.value}"})
        return exit_code(result.outcome)
    posted = await post_review(gh, synthetic_job(pull), result, head_sha=pull.head_sha)
    progress({"event": posted.status.value, "review": posted.review_url, "inline": posted.inline_comments})
    return EXIT_NOT_POSTED if posted.status is PostStatus.SUPERSEDED else 0


async def review_pull(
    args: argparse.Namespace, environ: Mapping[str, str], progress: TerminalProgress, stdout: TextIO
) -> int:
    from review_operator.github import fetch_pull, make_github

    owner, name = args.repo.split("/", 1)
    gh = make_github(github_settings(environ)).for_token()
    progress({"event": "fetch_pull", "repo": args.repo, "pr": args.pr})
    pull = await fetch_pull(gh, owner, name, args.pr)
    title = progress.scrubber.clip(pull.title, 120)
    progress({"event": "pull", "title": title, "author": pull.author, "state": pull.state})
    with tempfile.TemporaryDirectory(prefix="review-operator-") as tmp:
        root = Path(tmp)
        await _checkout(gh, pull, root, progress)
        result = await review(runner_settings(args, pull, root), progress, environ)
    result = scrub_result(result, progress.scrubber)
    if args.json:
        stdout.write(result.model_dump_json(indent=2) + "\n")
    else:
        stdout.write(render_review(result, title=f"{args.repo}#{pull.number}", url=pull.html_url))
    stdout.flush()
    if not args.post:
        progress({"event": "not_posted", "reason": "dry run (pass --post to post the review)"})
        return exit_code(result.outcome)
    return await _post(gh, pull, result, progress)


def _failure(exc: BaseException, args: argparse.Namespace) -> tuple[str, int]:
    from review_operator.github import CheckoutError, GitHubError, GitHubNotFound, Unauthorized

    if isinstance(exc, LocalError):
        return str(exc), exc.code
    if isinstance(exc, Unauthorized) or (isinstance(exc, CheckoutError) and exc.reason == "Unauthorized"):
        return f"GitHub rejected the token ({exc}); check REVIEWOP_GITHUB_TOKEN", EXIT_GITHUB_AUTH
    if isinstance(exc, GitHubNotFound):
        return f"pull request {args.repo}#{args.pr} not found (or the token cannot see it)", EXIT_NOT_FOUND
    if isinstance(exc, GitHubError):
        return f"GitHub: {exc}", EXIT_GITHUB
    raise exc


def run_local(
    args: argparse.Namespace,
    *,
    environ: Mapping[str, str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """The `review-operator review` handler."""
    env = os.environ if environ is None else environ
    err = stderr or sys.stderr
    scrubber: Scrubber = build_scrubber(RunnerSettings(), env)
    progress = TerminalProgress(scrubber, err, verbose=args.verbose)
    try:
        return asyncio.run(review_pull(args, env, progress, stdout or sys.stdout))
    except KeyboardInterrupt:
        err.write("review-operator review: interrupted\n")
        return 130
    except Exception as exc:  # noqa: BLE001 - mapped to a message and an exit code, or re-raised
        message, code = _failure(exc, args)
        err.write(scrubber.scrub(f"review-operator review: error: {message}") + "\n")
        return code


def main(argv: list[str] | None = None) -> int:
    from review_operator.local.args import add_review_arguments

    parser = argparse.ArgumentParser(prog="review-operator review", description=__doc__)
    add_review_arguments(parser)
    return run_local(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
