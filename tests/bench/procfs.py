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
