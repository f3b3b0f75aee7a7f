"""Leaves no child process behind: the last line of defence after the SDK has closed the CLI.

The SDK terminates the CLI when the query closes, but a raw asyncio cancellation can skip its
escalation; a CLI left running would keep spending tokens after the pod's result is written.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path


def child_pids(pid: int | None = None) -> list[int]:
    """Direct children of `pid` (default: this process), from /proc (Linux)."""
    base = Path(f"/proc/{pid or os.getpid()}/task")
    pids: set[int] = set()
    try:
        tasks = list(base.iterdir())
    except OSError:
        return []
    for task in tasks:
        try:
            pids.update(int(p) for p in (task / "children").read_text().split())
        except (OSError, ValueError):
            continue
    return sorted(pids)


def is_alive(pid: int) -> bool:
    """True while `pid` runs (a zombie waiting to be reaped counts as gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def signal_children(sig: int = signal.SIGTERM) -> list[int]:
    """Sends `sig` to every child without waiting; returns the pids signalled."""
    pids = child_pids()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    return pids


def stop_children(grace_s: float = 3.0) -> list[int]:
    """SIGTERM every child, SIGKILL what is still alive after `grace_s`; returns the pids found."""
    pids = child_pids()
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
    deadline = time.monotonic() + grace_s
    while any(is_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in pids:
        if is_alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
    for pid in pids:
        _reap(pid)
    return pids
