"""The Dockerfile builds offline (`make image`) and unchanged for users who pull from a registry."""

from __future__ import annotations

import re

from tests.harness.controlplane import REPO_ROOT

DOCKERFILE = (REPO_ROOT / "Dockerfile").read_text()


def test_no_syntax_directive_so_buildkit_fetches_no_frontend_image() -> None:
    assert not re.search(r"^#\s*syntax\s*=", DOCKERFILE, re.MULTILINE | re.IGNORECASE)


def test_every_stage_starts_from_the_overridable_base_image_defaulting_to_python_slim() -> None:
    assert re.search(r"^ARG BASE_IMAGE=python:3\.11-slim$", DOCKERFILE, re.MULTILINE)
    froms = re.findall(r"^FROM (\S+)", DOCKERFILE, re.MULTILINE)
    assert froms and set(froms) == {"${BASE_IMAGE}"}, froms


def test_the_build_ca_reaches_the_build_only_as_a_secret_mount() -> None:
    mounts = re.findall(r"^RUN --mount=type=secret,id=build-ca,required=false", DOCKERFILE, re.MULTILINE)
    assert len(mounts) == 1  # the dependency step; the code step builds without network
    assert re.search(r"pip install --no-deps --no-build-isolation \.", DOCKERFILE)
    copies = [line for line in DOCKERFILE.splitlines() if line.startswith(("COPY", "ADD"))]
    assert copies and not [line for line in copies if re.search(r"\.(crt|pem)\b|certs|build-ca", line)]
