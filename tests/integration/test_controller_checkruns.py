"""The controller's check-run bookkeeping (`controller/engine/checkruns.py`) against the GitHub
double: one request per transition, in order, never undoing a completion, and a GitHub failure
counted, never raised into the review."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from review_operator.api.models import Phase
from review_operator.controller.decide.checkrun import CheckMark, for_pod, for_step
from review_operator.controller.decide.steps import Finish, Queue
from review_operator.controller.engine.checkruns import CheckRuns
from review_operator.controller.engine.lanes import Lanes
from review_operator.fence import Fence
from review_operator.github import make_github
from review_operator.metrics import ControllerMetrics
from tests.github_double import fixtures
from tests.github_double.fixtures import World, make_job, settings_for

pytestmark = pytest.mark.integration
openapi, app_key, world = fixtures.openapi, fixtures.app_key, fixtures.world


def checks_for(
    world: World, fence: Fence | None = None, **settings: Any
) -> tuple[CheckRuns, ControllerMetrics]:
    metrics = ControllerMetrics(CollectorRegistry())
    factory = make_github(settings_for(world, check_runs=True, **settings), fence=fence)
    return CheckRuns(factory, True, Lanes(quiet_s=0), metrics), metrics


def running(world: World) -> Any:
    job = make_job(world)
    status = job.status.model_copy(update={"phase": Phase.RUNNING, "attempts": 1, "pod_name": "rj-a1"})
    return job.model_copy(update={"status": status})


def pod_running() -> dict[str, Any]:
    return {"metadata": {"name": "rj-a1"}, "status": {"phase": "Running"}}


async def test_every_pass_seeing_the_running_pod_costs_one_update_in_all(world: World) -> None:
    checks, _ = checks_for(world)
    job = make_job(world)
    checks.show(job, for_step(Queue(job)))
    await checks.flush()
    job = running(world)
    for _ in range(5):  # five passes and pod events see the same running pod
        checks.show(job, for_pod(job, pod_running()))
        await checks.flush()
    [run] = world.double.check_runs
    assert world.double.check_run_history[run["id"]] == [("queued", None), ("in_progress", None)]
    assert world.double.count("PATCH", "/check-runs/") == 1
    assert world.double.count("GET", "/check-runs") == 1  # the id is remembered after the first look-up


async def test_a_progress_mark_after_posting_took_over_never_undoes_the_completion(world: World) -> None:
    checks, _ = checks_for(world)
    job = running(world)
    checks.show(job, for_pod(job, pod_running()))
    run_id = await checks.settle(job)  # posting begins: waits for the mark in flight
    assert run_id is not None
    checks.completed(job, run_id)
    checks.show(job, for_pod(job, pod_running()))  # a late pod event
    checks.show(job, CheckMark("queued", 2, "t", "s"))
    await checks.flush()
    assert world.double.check_run_history[run_id] == [("in_progress", None)]


async def test_a_github_failure_is_counted_not_raised_and_the_mark_is_sent_when_seen_again(
    world: World,
) -> None:
    checks, metrics = checks_for(world, max_attempts=1)
    job = running(world)
    world.double.fail_next("GET", "/check-runs", status=502)
    checks.show(job, for_pod(job, pod_running()))
    await checks.flush()
    assert world.double.check_runs == []
    assert metrics.check_run_failures.labels("transient")._value.get() == 1
    checks.show(job, for_pod(job, pod_running()))  # the next pass
    await checks.flush()
    [run] = world.double.check_runs
    assert run["status"] == "in_progress"


async def test_an_ending_completes_the_run_and_a_standby_replica_writes_nothing(world: World) -> None:
    fence = Fence()
    checks, _ = checks_for(world, fence=fence)
    job = running(world)
    checks.show(job, for_pod(job, pod_running()))
    await checks.flush()
    fence.revoke()
    checks.show(job, for_step(Finish(job, Phase.FAILED, "OOMKilled", "The pod ran out of memory.")))
    await checks.flush()
    [run] = world.double.check_runs
    assert run["status"] == "in_progress"  # the lease was lost: not written
    fence.grant(Fence().until)  # type: ignore[arg-type]
    checks.show(job, for_step(Finish(job, Phase.FAILED, "OOMKilled", "The pod ran out of memory.")))
    await checks.flush()
    assert (run["status"], run["conclusion"]) == ("completed", "neutral")
    assert "OOMKilled" in run["output"]["title"] and "rj-hello-world-1-abc" in run["output"]["summary"]
