"""The runner against the real CLI: every way a run can fail ends in a classified, bounded result."""

from __future__ import annotations

from pathlib import Path

import pytest

from review_operator.api.result import ResultOutcome
from review_operator.runner.outcome import EXIT_CODES
from tests.fakes.anthropic_api import FakeAnthropicAPI, Reply, ToolUse, overloaded, text, tool, unauthorized
from tests.fakes.runner_harness import Checkout, make_checkout, run_runner

pytestmark = pytest.mark.integration


@pytest.fixture
def checkout(tmp_path: Path) -> Checkout:
    return make_checkout(tmp_path / "src", {"a.py": "x = 1\n"}, {"a.py": "x = 2\n"})


async def test_turn_limit_ends_as_max_turns(checkout: Checkout, tmp_path: Path) -> None:
    api = FakeAnthropicAPI(default=tool("Read", file_path="a.py"))
    async with api:
        run = await run_runner(api, checkout, tmp_path / "w", env={"REVIEWOP_RUNNER_MAX_TURNS": "2"})

    assert run.result.outcome is ResultOutcome.MAX_TURNS
    assert run.code == EXIT_CODES[ResultOutcome.MAX_TURNS]
    assert len(api.turns) == 2
    assert "maximum number of turns" in run.result.error


async def test_exhausted_budget_ends_as_budget_exceeded(checkout: Checkout, tmp_path: Path) -> None:
    # Two million input tokens cost more than the $0.50 budget after the first turn.
    expensive = Reply([ToolUse("Read", {"file_path": "a.py"})], input_tokens=2_000_000)
    api = FakeAnthropicAPI(default=expensive)
    async with api:
        run = await run_runner(api, checkout, tmp_path / "w", env={"REVIEWOP_RUNNER_MAX_BUDGET_USD": "0.5"})

    assert run.result.outcome is ResultOutcome.BUDGET_EXCEEDED
    assert run.code == EXIT_CODES[ResultOutcome.BUDGET_EXCEEDED]
    assert run.result.cost_usd > 0.5
    assert len(api.turns) == 1


async def test_persistent_overload_ends_as_rate_limited_with_retry_hint(
    checkout: Checkout, tmp_path: Path
) -> None:
    api = FakeAnthropicAPI(default=overloaded(retry_after=0))
    async with api:
        run = await run_runner(api, checkout, tmp_path / "w", env={"REVIEWOP_RUNNER_MAX_RETRIES": "1"})

    assert run.result.outcome is ResultOutcome.RATE_LIMITED
    assert run.code == EXIT_CODES[ResultOutcome.RATE_LIMITED]
    assert "529" in run.result.error
    assert run.result.retry_after_s is not None
    assert len(api.turns) == 2  # the first try and one retry: the CLI honoured max_retries


async def test_rejected_key_ends_within_seconds_as_unauthorized(checkout: Checkout, tmp_path: Path) -> None:
    api = FakeAnthropicAPI(default=unauthorized())
    async with api:
        # Ten retries would take the CLI minutes; the runner must stop at the first 401.
        run = await run_runner(api, checkout, tmp_path / "w", env={"REVIEWOP_RUNNER_MAX_RETRIES": "10"})

    assert run.result.outcome is ResultOutcome.UNAUTHORIZED
    assert run.code == EXIT_CODES[ResultOutcome.UNAUTHORIZED]
    assert run.elapsed_s < 30
    assert len(api.turns) <= 2


async def test_garbled_final_answer_is_an_agent_error_not_a_crash(checkout: Checkout, tmp_path: Path) -> None:
    api = FakeAnthropicAPI([text("LGTM!! {findings: [oops, 'not json'")])
    async with api:
        run = await run_runner(api, checkout, tmp_path / "w")

    assert run.result.outcome is ResultOutcome.AGENT_ERROR
    assert run.code == EXIT_CODES[ResultOutcome.AGENT_ERROR]
    assert "unusable final answer" in run.result.error
    assert "Traceback" not in run.stderr


async def test_wall_clock_timeout_ends_as_timeout(checkout: Checkout, tmp_path: Path) -> None:
    api = FakeAnthropicAPI([Reply([ToolUse("Read", {"file_path": "a.py"})], delay_s=60)])
    async with api:
        run = await run_runner(api, checkout, tmp_path / "w", env={"REVIEWOP_RUNNER_TIMEOUT_SECONDS": "3"})

    assert run.result.outcome is ResultOutcome.TIMEOUT
    assert run.code == EXIT_CODES[ResultOutcome.TIMEOUT]
    assert "timed out" in run.result.error
    assert run.elapsed_s < 30


async def test_missing_commit_ends_as_checkout_failed(checkout: Checkout, tmp_path: Path) -> None:
    broken = Checkout(checkout.path, checkout.base, "0" * 40)
    api = FakeAnthropicAPI()
    async with api:
        run = await run_runner(api, broken, tmp_path / "w")

    assert run.result.outcome is ResultOutcome.CHECKOUT_FAILED
    assert run.code == EXIT_CODES[ResultOutcome.CHECKOUT_FAILED]
    assert api.turns == []


async def test_missing_cli_ends_as_cli_missing(checkout: Checkout, tmp_path: Path) -> None:
    api = FakeAnthropicAPI()
    async with api:
        run = await run_runner(
            api, checkout, tmp_path / "w", env={"REVIEWOP_RUNNER_CLI_PATH": "/nonexistent/claude"}
        )

    assert run.result.outcome is ResultOutcome.CLI_MISSING
    assert run.code == EXIT_CODES[ResultOutcome.CLI_MISSING] == 13
    assert "not found" in run.result.error
    assert api.turns == []
