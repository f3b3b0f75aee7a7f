"""Typed configuration, one pydantic-settings class per process.

Every setting is read from a `REVIEWOP_*` environment variable (the chart maps each value 1:1 to
one of them) and documented where it is declared; the README's configuration table lists them all.
Secrets are `SecretStr` so they never show up in a repr or a log line.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class CommonSettings(BaseSettings):
    """Settings every long-running process shares."""

    model_config = SettingsConfigDict(env_prefix="REVIEWOP_", extra="ignore", frozen=True)

    namespace: Annotated[
        str,
        Field(description="Namespace holding ReviewJobs, review pods and per-review Secrets."),
    ] = "review-operator"
    log_level: Annotated[
        str,
        Field(
            description="Log level: DEBUG, INFO, WARNING or ERROR.", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$"
        ),
    ] = "INFO"
    log_format: Annotated[
        str,
        Field(description="Log format: `json` (one object per line) or `text`.", pattern=r"^(json|text)$"),
    ] = "json"
