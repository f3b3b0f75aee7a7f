"""The one place that talks to the Claude Agent SDK: options, CLI environment and the message loop."""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator, Callable, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claude_agent_sdk import (
    AssistantMessage,
    ClaudeAgentOptions,
    CLINotFoundError,
    HookMatcher,
    ResultError,
    ResultMessage,
    SystemMessage,
    TextBlock,
    ThinkingConfigEnabled,
    ToolUseBlock,
    query,
)
from claude_agent_sdk import ClaudeSDKError as SDKError

from review_operator.api.result import ResultOutcome
from review_operator.api.scrub import is_secret_name
from review_operator.config import RunnerSettings
from review_operator.runner.guard import ALLOWED_TOOLS
from review_operator.runner.outcome import (
    UNAUTHORIZED_STATUSES,
    Classified,
    classify_assistant_error,
)

# Variables the CLI needs to reach a model: they pass through untouched.
PASS_THROUGH_PREFIXES = ("ANTHROPIC_", "CLAUDE_CODE_USE_", "AWS_", "GOOGLE_", "CLOUD_ML_", "VERTEX_", "HTTP")


@dataclass
class RunState:
    """What the message loop learnt; turned into a ReviewResult by the caller."""

    result: ResultMessage | None = None
    final_text: str = ""
    assistant_turns: int = 0
    stopped: Classified | None = None
    retry_after_s: float | None = None
    tool_calls: list[str] = field(default_factory=list)
    prompt_sha256: str = ""  # of the prompts this run sends (`api.result.prompt_digest`)


# The CLI's retry backoff: 0.5 s doubling per attempt, capped at 32 s (retry-after may stretch it).
_BACKOFF_BASE_S, _BACKOFF_CAP_S = 0.5, 32.0


def fit_retries(max_retries: int, timeout_s: float) -> int:
    """The largest retry count ≤ `max_retries` whose backoff uses at most half of the timeout.

    Half, because the attempts themselves and the review after a successful retry need time too.
    """
    spent, fitting = 0.0, 0
    for attempt in range(max_retries):
        spent += min(_BACKOFF_BASE_S * 2**attempt, _BACKOFF_CAP_S)
        if spent > timeout_s / 2:
            break
        fitting = attempt + 1
    return fitting


def cli_env(settings: RunnerSettings, config_dir: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """The CLI's environment: quiet, bounded retries, config in the workspace, no foreign secrets."""
    env = {
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "CLAUDE_CONFIG_DIR": str(config_dir),
        "CLAUDE_CODE_MAX_RETRIES": str(fit_retries(settings.max_retries, settings.timeout_seconds)),
    }
    if settings.anthropic_api_key is not None:
        env["ANTHROPIC_API_KEY"] = settings.anthropic_api_key.get_secret_value()
    # The SDK merges `env` over the runner's own environment; credentials the CLI does not need
    # (a GitHub token on a laptop, REVIEWOP_* secrets) are blanked so no tool output can carry them.
    for name in environ:
        if is_secret_name(name) and not name.startswith(PASS_THROUGH_PREFIXES) and name not in env:
            env[name] = ""
    return env


def build_options(
    settings: RunnerSettings,
    *,
    system_prompt: str,
    context_dir: Path,
    config_dir: Path,
    hooks: tuple[Callable[..., Any], Callable[..., Any]],
    stderr: Callable[[str], None],
    environ: Mapping[str, str] | None = None,
) -> ClaudeAgentOptions:
    pre, post = hooks
    return ClaudeAgentOptions(
        tools=list(ALLOWED_TOOLS),
        allowed_tools=list(ALLOWED_TOOLS),
        permission_mode="dontAsk",
        setting_sources=[],
        system_prompt=system_prompt,
        cwd=str(settings.checkout),
        add_dirs=[str(context_dir)],
        model=settings.model,
        max_turns=settings.max_turns,
        max_budget_usd=settings.max_budget_usd,
        # `thinking` rather than the SDK's deprecated `max_thinking_tokens`; None keeps the CLI's default.
        thinking=(
            None
            if settings.max_thinking_tokens is None
            else ThinkingConfigEnabled(type="enabled", budget_tokens=settings.max_thinking_tokens)
        ),
        cli_path=settings.cli_path,
        env=cli_env(settings, config_dir, os.environ if environ is None else environ),
        hooks={
            "PreToolUse": [HookMatcher(matcher=None, hooks=[pre])],
            "PostToolUse": [HookMatcher(matcher=None, hooks=[post])],
        },
        stderr=stderr,
        # Our prompt is plain text; never let the CLI expand `@path` mentions in it.
        verbatim_prompts=True,
    )


def _on_system(msg: SystemMessage, state: RunState, emit: Callable[[dict[str, Any]], None]) -> bool:
    """Returns True when the run must stop now."""
    if msg.subtype != "api_retry":
        return False
    status = msg.data.get("error_status")
    delay_ms = msg.data.get("retry_delay_ms")
    if isinstance(delay_ms, int | float):
        state.retry_after_s = delay_ms / 1000
    emit({"event": "api_retry", "status": status, "attempt": msg.data.get("attempt"), "delay_ms": delay_ms})
    if isinstance(status, int) and status in UNAUTHORIZED_STATUSES:
        # The CLI would retry a bad key for minutes; a credential does not heal, so stop at once.
        state.stopped = Classified(ResultOutcome.UNAUTHORIZED, f"API status {status}: authentication failed")
        return True
    return False


def _on_assistant(msg: AssistantMessage, state: RunState, emit: Callable[[dict[str, Any]], None]) -> bool:
    state.assistant_turns += 1
    texts = [b.text for b in msg.content if isinstance(b, TextBlock)]
    uses = [b.name for b in msg.content if isinstance(b, ToolUseBlock)]
    state.tool_calls.extend(uses)
    if texts:
        state.final_text = "\n".join(texts)
    emit({"event": "turn", "n": state.assistant_turns, "tool_uses": uses, "text_chars": sum(map(len, texts))})
    outcome = classify_assistant_error(msg.error)
    if outcome is ResultOutcome.UNAUTHORIZED:
        state.stopped = Classified(outcome, f"API error: {msg.error}")
        return True
    return False


async def run_agent(
    prompt: str, options: ClaudeAgentOptions, state: RunState, emit: Callable[[dict[str, Any]], None]
) -> None:
    """Runs the agent to its end (or an early stop); leaves everything it learnt in `state`."""
    try:
        # aclosing: leaving the loop early (or being cancelled) closes the query, which ends the CLI.
        # query() is declared as an AsyncIterator but is an async generator, which has aclose().
        messages_gen: AsyncGenerator[Any, None] = query(prompt=prompt, options=options)  # type: ignore[assignment]
        async with aclosing(messages_gen) as messages:
            async for msg in messages:
                stop = False
                if isinstance(msg, SystemMessage):
                    stop = _on_system(msg, state, emit)
                elif isinstance(msg, AssistantMessage):
                    stop = _on_assistant(msg, state, emit)
                elif isinstance(msg, ResultMessage):
                    state.result = msg
                    emit({"event": "result", "subtype": msg.subtype, "is_error": msg.is_error})
                if stop:
                    return
    except ResultError as exc:
        # After an error result the SDK raises; the result itself was already recorded above.
        if state.result is None:
            state.stopped = Classified(ResultOutcome.AGENT_ERROR, f"error result: {exc.subtype}")
    except CLINotFoundError:
        # A deployment fault (wrong image or cli_path), not the agent's: its own outcome, never retried.
        state.stopped = Classified(ResultOutcome.CLI_MISSING, "Claude Code CLI not found")
    except SDKError as exc:
        if state.result is None:
            # Not cut here: `assemble` scrubs the error before it applies the length limit.
            state.stopped = Classified(ResultOutcome.AGENT_ERROR, f"CLI failed: {type(exc).__name__}: {exc}")
