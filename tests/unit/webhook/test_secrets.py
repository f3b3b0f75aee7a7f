"""The webhook secret file is re-read when it changes, as a mounted Secret changes (symlink swap)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from pydantic import SecretStr

from review_operator.config import WebhookSettings
from review_operator.webhook.secrets import SecretSource
from tests.integration.webhook_helpers import MountedSecret

NEW, OLD = "whsec-unit-new-6f1d", "whsec-unit-old-93ab"


def _source(secret_file: Path, env: str | None = None) -> SecretSource:
    return SecretSource(
        WebhookSettings(webhook_secret=SecretStr(env) if env else None, webhook_secret_file=secret_file)
    )


def test_a_swapped_mounted_secret_is_used_at_the_next_delivery(tmp_path: Path) -> None:
    mount = MountedSecret(tmp_path)
    mount.write(OLD + "\n")
    source = _source(mount.path, env="from-env")
    assert source.current() == [b"from-env", OLD.encode()]
    mount.write(f"{NEW},{OLD}\n")
    assert source.current() == [b"from-env", NEW.encode(), OLD.encode()]
    mount.write(NEW)
    assert source.current() == [b"from-env", NEW.encode()]


def test_a_file_rewritten_in_place_is_read_again(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text(OLD)
    source = _source(secret_file)
    assert source.current() == [OLD.encode()]
    secret_file.write_text(NEW)
    os.utime(secret_file, ns=(1, 1))  # even with a modification time going backwards
    assert source.current() == [NEW.encode()]


@pytest.mark.parametrize("broken", ["removed", "emptied"])
def test_a_missing_or_empty_file_keeps_the_previous_secrets_and_logs_no_value(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, broken: str
) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text(OLD)
    source = _source(secret_file)
    if broken == "removed":
        secret_file.unlink()
    else:
        secret_file.write_text("\n")
    with caplog.at_level(logging.INFO):
        assert source.current() == [OLD.encode()]
        assert source.current() == [OLD.encode()]
        assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1  # once, not per delivery
        secret_file.write_text(NEW)
        assert source.current() == [NEW.encode()]
    assert OLD not in caplog.text and NEW not in caplog.text
