"""The `review-operator` command: argument dispatch only."""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Callable, Sequence


def _crd(_: argparse.Namespace) -> int:
    from review_operator.api.crd import render_crd_yaml

    sys.stdout.write(render_crd_yaml())
    return 0


def _state_machine(args: argparse.Namespace) -> int:
    from pathlib import Path

    from review_operator.controller.decide.transitions import document, embedded

    if args.embed_into:
        target = Path(args.embed_into)
        target.write_text(embedded(target.read_text()))
    else:
        sys.stdout.write(document())
    return 0


def _repo_config_schema(_: argparse.Namespace) -> int:
    from review_operator.api.repo_config import render_repo_config_schema

    sys.stdout.write(render_repo_config_schema())
    return 0


def _runner(args: argparse.Namespace) -> int:
    from review_operator.runner.main import run_from_args

    return run_from_args(args)


def _review(args: argparse.Namespace) -> int:
    from review_operator.local.command import run_local

    return run_local(args)


def _checkout(args: argparse.Namespace) -> int:
    from review_operator.github.checkout_cli import run_from_args

    return run_from_args(args)


def _serve(main: Callable[[], int]) -> int:
    """Runs a long-lived server. Everything imported by now (kopf, the Kubernetes client, aiohttp,
    githubkit: about 95,000 objects) lives as long as the process, yet a full garbage collection
    walks it all every time: 70-110 ms of a stalled event loop each, measured on 2 cores. Frozen,
    later collections walk only what the server itself creates."""
    gc.collect()
    gc.freeze()
    return main()


def _controller(_: argparse.Namespace) -> int:
    from review_operator.controller.main import main as controller_main

    return _serve(controller_main)


def _webhook(_: argparse.Namespace) -> int:
    from review_operator.webhook.server import main as webhook_main

    return _serve(webhook_main)


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, Callable[[argparse.Namespace], int]]]:
    parser = argparse.ArgumentParser(prog="review-operator", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    handlers: dict[str, Callable[[argparse.Namespace], int]] = {}

    sub.add_parser("crd", help="print the ReviewJob CustomResourceDefinition generated from the API models")
    handlers["crd"] = _crd

    machine = sub.add_parser(
        "state-machine", help="print the ReviewJob state machine (docs/state-machine.md)"
    )
    machine.add_argument(
        "--embed-into", metavar="FILE", help="update the diagram between FILE's markers instead"
    )
    handlers["state-machine"] = _state_machine

    sub.add_parser(
        "repo-config-schema",
        help="print the JSON schema of a repository's .github/review-operator.yaml (from the model)",
    )
    handlers["repo-config-schema"] = _repo_config_schema

    from review_operator.runner.args import add_runner_arguments

    add_runner_arguments(sub.add_parser("runner", help="review one PR inside a review pod (see README)"))
    handlers["runner"] = _runner

    from review_operator.local.args import add_review_arguments

    add_review_arguments(
        sub.add_parser("review", help="review one PR from a laptop, no cluster; prints it, posts with --post")
    )
    handlers["review"] = _review

    from review_operator.github.checkout_cli import add_checkout_arguments

    add_checkout_arguments(
        sub.add_parser("checkout", help="fetch a PR's head and base commits read-only (init container)")
    )
    handlers["checkout"] = _checkout

    sub.add_parser("webhook", help="receive GitHub webhooks and record ReviewJobs (configured by REVIEWOP_*)")
    handlers["webhook"] = _webhook

    sub.add_parser(
        "controller", help="run the controller (kopf operator; configured by REVIEWOP_* variables)"
    )
    handlers["controller"] = _controller
    return parser, handlers


def main(argv: Sequence[str] | None = None) -> int:
    parser, handlers = build_parser()
    args = parser.parse_args(argv)
    return handlers[args.command](args)


if __name__ == "__main__":
    raise SystemExit(main())
