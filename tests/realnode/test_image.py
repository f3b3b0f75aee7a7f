"""The image `make image` built: what a user's nodes pull, and that the build-only CA stayed out."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.realnode import Images

EXTRA_CAS = Path("/usr/local/share/ca-certificates")


def _layers(archive: Path) -> Iterator[tuple[str, tarfile.TarFile]]:
    with tarfile.open(archive) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))  # type: ignore[arg-type]
        for name in manifest[0]["Layers"]:
            layer = outer.extractfile(name)
            assert layer is not None
            with tarfile.open(fileobj=io.BytesIO(layer.read())) as inner:
                yield name, inner


def test_build_only_ca_certificates_are_in_no_layer_of_the_image() -> None:
    """The host's extra CAs reach pip as a build secret; no file of any layer may contain them."""
    certs = sorted(EXTRA_CAS.glob("*.crt"))
    if not certs:
        pytest.skip(f"this host has no extra CA certificates in {EXTRA_CAS}: nothing was passed to the build")
    # The second line of each PEM body: base64 of the certificate itself, the same in any bundle.
    needles = [cert.read_text().splitlines()[2].encode() for cert in certs]
    images = Images.load()
    scanned = 0
    for name, layer in _layers(images.app_archive):
        for member in layer:
            if not member.isfile() or member.size > 50_000_000:
                continue
            data = layer.extractfile(member).read()  # type: ignore[union-attr]
            scanned += 1
            for needle in needles:
                assert needle not in data, f"a build-only CA is in {member.name} of layer {name}"
    assert scanned > 10_000, scanned  # the whole image was read, not an empty archive
