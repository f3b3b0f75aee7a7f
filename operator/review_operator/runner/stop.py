"""Stopping a run on SIGTERM, SIGINT or the wall-clock timeout, in time for the pod's grace period."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from contextlib import contextmanager

import anyio

from review_operator.runner.procs import signal_children


class Stopper:
    """Owns the cancel scope around the agent and the reason it was stopped (empty while running)."""

    def __init__(self) -> None:
        self.reason = ""
        # An anyio scope (not a bare task.cancel) so the SDK's shielded close still escalates to kill.
        self.scope = anyio.CancelScope()

    def stop(self, reason: str) -> None:
        self.reason = self.reason or reason
        # SIGTERM the CLI first: it exits at once, while the SDK's polite close waits for it
        # seconds longer than the pod's grace period can spare.
        signal_children(signal.SIGTERM)
        self.scope.cancel()

    @contextmanager
    def armed(self, timeout_s: float) -> Iterator[Stopper]:
        """Installs the signal handlers and the timer for the whole run, diff included."""
        loop = asyncio.get_running_loop()
        signals = {signal.SIGTERM: "terminated by SIGTERM", signal.SIGINT: "interrupted (SIGINT)"}
        for sig, why in signals.items():
            loop.add_signal_handler(sig, self.stop, why)
        timer = loop.call_later(timeout_s, self.stop, f"timed out after {timeout_s:g}s")
        try:
            yield self
        finally:
            timer.cancel()
            for sig in signals:
                loop.remove_signal_handler(sig)
