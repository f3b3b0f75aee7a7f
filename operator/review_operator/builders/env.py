"""The review container's `REVIEWOP_RUNNER_*` environment, written from a `RunnerSettings`.

The runner reads its settings back with `RunnerSettings()`, so names and value formats come from
that one class (its env prefix, its field aliases, pydantic's JSON form) instead of being spelled out
twice. Secrets never travel this way: they reach the pod through secretKeyRef or mounted files.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from review_operator.config import RunnerSettings


class _ValuesOnly(RunnerSettings):
    """RunnerSettings validated from the given values alone (no environment, dotenv or secrets dir)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def runner_settings(**values: Any) -> RunnerSettings:
    """Validated settings holding exactly `values`. Unlike `RunnerSettings(**values)` this reads no
    environment, so nothing from the controller's own environment leaks into a review pod."""
    checked = _ValuesOnly(**values)
    return RunnerSettings.model_construct(_fields_set=checked.model_fields_set, **dict(checked))


def runner_env(settings: RunnerSettings) -> dict[str, str]:
    """The environment from which `RunnerSettings()` loads `settings`: one variable per field set on
    it, in declaration order. Unset fields and None are left out (the runner falls back to the same
    defaults); a secret raises TypeError, because a plain env value would show in the pod spec."""
    prefix = settings.model_config.get("env_prefix") or ""
    values = settings.model_dump(mode="json", exclude_unset=True, exclude_none=True)
    env: dict[str, str] = {}
    for name, value in values.items():
        if isinstance(getattr(settings, name), SecretStr):
            raise TypeError(f"{name} is a secret; mount it, never put it in the pod's environment")
        # pydantic-settings reads an aliased field by its alias alone, without the prefix.
        field = RunnerSettings.model_fields[name]
        alias = field.validation_alias or field.alias
        key = alias if isinstance(alias, str) else f"{prefix}{name}".upper()
        env[key] = value if isinstance(value, str) else json.dumps(value)
    return env
