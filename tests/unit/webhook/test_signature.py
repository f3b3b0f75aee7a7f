"""X-Hub-Signature-256 verification over raw bytes, with several secrets."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from review_operator.webhook.signature import Verifier, sign, verify, well_formed

BODY = b'{"zen": "Keep it logically awesome."}'
SECRET = b"s3cret"


def test_sign_matches_githubs_documented_example() -> None:
    # GitHub's docs: secret "It's a Secret to Everybody", payload "Hello, World!".
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert sign(b"Hello, World!", b"It's a Secret to Everybody") == expected


def test_valid_signature_is_accepted() -> None:
    assert verify(BODY, sign(BODY, SECRET), [SECRET])


def test_any_of_several_secrets_is_accepted_during_rotation() -> None:
    old, new = b"old", b"new"
    assert verify(BODY, sign(BODY, old), [new, old])
    assert verify(BODY, sign(BODY, new), [new, old])
    assert not verify(BODY, sign(BODY, b"retired"), [new, old])


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=",
        sign(BODY, SECRET)[:-1],  # truncated
        sign(BODY, SECRET) + "0",  # extended
        sign(BODY, SECRET).upper(),
        "sha1=" + hmac.new(SECRET, BODY, hashlib.sha1).hexdigest(),  # the legacy header's scheme
        sign(BODY, b"wrong"),
        "sha256=ünïcødé",
    ],
)
def test_missing_forged_or_malformed_signature_is_rejected(header: str | None) -> None:
    assert not verify(BODY, header, [SECRET])


def test_signature_covers_every_byte_of_the_body() -> None:
    assert not verify(BODY + b" ", sign(BODY, SECRET), [SECRET])


def test_no_secret_configured_rejects_everything() -> None:
    assert not verify(BODY, sign(BODY, SECRET), [])


def test_streamed_chunks_verify_like_the_whole_body() -> None:
    verifier = Verifier([b"other", SECRET])
    for start in range(0, len(BODY), 7):
        verifier.update(BODY[start : start + 7])
    assert verifier.matches(sign(BODY, SECRET))
    assert not verifier.matches(sign(BODY[:-1], SECRET))


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (sign(BODY, SECRET), True),
        (None, False),
        ("", False),
        ("sha256=", False),
        (sign(BODY, SECRET)[:-1], False),
        (sign(BODY, SECRET).upper(), False),
        ("sha1=" + "0" * 40, False),
        ("sha256=" + "g" * 64, False),
    ],
)
def test_only_well_formed_headers_are_worth_reading_a_body_for(header: str | None, expected: bool) -> None:
    assert well_formed(header) is expected
