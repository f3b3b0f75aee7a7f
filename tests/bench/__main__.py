"""`make bench`: runs every benchmark, prints the figures and writes docs/benchmarks.md.

Benchmarks are not tests: they print measurements (with ratios against a baseline measured in the
same run) and never fail on speed. Set BENCH_ONLY=runner,webhook,controller,scale,mix,realnode to
run a subset: the other sections of docs/benchmarks.md (and any written by hand, such as the
targets table) are kept.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
from collections.abc import Callable
from pathlib import Path

from tests.bench import controller_bench, mix_bench, realnode_bench, runner_bench, scale_bench, webhook_bench

Figure = tuple[str, float, str]
SUITES: dict[str, Callable[[], list[Figure]]] = {
    "runner": runner_bench.run,
    "webhook": webhook_bench.run,
    "controller": controller_bench.run,
    "scale": scale_bench.run,
    "mix": mix_bench.run,
    "realnode": realnode_bench.run,
}
OUT = Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md"


def sections(text: str) -> dict[str, list[str]]:
    """The `## name` sections of a benchmarks file, each with its lines (heading first)."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("## "):
            current = found.setdefault(line[3:].strip(), [])
        if current is not None:
            current.append(line)
    return found


def main() -> None:
    only = [s for s in os.environ.get("BENCH_ONLY", "").split(",") if s] or list(SUITES)
    kept = sections(OUT.read_text()) if OUT.exists() else {}
    written: dict[str, list[str]] = {}
    for name in only:
        print(f"== {name}", flush=True)
        figures = SUITES[name]()
        table = [f"## {name}", "", f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC.", ""]
        table += ["| figure | value | unit |", "|---|---|---|"]
        for label, value, unit in figures:
            print(f"  {label}: {value:.3f} {unit}", flush=True)
            table.append(f"| {label} | {value:.3f} | {unit} |")
        written[name] = [*table, ""]
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` ({platform.machine()}, {os.cpu_count()} cores, loopback only); each "
        "section says when it was measured. Figures vary with machine load; rerun to compare.",
        "",
    ]
    order = [*SUITES, *(name for name in kept if name not in SUITES)]
    for name in order:
        lines += written.get(name) or kept.get(name) or []
    OUT.write_text("\n".join(lines).rstrip("\n") + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
