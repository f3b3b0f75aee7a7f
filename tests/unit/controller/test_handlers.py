"""The kopf handlers only listen, so kopf's diff-base (a deep copy per event) can be switched off."""

from __future__ import annotations

import inspect
import runpy
from collections.abc import Callable
from typing import Any

import kopf
import pytest

from review_operator.controller import handlers

# kopf keeps a diff-base for the handlers these decorators register (they detect changes) ...
CHANGING = {"resume", "create", "update", "delete", "field", "register", "subhandler"}
# ... and spawns daemons and timers for these.
SPAWNING = {"daemon", "timer"}


def registrations(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """(decorator, handler) for every handler the module registers, seen at kopf's public API (the
    `kopf.on` decorators) while a fresh copy of the module runs; the module kopf already loaded and
    kopf's registry are left as they are (kopf has no public way to list what a registry holds)."""
    seen: list[tuple[str, str]] = []
    decorators = [name for name, fn in vars(kopf.on).items() if inspect.isfunction(fn) and name[0] != "_"]
    assert CHANGING | SPAWNING | {"event", "startup", "probe"} <= set(decorators)

    def spy(name: str) -> Callable[..., Callable[[Any], Any]]:
        def decorator(*_: Any, id: str | None = None, **__: Any) -> Callable[[Any], Any]:
            def register(fn: Any) -> Any:
                seen.append((name, id or fn.__name__))
                return fn

            return register

        return decorator

    for name in decorators:
        monkeypatch.setattr(kopf.on, name, spy(name))
    runpy.run_path(str(handlers.__file__), run_name="handlers_under_test")
    return seen


def test_no_handler_detects_changes_so_no_diff_base_is_needed(monkeypatch: pytest.MonkeyPatch) -> None:
    registered = registrations(monkeypatch)
    used = {decorator for decorator, _ in registered}
    # kopf reads the diff-base only for change-detecting and daemon handlers: there must be none
    # (a future on.update handler would need the real storage back).
    assert used & CHANGING == set()
    assert used & SPAWNING == set()
    assert {name for decorator, name in registered if decorator == "event"} == {
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
    # Finished ReviewJobs are filtered out by the API server, not after kopf has a worker for each.
    # (`collect` is what kopf's watch-stream joins into its labelSelector parameter.)
    selectors = settings.watching.label_selectors
    reviewjobs = kopf.Resource("review-operator.dev", "v1alpha1", "reviewjobs", kind="ReviewJob")
    assert list(selectors.collect(reviewjobs)) == ["!review-operator.dev/finished"]
    assert list(selectors.collect(kopf.Resource("", "v1", "pods", kind="Pod"))) == []
    # What exists is listed in pages before kopf watches, never a backlog in one body.
    assert settings.watching.chunk_size == 500
