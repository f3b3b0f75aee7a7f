"""The CRD is generated from the pydantic models, and the committed copies are current."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from review_operator.api.crd import GENERATED_HEADER, build_crd, render_crd_yaml
from review_operator.api.models import ReviewJob
from review_operator.cli import main
from tests.harness.controlplane import REPO_ROOT

COMMITTED = [
    REPO_ROOT / "crds" / "reviewjobs.review-operator.dev.yaml",
    REPO_ROOT / "charts" / "review-operator" / "crds" / "reviewjobs.review-operator.dev.yaml",
]


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_committed_crd_matches_the_models(path: Path) -> None:
    assert path.read_text() == render_crd_yaml(), (
        f"{path.relative_to(REPO_ROOT)} is stale: regenerate it with `make generate`"
    )


def test_crd_command_prints_the_generated_crd(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["crd"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(GENERATED_HEADER)
    assert yaml.safe_load(out) == build_crd()


def _walk(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        found.append((path, node))
        for key, value in node.get("properties", {}).items():
            found.extend(_walk(value, f"{path}.{key}"))
        if "items" in node:
            found.extend(_walk(node["items"], f"{path}[]"))
    return found


def test_schema_is_structural_and_documented() -> None:
    schema = build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for path, node in _walk(schema["properties"]["spec"], ".spec") + _walk(
        schema["properties"]["status"], ".status"
    ):
        assert "$ref" not in node and "anyOf" not in node and "title" not in node, path
        assert "type" in node, f"{path} has no type"
        assert node.get("description"), f"{path} has no description"
        if "exclusiveMinimum" in node:
            assert node["exclusiveMinimum"] is True


def test_every_spec_field_is_immutable_except_cancel_which_is_set_once() -> None:
    spec = build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    rules = {r["fieldPath"].lstrip("."): r["rule"] for r in spec["x-kubernetes-validations"]}
    assert set(rules) == set(spec["properties"]), "a spec field has no immutability rule"
    assert all("oldSelf" in rule for rule in rules.values())
    assert rules["cancel"].startswith("!has(oldSelf.cancel) ||")


def test_crd_names_and_printer_columns() -> None:
    version = build_crd()["spec"]["versions"][0]
    assert build_crd()["spec"]["names"]["shortNames"] == ["rj"]
    assert [c["name"] for c in version["additionalPrinterColumns"]] == [
        "Repo",
        "PR",
        "SHA",
        "Phase",
        "Reason",
        "Cost",
        "Scope",
        "Age",
    ]
    assert version["subresources"] == {"status": {}}


def test_sample_reviewjob_parses_into_the_models() -> None:
    body = yaml.safe_load((REPO_ROOT / "config" / "samples" / "reviewjob.yaml").read_text())
    job = ReviewJob.model_validate(body)
    assert job.spec.repository.full_name == "Codertocat/Hello-World"
    assert ReviewJob.model_validate(job.to_manifest()) == job
    assert job.to_manifest()["spec"]["pullRequest"]["headSha"] == body["spec"]["pullRequest"]["headSha"]
