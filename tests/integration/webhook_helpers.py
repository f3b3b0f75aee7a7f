"""Shared pieces of the webhook integration tests: real payloads, signing, a running app, a proxy.

`running_webhook` starts the real app (aiohttp TestServer) against the real API server and, on exit,
asserts that nothing it logged contains the test secret or a signature it was sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from kubernetes import client
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from review_operator.api.models import GROUP, PLURAL, VERSION
from review_operator.config import WebhookSettings
from review_operator.k8s.aio import AsyncReviewJobs
from review_operator.k8s.client import load_api_client
from review_operator.logs import JsonFormatter
from review_operator.webhook.app import WEBHOOK_PATH, create_app
from review_operator.webhook.signature import sign
from tests.harness.controlplane import REPO_ROOT, free_port

EXAMPLES = REPO_ROOT / "tests/npm/node_modules/@octokit/webhooks-examples/api.github.com/index.json"
SECRET = "whsec-test-" + uuid.uuid4().hex  # unique: any occurrence in a log is a leak
OLD_SECRET = "whsec-old-" + uuid.uuid4().hex
HEAD_SHA = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"  # the examples' PR head


@functools.cache
def _examples() -> dict[str, list[dict[str, Any]]]:
    data = json.loads(EXAMPLES.read_text())
    return {entry["name"]: entry["examples"] for entry in data}


def example(event: str, action: str | None = None) -> dict[str, Any]:
    """A deep copy of the first real example of `event` (with `action`)."""
    for payload in _examples()[event]:
        if action is None or payload.get("action") == action:
            return copy.deepcopy(payload)
    raise LookupError(f"no example for {event}/{action}")


def review_comment(body: str = "/review", association: str = "OWNER") -> dict[str, Any]:
    """The real `issue_comment.created` example, on a pull request (the examples' issue is not one)."""
    payload = example("issue_comment", "created")
    number = payload["issue"]["number"]
    payload["issue"]["pull_request"] = {
        "url": f"https://api.github.com/repos/Codertocat/Hello-World/pulls/{number}",
        "html_url": f"https://github.com/Codertocat/Hello-World/pull/{number}",
    }
    payload["comment"]["body"] = body
    payload["comment"]["author_association"] = association
    return payload


def thread_reply(
    body: str = "Why is this a problem?",
    *,
    association: str = "MEMBER",
    in_reply_to: int | None = 284312600,
    login: str = "Codertocat",
    user_type: str = "User",
    action: str = "created",
) -> dict[str, Any]:
    """The real `pull_request_review_comment.created` example, made a reply in a review thread (the
    example's comment starts a thread: GitHub sets `in_reply_to_id` on replies only)."""
    payload = example("pull_request_review_comment", "created")
    payload["action"] = action
    comment = payload["comment"]
    comment["body"] = body
    comment["author_association"] = association
    comment["user"] = dict(comment["user"], login=login, type=user_type)
    if in_reply_to is not None:
        comment["in_reply_to_id"] = in_reply_to
    return payload


APP_ID = 424242  # our App, in the rerequested payloads


def rerequested(
    event: str = "check_run",
    *,
    external_id: str = "",
    app_id: int = APP_ID,
    name: str = "review-operator",
    pull_numbers: tuple[int, ...] = (2,),
    head_sha: str = HEAD_SHA,
) -> dict[str, Any]:
    """GitHub's real `check_run` / `check_suite` `rerequested` example, moved to the pull_request
    examples' repository (Codertocat/Hello-World, PR 2 at HEAD_SHA) and made our App's run.
    `pull_numbers` empty: a fork's pull request (GitHub lists none)."""
    payload = example(event, "rerequested")
    pr = example("pull_request", "opened")
    payload["repository"] = pr["repository"]
    payload["installation"] = {"id": 957387, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uOTU3Mzg3"}
    pulls = [
        {
            "url": f"https://api.github.com/repos/Codertocat/Hello-World/pulls/{n}",
            "id": 279147437 + n,
            "number": n,
            "head": {"ref": "changes", "sha": head_sha, "repo": {"id": 186853002, "name": "Hello-World"}},
            "base": {"ref": "master", "sha": pr["pull_request"]["base"]["sha"], "repo": {"id": 186853002}},
        }
        for n in pull_numbers
    ]
    target = payload[event]
    target["app"]["id"] = app_id
    target["head_sha"] = head_sha
    target["pull_requests"] = pulls
    if event == "check_run":
        target["name"] = name
        target["external_id"] = external_id
        target["check_suite"]["head_sha"] = head_sha
        target["check_suite"]["pull_requests"] = pulls
        target["check_suite"]["app"]["id"] = app_id
    return payload


def managed_user_pull_request(login: str = "octocat_acme", action: str = "opened") -> dict[str, Any]:
    """The real `pull_request` example, opened and sent by an Enterprise Managed User (`HANDLE_SHORTCODE`)
    who also owns the repository (managed users can have personal repositories)."""
    payload = example("pull_request", action)
    for user in (payload["pull_request"]["user"], payload["sender"], payload["repository"]["owner"]):
        user["login"] = login
    payload["repository"]["full_name"] = f"{login}/{payload['repository']['name']}"
    return payload


def encode(payload: Any) -> bytes:
    return json.dumps(payload).encode()


def signed_headers(
    body: bytes, event: str, delivery: str | None = None, secret: str = SECRET
) -> dict[str, str]:
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(body, secret.encode()),
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/test",
    }


@dataclass
class Hook:
    """A running webhook app and its test client."""

    client: TestClient[Any, Any]
    namespace: str
    registry: CollectorRegistry
    sent_signatures: list[str] = field(default_factory=list)

    async def deliver(
        self, event: str, payload: Any, delivery: str | None = None, secret: str = SECRET
    ) -> ClientResponse:
        body = payload if isinstance(payload, bytes) else encode(payload)
        headers = signed_headers(body, event, delivery, secret)
        self.sent_signatures.append(headers["X-Hub-Signature-256"])
        return await self.post(body, headers)

    async def post(self, body: bytes, headers: dict[str, str]) -> ClientResponse:
        if "X-Hub-Signature-256" in headers:
            self.sent_signatures.append(headers["X-Hub-Signature-256"])
        return await self.client.post(WEBHOOK_PATH, data=body, headers=headers)


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.records: list[logging.LogRecord] = []
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(self.format(record))


LEAKS: list[str] = []  # every captured line, for the suite-wide secrecy assertions


@contextlib.asynccontextmanager
async def running_webhook(
    namespace: str, kubeconfig: Path, **overrides: Any
) -> AsyncIterator[tuple[Hook, _Capture]]:
    """The real app on a loopback port, talking to the API server in `kubeconfig`."""
    secret = overrides.pop("webhook_secret", SECRET)
    settings = WebhookSettings(
        namespace=namespace,
        webhook_secret=SecretStr(secret) if secret is not None else None,
        **{"webhook_api_timeout_seconds": 3.0, "webhook_rate_burst": 1000, **overrides},
    )
    registry = CollectorRegistry()
    api = load_api_client(str(kubeconfig), pool_size=settings.webhook_api_workers)
    capture = _Capture()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    hook: Hook | None = None
    try:
        jobs = AsyncReviewJobs(api.configuration, settings.namespace, settings.webhook_api_workers)
        app = create_app(settings, jobs, registry=registry)
        async with TestClient(TestServer(app)) as test_client:
            hook = Hook(test_client, namespace, registry)
            yield hook, capture
    finally:
        root.removeHandler(capture)
        root.setLevel(previous)
        api.close()
    text = "\n".join(capture.lines)
    LEAKS.extend(capture.lines)
    assert SECRET not in text and OLD_SECRET not in text, "a webhook secret was logged"
    for signature in hook.sent_signatures if hook else []:
        digest = signature.removeprefix("sha256=")
        assert len(digest) < 16 or digest not in text, "a signature was logged"


class MountedSecret:
    """A directory laid out as the kubelet lays out a Secret volume, updated as the kubelet does."""

    def __init__(self, root: Path, key: str = "secret") -> None:
        self.root, self.key, self.version = root, key, 0

    @property
    def path(self) -> Path:
        return self.root / self.key

    def write(self, text: str) -> None:
        """New timestamped directory, then an atomic swap of `..data` (rename of a new symlink)."""
        self.version += 1
        data = self.root / f"..2026_12_02_08_00_0{self.version}.000000001"
        data.mkdir()
        (data / self.key).write_text(text)
        tmp = self.root / "..data_tmp"
        tmp.symlink_to(data.name)
        tmp.rename(self.root / "..data")
        if not self.path.is_symlink():
            self.path.symlink_to(f"..data/{self.key}")


@dataclass
class WebhookProcess:
    """The real `review-operator webhook` process on a loopback port."""

    popen: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{WEBHOOK_PATH}"

    def memory_mib(self, field_name: str = "VmRSS") -> float:
        """A /proc/<pid>/status memory figure (VmRSS now, VmHWM the peak) in MiB."""
        for line in Path(f"/proc/{self.popen.pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) / 1024
        raise LookupError(field_name)


@contextlib.contextmanager
def webhook_process(namespace: str, kubeconfig: Path, workdir: Path, **env: str) -> Iterator[WebhookProcess]:
    """Starts the webhook CLI (ready once /readyz answers 200), stops its process group on exit and
    checks that its log holds no secret."""
    port = free_port()
    log_path = workdir / "webhook.log"
    environment = {
        **os.environ,
        "KUBECONFIG": str(kubeconfig),
        "REVIEWOP_NAMESPACE": namespace,
        "REVIEWOP_WEBHOOK_SECRET": SECRET,
        "REVIEWOP_WEBHOOK_HOST": "127.0.0.1",
        "REVIEWOP_WEBHOOK_PORT": str(port),
        **env,
    }
    with log_path.open("wb") as log:
        popen = subprocess.Popen(
            [sys.executable, "-m", "review_operator.cli", "webhook"],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    process = WebhookProcess(popen, port, log_path)
    try:
        _wait_ready(process)
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(popen.pid, signal.SIGTERM)
        try:
            popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(popen.pid, signal.SIGKILL)
            popen.wait(timeout=5)
    text = log_path.read_text(errors="replace")
    assert SECRET not in text and OLD_SECRET not in text, "a webhook secret was logged"


def _wait_ready(process: WebhookProcess) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise RuntimeError(f"webhook exited with {process.popen.returncode}; see {process.log_path}")
        try:
            url = f"http://127.0.0.1:{process.port}/readyz"
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"webhook not ready in 30 s; see {process.log_path}")


def reviewjobs(api: client.ApiClient, namespace: str) -> list[dict[str, Any]]:
    result = client.CustomObjectsApi(api).list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)
    items: list[dict[str, Any]] = result["items"]
    return items


def kubeconfig_via(original: Path, target: Path, port: int) -> Path:
    """A copy of `original` whose server is 127.0.0.1:`port` (the TLS name still matches)."""
    config = yaml.safe_load(original.read_text())
    config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{port}"
    target.write_text(yaml.safe_dump(config))
    return target


class TcpProxy:
    """A loopback TCP proxy in front of the API server that a test can take down or make hang."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self.hang = False
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self, port: int = 0) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", port or self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Refuses new connections and drops open ones, as a stopped API server would."""
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            if self.hang:
                await reader.read()  # accept, never answer: a hung API server
                return
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
            self._writers.add(up_writer)
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        except OSError:
            pass
        finally:
            writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()
