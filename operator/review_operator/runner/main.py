"""`review-operator runner`: the review container's entrypoint.

It always ends the same way, whatever happened: a scrubbed ReviewResult encoded into the
termination message, a final progress line, and the exit code of the outcome class (the table is in
`review_operator.runner.outcome`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

from review_operator.api.result import ResultOutcome, ReviewResult, Severity, encode_result, prompt_digest
from review_operator.api.scrub import Scrubber, secret_values_from_env
from review_operator.config import RunnerSettings
from review_operator.runner.agent import RunState, build_options, run_agent
from review_operator.runner.answer import answer_prompt, answer_system_prompt, parse_answer
from review_operator.runner.args import add_runner_arguments, overrides
from review_operator.runner.assemble import Limits, RunFacts, assemble, scrub_result
from review_operator.runner.diff import Selection, right_side_only
from review_operator.runner.guard import AuditTrail, Roots, make_hooks
from review_operator.runner.outcome import EXIT_RUNNER_BUG, Classified, exit_code
from review_operator.runner.procs import stop_children
from review_operator.runner.progress import Progress
from review_operator.runner.review import AgentOutputError
from review_operator.runner.stop import Stopper
from review_operator.runner.workspace import (
    PullRequestMeta,
    WorkspaceError,
    changed_paths,
    git_diff,
    has_commit,
    prepare_context,
    system_prompt,
    user_prompt,
)


def build_scrubber(settings: RunnerSettings, environ: Mapping[str, str]) -> Scrubber:
    secrets = secret_values_from_env(environ)
    if settings.anthropic_api_key is not None:
        secrets.append(settings.anthropic_api_key.get_secret_value())
    for path in settings.secret_files:
        try:
            secrets.extend(line for line in path.read_text(errors="replace").splitlines() if line.strip())
            secrets.append(path.read_text(errors="replace"))
        except OSError:
            continue
    return Scrubber(secrets)


def _facts(state: RunState) -> RunFacts:
    msg = state.result
    if msg is None:
        return RunFacts(turns=state.assistant_turns, text=state.final_text)
    return RunFacts(
        subtype=msg.subtype,
        is_error=msg.is_error,
        api_error_status=msg.api_error_status,
        errors=msg.errors,
        text=msg.result if msg.result is not None else state.final_text,
        structured=msg.structured_output,
        cost_usd=msg.total_cost_usd or 0.0,
        turns=msg.num_turns,
        usage=msg.usage,
    )


@dataclass(frozen=True)
class Prepared:
    selection: Selection
    since: str = ""  # the delta `since..head` was reviewed ('' : the whole PR)
    full_reason: str = ""  # asked for a delta, reviewed the whole PR: why


async def _scope(settings: RunnerSettings) -> tuple[str, str, frozenset[str] | None]:
    """(since, why not incremental, the PR's own paths) for this review."""
    since = settings.since_sha
    if not since or since == settings.head_sha:
        return "", "", None
    if not await asyncio.to_thread(has_commit, settings.checkout, since):
        return "", f"the previously reviewed commit {since[:12]} could not be fetched; reviewed in full", None
    if not settings.base_sha:
        return since, "", None
    paths = await asyncio.to_thread(changed_paths, settings.checkout, settings.base_sha, settings.head_sha)
    return since, "", paths


async def _prepare(settings: RunnerSettings, context_dir: Path) -> Prepared:
    if settings.mode == "answer" and not settings.base_sha:
        context_dir.mkdir(parents=True, exist_ok=True)
        return Prepared(Selection())  # no base known: the checkout alone is the context
    since, full_reason, only_paths = await _scope(settings)
    pr = PullRequestMeta(
        settings.repo,
        settings.pr_number,
        settings.base_sha,
        settings.head_sha,
        settings.pr_title,
        settings.pr_body,
        since_sha=since,
    )
    start = since or pr.base_sha
    diff_text = await asyncio.to_thread(git_diff, settings.checkout, start, pr.head_sha, two_dot=bool(since))
    selection = prepare_context(
        context_dir,
        pr,
        diff_text,
        max_files=settings.max_files,
        max_lines=settings.max_diff_lines,
        skip_globs=settings.skip_globs,
        include_globs=settings.include_globs,
        ignore_globs=settings.ignore_globs,
        only_paths=only_paths,
    )
    return Prepared(right_side_only(selection) if since else selection, since, full_reason)


async def _run_guarded(
    settings: RunnerSettings,
    prepared: Prepared,
    stopper: Stopper,
    progress: Progress,
    environ: Mapping[str, str],
) -> tuple[RunState, AuditTrail]:
    context_dir = settings.work_dir / "context"
    config_dir = settings.work_dir / "claude-config"
    config_dir.mkdir(parents=True, exist_ok=True)
    audit = AuditTrail()
    answering = settings.mode == "answer"
    if answering:
        system = answer_system_prompt(settings.review_language)
    else:
        system = system_prompt(settings.repo_instructions, settings.review_language)
    options = build_options(
        settings,
        system_prompt=system,
        context_dir=context_dir,
        config_dir=config_dir,
        hooks=make_hooks(
            Roots.resolved(settings.checkout, [context_dir], settings.denied_paths), audit, progress
        ),
        stderr=lambda line: progress({"event": "cli_stderr", "line": progress.scrubber.clip(line, 500)}),
        environ=environ,
    )
    if answering:
        prompt = answer_prompt(
            context_dir,
            settings.question,
            with_diff=bool(settings.base_sha),
            title=settings.pr_title,
            body=settings.pr_body,
            thread=list(settings.thread),
            thread_path=settings.thread_path,
            thread_line=settings.thread_line,
        )
    else:
        prompt = user_prompt(
            context_dir,
            prepared.selection,
            settings.pr_title,
            settings.pr_body,
            since=prepared.since,
            head=settings.head_sha,
        )
    state = RunState(prompt_sha256=prompt_digest(system, prompt))
    progress({"event": "agent_start", "model": settings.model, "max_turns": settings.max_turns})
    try:
        with stopper.scope:
            await run_agent(prompt, options, state, progress)
    finally:
        leftover = await asyncio.to_thread(stop_children)
        if leftover:
            progress({"event": "stopped_children", "pids": leftover})
    return state, audit


async def review(settings: RunnerSettings, progress: Progress, environ: Mapping[str, str]) -> ReviewResult:
    """One review: diff → context files → guarded agent run → assembled result, scrubbed before any cut."""
    started = time.monotonic()

    def elapsed_ms() -> int:
        return int((time.monotonic() - started) * 1000)

    with Stopper().armed(settings.timeout_seconds) as stopper:
        try:
            prepared = await _prepare(settings, settings.work_dir / "context")
        except (WorkspaceError, OSError) as exc:
            return ReviewResult(
                outcome=ResultOutcome.CHECKOUT_FAILED,
                error=progress.scrubber.clip(str(exc), 1000),
                duration_ms=elapsed_ms(),
            )
        selection = prepared.selection
        progress(
            {
                "event": "diff",
                "files": len(selection.reviewed),
                "skipped": len(selection.skipped),
                "since": prepared.since,
            }
        )
        if stopper.reason:
            return ReviewResult(outcome=ResultOutcome.TIMEOUT, error=stopper.reason, duration_ms=elapsed_ms())
        state, audit = await _run_guarded(settings, prepared, stopper, progress, environ)
    if stopper.reason and state.result is None:
        state.stopped = Classified(ResultOutcome.TIMEOUT, stopper.reason)
    facts = _facts(state)
    if settings.mode == "answer":
        # The answer is parsed below; the review parser is given an empty review to pass.
        facts = replace(facts, text='{"findings":[]}', structured=None)
    result = assemble(
        facts,
        stopped=state.stopped,
        selection=selection,
        limits=Limits(Severity(settings.min_severity), settings.min_confidence, settings.max_findings),
        tools=dict(audit.used),
        denied=audit.denied,
        duration_ms=elapsed_ms(),
        retry_after_s=state.retry_after_s,
        scrubber=progress.scrubber,
        prompt_sha256=state.prompt_sha256,
        model=settings.model,
    )
    if settings.mode == "answer":
        return with_answer(result, _facts(state), progress.scrubber.scrub)
    scope = {"since_sha": prepared.since, "full_reason": prepared.full_reason}
    return result.model_copy(update=scope)


def with_answer(result: ReviewResult, facts: RunFacts, clean: Callable[[str], str]) -> ReviewResult:
    """A successful run's answer (a garbled one makes it an agent error, as a garbled review does);
    the review-shaped fields `assemble` filled from it are emptied."""
    if result.outcome is not ResultOutcome.SUCCESS:
        return result.model_copy(update={"summary": "", "findings": [], "dropped": 0})
    try:
        answer = parse_answer(facts.text, facts.structured, clean=clean)
    except AgentOutputError as exc:
        error = f"unusable final answer: {exc}"
        return result.model_copy(
            update={"outcome": ResultOutcome.AGENT_ERROR, "error": error, "summary": "", "findings": []}
        )
    return result.model_copy(update={"answer": answer, "summary": "", "findings": [], "dropped": 0})


def _write_result(path: Path, message: str, progress: Progress) -> None:
    try:
        path.write_text(message)
    except OSError as exc:
        progress({"event": "termination_message_unwritable", "path": str(path), "error": type(exc).__name__})


def run(
    settings: RunnerSettings, *, environ: Mapping[str, str] | None = None, stdout: TextIO | None = None
) -> int:
    env = os.environ if environ is None else environ
    scrubber = build_scrubber(settings, env)
    progress = Progress(scrubber, stdout)
    progress({"event": "start", "repo": settings.repo, "pr": settings.pr_number, "head": settings.head_sha})
    try:
        result = asyncio.run(review(settings, progress, env))
        code = exit_code(result.outcome)
    except Exception as exc:  # noqa: BLE001 - process boundary: the controller must always get a result
        result = ReviewResult(
            outcome=ResultOutcome.AGENT_ERROR,
            error=scrubber.clip(f"runner failed: {type(exc).__name__}: {exc}", 1000),
        )
        code = EXIT_RUNNER_BUG
    result = scrub_result(result, scrubber)
    message = encode_result(result)
    _write_result(settings.termination_message_path, message, progress)
    compact = json.loads(result.model_dump_json(exclude_defaults=True))
    progress({"event": "done", "outcome": result.outcome.value, "exit_code": code, "result": compact})
    return code


def run_from_args(args: argparse.Namespace) -> int:
    """The `review-operator runner` handler: command-line values override the environment."""
    return run(RunnerSettings(**overrides(args)))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="review-operator runner", description=__doc__)
    add_runner_arguments(parser)
    return run_from_args(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
