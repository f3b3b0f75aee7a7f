"""A controller of someone else's (Karpenter, Kueue) run as a host process beside a test control plane:
started in its own session with its output in a log file, ready when its health endpoint says so,
stopped with SIGTERM (SIGKILL after 15 s), and its log's tail in every error."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import IO

from tests.harness.controlplane import ComponentError


class HostProcess:
    def __init__(self, name: str, log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self.popen: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def spawn(self, argv: list[str], env: dict[str, str], cwd: Path | None = None) -> None:
        self._log = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            argv,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
            start_new_session=True,
        )

    def wait_ready(self, url: str, timeout: float, poll: float = 0.2) -> None:
        """Until `url` answers 200 (the process must stay alive meanwhile)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - our http URL
                if resp.status == 200:
                    return
            time.sleep(poll)
        raise ComponentError(f"{self.name} not ready after {timeout:.0f} s; see {self.log_path}")

    def check_alive(self) -> None:
        if self.popen is not None and self.popen.poll() is not None:
            raise ComponentError(
                f"{self.name} exited with code {self.popen.returncode}; see {self.log_path}\n"
                + "\n".join(self.log_text().splitlines()[-15:])
            )

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
