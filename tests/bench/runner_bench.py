"""Runner benchmark for `make bench`: start-up latency, a two-turn review, peak memory.

Runs the real runner and the real bundled CLI against the fake Anthropic API. Figures:
process start → first model request, wall time of a scripted two-turn review, and the peak RSS of
the runner plus its CLI child (sampled from /proc every 20 ms).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from review_operator.runner.procs import child_pids
from tests.bench.procfs import status_kib
from tests.fakes.anthropic_api import FakeAnthropicAPI, text, tool
from tests.fakes.runner_harness import make_checkout, review_json, run_runner


def _rss_kib(pid: int) -> int:
    try:
        return status_kib(pid)
    except (OSError, ValueError):  # the process may end while the tree is walked
        return 0


def _tree_rss_kib(pid: int) -> int:
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        total += _rss_kib(current)
        stack.extend(child_pids(current))
    return total


async def _bench(root: Path) -> list[tuple[str, float, str]]:
    checkout = make_checkout(root / "src", {"a.py": "x = 1\n"}, {"a.py": "x = 2\n", "b.py": "y = 3\n"})
    api = FakeAnthropicAPI(
        [
            tool("Read", file_path="a.py"),
            text(
                review_json("ok", [{"path": "a.py", "line": 1, "severity": "low", "title": "t", "body": "b"}])
            ),
        ]
    )
    peak = 0
    started = 0.0
    samplers: list[asyncio.Future[None]] = []

    async def sample(proc: asyncio.subprocess.Process) -> None:
        nonlocal peak

        async def loop() -> None:
            nonlocal peak
            while proc.returncode is None:
                peak = max(peak, _tree_rss_kib(proc.pid))
                await asyncio.sleep(0.02)

        samplers.append(asyncio.ensure_future(loop()))

    async with api:
        started = asyncio.get_running_loop().time()
        wall = time.monotonic()
        run = await run_runner(api, checkout, root / "w", while_running=sample)
        wall_s = time.monotonic() - wall
    assert run.result.outcome.value == "success", run.stdout
    first = (api.first_request_at or started) - started
    return [
        ("runner: process start to first model request", round(first, 3), "s"),
        ("runner: two-turn review wall time", round(wall_s, 3), "s"),
        ("runner: peak RSS of runner + CLI", round(peak / 1024, 1), "MiB"),
    ]


def run() -> list[tuple[str, float, str]]:
    with tempfile.TemporaryDirectory(prefix="runner-bench-") as tmp:
        return asyncio.run(_bench(Path(tmp)))


if __name__ == "__main__":
    for name, value, unit in run():
        print(f"{name}: {value} {unit}")
