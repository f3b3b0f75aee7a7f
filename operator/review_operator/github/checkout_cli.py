"""Arguments and entry point of `review-operator checkout` (the review pod's init container).

Every argument defaults to a `REVIEWOP_CHECKOUT_*` variable so the pod spec needs no argv. The token is
only ever read from `--token-file` (a mounted per-review Secret), never from an argument or variable.
Exit codes: 0 ok, 2 git failed, 3 token rejected, 4 commit not found, 5 too large, 6 timed out; the
reason is also written to the termination message so the controller can classify the failure.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from review_operator.api.scrub import clip_token_shapes
from review_operator.config import GitHubSettings
from review_operator.github.checkout import (
    DEFAULT_MAX_BYTES,
    DEFAULT_TIMEOUT_SECONDS,
    CheckoutRequest,
    checkout,
    git_url_for,
)
from review_operator.github.errors import CheckoutError

log = logging.getLogger(__name__)
_ENV = "REVIEWOP_CHECKOUT_"


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(_ENV + name, default)


def add_checkout_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--repository", default=_env("REPOSITORY"), help="OWNER/NAME [$REVIEWOP_CHECKOUT_REPOSITORY]")
    add("--head-sha", default=_env("HEAD_SHA"), help="commit to check out [$REVIEWOP_CHECKOUT_HEAD_SHA]")
    add("--base-sha", default=_env("BASE_SHA"), help="base commit, fetched too [$REVIEWOP_CHECKOUT_BASE_SHA]")
    add(
        "--since-sha",
        default=_env("SINCE_SHA"),
        help="incremental review: the last reviewed head, fetched too [$REVIEWOP_CHECKOUT_SINCE_SHA]",
    )
    add("--workspace", default=_env("WORKSPACE", "/workspace/repo"), help="empty target directory")
    add(
        "--token-file",
        default=_env("TOKEN_FILE"),
        help="file holding the read-only repository token [$REVIEWOP_CHECKOUT_TOKEN_FILE]",
    )
    add("--git-url", default=_env("GIT_URL"), help="override the URL derived from REVIEWOP_GITHUB_API_URL")
    add("--max-bytes", type=int, default=int(_env("MAX_BYTES", str(DEFAULT_MAX_BYTES)) or 0))
    add(
        "--timeout-seconds",
        type=float,
        default=float(_env("TIMEOUT_SECONDS", str(DEFAULT_TIMEOUT_SECONDS)) or 0),
    )
    add(
        "--termination-message-path",
        default=_env("TERMINATION_MESSAGE_PATH", "/dev/termination-log"),
        help="where the failure reason goes (skipped when the file's directory does not exist)",
    )


def run_from_args(args: argparse.Namespace) -> int:
    if not args.repository or "/" not in args.repository or not args.head_sha:
        sys.stderr.write("checkout: --repository OWNER/NAME and --head-sha are required\n")
        return CheckoutError("", "GitFailed").exit_code
    owner, name = args.repository.split("/", 1)
    url = args.git_url or git_url_for(GitHubSettings().api_url, owner, name)
    try:
        checkout(
            CheckoutRequest(
                git_url=url,
                head_sha=args.head_sha,
                base_sha=args.base_sha or None,
                since_sha=args.since_sha or None,
                workspace=Path(args.workspace),
                token_file=Path(args.token_file) if args.token_file else None,
                max_bytes=args.max_bytes,
                timeout_seconds=args.timeout_seconds,
            )
        )
    except CheckoutError as exc:
        sys.stderr.write(f"checkout failed ({exc.reason}): {exc}\n")
        _write_reason(args.termination_message_path, f"{exc.reason}: {exc}")
        return exc.exit_code
    sys.stdout.write(f"checked out {args.head_sha}\n")
    return 0


def _write_reason(path: str | None, text: str) -> None:
    if path and Path(path).parent.is_dir():
        try:
            Path(path).write_text(clip_token_shapes(text, 4000))
        except OSError:
            log.warning("cannot write the termination message")
