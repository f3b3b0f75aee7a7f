"""The command line: long-lived servers start with the heap of their imports frozen."""

from __future__ import annotations

import gc

from review_operator import cli


def test_a_server_starts_with_its_startup_heap_out_of_later_collections() -> None:
    frozen: list[int] = []
    try:
        assert cli._serve(lambda: frozen.append(gc.get_freeze_count()) or 0) == 0
    finally:
        gc.unfreeze()
    assert frozen[0] > 10_000  # the imports: kopf, the Kubernetes client, aiohttp, pydantic ...
