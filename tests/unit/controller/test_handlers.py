"""The kopf handlers only listen, so kopf's diff-base (a deep copy per event) can be switched off."""

from __future__ import annotations

import kopf

from review_operator.controller import handlers


def test_no_handler_detects_changes_so_no_diff_base_is_needed() -> None:
    registry = handlers.registry()
    # kopf reads the diff-base only for change-detecting and daemon handlers: there must be none
    # (a future on.update handler would need the real storage back).
    assert list(registry._changing.get_all_handlers()) == []
    assert list(registry._spawning.get_all_handlers()) == []
    assert {h.id for h in registry._watching.get_all_handlers()} == {
        "reviewjob_changed",
        "review_pod_changed",
    }


def test_the_diff_base_storage_copies_and_stores_nothing() -> None:
    storage = handlers.NoDiffBase()
    body = kopf.Body(
        {"metadata": {"name": "x", "annotations": {"a": "b"}}, "spec": {"big": list(range(100))}}
    )
    assert storage.build(body=body) == {}
    assert storage.fetch(body=body) is None
    patch = kopf.Patch()
    storage.store(body=body, patch=patch, essence=kopf.BodyEssence())
    assert not patch


def test_startup_installs_it() -> None:
    settings = kopf.OperatorSettings()
    handlers.configure(settings=settings)
    assert isinstance(settings.persistence.diffbase_storage, handlers.NoDiffBase)
    assert settings.scanning.disabled
