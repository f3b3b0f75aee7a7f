"""The model probe: one cheap request with the review pods' key and base URL, `GET {base}/v1/models`
(a models list: no tokens, no spend), and what its answer means (`ProbeOutcome`).

Where the probe goes and how it authenticates follows what the review container gets: the base URL
is `ANTHROPIC_BASE_URL` from `REVIEWOP_REVIEW_ENV` (else Anthropic's), the header follows the key's
variable name (`REVIEWOP_MODEL_SECRET_KEY`), as the Claude Code CLI sends it. The key is read from a
mounted file (the controller reads no Secret through the API), again whenever the file changes. No
key, URL or answer body is logged or returned: only a status code or an exception's class name.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from review_operator.config import ControllerSettings
from review_operator.controller.decide.breaker import ProbeOutcome

ANTHROPIC_API = "https://api.anthropic.com"
ANTHROPIC_VERSION = "2023-06-01"
OAUTH_BETA = "oauth-2025-04-20"  # what the Claude Code CLI sends with CLAUDE_CODE_OAUTH_TOKEN
PROBE_TIMEOUT_SECONDS = 10.0
PROVIDER_SWITCHES = ("CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX")
BEARER_KEYS = ("ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN")


@dataclass(frozen=True)
class ProbeTarget:
    url: str
    key_name: str  # the review container's variable: decides the header
    key_file: Path


@dataclass(frozen=True)
class ProbeResult:
    outcome: ProbeOutcome
    detail: str  # secret-free: "HTTP 401", "TimeoutError", "key file unreadable"


def _on(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


def probe_target(settings: ControllerSettings) -> ProbeTarget | str:
    """Where to probe, or why there is no probe."""
    if settings.model_probe_interval_seconds == 0:
        return "REVIEWOP_MODEL_PROBE_INTERVAL_SECONDS is 0"
    env = settings.review_env
    for switch in PROVIDER_SWITCHES:
        if _on(env.get(switch, "")):
            return f"{switch} is set in REVIEWOP_REVIEW_ENV: reviews do not use an Anthropic API key"
    if settings.model_key_file is None:
        return "REVIEWOP_MODEL_KEY_FILE is not set (the chart sets it when the probe is on)"
    key_name = settings.model_secret_key
    if key_name != "ANTHROPIC_API_KEY" and key_name not in BEARER_KEYS:
        return f"REVIEWOP_MODEL_SECRET_KEY {key_name!r} is not a key variable the probe knows"
    base = (env.get("ANTHROPIC_BASE_URL") or ANTHROPIC_API).rstrip("/")
    return ProbeTarget(f"{base}/v1/models", key_name, settings.model_key_file)


def auth_headers(key_name: str, key: str) -> dict[str, str]:
    """The headers the CLI sends for that key variable."""
    headers = {"anthropic-version": ANTHROPIC_VERSION}
    if key_name == "ANTHROPIC_API_KEY":
        headers["x-api-key"] = key
    else:
        headers["authorization"] = f"Bearer {key}"
        if key_name == "CLAUDE_CODE_OAUTH_TOKEN":
            headers["anthropic-beta"] = OAUTH_BETA
    return headers


def outcome_of(status: int) -> ProbeOutcome:
    if status == 200:
        return ProbeOutcome.OK
    if status in (401, 403):
        return ProbeOutcome.REJECTED
    return ProbeOutcome.UNREACHABLE


class KeyFile:
    """The mounted key, read again when the file changes (the kubelet swaps it on a Secret update)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int, int] | None = None
        self._key = ""

    def read(self) -> str:
        st = self.path.stat()
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if stamp != self._seen:
            self._key, self._seen = self.path.read_text().strip(), stamp
        return self._key


class ModelProbe:
    def __init__(self, target: ProbeTarget, timeout: float = PROBE_TIMEOUT_SECONDS) -> None:
        self.target = target
        self.key = KeyFile(target.key_file)
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    async def once(self) -> ProbeResult:
        try:
            key = await asyncio.to_thread(self.key.read)
        except (OSError, ValueError) as exc:  # missing, unreadable, or not text
            return ProbeResult(ProbeOutcome.UNREACHABLE, f"key file unreadable ({type(exc).__name__})")
        if not key:
            return ProbeResult(ProbeOutcome.UNREACHABLE, "key file empty")
        headers = auth_headers(self.target.key_name, key)
        try:
            async with (
                aiohttp.ClientSession(timeout=self.timeout) as session,
                session.get(self.target.url, params={"limit": "1"}, headers=headers) as response,
            ):
                await response.read()
                return ProbeResult(outcome_of(response.status), f"HTTP {response.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            return ProbeResult(ProbeOutcome.UNREACHABLE, type(exc).__name__)
