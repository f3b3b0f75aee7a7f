"""The tool guard: every tool call the agent makes is confined to the checkout and audited.

The model reads hostile text (the PR's code and description), so each Read, Grep and Glob is
checked here before the CLI runs it: the path is resolved (symlinks and `..` included) and must land
inside the checkout or the review context directory, outside `.git` (its config may hold a token)
and outside the denied paths (`/proc`, mounted secrets). Any other tool is denied outright, even
though the CLI should not offer one: the guard does not trust the option wiring.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

ALLOWED_TOOLS = ("Read", "Grep", "Glob")


@dataclass(frozen=True)
class Roots:
    """Where tools may look: the checkout (also the default for relative paths) and extra roots."""

    checkout: Path
    extra: tuple[Path, ...] = ()
    denied: tuple[Path, ...] = ()

    @classmethod
    def resolved(cls, checkout: Path, extra: Sequence[Path] = (), denied: Sequence[Path] = ()) -> Roots:
        return cls(
            Path(os.path.realpath(checkout)),
            tuple(Path(os.path.realpath(p)) for p in extra),
            tuple(Path(os.path.realpath(p)) for p in denied),
        )


@dataclass(frozen=True)
class Decision:
    allowed: bool
    path: str
    reason: str = ""


def _within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _target(tool: str, tool_input: dict[str, Any]) -> str | None:
    key = "file_path" if tool == "Read" else "path"
    value = tool_input.get(key)
    return value if isinstance(value, str) and value else None


def _glob_escapes(value: Any) -> bool:
    """Glob patterns are joined to the path by the CLI, so `../` or an absolute pattern escapes it."""
    return isinstance(value, str) and (value.startswith(("/", "~")) or ".." in PurePosixPath(value).parts)


def check_tool_call(tool: str, tool_input: dict[str, Any], roots: Roots) -> Decision:
    """Pure decision: may this tool call run? Never touches the file's content."""
    raw = _target(tool, tool_input)
    shown = raw or "."
    if tool not in ALLOWED_TOOLS:
        return Decision(False, shown, f"tool {tool} is not available to reviews")
    if tool == "Read" and raw is None:
        return Decision(False, shown, "Read needs a file_path")
    if _glob_escapes(tool_input.get("pattern" if tool == "Glob" else "glob")):
        return Decision(False, shown, "glob pattern leaves the checkout")
    candidate = Path(raw).expanduser() if raw else roots.checkout
    if not candidate.is_absolute():
        candidate = roots.checkout / candidate
    # realpath resolves `..` and every symlink on the way, so a link to /etc/passwd is judged as that.
    resolved = Path(os.path.realpath(candidate))
    if any(_within(resolved, d) for d in roots.denied):
        return Decision(False, shown, "path is denied")
    root = next((r for r in (roots.checkout, *roots.extra) if _within(resolved, r)), None)
    if root is None:
        return Decision(False, shown, "path is outside the checkout")
    if ".git" in resolved.relative_to(root).parts:
        return Decision(False, shown, "the .git directory is not reviewable")
    return Decision(True, shown)


@dataclass
class AuditTrail:
    """Every tool call with its verdict, for the result counters and the log."""

    used: Counter[str] = field(default_factory=Counter)
    denied: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)


def make_hooks(
    roots: Roots, audit: AuditTrail, emit: Callable[[dict[str, Any]], None]
) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """PreToolUse (decides) and PostToolUse (records) callbacks for ClaudeAgentOptions.hooks."""

    async def pre_tool_use(hook_input: Any, _tool_use_id: str | None, _context: Any) -> dict[str, Any]:
        tool = str(hook_input.get("tool_name", ""))
        tool_input = hook_input.get("tool_input") or {}
        decision = check_tool_call(tool, tool_input if isinstance(tool_input, dict) else {}, roots)
        event = {"event": "tool", "tool": tool, "path": decision.path, "allowed": decision.allowed}
        if not decision.allowed:
            audit.denied += 1
            event["reason"] = decision.reason
        audit.events.append(event)
        emit(event)
        verdict = "allow" if decision.allowed else "deny"
        return {
            "hookSpecificOutput": {
                "hookEventName": "PreToolUse",
                "permissionDecision": verdict,
                "permissionDecisionReason": decision.reason or "within the checkout",
            }
        }

    async def post_tool_use(hook_input: Any, _tool_use_id: str | None, _context: Any) -> dict[str, Any]:
        audit.used[str(hook_input.get("tool_name", ""))] += 1
        return {}

    return pre_tool_use, post_tool_use
