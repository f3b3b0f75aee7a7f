"""`make bench`: runs every benchmark, prints the figures and writes docs/benchmarks.md.

Benchmarks are not tests: they print measurements (with ratios against a baseline measured in the
same run) and never fail on speed. Set BENCH_ONLY=runner,webhook,controller to run a subset.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
from collections.abc import Callable
from pathlib import Path

from tests.bench import controller_bench, runner_bench, webhook_bench

Figure = tuple[str, float, str]
SUITES: dict[str, Callable[[], list[Figure]]] = {
    "runner": runner_bench.run,
    "webhook": webhook_bench.run,
    "controller": controller_bench.run,
}
OUT = Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md"


def main() -> None:
    only = [s for s in os.environ.get("BENCH_ONLY", "").split(",") if s] or list(SUITES)
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
        f"{os.cpu_count()} cores, loopback only. Figures vary with machine load; rerun to compare.",
        "",
    ]
    for name in only:
        print(f"== {name}", flush=True)
        figures = SUITES[name]()
        lines += [f"## {name}", "", "| figure | value | unit |", "|---|---|---|"]
        for label, value, unit in figures:
            print(f"  {label}: {value:.3f} {unit}", flush=True)
            lines.append(f"| {label} | {value:.3f} | {unit} |")
        lines.append("")
    OUT.write_text("\n".join(lines))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
