"""The agent options and CLI environment: the security-relevant wiring, checked without a CLI."""

from __future__ import annotations

from pathlib import Path

from review_operator.config import RunnerSettings
from review_operator.runner.agent import build_options, cli_env, fit_retries
from tests.harness.controlplane import REPO_ROOT


async def _noop(*_: object) -> dict[str, object]:
    return {}


def test_cli_environment_is_quiet_bounded_and_blanks_foreign_credentials(tmp_path: Path) -> None:
    settings = RunnerSettings(max_retries=2)
    env = cli_env(
        settings,
        tmp_path / "cfg",
        {
            "GITHUB_TOKEN": "ghp_x",
            "REVIEWOP_GITHUB_TOKEN": "t",
            "ANTHROPIC_API_KEY": "k",
            "AWS_SECRET_ACCESS_KEY": "s",
        },
    )
    assert env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] == "1"
    assert env["DISABLE_TELEMETRY"] == env["DISABLE_AUTOUPDATER"] == env["DISABLE_ERROR_REPORTING"] == "1"
    assert env["CLAUDE_CONFIG_DIR"] == str(tmp_path / "cfg")
    assert env["CLAUDE_CODE_MAX_RETRIES"] == "2"
    assert env["GITHUB_TOKEN"] == "" and env["REVIEWOP_GITHUB_TOKEN"] == ""
    assert "ANTHROPIC_API_KEY" not in env and "AWS_SECRET_ACCESS_KEY" not in env  # pass through


def test_options_offer_only_read_tools_and_load_no_settings(tmp_path: Path) -> None:
    settings = RunnerSettings(
        checkout=tmp_path, model="m", max_turns=7, max_budget_usd=1.5, cli_path="/x/claude"
    )
    opts = build_options(
        settings,
        system_prompt="sys",
        context_dir=tmp_path / "ctx",
        config_dir=tmp_path / "cfg",
        hooks=(_noop, _noop),
        stderr=lambda _: None,
        environ={},
    )
    assert opts.tools == ["Read", "Grep", "Glob"] and opts.allowed_tools == ["Read", "Grep", "Glob"]
    assert opts.permission_mode == "dontAsk"
    assert opts.setting_sources == []
    assert (opts.model, opts.max_turns, opts.max_budget_usd, opts.cli_path) == ("m", 7, 1.5, "/x/claude")
    assert opts.cwd == str(tmp_path)
    assert opts.hooks is not None and set(opts.hooks) == {"PreToolUse", "PostToolUse"}


def test_retries_are_reduced_until_their_backoff_fits_the_timeout() -> None:
    assert fit_retries(3, 900) == 3
    assert fit_retries(10, 900) == 10
    assert fit_retries(10, 10) == 3  # 0.5 + 1 + 2 = 3.5 s ≤ 5 s; a fourth (4 s) would not fit
    assert fit_retries(5, 0.5) == 0
    env = cli_env(RunnerSettings(max_retries=10, timeout_seconds=10), Path("/c"), {})
    assert env["CLAUDE_CODE_MAX_RETRIES"] == "3"


def test_every_runner_setting_is_documented_in_the_readme() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    for name in RunnerSettings.model_fields:
        assert f"`REVIEWOP_RUNNER_{name.upper()}`" in readme, f"README lacks REVIEWOP_RUNNER_{name.upper()}"
