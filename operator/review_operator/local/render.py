"""Terminal output of the local one-shot review: readable progress lines and the printed review."""

from __future__ import annotations

import time
from typing import Any, TextIO

from review_operator.api.result import ReviewResult
from review_operator.api.scrub import Scrubber
from review_operator.runner.progress import Progress

_QUIET = frozenset({"cli_stderr"})


class TerminalProgress(Progress):
    """Same events as the pod's JSON progress, as short human lines (scrubbed) on the terminal."""

    def __init__(self, scrubber: Scrubber, stream: TextIO, *, verbose: bool = False) -> None:
        super().__init__(scrubber, stream)
        self._verbose = verbose
        self._started = time.monotonic()

    def __call__(self, event: dict[str, Any]) -> None:
        name = str(event.get("event", "?"))
        if name in _QUIET and not self._verbose:
            return
        details = " ".join(f"{k}={v}" for k, v in event.items() if k != "event" and v not in (None, "", []))
        line = f"[{time.monotonic() - self._started:6.1f}s] {name} {details}".rstrip()
        self._stream.write(self._scrubber.clip(line, 1000) + "\n")
        self._stream.flush()


def render_review(result: ReviewResult, *, title: str, url: str) -> str:
    """The review as plain text (Markdown-friendly), findings strongest first."""
    out = [f"# Review of {title}", url, "", f"Outcome: {result.outcome.value}"]
    if result.error:
        out.append(f"Error: {result.error}")
    out += ["", "## Summary", "", result.summary.strip() or "(no summary)", ""]
    out.append(f"## Findings ({len(result.findings)})")
    for n, f in enumerate(result.findings, 1):
        out += ["", f"{n}. [{f.severity.value}] {f.path}:{f.line} ({f.side.value}) {f.title}".rstrip()]
        out += [f"   {line}" for line in f.body.strip().splitlines()]
        if f.suggestion:
            out += ["   Suggested change:", *(f"   | {line}" for line in f.suggestion.splitlines())]
    notes = [
        f"cost ${result.cost_usd:.4f}",
        f"{result.turns} turns",
        f"{result.duration_ms / 1000:.1f}s",
        f"dropped {result.dropped}",
        f"files not reviewed {result.skipped}",
    ]
    out += ["", "---", ", ".join(notes)]
    return "\n".join(out) + "\n"
