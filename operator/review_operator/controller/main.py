"""`review-operator controller`: wires settings, the API client, GitHub, metrics, the leader Lease,
the engine and kopf's watches together, and runs until SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys
from concurrent.futures import ThreadPoolExecutor

import kopf
from prometheus_client import CollectorRegistry, start_http_server

from review_operator.config import ControllerSettings, GitHubSettings
from review_operator.controller import handlers
from review_operator.controller.engine.events import EVENT_WORKERS
from review_operator.controller.engine.executor import STEP_CONCURRENCY
from review_operator.controller.engine.heads import PullHeads
from review_operator.controller.engine.lease import lead
from review_operator.controller.engine.loop import Engine
from review_operator.fence import Fence
from review_operator.github import GitHubClientFactory, get_pull_refs, make_github
from review_operator.k8s.aio import AsyncKube
from review_operator.k8s.client import load_configuration
from review_operator.logs import configure_logging
from review_operator.metrics import ControllerMetrics

log = logging.getLogger(__name__)


class ChainError(SystemExit):
    pass


def check_settings(settings: ControllerSettings) -> None:
    errors = settings.timeout_chain_errors()
    if errors:
        sys.stderr.write("review-operator controller: broken timeout chain:\n  " + "\n  ".join(errors) + "\n")
        raise ChainError(2)


def github_factory(
    settings: ControllerSettings, gh: GitHubSettings, fence: Fence | None = None
) -> GitHubClientFactory | None:
    if not settings.post_reviews:
        return None
    if gh.app_id is None and gh.token is None:
        log.warning("no GitHub App or token configured: reviews run but nothing is posted")
        return None
    return make_github(gh, fence=fence)


async def run(settings: ControllerSettings, gh_settings: GitHubSettings) -> None:
    # Every API call goes over aiohttp on the loop, as many at once as a pass runs steps plus the
    # Event workers; the few threads left serve aiohttp's DNS lookups.
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(max_workers=4, thread_name_prefix="k8s")
    )
    configuration = load_configuration()
    # Every write of the controller's work is fenced by leadership; the Lease's own are not (taking
    # the Lease is a write made while not leading).
    fence = Fence(until=None)
    kube = AsyncKube(configuration, pool_size=STEP_CONCURRENCY + EVENT_WORKERS + 4, fence=fence)
    # The Lease has its own session, so a renewal never queues behind a busy pass for a connection;
    # an answer later than the Lease's duration is worthless, so that bounds each call.
    lease_kube = AsyncKube(configuration, pool_size=1, timeout=settings.lease_duration_seconds)
    registry = CollectorRegistry()
    metrics = ControllerMetrics(registry)
    if settings.metrics_port:
        start_http_server(settings.metrics_port, registry=registry)
    github = github_factory(settings, gh_settings, fence)
    heads = None if github is None else PullHeads(lambda job: get_pull_refs(github.for_job(job), job))
    engine = Engine(
        settings,
        kube,
        metrics,
        github=github,
        github_api_url=gh_settings.api_url,
        heads=heads,
        fence=fence,
    )
    engine.stand_by()
    identity = f"{socket.gethostname()}-{os.getpid()}"
    leader = asyncio.create_task(lead(engine, lease_kube, settings, identity))
    liveness = f"http://0.0.0.0:{settings.health_port}/healthz" if settings.health_port else None
    try:
        await kopf.operator(
            clusterwide=False,
            namespaces=[settings.namespace],
            standalone=True,
            liveness_endpoint=liveness,
            memo=kopf.Memo(engine=engine),
            registry=handlers.registry(),
        )
    finally:
        leader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await leader
        await kube.close()
        await lease_kube.close()


def main() -> int:
    settings = ControllerSettings()
    configure_logging(settings.log_level, settings.log_format)
    check_settings(settings)
    asyncio.run(run(settings, GitHubSettings()))
    return 0
