"""The model probe (issue 19, "agent health check that queries the model"): where it goes and how it
authenticates, as the review pods do; what its answers mean; the key file read again after a
rotation; and no key in what it reports."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from review_operator.config import ControllerSettings
from review_operator.controller.decide.breaker import ProbeOutcome
from review_operator.controller.engine.clock import SYSTEM_CLOCK
from review_operator.controller.engine.events import EventRecorder
from review_operator.controller.engine.lanes import Lanes
from review_operator.controller.engine.model_health import ModelHealth
from review_operator.controller.engine.model_probe import (
    ModelProbe,
    ProbeTarget,
    auth_headers,
    outcome_of,
    probe_target,
)
from review_operator.metrics import ControllerMetrics
from tests.fakes.anthropic_api import FakeAnthropicAPI
from tests.harness.controlplane import free_port

KEY = "sk-ant-api03-probe-key-0123456789abcdef"


@pytest.fixture
async def api() -> AsyncIterator[FakeAnthropicAPI]:
    async with FakeAnthropicAPI() as fake:
        yield fake


def key_file(tmp_path: Path, key: str = KEY) -> Path:
    path = tmp_path / "ANTHROPIC_API_KEY"
    path.write_text(key + "\n")
    return path


def test_the_probe_follows_the_review_pods_base_url_and_is_off_where_it_cannot_work(tmp_path: Path) -> None:
    path = key_file(tmp_path)
    target = probe_target(ControllerSettings(model_key_file=path))
    assert target == ProbeTarget("https://api.anthropic.com/v1/models", "ANTHROPIC_API_KEY", path)
    proxied = ControllerSettings(model_key_file=path, review_env={"ANTHROPIC_BASE_URL": "https://llm.corp/"})
    assert isinstance(t := probe_target(proxied), ProbeTarget) and t.url == "https://llm.corp/v1/models"
    assert "is 0" in str(
        probe_target(ControllerSettings(model_key_file=path, model_probe_interval_seconds=0))
    )
    assert "REVIEWOP_MODEL_KEY_FILE" in str(probe_target(ControllerSettings()))
    bedrock = ControllerSettings(model_key_file=path, review_env={"CLAUDE_CODE_USE_BEDROCK": "1"})
    assert "CLAUDE_CODE_USE_BEDROCK" in str(probe_target(bedrock))
    odd = ControllerSettings(model_key_file=path, model_secret_key="AWS_SECRET_ACCESS_KEY")
    assert isinstance(probe_target(odd), str)


def test_the_header_follows_the_keys_variable_as_the_cli_sends_it() -> None:
    assert auth_headers("ANTHROPIC_API_KEY", "k") == {"anthropic-version": "2023-06-01", "x-api-key": "k"}
    assert auth_headers("ANTHROPIC_AUTH_TOKEN", "t")["authorization"] == "Bearer t"
    oauth = auth_headers("CLAUDE_CODE_OAUTH_TOKEN", "o")
    assert oauth["authorization"] == "Bearer o" and oauth["anthropic-beta"] == "oauth-2025-04-20"
    assert "x-api-key" not in oauth


def test_only_401_and_403_mean_a_rejected_key() -> None:
    assert outcome_of(200) is ProbeOutcome.OK
    assert {outcome_of(s) for s in (401, 403)} == {ProbeOutcome.REJECTED}
    assert {outcome_of(s) for s in (404, 429, 500, 529)} == {ProbeOutcome.UNREACHABLE}


async def test_the_probe_lists_models_with_the_key_and_reads_a_rotated_key(
    api: FakeAnthropicAPI, tmp_path: Path
) -> None:
    path = key_file(tmp_path)
    probe = ModelProbe(ProbeTarget(f"{api.base_url}/v1/models", "ANTHROPIC_API_KEY", path))
    result = await probe.once()
    assert (result.outcome, result.detail) == (ProbeOutcome.OK, "HTTP 200")
    sent = api.requests[-1]
    assert (sent.method, sent.path, sent.headers["x-api-key"]) == ("GET", "/v1/models", KEY)
    assert sent.headers["anthropic-version"] == "2023-06-01"
    api.reject_key = True
    assert (await probe.once()).outcome is ProbeOutcome.REJECTED
    api.reject_key = False
    path.write_text("sk-ant-api03-rotated-key-000000000000\n")
    assert (await probe.once()).outcome is ProbeOutcome.OK
    assert api.requests[-1].headers["x-api-key"] == "sk-ant-api03-rotated-key-000000000000"


async def test_an_unreachable_api_or_a_missing_key_is_not_a_rejected_key(tmp_path: Path) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}/v1/models"
    probe = ModelProbe(ProbeTarget(nowhere, "ANTHROPIC_API_KEY", key_file(tmp_path)), timeout=2)
    assert (await probe.once()).outcome is ProbeOutcome.UNREACHABLE
    missing = ModelProbe(ProbeTarget(nowhere, "ANTHROPIC_API_KEY", tmp_path / "absent"))
    result = await missing.once()
    assert result.outcome is ProbeOutcome.UNREACHABLE and "unreadable" in result.detail
    (tmp_path / "binary").write_bytes(b"\xff\xfe\x00")
    garbled = ModelProbe(ProbeTarget(nowhere, "ANTHROPIC_API_KEY", tmp_path / "binary"))
    assert (await garbled.once()).detail == "key file unreadable (UnicodeDecodeError)"


async def test_a_rejected_probe_opens_the_breaker_once_and_a_passing_one_closes_it_with_no_key_anywhere(
    api: FakeAnthropicAPI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = ControllerSettings(
        namespace="ns", model_key_file=key_file(tmp_path), review_env={"ANTHROPIC_BASE_URL": api.base_url}
    )
    registry = CollectorRegistry()
    metrics = ControllerMetrics(registry)
    events = RecordingEvents()
    changes: list[str] = []
    health = ModelHealth(
        settings, metrics, events, SYSTEM_CLOCK, lambda: changes.append(health.breaker.state)
    )
    api.reject_key = True
    for _ in range(3):
        assert (await health.probe_once()).outcome is ProbeOutcome.REJECTED
    assert health.report()["breaker"] == "open" and health.report()["probe"] == "rejected"
    assert [e[1] for e in events.recorded] == ["ModelKeyRejected"]  # one Event, not one per probe
    assert events.recorded[0][0]["kind"] == "Lease"
    assert changes == ["open"]
    pause = health.pause(SYSTEM_CLOCK.now())
    assert pause is not None and health.starts_allowed(SYSTEM_CLOCK.now()) == 0
    exposed = generate_latest(registry).decode()
    assert "reviewop_model_probe_ok 0.0" in exposed
    assert 'reviewop_model_probes_total{outcome="rejected"} 3.0' in exposed
    assert 'reviewop_model_breaker_state{state="open"} 1.0' in exposed
    api.reject_key = False
    assert (await health.probe_once()).outcome is ProbeOutcome.OK
    assert health.report()["breaker"] == "closed" and health.starts_allowed(SYSTEM_CLOCK.now()) is None
    assert [e[1] for e in events.recorded] == ["ModelKeyRejected", "ModelKeyAccepted"]
    exposed = generate_latest(registry).decode()
    assert "reviewop_model_probe_ok 1.0" in exposed
    assert "reviewop_model_probe_last_success_timestamp_seconds 0.0" not in exposed
    everything = "\n".join([exposed, caplog.text, str(health.report()), str(events.recorded)])
    assert KEY not in everything and "probe-key" not in everything


class RecordingEvents(EventRecorder):
    """An EventRecorder that keeps what it was asked to record instead of sending it."""

    def __init__(self) -> None:
        super().__init__(None, Lanes(), SYSTEM_CLOCK)  # type: ignore[arg-type]
        self.recorded: list[tuple[dict[str, Any], str, str, bool]] = []

    def record_on(self, obj: dict[str, Any], reason: str, message: str, warning: bool = False) -> None:
        self.recorded.append((obj, reason, message, warning))
