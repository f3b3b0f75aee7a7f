"""The real node's hold on the host, written to disk so that a run that dies still gets undone.

A real node changes the host (hostnet.py). `finally` blocks undo that when a run ends normally, on an
exception or (tests/realnode/conftest.py) on SIGTERM/SIGHUP; they cannot run when the process is
SIGKILLed, the machine is frozen mid-run or the session is cut off. So before changing anything, a run

1. takes an exclusive lock (`/run/reviewop-realnode.lock`; the kernel releases it when the process
   dies, however it dies), waiting for another live run to finish;
2. finds the journal a dead run left (`/run/reviewop-realnode.json`) and undoes that run's changes
   from it: kills the processes it recorded (each one's whole process group, only if its start time
   still matches, so a reused pid is never hit), kills what is left in the node's cgroups, restores
   the host state the dead run recorded before it began, and removes its directories;
3. writes its own journal (the `HostState` snapshot, then each process it starts) and removes it
   once `restore()` has run.

/run is a tmpfs: a reboot clears the journal together with everything the journal describes.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from tests.harness import hostnet

LOCK = Path("/run/reviewop-realnode.lock")
JOURNAL = Path("/run/reviewop-realnode.json")


class HostBusy(hostnet.HostError):
    """Another live run held the host for longer than we would wait."""


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (`/proc/<pid>/stat` field 22), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: split after its last ")".
    return int(stat.rsplit(")", 1)[1].split()[19])


@dataclass
class Journal:
    """What a run must undo: the host as it was before (`HostState`), the processes it started
    (pid → start time), and the directories it made."""

    owner: int
    state: hostnet.HostState
    processes: dict[int, int] = field(default_factory=dict)
    dirs: list[Path] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(
            {
                "owner": self.owner,
                "state": self.state.to_dict(),
                "processes": {str(pid): started for pid, started in self.processes.items()},
                "dirs": [str(d) for d in self.dirs],
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Journal:
        data = json.loads(text)
        return cls(
            owner=int(data["owner"]),
            state=hostnet.HostState.from_dict(data["state"]),
            processes={int(pid): int(started) for pid, started in data["processes"].items()},
            dirs=[Path(d) for d in data["dirs"]],
        )

    def undo(self) -> list[str]:
        """Kills the recorded processes and the node's containers, restores the host, removes the
        directories; returns what could not be undone."""
        for pid, started in self.processes.items():
            if start_time(pid) == started:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
        hostnet.kill_cgroup_processes(self.state.cgroup_root)
        hostnet.kill_processes_mentioning([str(d) for d in self.dirs])
        time.sleep(0.5)
        problems = self.state.restore()
        for directory in self.dirs:
            shutil.rmtree(directory, ignore_errors=True)
        return problems


class HostLease:
    """One run's hold on the host: `acquire()` (waits, recovers a dead run), `begin()` (journal),
    `track()` (processes, directories), `release()` (journal gone, lock released)."""

    def __init__(self, lock: Path = LOCK, journal: Path = JOURNAL) -> None:
        self.lock_path = lock
        self.journal_path = journal
        self.journal: Journal | None = None
        self._lock: IO[str] | None = None
        self.recovered: list[str] = []

    @property
    def held(self) -> bool:
        return self._lock is not None

    def acquire(self, timeout: float = 1800.0) -> list[str]:
        """Takes the lock (waiting up to `timeout` s for a live run), then undoes what a dead run
        left; returns a line per thing recovered (empty when the last run cleaned up after itself)."""
        if self._lock is not None:
            return self.recovered
        handle = self.lock_path.open("a+")
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    handle.close()
                    raise HostBusy(
                        f"another real-node run still holds {self.lock_path} after {timeout:.0f} s"
                        f" (its journal: {self.journal_path})"
                    ) from None
                time.sleep(1.0)
        self._lock = handle
        self.recovered = self._recover()
        return self.recovered

    def begin(self, state: hostnet.HostState, dirs: list[Path]) -> None:
        """Records the host as it is, before the first change."""
        if self._lock is None:
            raise hostnet.HostError("HostLease.begin() before acquire()")
        self.journal = Journal(owner=os.getpid(), state=state, dirs=list(dirs))
        self._write()

    def track(self, pids: Sequence[int], dirs: Sequence[Path] = ()) -> None:
        """Adds processes (each its own process group: started with start_new_session) and
        directories for a later run to remove should this one die."""
        if self.journal is None:
            return
        for pid in pids:
            started = start_time(pid)
            if started is not None:
                self.journal.processes[pid] = started
        self.journal.dirs += [d for d in dirs if d not in self.journal.dirs]
        self._write()

    def release(self) -> None:
        """After `restore()`: the journal goes, then the lock."""
        self.journal = None
        self.journal_path.unlink(missing_ok=True)
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    def _write(self) -> None:
        assert self.journal is not None
        partial = self.journal_path.with_suffix(".tmp")
        partial.write_text(self.journal.to_json())
        partial.replace(self.journal_path)

    def _recover(self) -> list[str]:
        if not self.journal_path.exists():
            return []
        try:
            dead = Journal.from_json(self.journal_path.read_text())
        except (ValueError, KeyError, TypeError) as exc:
            raise hostnet.HostError(
                f"{self.journal_path} is unreadable ({exc}); undo its run by hand, then delete it"
            ) from exc
        done = [
            f"a run (pid {dead.owner}) died holding the real node: undid its"
            f" {len(dead.processes)} processes, bridge, rules, settings, mounts and"
            f" {len(dead.dirs)} directories"
        ]
        problems = dead.undo()
        self.journal_path.unlink()
        return done + [f"could not undo: {p}" for p in problems]
