"""What the benchmarks read about a process from /proc: its memory and its CPU time."""

from __future__ import annotations

import os
from pathlib import Path


def status_kib(pid: int, field: str = "VmRSS") -> int:
    """A `/proc/<pid>/status` memory field (VmRSS, VmHWM, …) in KiB; 0 if the field is absent."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_ticks() -> tuple[int, int, int]:
    """The whole machine's CPU ticks so far, from `/proc/stat`: (busy, stolen, all). Busy excludes
    idle, iowait and steal; stolen is what the hypervisor gave to other guests."""
    user, nice, system, idle, iowait, irq, softirq, steal = (
        int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    )
    busy = user + nice + system + irq + softirq
    return busy, steal, busy + idle + iowait + steal


def machine_load(before: tuple[int, int, int], after: tuple[int, int, int]) -> tuple[float, float]:
    """Per cent of the machine's CPU that was busy, and that was stolen, between two readings."""
    span = max(1, after[2] - before[2])
    return 100 * (after[0] - before[0]) / span, 100 * (after[1] - before[1]) / span
