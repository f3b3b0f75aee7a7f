"""The command line: long-lived servers start with the heap of their imports frozen."""

from __future__ import annotations

import gc
import importlib

import pytest

from review_operator import cli


@pytest.mark.parametrize(
    ("command", "module"),
    [("controller", "review_operator.controller.main"), ("webhook", "review_operator.webhook.server")],
)
def test_a_server_starts_with_its_startup_heap_out_of_later_collections(
    command: str, module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    frozen: list[int] = []
    monkeypatch.setattr(
        importlib.import_module(module), "main", lambda: frozen.append(gc.get_freeze_count()) or 0
    )
    try:
        assert cli.main([command]) == 0
    finally:
        gc.unfreeze()
    assert frozen[0] > 10_000  # the imports: kopf, the Kubernetes client, aiohttp, pydantic ...
