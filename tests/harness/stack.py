"""The review-operator processes (webhook, controller) run as host processes against a control plane.

Used by `make dev` and by end-to-end tests. Each process gets its own log file, its own process
group and a clean shutdown.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from tests.harness.controlplane import REPO_ROOT, ComponentError, ControlPlane, free_port, stop_groups

NAMESPACE = "review-operator"


@dataclass
class _Child:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    log: IO[bytes]


@dataclass
class DevStack:
    plane: ControlPlane
    workdir: Path
    namespace: str = NAMESPACE
    env: dict[str, str] = field(default_factory=dict)
    children: list[_Child] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    def start(self) -> None:
        self.plane.kubectl("create", "namespace", self.namespace, check=False)
        self.plane.kubectl(
            "label",
            "namespace",
            self.namespace,
            "--overwrite",
            "pod-security.kubernetes.io/enforce=restricted",
            "pod-security.kubernetes.io/enforce-version=latest",
        )
        self.start_webhook()
        self.start_controller()

    def start_controller(self) -> None:
        """`review-operator controller`; kwok runs its pods; without GitHub credentials nothing is posted."""
        metrics, health = free_port(), free_port()
        self.spawn(
            "controller",
            ["controller"],
            {
                "REVIEWOP_METRICS_PORT": str(metrics),
                "REVIEWOP_HEALTH_PORT": str(health),
                "REVIEWOP_IMAGE": "review-operator:dev",
                "REVIEWOP_POD_ANNOTATION_PASSTHROUGH": json.dumps(["sim.review-operator.dev/"]),
                "REVIEWOP_LOG_FORMAT": "text",
            },
        )
        self.lines += [
            f"  controller: metrics http://127.0.0.1:{metrics}/metrics, liveness http://127.0.0.1:{health}/healthz"
            f" (log {self.workdir / 'controller.log'})",
        ]

    def start_webhook(self) -> None:
        """`review-operator webhook` on a free loopback port, and a one-liner that sends it a signed PR."""
        secret, port = os.urandom(12).hex(), free_port()
        self.spawn(
            "webhook",
            ["webhook"],
            {
                "REVIEWOP_WEBHOOK_SECRET": secret,
                "REVIEWOP_WEBHOOK_HOST": "127.0.0.1",
                "REVIEWOP_WEBHOOK_PORT": str(port),
                "REVIEWOP_LOG_FORMAT": "text",
            },
        )
        examples = REPO_ROOT / "tests/npm/node_modules/@octokit/webhooks-examples/api.github.com/index.json"
        opened = next(
            e
            for entry in json.loads(examples.read_text())
            if entry["name"] == "pull_request"
            for e in entry["examples"]
            if e["action"] == "opened"
        )
        sample = self.workdir / "pull_request-opened.json"
        sample.write_text(json.dumps(opened))
        url = f"http://127.0.0.1:{port}/webhook/github"
        digest = f"$(openssl dgst -sha256 -hmac {secret} -r < {sample} | cut -d' ' -f1)"
        self.lines += [
            f"  webhook: {url} (log {self.workdir / 'webhook.log'}); send it a signed PR:",
            f"  curl -sS {url} -H 'X-GitHub-Event: pull_request' -H \"X-GitHub-Delivery: $(date +%s%N)\""
            f" -H 'Content-Type: application/json' -H \"X-Hub-Signature-256: sha256={digest}\""
            f" --data-binary @{sample}",
        ]

    def spawn(self, name: str, args: list[str], env: dict[str, str]) -> _Child:
        log_path = self.workdir / f"{name}.log"
        log = log_path.open("ab")
        popen = subprocess.Popen(
            [sys.executable, "-m", "review_operator.cli", *args],
            env={**self.plane.env(), "REVIEWOP_NAMESPACE": self.namespace, **self.env, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        child = _Child(name, popen, log_path, log)
        self.children.append(child)
        return child

    def hints(self) -> str:
        return "\n".join(self.lines)

    def check_alive(self) -> None:
        for child in self.children:
            if child.popen.poll() is not None:
                raise ComponentError(
                    f"{child.name} exited with code {child.popen.returncode}; see {child.log_path}"
                )

    def stop(self) -> None:
        stop_groups([child.popen for child in self.children], grace=15)
        for child in self.children:
            child.log.close()
        self.children.clear()


@dataclass
class ControllerProcess:
    """`review-operator controller` as a host process against a control plane; killable and restartable."""

    plane: ControlPlane
    namespace: str
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    popen: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> None:
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"\n===== start {self.starts} =====\n".encode())
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "review_operator.cli", "controller"],
                env={**self.plane.env(), "REVIEWOP_NAMESPACE": self.namespace, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def kill(self) -> None:
        """SIGKILL: no cleanup, no lease release — a crash."""
        if self.popen is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)

    def stop(self) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")
