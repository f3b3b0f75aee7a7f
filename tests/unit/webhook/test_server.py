"""The webhook process refuses to start without a secret (fail closed), before touching the cluster."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from review_operator.config import WebhookSettings
from review_operator.webhook.server import build, main


def test_no_secret_refuses_to_build_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", "/nonexistent")  # would fail later: the secret is checked first
    with pytest.raises(ValueError, match="no webhook secret"):
        build(WebhookSettings(webhook_secret=None, webhook_secret_file=None))


@pytest.fixture
def _root_logging() -> Iterator[None]:
    """main() configures the root logger; put pytest's handlers back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("_root_logging")
def test_cli_exits_2_without_a_secret_or_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REVIEWOP_WEBHOOK_SECRET", raising=False)
    monkeypatch.delenv("REVIEWOP_WEBHOOK_SECRET_FILE", raising=False)
    assert main() == 2
    monkeypatch.setenv("REVIEWOP_WEBHOOK_SECRET", "x")
    monkeypatch.setenv("KUBECONFIG", "/nonexistent")
    assert main() == 2
